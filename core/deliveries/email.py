"""Report emails: one message per recipient, with a signed unsubscribe link and RFC 8058 one-click headers.

Transport: SMTP_URL (`smtp://user:pass@host:587` upgrades with STARTTLS when the server offers it,
`smtps://user:pass@host:465` is TLS from the start), which covers SendGrid, Resend, SES and Postmark
relays. With no SMTP_URL, messages are written as .eml files to OUTBOX_DIR and logged, so development
needs no mail server. Only the standard library is used.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import html
import json
import logging
import secrets
import smtplib
import ssl
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email.headerregistry import HeaderRegistry
from email.message import MIMEPart
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import unquote, urlencode, urlsplit

from core.deliveries.channel_types import EmailAttempt, Sent
from core.ops.freelist import FreeList
from core.runs.run import Run

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendResult:
    provider: str
    response_code: int | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


# RFC 5322's recommended line length, which a 7bit body keeps to.
MAX_LINE = 78
# RFC 5322's hard limit on a line; RFC 2369 headers longer than that are folded the usual way.
MAX_HEADER_LINE = 998
# Headers whose value a client reads as written: RFC 2369/8058 want `<https://...>` in the raw header.
# Message-ID too: a folded one ("Message-ID:\r\n <...>") is legal, but naive clients keep the fold,
# and the id must read the same on every attempt and in the delivery ledger.
PLAIN_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "message-id"})


class ReportPolicy(EmailPolicy):
    """Python's default email policy, except that List-Unsubscribe is written on one line, as it is.

    The default policy folds at 78 characters, and a header with no space to fold at (a long URL) is
    then written as an RFC 2047 encoded word (`=?utf-8?q?=3Chttps...`), which mailbox providers and
    naive clients do not decode: they would see no `<URL>`. An ASCII value up to 998 characters is
    legal unfolded; anything else keeps the default folding.
    """

    def fold(self, name, value):
        plain = self._plain(name, value)
        return plain if plain is not None else super().fold(name, value)

    def fold_binary(self, name, value):
        plain = self._plain(name, value)
        return plain.encode("ascii") if plain is not None else super().fold_binary(name, value)

    def _plain(self, name, value) -> str | None:
        # Setting a header already refused CR and LF in its value, so it cannot smuggle a header in.
        text = str(value)
        if not text.isascii():
            return None
        length = len(name) + 2 + len(text)
        if name.lower() in PLAIN_HEADERS and length <= MAX_HEADER_LINE:
            return f"{name}: {text}{self.linesep}"
        # Printable ASCII that fits on a line comes out of the default folding unchanged: skip that
        # machinery (a tenth of the worker's CPU per message). Text that looks like an RFC 2047
        # encoded word is left to it, as it may encode it so that no client decodes it by mistake.
        if length <= self.max_line_length and text.isprintable() and "=?" not in text:
            return f"{name}: {text}{self.linesep}"
        return None


class CachedHeaderRegistry(HeaderRegistry):
    """The standard header registry, except that it makes each header's class once (the standard one
    builds a new class, a `type()` call, for every header it parses: about half the CPU of building a
    report email, which the worker does for every recipient of every run) and parses a header that
    every message repeats once."""

    def __init__(self):
        super().__init__()
        self._classes: dict[str, type] = {}
        self._parsed: dict[tuple[str, str], object] = {}

    # Headers whose value is the same in every message (the sender, MIME's own): parsed once. A parsed
    # header is immutable, so one instance can sit in many messages.
    REPEATED = frozenset({"from", "mime-version", "content-type", "content-transfer-encoding",
                          "list-unsubscribe-post", "content-disposition"})
    MAX_CACHED = 1000

    def __getitem__(self, name):
        key = name.lower()
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = super().__getitem__(name)
        return cls

    def __call__(self, name, value):
        if (name.lower() not in self.REPEATED or not isinstance(value, str) or len(value) > 200
                or "boundary=" in value):  # a multipart's Content-Type is one of a kind
            return self[name](name, value)
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            if len(self._parsed) >= self.MAX_CACHED:
                self._parsed.clear()
            header = self._parsed[key] = self[name](name, value)
        return header


REPORT_POLICY = ReportPolicy(header_factory=CachedHeaderRegistry())
# By (line end, UTF-8 headers): on the wire CRLF, and UTF-8 headers for a server that takes SMTPUTF8
# (as send_message() does); LF in the outbox.
_POLICIES = {(linesep, utf8): REPORT_POLICY.clone(linesep=linesep, utf8=utf8)
             for linesep in ("\n", "\r\n") for utf8 in (False, True)}


def unsubscribe_token(secret: str, email: str, account_id) -> str:
    """The signature of an unsubscribe link: the hex HMAC-SHA256 of "{email}:{account_id}" keyed with
    UNSUBSCRIBE_SECRET (api/unsubscribe.py checks it with `unsubscribe_token_is_valid`)."""
    message = f"{email}:{account_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def unsubscribe_token_is_valid(secret: str, email: str, account_id, token: str) -> bool:
    """Whether `token` is the link's signature, compared in constant time."""
    # As bytes: compare_digest raises TypeError for a str with a non-ASCII character ("é" as a token).
    presented = str(token).encode("utf-8", "replace")
    return hmac.compare_digest(unsubscribe_token(secret, email, account_id).encode(), presented)


def unsubscribe_url(settings, email: str, account_id) -> str:
    query = urlencode({"email": email, "account_id": str(account_id),
                       "token": unsubscribe_token(settings.unsubscribe_secret, email, account_id)})
    return f"{settings.public_base_url}/v1/email/unsubscribe?{query}"


@dataclass(frozen=True)
class ReportEmail:
    """One recipient's report email: its headers, a text and an HTML body, and maybe an attachment,
    written out by `as_bytes` as MIME (multipart/alternative, inside multipart/mixed with an attachment).

    The worker writes one for every recipient of every run, so it is written directly rather than
    through EmailMessage, whose header objects (parsed on every assignment, then folded) were most of
    the worker's CPU per message. Each header still goes through the email package's own folding and
    RFC 2047 encoding whenever it needs any (non-ASCII text, a long line: ReportPolicy decides, as it
    did when the email package wrote the whole message); the attachment part is the email package's.
    """

    to: str
    subject: str
    headers: tuple[tuple[str, str], ...]
    text: str
    html: str
    attachment: MIMEPart | None = None

    def as_bytes(self, *, linesep: str = "\n", utf8: bool = False) -> bytes:
        """The message with `linesep` line ends ("\r\n" on the wire); `utf8`: non-ASCII headers are
        written as UTF-8 (for a server that takes SMTPUTF8) instead of as encoded words."""
        policy = _POLICIES[(linesep, utf8)]
        alternative = _multipart("alternative", [_text_part("plain", self.text, linesep),
                                                 _text_part("html", self.html, linesep)], linesep)
        if self.attachment is not None:
            body = _multipart("mixed", [alternative, self.attachment.as_string(policy=policy)], linesep)
        else:
            body = alternative
        head = "".join(_fold(policy, name, value) for name, value in self.headers)
        return (head + "MIME-Version: 1.0" + linesep + body).encode()


def _fold(policy, name: str, value: str) -> str:
    """`Name: value` as the email package writes it under `policy`, without its parsing when
    ReportPolicy writes the value as it is."""
    if len(value.splitlines()) > 1:  # as EmailMessage refuses them: no header can be smuggled in
        raise ValueError(f"header {name} may not contain a line break")
    plain = policy._plain(name, value)
    return plain if plain is not None else policy.header_factory(name, value).fold(policy=policy)


def _text_part(subtype: str, text: str, linesep: str) -> str:
    """A text/* part in UTF-8: 7bit when it is ASCII in lines of at most 78 characters (as the email
    package chooses), else quoted-printable (binascii's, in C)."""
    lines = text.splitlines()
    body = linesep.join(lines) + linesep
    if text.isascii() and all(len(line) <= MAX_LINE for line in lines):
        cte, payload = "7bit", body
    else:
        cte, payload = "quoted-printable", binascii.b2a_qp(body.encode()).decode("ascii")
    return (f'Content-Type: text/{subtype}; charset="utf-8"{linesep}Content-Transfer-Encoding: {cte}{linesep}'
            f"{linesep}{payload}")


def _multipart(subtype: str, parts: list[str], linesep: str) -> str:
    """A multipart/* entity around already written parts. A random boundary per entity, as the
    generator makes (without its search of the text for it: 32 random hex digits never occur in a
    report by chance)."""
    boundary = f"=_{secrets.token_hex(16)}"
    inner = "".join(f"--{boundary}{linesep}{part}{linesep}" for part in parts)
    return (f'Content-Type: multipart/{subtype}; boundary="{boundary}"{linesep}{linesep}'
            f"{inner}--{boundary}--{linesep}")


def build_report_email(settings, *, schedule: dict, run_id, recipient: str, result: dict,
                       message_id: str | None = None) -> ReportEmail:
    """The message for one recipient: text and HTML bodies with the report link and an unsubscribe link.
    `message_id`: the delivery's stable Message-ID (else a new one)."""
    name = schedule["name"]
    report_url = str(result.get("report_url") or "")
    unsubscribe = unsubscribe_url(settings, recipient, schedule["account_id"])
    subject = f"Your report: {' '.join(name.splitlines())}"  # a name may hold line breaks; a subject may not
    headers = (
        ("Subject", subject),
        ("From", settings.email_from),
        ("To", recipient),
        ("Date", formatdate(localtime=False, usegmt=True)),
        ("Message-ID", message_id or make_msgid(idstring=str(run_id), domain=_sender_domain(settings.email_from))),
        ("List-Unsubscribe", f"<{unsubscribe}>"),
        ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),  # RFC 8058
        ("X-Schedule-Run-ID", str(run_id)),
    )
    link_text = f"Open the report: {report_url}\n\n" if report_url else "The report is ready.\n\n"
    text = (f"{name}\n\n{link_text}"
            f"You receive this because you are a recipient of the schedule \"{name}\".\n"
            f"Unsubscribe: {unsubscribe}\n")
    link_html = (f'<p><a href="{html.escape(report_url)}">Open the report</a></p>' if report_url
                 else "<p>The report is ready.</p>")
    page = (f"<!doctype html><html><body><h2>{html.escape(name)}</h2>{link_html}"
            f'<p style="color:#666;font-size:12px">You receive this because you are a recipient of the schedule '
            f'"{html.escape(name)}". <a href="{html.escape(unsubscribe)}">Unsubscribe</a></p></body></html>\n')
    attachment = _report_attachment(result) if schedule.get("include_attachment") else None
    return ReportEmail(recipient, subject, headers, text, page, attachment)


def _report_attachment(result: dict) -> MIMEPart:
    attachment = result.get("attachment")
    if isinstance(attachment, dict) and ("content" in attachment or "content_base64" in attachment):
        if "content_base64" in attachment:
            data = base64.b64decode(attachment["content_base64"])
        else:
            data = str(attachment["content"]).encode()
        filename = str(attachment.get("filename") or "report")
        maintype, _, subtype = str(attachment.get("content_type") or "application/octet-stream").partition("/")
    else:  # no file from the task: attach its result, so include_attachment always attaches something
        data = json.dumps({k: v for k, v in result.items() if k != "attachment"}, indent=2, default=str).encode()
        filename, maintype, subtype = "report.json", "application", "json"
    part = MIMEPart(policy=REPORT_POLICY)
    part.set_content(data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename)
    return part


def _sender_domain(email_from: str) -> str:
    address = parseaddr(email_from)[1]
    return address.rpartition("@")[2] or "localhost"


# A connection idle this long is checked with a NOOP before it carries a message: mail servers drop
# idle clients, and a message sent into a dropped connection would fail for nothing.
IDLE_CHECK_SECONDS = 5.0


class Mailer:
    """Sends messages over one SMTP connection (opened on first use, kept for the next message), or
    writes them to the outbox. Not thread-safe: a MailerPool lends each Mailer to one thread at a time."""

    def __init__(self, settings):
        self.settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._last_used = 0.0
        self._envelope_from = parseaddr(settings.email_from)[1]
        if settings.smtp_url:
            parts = urlsplit(settings.smtp_url)
            self.provider = f"smtp:{parts.hostname}"
        else:
            self.provider = "outbox"

    def __enter__(self) -> "Mailer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, message: ReportEmail) -> SendResult:
        if not self.settings.smtp_url:
            return self._write_to_outbox(message)
        try:
            smtp = self._connection()
            refused = self._sendmail(smtp, message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            return SendResult(self.provider, code, f"recipient refused: {code} {_text(text)}")
        except smtplib.SMTPResponseException as exc:
            self.close()
            return SendResult(self.provider, exc.smtp_code, f"{type(exc).__name__}: {exc.smtp_code} {_text(exc.smtp_error)}")
        except (OSError, smtplib.SMTPException) as exc:
            self.close()
            return SendResult(self.provider, None, f"{type(exc).__name__}: {exc}")
        finally:
            self._last_used = time.monotonic()
        if refused:
            code, text = next(iter(refused.values()))
            return SendResult(self.provider, code, f"recipient refused: {code} {_text(text)}")
        return SendResult(self.provider, 250)

    def _sendmail(self, smtp: smtplib.SMTP, message: ReportEmail) -> dict:
        """What smtplib's send_message() does, with the envelope we already know: CRLF line ends, and
        SMTPUTF8 for a non-ASCII address."""
        to = message.to
        international = not (self._envelope_from + to).isascii()
        if international and not smtp.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "the recipient's or sender's address needs SMTPUTF8, which the mail server does not offer")
        data = message.as_bytes(linesep="\r\n", utf8=international)
        return smtp.sendmail(self._envelope_from, [to], data,
                             ("SMTPUTF8", "BODY=8BITMIME") if international else ())

    def _connection(self) -> smtplib.SMTP:
        if self._smtp is not None and time.monotonic() - self._last_used > IDLE_CHECK_SECONDS:
            try:
                alive = self._smtp.noop()[0] == 250
            except (OSError, smtplib.SMTPException):
                alive = False
            if not alive:
                self.close()
        if self._smtp is not None:
            return self._smtp
        parts = urlsplit(self.settings.smtp_url)
        context = ssl.create_default_context()
        if parts.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(parts.hostname, parts.port or 465, timeout=30, context=context)
        else:
            smtp = smtplib.SMTP(parts.hostname, parts.port or 587, timeout=30)
            smtp.ehlo()
            if smtp.has_extn("starttls"):
                smtp.starttls(context=context)
                smtp.ehlo()
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        self._smtp = smtp
        return smtp

    def _write_to_outbox(self, message: ReportEmail) -> SendResult:
        outbox = Path(self.settings.outbox_dir)
        try:
            outbox.mkdir(parents=True, exist_ok=True)
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
            path = outbox / f"{stamp}-{message.to.replace('@', '_at_')}.eml"
            path.write_bytes(message.as_bytes(utf8=not message.to.isascii()))
        except OSError as exc:
            return SendResult(self.provider, None, f"{type(exc).__name__}: {exc}")
        logger.info("Email to %s written to %s (no SMTP_URL set)", message.to, path)
        return SendResult(self.provider, None)

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


def _text(value) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class MailerPool:
    """A few Mailers shared by the runs a worker process has in flight: each keeps its SMTP connection
    from one message to the next, and a run borrows one per message, so `size` connections serve
    any number of runs (mail servers limit connections per client)."""

    def __init__(self, settings, size: int):
        self._all = [Mailer(settings) for _ in range(size)]
        self._free = FreeList(self._all)  # the most recently used first: its connection is warm

    @contextmanager
    def mailer(self):
        mailer = self._free.take()
        try:
            yield mailer
        finally:
            self._free.give_back(mailer)

    def close(self) -> None:
        for mailer in self._all:
            mailer.close()


class EmailChannel:
    """The ledger's `email` channel (core.deliveries.channel_types.Channel): one report email per
    target, with the target's stable Message-ID, sent through a Mailer of `mailers`; its email_log row
    is written by the statement that records the outcome (Sent.email)."""

    def __init__(self, settings, mailers: MailerPool):
        self.settings, self.mailers = settings, mailers

    def send(self, target: dict, run: Run, schedule: dict, result: dict):
        message = build_report_email(self.settings, schedule=schedule, run_id=run.id,
                                     recipient=target["target"], result=result, message_id=target["message_id"])
        return self.send_message(message)

    def send_message(self, message) -> Sent:
        """Send a built message (a run's report, or an alert: core/alerts/ledger.py) through a Mailer."""
        with self.mailers.mailer() as mailer:
            outcome = mailer.send(message)
        return Sent(ok=outcome.ok, error=outcome.error,
                    permanent=outcome.response_code is not None and 500 <= outcome.response_code < 600,
                    unreachable=not outcome.ok and outcome.response_code is None,
                    email=EmailAttempt(outcome.provider, message.subject, outcome.response_code))

    @staticmethod
    def message_domain(settings) -> str:
        return _sender_domain(settings.email_from)
