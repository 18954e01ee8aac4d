"""The RQ job that delivers one alert message: `deliver_alert(message_id)` (pushed by the ticker,
core.alerts.ledger.push_due). It sends every row of the message's ledger that is due, in the worker
process's shared context (connection pool, SMTP connections); a row it cannot send now waits for its
retry in PostgreSQL, never in Redis."""
from __future__ import annotations

from core.alerts import ledger
from worker.jobs import worker_context


def deliver_alert(message_id: str) -> dict:
    context = worker_context()
    return ledger.deliver(context.pool, context.senders, context.settings, str(message_id))
