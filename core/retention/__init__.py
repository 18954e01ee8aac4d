"""Retention: the ticker's sweep of old runs, deliveries and email_log rows (sweep)."""
