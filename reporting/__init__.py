"""Reporting SQL: service and financial metrics, customer payment behaviour (read-only, set-based)."""
