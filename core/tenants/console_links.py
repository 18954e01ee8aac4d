"""Sign-in links for the console: short-lived, signed, used once. No Flask here.

The host application's backend (or `python -m api.cli login-link`) mints a link for one account;
the console turns it into a session cookie. A link token is

    v1.<base64url(JSON {"a": account id, "l": link id, "e": expiry, unix seconds[, "s": who]})>.<base64url(HMAC-SHA256)>

`s`, optional, names the person the host application signs in (its user id or address): the
console's changes are recorded in the schedule's history as `console:<s>`.

keyed with CONSOLE_SECRET (or JWT_SECRET), through a key derived for this use only, so a link can
never pass for a bearer token or the other way round. The signature and the expiry are checked here
without I/O; "used once" is a row in `console_logins` (migration 0005), claimed in the link's tenant
transaction, whose primary key refuses a second use.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlencode

from core.ops.sql import queries

DEFAULT_TTL_SECONDS = 300
MAX_SUBJECT = 200
MAX_TTL_SECONDS = 24 * 3600
_VERSION = "v1"


class InvalidLink(Exception):
    """The link is malformed, forged, expired or used; the message is fit to show the person."""


@dataclass(frozen=True)
class LoginLink:
    account_id: uuid.UUID
    link_id: uuid.UUID
    expires_at: datetime
    subject: str | None = None


def _key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"schedules console sign-in link", hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def mint(secret: str, account_id, now: datetime, ttl_seconds: int = DEFAULT_TTL_SECONDS,
         subject: str | None = None) -> str:
    """A sign-in token for `account_id`, valid `ttl_seconds` from `now`, for the person `subject`."""
    if not 1 <= ttl_seconds <= MAX_TTL_SECONDS:
        raise ValueError(f"ttl_seconds must be from 1 to {MAX_TTL_SECONDS}")
    claims = {"a": str(uuid.UUID(str(account_id))), "l": str(uuid.uuid4()),
              "e": int(now.timestamp()) + ttl_seconds}
    if subject:
        claims["s"] = subject[:MAX_SUBJECT]
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signed = f"{_VERSION}.{payload}"
    return f"{signed}.{_b64(hmac.new(_key(secret), signed.encode(), hashlib.sha256).digest())}"


def url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/console/login?{urlencode({'token': token})}"


def verify(secret: str, token: str, now: datetime) -> LoginLink:
    """The link's claims when its signature is ours and it has not expired; else InvalidLink."""
    parts = (token or "").split(".")
    if len(parts) != 3 or parts[0] != _VERSION:
        raise InvalidLink("This is not a sign-in link of this console.")
    signed = f"{parts[0]}.{parts[1]}"
    expected = hmac.new(_key(secret), signed.encode(), hashlib.sha256).digest()
    try:
        signature = _unb64(parts[2])
        claims = json.loads(_unb64(parts[1])) if hmac.compare_digest(expected, signature) else None
        subject = None if claims is None else claims.get("s")
        link = None if claims is None else LoginLink(
            uuid.UUID(claims["a"]), uuid.UUID(claims["l"]), datetime.fromtimestamp(int(claims["e"]), timezone.utc),
            subject[:MAX_SUBJECT] if isinstance(subject, str) and subject.strip() else None)
    except (binascii.Error, ValueError, KeyError, TypeError, OverflowError):
        link = None
    if link is None:
        raise InvalidLink("This sign-in link is not valid (it was changed, or signed with another secret).")
    if link.expires_at <= now:
        raise InvalidLink("This sign-in link has expired. Ask for a new one.")
    return link


def claim(cur, link: LoginLink, now: datetime) -> None:
    """Mark the link used (cursor of the link's tenant transaction); InvalidLink if it was used before."""
    cur.execute(queries["prune_console_logins"], {"account_id": link.account_id, "now": now})
    cur.execute(queries["claim_console_login"], {"link_id": link.link_id, "account_id": link.account_id,
                                                 "expires_at": link.expires_at, "now": now})
    if cur.fetchone() is None:
        raise InvalidLink("This sign-in link has been used already: each link works once. Ask for a new one.")
