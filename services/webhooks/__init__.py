"""Partner webhooks (WEBHOOKS.md): managing endpoints, replaying, and recording attempts."""
