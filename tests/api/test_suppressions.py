"""/v1/email/suppressions: a tenant lists its suppressed addresses, resubscribes one (DELETE, the
address URL-encoded in the path, any case) and suppresses one by hand (POST); another tenant's
suppressions are invisible and a 404."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from core.ops import db

URL = "/v1/email/suppressions"


def suppress(conn, account_id, email, reason="one_click", created_at="2026-03-09 13:00:00+00"):
    with db.service_transaction(conn) as cur:
        cur.execute("INSERT INTO email_suppressions (account_id, email, reason, created_at) VALUES (%s, %s, %s, %s)",
                    (account_id, email, reason, created_at))


def stored(conn, account_id=None):
    with db.service_transaction(conn) as cur:
        cur.execute("SELECT account_id, email, reason FROM email_suppressions"
                    " WHERE %(a)s::uuid IS NULL OR account_id = %(a)s ORDER BY email", {"a": account_id})
        return [(row["email"], row["reason"]) for row in cur.fetchall()]


def item(email: str) -> str:
    return f"{URL}/{quote(email, safe='')}"


@pytest.fixture
def three(conn, account_id):
    for minute, email in enumerate(["ann@example.com", "bob@shop.example.org", "cy@example.com"]):
        suppress(conn, account_id, email, created_at=f"2026-03-09 13:0{minute}:00+00")


def test_list_is_newest_first_with_paging_figures(client, auth, three):
    body = client.get(URL, headers=auth).get_json()
    assert [s["email"] for s in body["suppressions"]] == ["cy@example.com", "bob@shop.example.org", "ann@example.com"]
    assert body["suppressions"][0] == {"email": "cy@example.com", "reason": "one_click",
                                       "created_at": "2026-03-09T13:02:00Z"}
    assert {k: body[k] for k in ("count", "total", "page", "page_size", "pages")} == {
        "count": 3, "total": 3, "page": 1, "page_size": 50, "pages": 1}


def test_list_pages(client, auth, three):
    second = client.get(f"{URL}?page=2&page_size=2", headers=auth).get_json()
    assert [s["email"] for s in second["suppressions"]] == ["ann@example.com"]
    assert (second["count"], second["total"], second["pages"]) == (1, 3, 2)
    assert client.get(f"{URL}?page=3&page_size=2", headers=auth).get_json()["suppressions"] == []


def test_q_keeps_addresses_containing_it_in_any_case(client, auth, three):
    body = client.get(f"{URL}?q=EXAMPLE.COM", headers=auth).get_json()
    assert [s["email"] for s in body["suppressions"]] == ["cy@example.com", "ann@example.com"]
    assert body["total"] == 2
    assert client.get(f"{URL}?q=%25", headers=auth).get_json()["total"] == 0  # % is a character, not a wildcard


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("page_size=101", "page_size"),
                                          ("page_size=x", "page_size"), ("q=" + "a" * 255, "q"),
                                          ("q=%00", "q")])
def test_bad_list_arguments_are_a_400_naming_the_field(client, auth, query, field):
    response = client.get(f"{URL}?{query}", headers=auth)
    assert response.status_code == 400
    assert list(response.get_json()["fields"]) == [field]


def test_delete_resubscribes_an_address_given_url_encoded_in_any_case(client, auth, conn, account_id, three):
    response = client.delete(item("Bob@Shop.Example.org"), headers=auth)
    assert response.status_code == 204 and response.data == b""
    assert [email for email, _ in stored(conn)] == ["ann@example.com", "cy@example.com"]
    again = client.delete(item("bob@shop.example.org"), headers=auth)
    assert again.status_code == 404
    assert again.get_json() == {"error": "not_found", "message": "suppression not found"}


def test_delete_finds_an_address_stored_in_another_case(client, auth, conn, account_id):
    suppress(conn, account_id, "Mixed.Case@Example.com")  # written by hand, before addresses were lower-cased
    assert client.delete(item("mixed.case@example.com"), headers=auth).status_code == 204
    assert stored(conn) == []


def test_delete_of_an_address_with_a_slash_or_plus(client, auth, conn, account_id):
    suppress(conn, account_id, "a/b+reports@example.com")
    assert client.delete(item("a/b+reports@example.com"), headers=auth).status_code == 204
    assert stored(conn) == []


@pytest.mark.parametrize("email", ["a\x00@example.com", "a" * 5000, "not an address"])
def test_delete_of_an_address_that_cannot_be_suppressed_is_a_404(client, auth, email):
    assert client.delete(item(email), headers=auth).status_code == 404


def test_post_suppresses_an_address_by_hand_lower_cased(client, auth, conn, account_id):
    response = client.post(URL, json={"email": "New.Client@Example.com", "reason": "asked by phone"}, headers=auth)
    assert response.status_code == 201
    body = response.get_json()
    assert (body["email"], body["reason"]) == ("new.client@example.com", "asked by phone")
    assert body["created_at"].endswith("Z")
    assert stored(conn) == [("new.client@example.com", "asked by phone")]
    assert client.get(URL, headers=auth).get_json()["suppressions"] == [body]


def test_post_of_a_suppressed_address_changes_nothing_and_says_so(client, auth, conn, account_id):
    suppress(conn, account_id, "ann@example.com", reason="one_click")
    response = client.post(URL, json={"email": "ANN@example.com"}, headers=auth)
    assert response.status_code == 200
    assert response.get_json()["reason"] == "one_click"
    assert stored(conn) == [("ann@example.com", "one_click")]


def test_post_without_a_reason_says_manual(client, auth, conn):
    assert client.post(URL, json={"email": "a@example.com"}, headers=auth).get_json()["reason"] == "manual"
    assert stored(conn) == [("a@example.com", "manual")]


@pytest.mark.parametrize("body, field", [
    ({}, "email"), ({"email": "not an address"}, "email"), ({"email": 5}, "email"),
    ({"email": "a@example.com", "reason": "x" * 201}, "reason"), ({"email": "a@example.com", "reason": 3}, "reason"),
    ({"email": "a@example.com", "created_at": "2026-01-01T00:00:00Z"}, "created_at"),
    ({"email": "a@example.com", "extra": 1}, "extra"),
])
def test_bad_post_bodies_are_a_400_naming_the_field(client, auth, conn, body, field):
    response = client.post(URL, json=body, headers=auth)
    assert response.status_code == 400
    assert field in response.get_json()["fields"]
    assert stored(conn) == []


@pytest.mark.parametrize("method, path", [("get", URL), ("post", URL), ("delete", item("a@example.com"))])
def test_every_route_needs_a_token(client, method, path):
    response = getattr(client, method)(path, json={"email": "a@example.com"})
    assert response.status_code == 401


def test_tenant_b_never_sees_or_resubscribes_tenant_as_addresses(
        client, auth, other_auth, conn, account_id, other_account_id):
    suppress(conn, account_id, "ann@example.com")
    assert client.get(URL, headers=other_auth).get_json()["total"] == 0
    assert client.get(f"{URL}?q=ann", headers=other_auth).get_json()["suppressions"] == []
    theirs = client.delete(item("ann@example.com"), headers=other_auth)
    missing = client.delete(item("nobody@example.com"), headers=other_auth)
    assert theirs.status_code == missing.status_code == 404
    assert theirs.get_json() == missing.get_json()
    assert stored(conn, account_id) == [("ann@example.com", "one_click")]


def test_tenant_b_suppressing_the_same_address_keeps_its_own_row(client, auth, other_auth, conn, account_id,
                                                                 other_account_id):
    suppress(conn, account_id, "ann@example.com")
    response = client.post(URL, json={"email": "ann@example.com"}, headers=other_auth)
    assert response.status_code == 201  # B had not suppressed it; A's row says nothing to B
    assert stored(conn, other_account_id) == [("ann@example.com", "manual")]
    assert client.delete(item("ann@example.com"), headers=other_auth).status_code == 204
    assert stored(conn, account_id) == [("ann@example.com", "one_click")]
    assert client.get(URL, headers=auth).get_json()["total"] == 1


def test_an_address_with_a_slash_is_resubscribed_itself_never_redirected_to_another(client, auth):
    for email in ("a/b@example.com", "/0"):
        response = client.delete(f"/v1/email/suppressions/{quote(email, safe='')}", headers=auth)
        assert response.status_code == 404, (email, response.status_code)
