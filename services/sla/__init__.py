"""What the SLA engine does to a due request: alerts, escalation on breach, auto-close."""
