"""The subscription side: requestEvents, slaAlerts, approvalRequests (resolvers.subscription is the root)."""
