"""Delivering a run's result: the ledger (delivery), email, the channel types' registry (channel_types)
and their senders (webhooks, slack), the signing secrets and the outbound-URL guard, suppressions and
the unsubscribe tokens."""
