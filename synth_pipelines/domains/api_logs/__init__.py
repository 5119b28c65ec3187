"""API call logs: one record per request through the gateway."""
