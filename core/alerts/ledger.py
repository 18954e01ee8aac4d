"""The delivery of alert messages through the delivery ledger.

An alert message's rows (`deliveries` with `alert_message_id`: one per email address and channel URL
of the account's alert settings, unsubscribed addresses `suppressed`) are made with the message, in the
transaction of its event (migration 0019). Then, as for a run's rows:

- the ticker pushes one RQ job per message that has a row due (`push_due`), and pushes it again when
  its job was lost (Redis emptied) or a row's retry came due;
- the worker (`deliver`, called by its alert job, worker/alerts.py) claims each due row (`sending`,
  with a lease), sends it, and records it: `sent`, `pending` again after the run back-off (a transient
  failure: the mail server down, a 5xx from a webhook), or `failed` (a permanent refusal, or
  DELIVERY_MAX_ATTEMPTS used up). A row that was sent is never sent again. An email goes out from
  here; a channel's message is rendered and sent by its type's sender (`send_alert`,
  core/deliveries/channel_types.py);
- a row whose sender was killed mid-send keeps its lease until it runs out; the ticker then
  (`recover_sends`) sends it again with the same Message-ID / webhook-id, or fails it
  (UNKNOWN_OUTCOME=give_up), as for runs.
"""
from __future__ import annotations

import logging

from core.alerts import compose
from core.deliveries import channel_types
from core.deliveries.channel_types import Sent
from core.deliveries.email import EmailChannel
from core.ops import db
from core.ops.sql import queries
from core.runs import rq_jobs
from core.runs.run import retry_delay

logger = logging.getLogger(__name__)

# A message whose job was pushed this long ago and still has a row due is pushed again.
REPUSH_SECONDS = 60


def lease_seconds(settings) -> float:
    """How long a row may stay `sending` before its sender is presumed dead: four run leases (60 s)."""
    return 4 * settings.run_lease_seconds


# ---------------------------------------------------------------------------- the ticker's side

def push_due(conn, redis_conn, queue_name: str, *, job_timeout: int, limit: int,
             repush: float = REPUSH_SECONDS) -> list[str]:
    """Push a job for up to `limit` messages with a row due; returns their ids. The job is pushed
    inside the transaction that records the push: if Redis fails, nothing is recorded and the next
    tick pushes again (a job pushed twice finds nothing left to claim the second time)."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["claim_alert_messages_to_push"], {"limit": limit, "repush": repush})
        ids = [row["id"] for row in cur.fetchall()]
        if not ids:
            return []
        cur.execute(queries["mark_alert_messages_pushed"], {"ids": ids})
        rq_jobs.push_alerts(redis_conn, queue_name, ids, job_timeout=job_timeout)
    return ids


def recover_sends(conn, *, resend: bool) -> int:
    """Rows whose sender's lease ran out: sent again (`resend`) or failed. Returns how many."""
    with db.service_transaction(conn) as cur:
        cur.execute(queries["recover_alert_sends"], {"resend": resend})
        ids = sorted({row["alert_message_id"] for row in cur.fetchall()})
        if ids:
            cur.execute(queries["mark_alert_messages_done"], {"ids": ids})
    return len(ids)


# ---------------------------------------------------------------------------- the worker's side

def deliver(pool, senders, settings, message_id: str) -> dict:
    """Send every row of the message that is due, one claim, send and record at a time (each its own
    statement, committed: none is held while a message is sent), through the process's `senders`
    (core.deliveries.delivery.Senders, which the runs use too). Returns the counts of this pass."""
    counts = {"sent": 0, "failed": 0, "retry": 0}
    with pool.connection() as conn, db.service_statements(conn) as cur:
        cur.execute(queries["alert_message_for_delivery"], {"id": message_id})
        message = cur.fetchone()
    if message is None:
        return counts  # its schedule was deleted since
    content = compose.compose(settings, message)
    unreachable: set[str] = set()
    while True:
        with pool.connection() as conn, db.service_statements(conn) as cur:
            cur.execute(queries["claim_alert_delivery"], {"id": message_id, "lease": lease_seconds(settings)})
            row = cur.fetchone()
        if row is None:
            break
        if row["channel"] in unreachable:
            sent = Sent(False, "not tried: the mail server was unreachable a moment ago", unreachable=True)
        else:
            sent = _send(settings, senders, message, content, row)
        if sent.ok:
            status = "sent"
        elif sent.permanent or row["attempts"] >= settings.delivery_max_attempts:
            status = "failed"
        else:
            status = "pending"
            if sent.unreachable:
                unreachable.add(row["channel"])
        counts[{"sent": "sent", "failed": "failed", "pending": "retry"}[status]] += 1
        with pool.connection() as conn, db.service_statements(conn) as cur:
            cur.execute(queries["record_alert_delivery"], {
                "delivery_id": row["id"], "attempts": row["attempts"], "status": status,
                "error": None if sent.ok else sent.error, "delay": retry_delay(row["attempts"])})
        if not sent.ok:
            logger.warning("Alert %s to %s failed (%s): %s", message_id,
                           channel_types.shown_target(row["channel"], row["target"]),
                           "gave up" if status == "failed" else "will retry", sent.error)
    with pool.connection() as conn, db.service_statements(conn) as cur:
        cur.execute(queries["mark_alert_messages_done"], {"ids": [message_id]})
    logger.info("Alert message %s ('%s'): %d sent, %d failed, %d to retry", message_id, content.subject,
                counts["sent"], counts["failed"], counts["retry"])
    return counts


def _send(settings, senders, message: dict, content, row: dict) -> Sent:
    if row["channel"] == "email":
        message_id = f"<{row['message_id']}@{EmailChannel.message_domain(settings)}>"
        return senders["email"].send_message(compose.email(settings, content, message, row["target"], message_id))
    return senders[row["channel"]].send_alert(row, message, content)
