"""Repositories by aggregate: keyword-only async functions over the caller's session (nothing commits)."""
