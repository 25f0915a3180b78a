"""The receivables ledger: adjustments and payment applications (LIFECYCLE.md §1, §4)."""
