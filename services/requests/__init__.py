"""Service requests: create, lifecycle transitions, comments, routing, duplicates."""
