"""The email channel's operations: what received mail does, held mail, what is mailed back (EMAIL.md)."""
