"""The HTTP channels' sender (HttpChannel) and the `webhook` channel: one POST per (run, URL), and one per
alert message and URL (core/deliveries/channel_types.py registers them; slack.py is the other).

Webhooks follow Standard Webhooks: headers `webhook-id` (the ledger row's message id, the same on
every attempt, so a receiver drops a repeat), `webhook-timestamp` (this attempt's, in seconds) and
`webhook-signature` (HMAC-SHA256 with each valid signing secret of the account, core/deliveries/signing.py).
A run's JSON body is `{"type": "report.ready", "timestamp", "data": {"run", "schedule", "result",
"report_url"}}`, an alert's `{"type": "schedule.alert", "timestamp", "data"}` (core/alerts/compose.py's).
A 2xx is delivered; 410 Gone disables a schedule's channel (the receiver asked for no more) and fails
the row; a 4xx fails it at once when the type says no retry can fix one (`final_4xx`, but 408 and 429);
anything else (a 5xx, a timeout, a refused connection, a redirect, which is never followed) is
retried by the ledger with back-off.

Before each send the URL is checked again (core/deliveries/outbound.py): the schedule's channel may have been
disabled or removed since the ledger was made, and the host's addresses may have changed since the
schedule was saved (DNS rebinding).
"""
from __future__ import annotations

import http.client
import json
import logging
from contextlib import contextmanager
from datetime import datetime, timezone

from core.deliveries import outbound, signing
from core.deliveries.channel_types import Sent
from core.ops import db
from core.ops.sql import queries
from core.runs.run import Run

logger = logging.getLogger(__name__)

USER_AGENT = "schedules-webhooks/1"
EVENT_TYPE = "report.ready"
ALERT_EVENT_TYPE = "schedule.alert"
ERROR_BODY_CHARS = 200


def _utc(value) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


class HttpChannel:
    """A channel type's sender over HTTP: a subclass renders the JSON body and its headers (`request` for
    a run's result, `alert_request` for an alert message)."""

    def __init__(self, kind, settings, pool):
        self.kind, self.type, self.settings, self.pool = kind, kind.name, settings, pool

    @contextmanager
    def _transaction(self):
        with self.pool.connection() as conn, db.service_transaction(conn) as cur:
            yield cur

    def send(self, target: dict, run: Run, schedule: dict, result: dict) -> Sent:
        url = target["target"]
        with self._transaction() as cur:
            cur.execute(queries["channel_for_delivery"],
                        {"schedule_id": schedule["id"], "type": self.type, "url": url})
            channel = cur.fetchone()
        if channel is None:
            return Sent(False, "the channel was removed from the schedule; not sent", permanent=True)
        if channel["disabled_at"] is not None:
            return Sent(False, f"the channel is disabled ({channel['disabled_reason']}); not sent", permanent=True)
        answer = self._post(url, lambda: self.request(target, run, schedule, result))
        if isinstance(answer, Sent):
            return answer
        if 200 <= answer.status < 300:
            return Sent(True)
        if 300 <= answer.status < 400:
            error = f"answered {answer.status}: redirects are not followed (Location: {answer.location})"
        else:
            error = _answered(answer)
        if answer.status == 410:
            reason = f"the receiver answered 410 Gone on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
            with self._transaction() as cur:
                cur.execute(queries["disable_schedule_channel"], {"id": channel["id"], "reason": reason})
            logger.warning("%s channel %s of schedule %s disabled: %s", self.type, channel["id"], schedule["id"],
                           reason, extra={"schedule_id": schedule["id"], "run_id": run.id})
            return Sent(False, f"{error}; the channel is disabled until it is enabled again", permanent=True)
        return Sent(False, error, permanent=self.permanent(answer.status))

    def send_alert(self, row: dict, message: dict, content) -> Sent:
        """One alert message (core/alerts/ledger.py's row, message and compose.AlertContent) to the row's URL."""
        answer = self._post(row["target"], lambda: self.alert_request(row, message, content))
        if isinstance(answer, Sent):
            return answer
        if 200 <= answer.status < 300:
            return Sent(True)
        return Sent(False, _answered(answer), permanent=answer.status == 410 or self.permanent(answer.status))

    def _post(self, url: str, render) -> Sent | outbound.Response:
        """The URL checked, the body rendered (`render()`: body, headers) and posted: the answer, or the
        Sent of a refusal or a failed connection."""
        try:
            destination = outbound.check(url, allow_loopback=self.settings.webhook_allow_loopback)
        except outbound.UnsafeUrl as exc:
            # A name that does not resolve may again; an address that is not public must not be retried.
            return Sent(False, f"refused: {exc}", permanent=not exc.transient)
        body, headers = render()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        try:
            return outbound.post(destination, body, headers, timeout=self.settings.webhook_timeout,
                                 max_bytes=self.settings.webhook_max_response_bytes)
        except (OSError, http.client.HTTPException) as exc:
            return Sent(False, f"{type(exc).__name__}: {exc}")

    def permanent(self, status: int) -> bool:
        return self.kind.final_4xx and 400 <= status < 500 and status not in (408, 429)

    def request(self, target, run, schedule, result) -> tuple[bytes, dict]:
        raise NotImplementedError

    def alert_request(self, row, message, content) -> tuple[bytes, dict]:
        raise NotImplementedError


def _answered(answer: outbound.Response) -> str:
    text = answer.body[:ERROR_BODY_CHARS].decode(errors="replace").strip()
    return f"answered {answer.status}" + (f": {text}" if text else "")


class WebhookChannel(HttpChannel):
    """Standard Webhooks: the JSON body signed with the account's secrets."""

    def request(self, target, run, schedule, result):
        return self._signed(schedule["account_id"], target["message_id"],
                            webhook_payload(target, run, schedule, result))

    def alert_request(self, row, message, content):
        body = {"type": ALERT_EVENT_TYPE, "timestamp": _utc(message["created_at"]), "data": content.data}
        return self._signed(message["account_id"], f"msg_{row['message_id'].replace('-', '')}", body)

    def _signed(self, account_id, webhook_id: str, body: dict) -> tuple[bytes, dict]:
        # sort_keys: the first attempt has the task's dict, a retry the stored JSONB (another key order).
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=False, default=str)
        with self._transaction() as cur:
            secrets = [row["secret"] for row in signing.ensure_secret(cur, account_id)]
        now = datetime.now(timezone.utc).replace(microsecond=0)
        return payload.encode(), {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signing.signature_header(secrets, webhook_id, now, payload),
        }


def webhook_payload(target: dict, run: Run, schedule: dict, result: dict) -> dict:
    """The body: the same on every attempt (its timestamp is when the run's ledger was made)."""
    return {
        "type": EVENT_TYPE,
        "timestamp": _utc(target.get("created_at") or datetime.now(timezone.utc)),
        "data": {
            "run": {"id": str(run.id), "schedule_id": str(run.schedule_id), "trigger": run.trigger,
                    "scheduled_for": _utc(run.scheduled_for)},
            "schedule": {"id": str(schedule["id"]), "name": schedule["name"], "task": schedule["task"],
                         "cadence": schedule["cadence"], "timezone": schedule["timezone"],
                         "tags": list(schedule.get("tags") or [])},
            # The attachment (a file) stays out of the body; the report link is what a receiver follows.
            "result": {k: v for k, v in result.items() if k != "attachment"},
            "report_url": result.get("report_url"),
        },
    }
