"""The email channel (EMAIL.md): a caller of the services, beside the GraphQL resolvers.

- `parse`: one RFC 5322 message to the facts the rules need (standard library `email`, policy default).
- `intake`: what one message does, in one transaction (`process_message`).
- `smtp`: the SMTP/LMTP server (`casegraph mail-intake`), 250 only after `process_message` committed.
- `sender`: the outbound worker: plans mails from the event stream, sends them with aiosmtplib.
"""
