"""The `slack` channel (core/deliveries/channel_types.py): an incoming-webhook message per (run, URL), and
per alert message and URL, sent by HttpChannel (core/deliveries/webhooks.py).

A run's message: the report's title as a link, and the run's time in the schedule's zone. An alert's:
its subject as a link to the console, and its lines. Slack answers a bad or revoked webhook with a 4xx
that no retry can fix, so those fail the row at once (the type's `final_4xx`; 410 also disables a
schedule's channel); a 408, 429 or 5xx is retried. The URL is a credential (`secret_url`).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from core.deliveries.webhooks import HttpChannel
from core.runs.run import Run


class SlackChannel(HttpChannel):

    def request(self, target, run, schedule, result):
        return json.dumps(slack_message(run, schedule, result), ensure_ascii=False).encode(), {}

    def alert_request(self, row, message, content):
        return json.dumps(alert_message(content), ensure_ascii=False).encode(), {}


def _slack_escape(text: str) -> str:
    """Slack's mrkdwn reads &, < and > as markup; these three are escaped, nothing else."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_time(run: Run) -> datetime:
    """The instant a run stands for: the occurrence it was scheduled for (a manual run: when it was asked)."""
    return run.scheduled_for or datetime.now(timezone.utc)


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


def alert_message(content) -> dict:
    """An alert (core/alerts/compose.py's AlertContent): its subject linked to the console, then its lines."""
    text = (f"*<{_slack_escape(content.link)}|{_slack_escape(content.subject)}>*\n"
            + "\n".join(_slack_escape(line) for line in content.lines))
    return {"text": f"{content.subject}: {content.link}",
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}
