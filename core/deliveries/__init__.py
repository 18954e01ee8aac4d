"""Delivering a run's result: the ledger (delivery), email and its signed unsubscribe links, the channel
types' registry (channel_types) and their senders (webhooks, slack), the signing secrets and the
outbound-URL guard, suppressions."""
