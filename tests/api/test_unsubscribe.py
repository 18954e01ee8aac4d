"""Unsubscribe: the signed link's GET page changes nothing; its POST (button, RFC 8058 one-click or
JSON) suppresses, idempotently; a bad token is refused without saying whether the address is known;
the token route exists only outside production."""
from urllib.parse import urlencode

import pytest

from api import create_app
from core.deliveries.email import unsubscribe_token
from core.ops import db

SECRET = "unsubscribe-secret-0123456789abcdef0123"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "UNSUBSCRIBE_SECRET": SECRET}


def link_args(account_id, email="client@example.com", token=None):
    return {"email": email, "account_id": str(account_id),
            "token": token or unsubscribe_token(SECRET, email, account_id)}


def suppressions(conn):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT account_id, email, reason FROM email_suppressions ORDER BY created_at")
        return cur.fetchall()


def test_get_shows_a_confirmation_page_and_changes_nothing(client, conn, account_id):
    response = client.get(f"/v1/email/unsubscribe?{urlencode(link_args(account_id))}")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    page = response.get_data(as_text=True)
    assert "client@example.com" in page and "<form method=post>" in page and "Unsubscribe</button>" in page
    assert suppressions(conn) == []


def test_the_pages_button_suppresses(client, conn, account_id):
    response = client.post("/v1/email/unsubscribe", data=link_args(account_id))
    assert response.status_code == 200
    assert "will not receive these reports" in response.get_data(as_text=True)
    assert suppressions(conn) == [{"account_id": account_id, "email": "client@example.com",
                                   "reason": "unsubscribe_page"}]


def test_rfc_8058_one_click_post_to_the_link_suppresses(client, conn, account_id):
    response = client.post(f"/v1/email/unsubscribe?{urlencode(link_args(account_id))}",
                           data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert [row["reason"] for row in suppressions(conn)] == ["one_click"]


def test_json_unsubscribe_as_in_seed_001_is_idempotent(client, conn, account_id):
    body = {**link_args(account_id), "reason": "user_request"}
    for _ in range(2):
        response = client.post("/v1/email/unsubscribe", json=body)
        assert response.status_code == 200
        assert response.get_json() == {"status": "unsubscribed", "email": "client@example.com"}
    assert suppressions(conn) == [{"account_id": account_id, "email": "client@example.com", "reason": "user_request"}]


def test_an_address_is_stored_lower_cased_once_whatever_case_the_link_has(client, conn, account_id):
    for email in ("Client@Example.com", "client@example.com", "CLIENT@EXAMPLE.COM"):
        assert client.post("/v1/email/unsubscribe", json=link_args(account_id, email)).status_code == 200
    assert suppressions(conn) == [{"account_id": account_id, "email": "client@example.com",
                                   "reason": "unsubscribe_link"}]


def test_a_non_text_reason_is_ignored_not_a_500(client, conn, account_id):
    response = client.post("/v1/email/unsubscribe", json={**link_args(account_id), "reason": {"why": 1}})
    assert response.status_code == 200
    assert [row["reason"] for row in suppressions(conn)] == ["unsubscribe_link"]


def test_a_bad_token_is_refused_the_same_way_for_any_address(client, conn, account_id):
    known = client.post("/v1/email/unsubscribe", json=link_args(account_id, token="0" * 64))
    unknown = client.post("/v1/email/unsubscribe", json=link_args(account_id, "nobody@example.com", token="0" * 64))
    assert known.status_code == unknown.status_code == 400
    assert known.get_json() == unknown.get_json() == {"error": "invalid_token",
                                                      "message": "the unsubscribe token is invalid"}
    page = client.get(f"/v1/email/unsubscribe?{urlencode(link_args(account_id, token='f' * 64))}")
    assert page.status_code == 400 and "invalid" in page.get_data(as_text=True)
    one_click = client.post(f"/v1/email/unsubscribe?{urlencode(link_args(account_id, token='f' * 64))}",
                            data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 400
    assert suppressions(conn) == []


def test_a_token_for_one_tenant_does_not_unsubscribe_from_another(client, conn, account_id, other_account_id):
    token = unsubscribe_token(SECRET, "client@example.com", account_id)
    response = client.post("/v1/email/unsubscribe", json=link_args(other_account_id, token=token))
    assert response.status_code == 400
    assert suppressions(conn) == []


@pytest.mark.parametrize("body, field", [
    ({"account_id": "912014c3-6deb-4b40-a28d-489ef3923a3a", "token": "x"}, "email"),
    ({"email": "a@example.com", "token": "x"}, "account_id"),
    ({"email": "a@example.com", "account_id": "not-a-uuid", "token": "x"}, "account_id"),
    ({"email": "not an email", "account_id": "912014c3-6deb-4b40-a28d-489ef3923a3a", "token": "x"}, "email"),
    ({"email": "a\x00@example.com", "account_id": "912014c3-6deb-4b40-a28d-489ef3923a3a", "token": "x"}, "email"),
])
def test_missing_or_malformed_fields_are_named(client, body, field):
    response = client.post("/v1/email/unsubscribe", json=body)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]


def test_non_object_json_is_a_400(client):
    assert client.post("/v1/email/unsubscribe", json=[1, 2]).status_code == 400


def test_token_route_gives_the_links_token_outside_production(client, account_id):
    response = client.get(f"/v1/email/unsubscribe/token?email=a@example.com&account_id={account_id}")
    assert response.status_code == 200
    assert response.get_json()["token"] == unsubscribe_token(SECRET, "a@example.com", account_id)
    assert client.get("/v1/email/unsubscribe/token?email=a@example.com").status_code == 400


def test_token_route_is_a_404_in_production(app_config, account_id):
    app = create_app({**app_config, "ENVIRONMENT": "production"})
    try:
        response = app.test_client().get(f"/v1/email/unsubscribe/token?email=a@example.com&account_id={account_id}")
        assert response.status_code == 404
    finally:
        app.extensions["db_pool"].close()


def test_a_non_ascii_token_in_a_form_post_is_an_invalid_link_not_a_500(client, account_id):
    response = client.post("/v1/email/unsubscribe", data={**link_args(account_id), "token": "w\u00bf"})
    assert response.status_code == 400 and "invalid" in response.get_data(as_text=True)


@pytest.mark.parametrize("bad", ["\ud800", "\udfff", "\x00"])
def test_text_postgresql_cannot_store_is_a_400_naming_the_field(client, conn, account_id, bad):
    surrogate_email = client.post("/v1/email/unsubscribe", json={
        "email": f"{bad}@example.com", "account_id": str(account_id), "token": "00"})
    assert surrogate_email.status_code == 400
    assert list(surrogate_email.get_json()["fields"]) == ["email"]
    valid_link_bad_reason = client.post("/v1/email/unsubscribe", json={**link_args(account_id), "reason": f"x{bad}y"})
    assert valid_link_bad_reason.status_code == 400
    assert list(valid_link_bad_reason.get_json()["fields"]) == ["reason"]
    assert suppressions(conn) == []


def test_a_nul_in_a_signed_address_is_refused_not_stored(client, conn, account_id):
    args = link_args(account_id, email="a\x00b@example.com")  # the token is right for that address
    assert client.post("/v1/email/unsubscribe", json=args).status_code == 400
    assert client.post("/v1/email/unsubscribe", data=args).status_code == 400
    assert client.get(f"/v1/email/unsubscribe?{urlencode(args)}").status_code == 400
    assert suppressions(conn) == []


def test_a_signed_link_for_an_account_that_does_not_exist_is_an_invalid_link(client, conn, caplog):
    gone = "0b0e0f0e-0000-4000-8000-000000000000"
    response = client.post("/v1/email/unsubscribe", json=link_args(gone))
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_token", "message": "the unsubscribe token is invalid"}
    page = client.post("/v1/email/unsubscribe", data=link_args(gone))
    assert page.status_code == 400 and "invalid" in page.get_data(as_text=True)
    assert [record for record in caplog.records if record.levelname == "ERROR"] == []
    assert suppressions(conn) == []
