"""The channel types beside email, in one registry: what every part of the service knows of a type.

Each type is registered once, below, with its name (the API's `type`, the ledger's `channel`), its
label for people, a few words on its URL (the API's description), whether its URL is a secret (then
shown as `scheme://host/…` and its last 4 characters, everywhere a target is shown), whether a 4xx
answer is final (no retry can fix it), and its sender: a class made with (its ChannelType, settings,
a db.ConnectionPool) that renders and sends a run's result (`send`) and an alert message (`send_alert`),
core/deliveries/webhooks.py's HttpChannel being the base. The sender is named by import path, as the
TASKS registry names tasks, so this module imports none of them. Every sender, email's too, keeps
the contract below (`Channel`): it answers each target with a `Sent`.

The API's schemas, the console's labels and choices, the worker's senders, the alerts and every
masked target read this registry. The database keeps the names in `channel_types` (migration 0030):
a new type whose storage is a schedule_channels URL is its sender module, one `register` line and a
migration adding its row (docs/layout.md).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from core.runs.run import Run


@dataclass(frozen=True)
class ChannelType:
    name: str
    label: str                 # for people: "Slack"
    sender: str                # its sender class, `package.module:Class`
    about: str                 # what its URL is, for the API's description
    secret_url: bool = False   # the URL is a credential: only ever shown masked
    final_4xx: bool = False    # a 4xx answer (but 408 and 429) fails the message at once
    choice: str = ""           # the console's option to add one, when it says more than the label

    def make(self, settings, pool):
        """Its sender, for one worker process."""
        module, _, name = self.sender.partition(":")
        return getattr(importlib.import_module(module), name)(self, settings, pool)


@dataclass(frozen=True)
class Sent:
    """The outcome of sending to one target."""

    ok: bool
    error: str | None = None
    permanent: bool = False     # retrying cannot help (a 5xx refusal): the target fails now
    unreachable: bool = False   # the channel itself is down: stop this pass, retry them all later
    email: "EmailAttempt | None" = None  # an email's row in email_log, written with the outcome


@dataclass(frozen=True)
class EmailAttempt:
    """What email_log keeps of one email attempt besides the target, the run and the error."""

    provider: str
    subject: str
    response_code: int | None


class Channel(Protocol):
    """A sender: sends a run's result to one target of its ledger (core.deliveries.delivery)."""

    def send(self, target: dict, run: Run, schedule: dict, result: dict) -> Sent: ...


TYPES: dict[str, ChannelType] = {}


def register(kind: ChannelType) -> ChannelType:
    TYPES[kind.name] = kind
    return kind


def names() -> tuple[str, ...]:
    return tuple(TYPES)


def label(channel: str) -> str:
    """How people read a channel's name ("email" is email's own)."""
    kind = TYPES.get(channel)
    return kind.label if kind else channel


def shown_target(channel: str, target: str) -> str:
    """A target as the API, the console and the logs show it: a secret URL as its scheme, host and last
    4 characters (migration 0030's ledger_summary masks it the same way in SQL)."""
    kind = TYPES.get(channel)
    if kind is None or not kind.secret_url:
        return target
    parts = urlsplit(target)
    return f"{parts.scheme}://{parts.netloc}/…{target[-4:]}"


register(ChannelType("webhook", "Webhook", "core.deliveries.webhooks:WebhookChannel",
                     "Standard Webhooks, signed", choice="Webhook (signed)"))
register(ChannelType("slack", "Slack", "core.deliveries.slack:SlackChannel", "an incoming-webhook URL",
                     secret_url=True, final_4xx=True))
