"""Set-based read queries (Core select()), scoped to the caller's customers in SQL."""
