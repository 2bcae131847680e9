"""SQL migrations of the bus (migration source "bus"): the outbox and inbox tables of a service."""
