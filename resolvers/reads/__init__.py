"""Read resolvers per feature: what each query field and nested connection answers."""
