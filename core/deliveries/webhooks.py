"""The ledger's `webhook` and `slack` channels (core.deliveries.delivery.Channel): one POST per (run, URL).

Webhooks follow Standard Webhooks: headers `webhook-id` (the ledger row's message id, the same on
every attempt, so a receiver drops a repeat), `webhook-timestamp` (this attempt's, in seconds) and
`webhook-signature` (HMAC-SHA256 with each valid signing secret of the account, core/deliveries/signing.py).
The JSON body is `{"type": "report.ready", "timestamp", "data": {"run", "schedule", "result",
"report_url"}}`. A 2xx is delivered; 410 Gone disables the channel (the receiver asked for no more)
and fails the row; anything else (a 5xx, a timeout, a refused connection, a redirect, which is never
followed) is retried by the ledger with back-off.

Slack gets an incoming-webhook message: the report's title as a link, and the run's time in the
schedule's zone. Slack answers a bad or revoked webhook with a 4xx that no retry can fix, so those fail
the row at once (410 also disables the channel); a 408, 429 or 5xx is retried.

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
from zoneinfo import ZoneInfo

from core.deliveries import outbound, signing
from core.deliveries.delivery import Sent
from core.ops import db
from core.ops.sql import queries
from core.runs.run import Run

logger = logging.getLogger(__name__)

USER_AGENT = "schedules-webhooks/1"
EVENT_TYPE = "report.ready"
ERROR_BODY_CHARS = 200


def _utc(value) -> str | None:
    if value is None:
        return None
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def run_time(run: Run) -> datetime:
    """The instant a run stands for: the occurrence it was scheduled for (a manual run: when it was asked)."""
    return run.scheduled_for or datetime.now(timezone.utc)


class _HttpChannel:
    type: str

    def __init__(self, settings, pool):
        self.settings, self.pool = settings, pool

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
        try:
            destination = outbound.check(url, allow_loopback=self.settings.webhook_allow_loopback)
        except outbound.UnsafeUrl as exc:
            # A name that does not resolve may again; an address that is not public must not be retried.
            return Sent(False, f"refused: {exc}", permanent=not exc.transient)
        body, headers = self.request(target, run, schedule, result)
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers}
        try:
            answer = outbound.post(destination, body, headers, timeout=self.settings.webhook_timeout,
                                   max_bytes=self.settings.webhook_max_response_bytes)
        except (OSError, http.client.HTTPException) as exc:
            return Sent(False, f"{type(exc).__name__}: {exc}")
        if 200 <= answer.status < 300:
            return Sent(True)
        error = self._answer_text(answer)
        if answer.status == 410:
            reason = f"the receiver answered 410 Gone on {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC"
            with self._transaction() as cur:
                cur.execute(queries["disable_schedule_channel"], {"id": channel["id"], "reason": reason})
            logger.warning("%s channel %s of schedule %s disabled: %s", self.type, channel["id"], schedule["id"],
                           reason, extra={"schedule_id": schedule["id"], "run_id": run.id})
            return Sent(False, f"{error}; the channel is disabled until it is enabled again", permanent=True)
        return Sent(False, error, permanent=self.permanent(answer.status))

    def permanent(self, status: int) -> bool:
        return False

    @staticmethod
    def _answer_text(answer: outbound.Response) -> str:
        if 300 <= answer.status < 400:
            return f"answered {answer.status}: redirects are not followed (Location: {answer.location})"
        text = answer.body[:ERROR_BODY_CHARS].decode(errors="replace").strip()
        return f"answered {answer.status}" + (f": {text}" if text else "")

    def request(self, target, run, schedule, result) -> tuple[bytes, dict]:
        raise NotImplementedError


class WebhookChannel(_HttpChannel):
    type = "webhook"

    def request(self, target, run, schedule, result):
        # sort_keys: the first attempt has the task's dict, a retry the stored JSONB (another key order).
        payload = json.dumps(webhook_payload(target, run, schedule, result), separators=(",", ":"), sort_keys=True,
                             ensure_ascii=False, default=str)
        with self._transaction() as cur:
            secrets = [row["secret"] for row in signing.ensure_secret(cur, schedule["account_id"])]
        now = datetime.now(timezone.utc).replace(microsecond=0)
        return payload.encode(), {
            "webhook-id": target["message_id"],
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signing.signature_header(secrets, target["message_id"], now, payload),
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


class SlackChannel(_HttpChannel):
    type = "slack"

    def permanent(self, status: int) -> bool:
        return 400 <= status < 500 and status not in (408, 429)

    def request(self, target, run, schedule, result):
        return json.dumps(slack_message(run, schedule, result), ensure_ascii=False).encode(), {}


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup; these three are escaped, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_message(run: Run, schedule: dict, result: dict) -> dict:
    """An incoming-webhook message: `text` (notifications, clients without blocks) and one section block."""
    title = str(result.get("title") or schedule["name"])
    url = result.get("report_url")
    zone = schedule.get("timezone") or "UTC"
    local = run_time(run).astimezone(ZoneInfo(zone))
    when = f"{local:%a %d %b %Y, %H:%M} {local.tzname()} ({zone})"
    link = f"<{_slack_escape(str(url))}|{_slack_escape(title)}>" if url else _slack_escape(title)
    return {
        "text": f"{title}: {url or 'the report is ready'} (run of {when})",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                "text": f"*{link}*\nRun of {when} · schedule "
                                                        f"“{_slack_escape(schedule['name'])}”"}}],
    }
