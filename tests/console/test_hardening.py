"""Issue 29's console probes, run again: NUL input, a cookie copied before sign-out, cross-site POSTs,
and the headers of the unsubscribe pages and of production."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from freezegun import freeze_time

from api import create_app
from core.ops import db
from tests.console.conftest import csrf_of, login_link, make_schedule

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _cookie(client) -> str:
    return client.get_cookie("schedules_console").value


def _with_cookie(app, value):
    other = app.test_client()
    other.set_cookie("schedules_console", value)
    return other


# -- NUL: the API's check, on every console input --

@pytest.mark.parametrize("path", ["/console/?q=%00", "/console/suppressions?q=a%00b", "/console/?tag=x%00"])
def test_a_nul_in_a_query_is_a_400_naming_it(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 400, response.status_code
    assert "Must not contain NUL characters." in response.get_data(as_text=True)


def test_a_nul_in_a_form_is_a_400_naming_the_field(signed_in):
    token = csrf_of(signed_in)
    response = signed_in.post("/console/suppressions/resubscribe", data={"csrf_token": token, "email": "a\x00@x.co"})
    assert response.status_code == 400
    assert "email: Must not contain NUL characters." in response.get_data(as_text=True)


# -- sessions end on the server --

def test_a_cookie_copied_before_sign_out_is_signed_out_after_it(app, signed_in, conn, account_id):
    schedule = make_schedule(conn, account_id)
    token, copied = csrf_of(signed_in), _cookie(signed_in)
    assert signed_in.post("/console/logout", data={"csrf_token": token}).status_code == 302
    thief = _with_cookie(app, copied)
    listed = thief.get("/console/")
    assert listed.status_code == 302 and listed.headers["Location"].endswith("/console/signed-out")
    toggled = _with_cookie(app, copied).post(f"/console/schedules/{schedule['id']}/toggle",
                                             data={"csrf_token": token, "to": "off"})
    assert toggled.status_code == 401
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT active FROM schedules WHERE id = %s", (schedule["id"],))
        assert cur.fetchone()["active"] is True


def test_sign_out_everywhere_ends_every_session_of_the_account(app, account_id, other_account_id):
    first, second, other = app.test_client(), app.test_client(), app.test_client()
    for client, account in ((first, account_id), (second, account_id), (other, other_account_id)):
        assert client.get(login_link(account)).status_code == 302
    assert second.post("/console/logout", data={"csrf_token": csrf_of(second), "everywhere": "1"}).status_code == 302
    assert first.get("/console/").status_code == 302
    assert other.get("/console/").status_code == 200  # another account's sessions are its own


def test_plain_sign_out_ends_only_its_own_session(app, account_id):
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        client.get(login_link(account_id))
    first.post("/console/logout", data={"csrf_token": csrf_of(first)})
    assert second.get("/console/").status_code == 200


def _app_with(app_config, **settings):
    return create_app({**app_config, **settings})


def test_a_session_idle_longer_than_the_idle_timeout_is_signed_out(app_config, account_id):
    app = _app_with(app_config, CONSOLE_IDLE_MINUTES="10")
    try:
        start = datetime.now(timezone.utc)
        client = app.test_client()
        with freeze_time(start) as clock:
            assert client.get(login_link(account_id, now=start)).status_code == 302
            clock.tick(timedelta(minutes=9))
            assert client.get("/console/").status_code == 200  # used: idle time starts again
            clock.tick(timedelta(minutes=9))
            assert client.get("/console/").status_code == 200
            clock.tick(timedelta(minutes=10, seconds=1))
            assert client.get("/console/").status_code == 302
    finally:
        app.extensions["db_pool"].close()


def test_a_session_in_use_ends_at_its_maximum_age(app_config, account_id):
    app = _app_with(app_config, CONSOLE_IDLE_MINUTES="120", CONSOLE_SESSION_HOURS="1")
    try:
        start = datetime.now(timezone.utc)
        client = app.test_client()
        with freeze_time(start) as clock:
            assert client.get(login_link(account_id, now=start)).status_code == 302
            for _ in range(5):
                clock.tick(timedelta(minutes=11))
                assert client.get("/console/").status_code == 200
            clock.tick(timedelta(minutes=6))  # 61 minutes after sign-in, 6 after the last use
            assert client.get("/console/").status_code == 302
    finally:
        app.extensions["db_pool"].close()


def test_a_cookie_from_before_server_sessions_is_signed_out(app, signed_in):
    with signed_in.session_transaction() as session:
        del session["sid"]  # what a cookie minted before migration 0016 holds
    assert signed_in.get("/console/").status_code == 302


def test_session_rows_hold_only_a_hash_and_are_confined_to_their_tenant(signed_in, conn, account_id,
                                                                        other_account_id):
    with signed_in.session_transaction() as session:
        session_id = session["sid"]
    with db.tenant_transaction(conn, other_account_id) as cur:
        cur.execute("SELECT count(*) AS n FROM console_sessions")
        assert cur.fetchone()["n"] == 0
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("SELECT id_hash FROM console_sessions")
        [row] = cur.fetchall()
    assert session_id.encode() not in bytes(row["id_hash"])


# -- Origin / Referer, as well as the token --

@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"}, {"Origin": "null"}, {"Referer": "https://evil.example/page"},
    {"Origin": "http://localhost.evil.example"},
], ids=["foreign-origin", "null-origin", "foreign-referer", "lookalike-origin"])
def test_a_post_from_another_site_is_refused_even_with_the_token(signed_in, conn, account_id, headers):
    schedule = make_schedule(conn, account_id)
    response = signed_in.post(f"/console/schedules/{schedule['id']}/toggle", headers=headers,
                              data={"csrf_token": csrf_of(signed_in), "to": "off"})
    assert response.status_code == 400
    assert "another site" in response.get_data(as_text=True)


@pytest.mark.parametrize("headers", [
    {"Origin": "http://localhost"}, {"Referer": "http://localhost/console/"}, {},
], ids=["own-origin", "own-referer", "neither"])
def test_a_post_from_the_console_itself_is_accepted(signed_in, conn, account_id, headers):
    schedule = make_schedule(conn, account_id)
    response = signed_in.post(f"/console/schedules/{schedule['id']}/toggle", headers=headers,
                              data={"csrf_token": csrf_of(signed_in), "to": "off"})
    assert response.status_code == 302


def test_the_public_base_url_counts_as_this_site(app_config, account_id):
    app = _app_with(app_config, PUBLIC_BASE_URL="https://schedules.example.com")
    try:
        client = app.test_client()
        client.get(login_link(account_id))
        response = client.post("/console/logout", headers={"Origin": "https://schedules.example.com"},
                               data={"csrf_token": csrf_of(client)})
        assert response.status_code == 302
    finally:
        app.extensions["db_pool"].close()


# -- headers --

def test_the_unsubscribe_pages_cannot_be_framed_or_sniffed(app_config, account_id):
    from core.deliveries.email import unsubscribe_token

    app = _app_with(app_config, UNSUBSCRIBE_SECRET="u" * 32)
    try:
        client = app.test_client()
        link = {"email": "a@x.co", "account_id": str(account_id),
                "token": unsubscribe_token("u" * 32, "a@x.co", account_id)}
        pages = [client.get("/v1/email/unsubscribe", query_string=link), client.post("/v1/email/unsubscribe", data=link),
                 client.post("/v1/email/unsubscribe", data={**link, "token": "forged"})]
    finally:
        app.extensions["db_pool"].close()
    assert [page.status_code for page in pages] == [200, 200, 400]
    for response in pages:
        assert response.mimetype == "text/html"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "style=" not in response.get_data(as_text=True)  # the CSP allows no inline style


def test_hsts_in_production_only(app_config, client):
    assert "Strict-Transport-Security" not in client.get("/healthz").headers
    app = _app_with(app_config, ENVIRONMENT="production")
    try:
        production = app.test_client()
        for path in ("/healthz", "/console/signed-out", "/v1/schedules"):
            assert production.get(path).headers["Strict-Transport-Security"].startswith("max-age=31536000")
    finally:
        app.extensions["db_pool"].close()
