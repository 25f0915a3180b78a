"""The records every layer reads: plain rows of storage, stream events and their cursors (stdlib only)."""
