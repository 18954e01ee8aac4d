"""Delivering a run's result: the ledger (delivery), email, webhook and Slack channels, the signing
secrets and the outbound-URL guard, suppressions and the unsubscribe tokens."""
