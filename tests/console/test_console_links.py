"""Sign-in links: signed, short-lived, used once (console_logins), and confined to their tenant."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import psycopg2
import pytest

from core.ops import db
from core.tenants import console_links

SECRET = "a-secret-of-at-least-32-characters-long!!"
NOW = datetime(2026, 3, 8, 12, 0, tzinfo=timezone.utc)


def test_a_minted_link_verifies_to_its_account_until_it_expires():
    account = uuid.uuid4()
    token = console_links.mint(SECRET, account, NOW, ttl_seconds=300)
    link = console_links.verify(SECRET, token, NOW + timedelta(seconds=299))
    assert link.account_id == account
    assert link.expires_at == NOW + timedelta(seconds=300)
    with pytest.raises(console_links.InvalidLink, match="expired"):
        console_links.verify(SECRET, token, NOW + timedelta(seconds=300))


def test_each_link_has_its_own_id():
    account = uuid.uuid4()
    first = console_links.verify(SECRET, console_links.mint(SECRET, account, NOW), NOW)
    second = console_links.verify(SECRET, console_links.mint(SECRET, account, NOW), NOW)
    assert first.link_id != second.link_id


@pytest.mark.parametrize("token", ["", "v1", "v1.a.b", "v2.e30.xx", "v1.!!!.???", "x" * 5000,
                                   "v1.eyJhIjoiMSJ9.AAAA"])
def test_malformed_links_are_refused_with_a_reason(token):
    with pytest.raises(console_links.InvalidLink):
        console_links.verify(SECRET, token, NOW)


def test_a_link_signed_with_another_secret_or_changed_is_refused():
    token = console_links.mint(SECRET, uuid.uuid4(), NOW)
    with pytest.raises(console_links.InvalidLink, match="not valid"):
        console_links.verify("another-secret-of-at-least-32-characters", token, NOW)
    version, payload, signature = token.split(".")
    other = console_links.mint(SECRET, uuid.uuid4(), NOW).split(".")[1]
    with pytest.raises(console_links.InvalidLink, match="not valid"):
        console_links.verify(SECRET, f"{version}.{other}.{signature}", NOW)


def test_a_bearer_token_is_not_a_sign_in_link():
    from core.tenants.access_tokens import mint_access_token

    with pytest.raises(console_links.InvalidLink):
        console_links.verify(SECRET, mint_access_token(SECRET, uuid.uuid4()), NOW)


def test_the_ttl_is_bounded():
    with pytest.raises(ValueError):
        console_links.mint(SECRET, uuid.uuid4(), NOW, ttl_seconds=0)
    with pytest.raises(ValueError):
        console_links.mint(SECRET, uuid.uuid4(), NOW, ttl_seconds=console_links.MAX_TTL_SECONDS + 1)


def test_a_link_is_claimed_once_in_postgresql(conn, account_id):
    link = console_links.verify(SECRET, console_links.mint(SECRET, account_id, NOW), NOW)
    with db.tenant_transaction(conn, account_id) as cur:
        console_links.claim(cur, link, NOW)
    with pytest.raises(console_links.InvalidLink, match="used already"):
        with db.tenant_transaction(conn, account_id) as cur:
            console_links.claim(cur, link, NOW + timedelta(seconds=1))


def test_used_links_are_pruned_a_day_after_they_expire(conn, account_id):
    old = console_links.verify(SECRET, console_links.mint(SECRET, account_id, NOW), NOW)
    with db.tenant_transaction(conn, account_id) as cur:
        console_links.claim(cur, old, NOW)
    later = NOW + timedelta(days=2)
    fresh = console_links.verify(SECRET, console_links.mint(SECRET, account_id, later), later)
    with db.tenant_transaction(conn, account_id) as cur:
        console_links.claim(cur, fresh, later)
        cur.execute("SELECT link_id FROM console_logins")
        assert [row["link_id"] for row in cur.fetchall()] == [fresh.link_id]


def test_console_logins_rows_are_confined_to_their_tenant(conn, account_id, other_account_id):
    link = console_links.verify(SECRET, console_links.mint(SECRET, account_id, NOW), NOW)
    with db.tenant_transaction(conn, account_id) as cur:
        console_links.claim(cur, link, NOW)
    with db.tenant_transaction(conn, other_account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM console_logins")
        assert cur.fetchone()["n"] == 0
    # A tenant cannot record a link in another tenant's name.
    forged = console_links.LoginLink(account_id, uuid.uuid4(), NOW + timedelta(minutes=5))
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        with db.tenant_transaction(conn, other_account_id) as cur:
            console_links.claim(cur, forged, NOW)
