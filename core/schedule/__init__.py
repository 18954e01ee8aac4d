"""Schedules as tenants keep them: their records and runs as the API reads them (schedules), pauses,
backfills, the history of changes, and Idempotency-Keys."""
