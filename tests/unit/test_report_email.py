"""The report email's one-click unsubscribe headers (RFC 2369/8058) as a naive client reads them.

Python's default policy would fold the long List-Unsubscribe URL into an RFC 2047 encoded word
(`=?utf-8?q?=3Chttps...`); a client reading the raw header with the `compat32` policy would then see
no `<URL>`. Checked on the serialised bytes and on what a real SMTP server on loopback received.
"""
from __future__ import annotations

import email
import email.policy
import html
import json
import smtplib
import socket
import uuid

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from core.deliveries.email import build_report_email, unsubscribe_url
from core.ops.settings import load_settings

ACCOUNT_ID = uuid.UUID("912014c3-6deb-4b40-a28d-489ef3923a3a")
# Long enough that the URL is far past the 78-character fold (about 230 characters).
RECIPIENT = "a.rather.long.recipient.address+reports@subsidiary.example.com"


@pytest.fixture
def settings():
    return load_settings({"DATABASE_URL": "postgresql://localhost/unused", "UNSUBSCRIBE_SECRET": "u" * 32,
                          "PUBLIC_BASE_URL": "https://schedules.example.com"})


def _message(settings, name="Weekly Market Snapshot", **schedule):
    return build_report_email(settings, schedule={"name": name, "account_id": ACCOUNT_ID, **schedule},
                              run_id=uuid.uuid4(), recipient=RECIPIENT,
                              result={"report_url": "https://reports.example.com/r/1"})


def _as_naive_client_reads(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.compat32)


@pytest.mark.parametrize("name", ["Weekly Market Snapshot", "Wöchentlicher Marktbericht für München " * 3])
@pytest.mark.parametrize("include_attachment", [False, True])
def test_list_unsubscribe_is_the_plain_url_in_angle_brackets(settings, name, include_attachment):
    url = unsubscribe_url(settings, RECIPIENT, ACCOUNT_ID)
    assert len(url) > 200
    raw = _message(settings, name, include_attachment=include_attachment).as_bytes()
    parsed = _as_naive_client_reads(raw)
    assert parsed["List-Unsubscribe"] == f"<{url}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f"\nList-Unsubscribe: <{url}>\n".encode() in raw
    assert b"=?utf-8?q?=3C" not in raw


def test_other_headers_are_still_folded_and_encoded_as_usual(settings):
    raw = _message(settings, "Wöchentlicher Marktbericht für München " * 3).as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))
    header_lines = raw.split(b"\n\n", 1)[0].split(b"\n")
    subject = [line for line in header_lines if line.startswith(b"Subject:")][0]
    assert b"=?utf-8?" in subject and len(subject) <= 78
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"].startswith("Your report: Wöchentlicher Marktbericht für München")


def test_a_url_too_long_for_one_line_falls_back_to_folding(settings):
    """RFC 5322 caps a line at 998 characters: beyond it the header is folded, not written illegally."""
    long_settings = load_settings({"DATABASE_URL": "postgresql://localhost/unused", "UNSUBSCRIBE_SECRET": "u" * 32,
                                   "PUBLIC_BASE_URL": "https://schedules.example.com/" + "p" * 900})
    raw = _message(long_settings).as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\n"))


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.original_content)
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_headers_arrive_plain_at_a_real_smtp_server(settings):
    inbox = _Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        message = _message(settings)
        with smtplib.SMTP("127.0.0.1", controller.port, timeout=10) as smtp:
            smtp.sendmail("reports@example.com", [message.to], message.as_bytes(linesep="\r\n"))
    finally:
        controller.stop()
    [raw] = inbox.messages
    parsed = _as_naive_client_reads(raw)
    assert parsed["List-Unsubscribe"] == f"<{unsubscribe_url(settings, RECIPIENT, ACCOUNT_ID)}>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert b"\r\nList-Unsubscribe: <https://schedules.example.com/v1/email/unsubscribe?" in raw


# What a schedule's name may hold (the API refuses only NUL and lone surrogates): line breaks of every
# kind, controls, quotes, non-ASCII, and lengths past a header line.
NAMES = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=300)
HEADERS = ["Subject", "From", "To", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
           "X-Schedule-Run-ID", "MIME-Version", "Content-Type"]


def _lines(text: str) -> str:
    return "\n".join(text.splitlines())


@given(name=NAMES, include_attachment=st.booleans(), wire=st.booleans())
def test_any_name_makes_a_well_formed_message_that_says_what_it_should(name, include_attachment, wire):
    settings = load_settings({"DATABASE_URL": "postgresql://localhost/unused", "UNSUBSCRIBE_SECRET": "u" * 32,
                              "PUBLIC_BASE_URL": "https://schedules.example.com"})
    message = build_report_email(settings, schedule={"name": name, "account_id": ACCOUNT_ID,
                                                     "include_attachment": include_attachment},
                                 run_id=uuid.uuid4(), recipient=RECIPIENT,
                                 result={"report_url": "https://reports.example.com/r/1", "rows": 3})
    linesep = "\r\n" if wire else "\n"
    raw = message.as_bytes(linesep=linesep)
    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(linesep.encode()))
    if wire:
        assert b"\n" not in raw.replace(b"\r\n", b"")  # no bare line feed on the wire
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert list(parsed.keys()) == HEADERS  # each once, in order: a name cannot smuggle a header in
    assert all(not part.defects for part in parsed.walk())
    one_line = " ".join(name.splitlines())
    # Compared without whitespace: the email package's folding of encoded words may drop a space.
    assert "".join(parsed["Subject"].split()) == "".join(f"Your report: {one_line}".split())
    url = unsubscribe_url(settings, RECIPIENT, ACCOUNT_ID)
    # Bodies are written in lines (any line break in a name ends one), and Python's parser keeps a
    # CRLF message's line ends in the content: compared as lines.
    text = _lines(parsed.get_body(("plain",)).get_content())
    assert text.startswith(name.splitlines()[0] if name.splitlines() else "") and f"Unsubscribe: {url}" in text
    assert "https://reports.example.com/r/1" in text
    page = _lines(parsed.get_body(("html",)).get_content())
    assert html.escape(url) in page and _lines(f"<h2>{html.escape(name)}</h2>") in page
    attachments = list(parsed.iter_attachments())
    assert [a.get_filename() for a in attachments] == (["report.json"] if include_attachment else [])
    if include_attachment:
        assert json.loads(attachments[0].get_content()) == {"report_url": "https://reports.example.com/r/1", "rows": 3}


def test_a_name_with_a_line_break_is_one_line_in_the_subject(settings):
    parsed = email.message_from_bytes(_message(settings, "Sales\nBcc: everyone@example.com").as_bytes(),
                                      policy=email.policy.default)
    assert parsed["Subject"] == "Your report: Sales Bcc: everyone@example.com" and parsed["Bcc"] is None
