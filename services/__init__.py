"""The service layer: one plain async function per business operation.

Each takes a unit of work (db.uow), an Author (who acts) and typed inputs,
and returns what it wrote or raises a DomainError (nothing is committed: the
caller owns the transaction). GraphQL mutations, the SLA engine and any
other channel call these; nothing here knows GraphQL.
"""
