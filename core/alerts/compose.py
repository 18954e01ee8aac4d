"""What an alert message says: its subject and text (the same words in every channel), and an email with
a link to the schedule's (or run's) console page and an unsubscribe link. Each channel type's sender
renders the same content into its own body (`send_alert`, core/deliveries/channel_types.py).

`compose(settings, message)` takes a row of core/alerts/ledger.sql's alert_message_for_delivery.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import timezone
from email.utils import formatdate
from zoneinfo import ZoneInfo

from core.deliveries.channel_types import shown_target
from core.deliveries.email import ReportEmail, unsubscribe_url

ERROR_EXCERPT = 300


@dataclass(frozen=True)
class AlertContent:
    subject: str
    lines: tuple[str, ...]   # the body, a paragraph a line
    link: str                # the console page of the run (or the schedule)
    schedule_link: str
    data: dict               # for webhooks (the body's `data`)


def _when(value, zone: str | None) -> str:
    if value is None:
        return "an unknown time"
    zone = zone or "UTC"
    try:
        local = value.astimezone(ZoneInfo(zone))
    except (KeyError, ValueError):
        local, zone = value.astimezone(timezone.utc), "UTC"
    name = local.tzname()
    return f"{local:%a %d %b %Y, %H:%M} {name}" + ("" if name == zone else f" ({zone})")


def _excerpt(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= ERROR_EXCERPT else text[:ERROR_EXCERPT - 1] + "…"


def _utc(value) -> str | None:
    return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z") if value else None


def compose(settings, m: dict) -> AlertContent:
    name = " ".join(str(m["schedule_name"]).split())
    base = settings.public_base_url.rstrip("/")
    schedule_link = f"{base}/console/schedules/{m['schedule_id']}"
    link = f"{schedule_link}#run-{m['run_id']}" if m["run_id"] else schedule_link
    run_at = _when(m["scheduled_for"], m["timezone"])
    event, cause = m["event"], m["cause"]
    repeats = ("Further failures are counted into this alert, not sent one by one; you will get one "
               "message when the schedule succeeds again.")
    if event == "recovered":
        n = m["failures"]
        subject = f'Back to normal: "{name}"'
        lines = [f'The schedule "{name}" succeeded again: its run of {run_at}.',
                 f"This closes the alert opened {_when(m['opened_at'], m['timezone'])}"
                 f" ({_opened_words(m['opened_by'])}), which counted {n} failed or missed run{'' if n == 1 else 's'}."]
    elif event == "paused" or cause == "paused":
        subject = f'Paused after failures: "{name}"'
        lines = [f'The schedule "{name}" was paused: {_excerpt(m["detail"])}.',
                 "It makes no run until someone resumes it: Resume on its page in the console, "
                 "or POST /v1/schedules/<id>/resume."]
    elif event == "channel_disabled" or cause == "channel_disabled":
        subject = f'Channel disabled: "{name}"'
        lines = [f'A channel of the schedule "{name}" was disabled by its receiver: {_excerpt(m["detail"])}.',
                 "No run sends to it until it is enabled again (Re-enable on the schedule's page)."]
    elif cause == "failed":
        subject = f'Failing: "{name}"'
        lines = [f'The run of {run_at} of the schedule "{name}" failed after {m["run_attempt"] or 1} attempt(s).',
                 f"Error: {_excerpt(m['detail'])}", repeats]
    elif cause == "delivery_failed":
        failed = m["failed_targets"] or []
        who = ", ".join(f"{shown_target(t['channel'], t['target'])} ({_excerpt(t['error'])})" for t in failed)
        subject = f'Delivery failed: "{name}"'
        lines = [f'The run of {run_at} of the schedule "{name}" ran, but could not be delivered to '
                 f"{len(failed)} recipient(s) or channel(s): {who or _excerpt(m['detail'])}.", repeats]
    elif cause == "missed":
        subject = f'Missed run: "{name}"'
        lines = [f'The run of {run_at} of the schedule "{name}" was missed: {_excerpt(m["detail"])}.',
                 "It was not executed (the ticker was down or behind for longer than the misfire grace).", repeats]
    else:  # stale
        subject = f'Stopped running: "{name}"'
        lines = [f'The schedule "{name}" is on but has stopped running: {_excerpt(m["detail"])}.', repeats]
    data = {"alert": {"id": m["alert_id"], "event": event, "cause": cause, "failures": m["failures"],
                      "opened_at": _utc(m["opened_at"])},
            "schedule": {"id": m["schedule_id"], "name": m["schedule_name"], "task": m["task"],
                         "cadence": m["cadence"], "timezone": m["timezone"]},
            "run": ({"id": m["run_id"], "status": m["run_status"], "scheduled_for": _utc(m["scheduled_for"])}
                    if m["run_id"] else None),
            "subject": subject, "text": "\n\n".join(lines), "link": link}
    return AlertContent(subject, tuple(lines), link, schedule_link, data)


def _opened_words(opened_by: str) -> str:
    return {"failed": "a failed run", "delivery_failed": "a run whose delivery failed", "missed": "a missed run",
            "paused": "a pause after failures", "channel_disabled": "a disabled channel",
            "stale": "a schedule that stopped running"}.get(opened_by, opened_by)


def email(settings, content: AlertContent, m: dict, recipient: str, message_id: str) -> ReportEmail:
    unsubscribe = unsubscribe_url(settings, recipient, m["account_id"])
    headers = (
        ("Subject", content.subject),
        ("From", settings.email_from),
        ("To", recipient),
        ("Date", formatdate(localtime=False, usegmt=True)),
        ("Message-ID", message_id),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ("X-Schedule-Alert-ID", m["alert_id"]),
    )
    text = ("\n\n".join(content.lines) + f"\n\nOpen it in the console: {content.link}\n\n"
            f"You receive this because this address gets the alerts of the account.\nUnsubscribe: {unsubscribe}\n")
    paragraphs = "".join(f"<p>{html.escape(line)}</p>" for line in content.lines)
    page = (f"<!doctype html><html><body><h2>{html.escape(content.subject)}</h2>{paragraphs}"
            f'<p><a href="{html.escape(content.link)}">Open it in the console</a></p>'
            f'<p style="color:#666;font-size:12px">You receive this because this address gets the alerts of the '
            f'account. <a href="{html.escape(unsubscribe)}">Unsubscribe</a></p></body></html>\n')
    return ReportEmail(recipient, content.subject, headers, text, page)
