"""Maker-checker approvals: request an approval, decide it (LIFECYCLE.md §4)."""
