"""GET /v1/schedules a page at a time by cursor (keyset on newest first), and name search with
ILIKE's wildcards taken literally."""
from __future__ import annotations

from core.ops import db


def walk(client, auth, query: str = "") -> list[dict]:
    """Every page by cursor; returns the pages' bodies."""
    pages, cursor = [], None
    while True:
        url = f"/v1/schedules?page_size=3&active_only=false{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=auth)
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
        cursor = pages[-1]["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50


def test_cursor_pages_walk_every_schedule_once_newest_first(client, auth, create):
    made = [create(name=f"s{i}")["id"] for i in range(8)]
    pages = walk(client, auth)
    assert [page["count"] for page in pages] == [3, 3, 2]
    assert [s["id"] for page in pages for s in page["schedules"]] == made[::-1]
    first, *rest = pages
    assert (first["total"], first["page"], first["pages"]) == (8, 1, 3)
    assert all((p["total"], p["page"], p["pages"]) == (None, None, None) for p in rest)  # not counted
    # The same order as the numbered pages.
    numbered = [client.get(f"/v1/schedules?page_size=3&page={n}", headers=auth).get_json() for n in (1, 2, 3)]
    assert [s["id"] for p in numbered for s in p["schedules"]] == made[::-1]


def test_schedules_made_in_the_same_instant_are_neither_skipped_nor_repeated(client, auth, create, conn,
                                                                              account_id):
    made = {create(name=f"t{i}")["id"] for i in range(7)}
    with db.tenant_transaction(conn, account_id) as cur:
        cur.execute("UPDATE schedules SET created_at = '2026-01-01T00:00:00Z'")
    ids = [s["id"] for page in walk(client, auth) for s in page["schedules"]]
    assert sorted(ids) == sorted(made) and len(ids) == 7
    assert ids == sorted(ids, reverse=True)  # id breaks the tie, descending


def test_a_schedule_made_between_pages_does_not_shift_the_next_page(client, auth, create):
    made = [create(name=f"u{i}")["id"] for i in range(6)]
    first = client.get("/v1/schedules?page_size=3", headers=auth).get_json()
    create(name="newer")
    second = client.get(f"/v1/schedules?page_size=3&cursor={first['next_cursor']}", headers=auth).get_json()
    assert [s["id"] for s in second["schedules"]] == made[2::-1]


def test_filters_hold_across_cursor_pages(client, auth, create):
    for i in range(7):
        create(name=f"{'keep' if i % 2 else 'drop'} {i}")
    names = [s["name"] for page in walk(client, auth, "&q=KEEP") for s in page["schedules"]]
    assert names == ["keep 5", "keep 3", "keep 1"]


def test_a_bad_cursor_or_a_cursor_with_a_page_is_a_400_naming_cursor(client, auth, create):
    create(name="x")
    for query in ("cursor=nonsense", "cursor=2026-01-01T00:00:00_not-a-uuid",
                  "cursor=2026-01-01T00:00:00_0190f3a0-0000-7000-8000-000000000000",  # no offset
                  "cursor=2026-01-01T00:00:00%2B00:00_0190f3a0-0000-7000-8000-000000000000&page=2"):
        response = client.get(f"/v1/schedules?{query}", headers=auth)
        assert response.status_code == 400, (query, response.get_json())
        assert list(response.get_json()["fields"]) == ["cursor"], query


def test_another_accounts_cursor_shows_only_the_callers_schedules(client, auth, other_auth, create):
    mine = {create(name=f"mine {i}")["id"] for i in range(4)}
    theirs = [create(headers=other_auth, name=f"theirs {i}") for i in range(4)]
    cursor = client.get("/v1/schedules?page_size=3", headers=other_auth).get_json()["next_cursor"]
    assert cursor is not None
    seen = client.get(f"/v1/schedules?page_size=50&cursor={cursor}", headers=auth).get_json()["schedules"]
    assert {s["id"] for s in seen} <= mine and not {s["id"] for s in seen} & {t["id"] for t in theirs}


def test_search_takes_percent_and_underscore_literally(client, auth, create):
    for name in ("100% done", "a_b", "axb", "back\\slash"):
        create(name=name)
    for q, expected in (("%", ["100% done"]), ("_", ["a_b"]), ("\\", ["back\\slash"]), ("X", ["axb"])):
        body = client.get("/v1/schedules", query_string={"q": q}, headers=auth).get_json()
        assert [s["name"] for s in body["schedules"]] == expected, q


def test_search_finds_only_the_callers_schedules_though_its_lookup_runs_as_the_owner(client, auth, other_auth,
                                                                                    create):
    """schedule_ids_named reads schedule_names as the tables' owner (migration 0025): the account it
    answers for is the one the request's tenant transaction named, never another with the same name."""
    mine = create(name="Quarterly revenue")
    theirs = create(headers=other_auth, name="Quarterly revenue")
    for headers, expected in ((auth, mine), (other_auth, theirs)):
        body = client.get("/v1/schedules?q=quarterly", headers=headers).get_json()
        assert [s["id"] for s in body["schedules"]] == [expected["id"]] and body["total"] == 1


def test_search_follows_a_rename_and_forgets_a_deleted_schedule(client, auth, create):
    kept = create(name="Old name")
    gone = create(name="Old name too")
    assert client.patch(f"/v1/schedules/{kept['id']}", json={"name": "Fresh title"}, headers=auth).status_code == 200
    assert client.delete(f"/v1/schedules/{gone['id']}", headers=auth).status_code == 204

    def found(q):
        return [s["id"] for s in client.get("/v1/schedules", query_string={"q": q, "active_only": "false"},
                                            headers=auth).get_json()["schedules"]]
    assert found("fresh") == [kept["id"]]
    assert found("old name") == []


def test_a_numbered_page_past_the_first_counts_every_match(client, auth, create):
    """The first page that holds every match answers its own total; any other page counts them."""
    for i in range(5):
        create(name=f"n{i}")
    first = client.get("/v1/schedules?page_size=10", headers=auth).get_json()
    assert (first["total"], first["pages"], first["count"]) == (5, 1, 5)
    second = client.get("/v1/schedules?page_size=2&page=3", headers=auth).get_json()
    assert (second["total"], second["pages"], second["count"]) == (5, 3, 1)
    past = client.get("/v1/schedules?page_size=2&page=9", headers=auth).get_json()
    assert (past["total"], past["count"]) == (5, 0)


def _ids_by_cursor(client, auth, query: dict, first: dict) -> list[str]:
    """The ids of `first` and of every page after it, following next_cursor (a cursor page is not counted)."""
    ids, body = [], first
    while True:
        ids += [s["id"] for s in body["schedules"]]
        if body["next_cursor"] is None:
            return ids
        body = client.get("/v1/schedules", query_string={**query, "cursor": body["next_cursor"]},
                          headers=auth).get_json()
        assert body["total"] is None and body["total_exact"] is None and body["pages"] is None


def test_search_answers_what_reading_every_schedule_would_through_renames_switches_and_deletes(
        client, auth, create, conn, account_id):
    """120 random steps: make, rename, switch off or on, end (as the ticker turns off a schedule with no
    run left), delete. After each, searches (with and without active_only, by number and by cursor, with
    other filters or none) find exactly the schedules a case-insensitive substring test of every name
    finds, newest first, with the right total."""
    import random

    rng = random.Random(30)
    words = ["Market", "market", "MARKET", "Board", "b%rd", "snap_shot", "Straße", "ÉTÉ", "été"]
    alive: list[str] = []

    def reference(text, active_only):
        with db.tenant_transaction(conn, account_id) as cur:
            cur.execute("SELECT id::text, name, active FROM schedules ORDER BY created_at DESC, id DESC")
            rows = cur.fetchall()
        return [r["id"] for r in rows if text.lower() in r["name"].lower() and (r["active"] or not active_only)]

    for step in range(120):
        action = rng.choice(["make", "make", "rename", "switch", "end", "delete"] if alive else ["make"])
        target = rng.choice(alive) if alive else None
        if action == "make":
            alive.append(create(name=f"{rng.choice(words)} {rng.choice(words)} {step}")["id"])
        elif action == "rename":
            assert client.patch(f"/v1/schedules/{target}", json={"name": f"{rng.choice(words)} r{step}"},
                                headers=auth).status_code == 200
        elif action == "switch":
            assert client.patch(f"/v1/schedules/{target}", json={"active": rng.random() < 0.5},
                                headers=auth).status_code == 200
        elif action == "end":
            with db.service_transaction(conn) as cur:  # what the ticker's advance does to a finished schedule
                cur.execute("UPDATE schedules SET active = FALSE, next_run_at = NULL WHERE id = %s", (target,))
        else:
            assert client.delete(f"/v1/schedules/{target}", headers=auth).status_code == 204
            alive.remove(target)
        if step % 10 != 9:
            continue
        for text in ("market", "b%r", "_", "straße", "été", "Ét", str(step - 3)):
            for active_only in (True, False):
                wanted = reference(text, active_only)
                query = {"q": text, "active_only": str(active_only).lower(), "page_size": 4}
                first = client.get("/v1/schedules", query_string=query, headers=auth).get_json()
                assert first["total"] == len(wanted), (text, active_only)
                by_number = [s["id"] for n in range(1, first["pages"] + 1) for s in client.get(
                    "/v1/schedules", query_string={**query, "page": n}, headers=auth).get_json()["schedules"]]
                assert by_number == wanted, (text, active_only)
                assert _ids_by_cursor(client, auth, query, first) == wanted, (text, active_only)
            # With another filter the search takes the other path: the same answer.
            filtered = client.get("/v1/schedules", query_string={"q": text, "active_only": "false",
                                                                  "cadence": "weekly", "page_size": 100},
                                  headers=auth).get_json()
            assert [s["id"] for s in filtered["schedules"]] == reference(text, False)


def test_a_search_counts_up_to_the_limit_then_says_at_least_and_pages_on(client, auth, create, monkeypatch):
    """Past core.model.SEARCH_COUNT_LIMIT matches a search's total is that lower bound, `total_exact` is
    false and `pages` unknown; every match is still there by cursor and by number, and the last page
    knows the exact total. Both paths (the search alone, and with another filter) count alike."""
    from core import model

    monkeypatch.setattr(model, "SEARCH_COUNT_LIMIT", 3)
    made = [create(name=f"Market {n}")["id"] for n in range(5)]
    create(name="Board pack")
    newest_first = made[::-1]
    for extra in ({}, {"cadence": "weekly"}):
        query = {"q": "MARKET", "page_size": 2, **extra}
        first = client.get("/v1/schedules", query_string=query, headers=auth).get_json()
        assert (first["total"], first["total_exact"], first["pages"], first["page"]) == (3, False, None, 1), extra
        by_number = [s["id"] for n in (1, 2, 3) for s in client.get(
            "/v1/schedules", query_string={**query, "page": n}, headers=auth).get_json()["schedules"]]
        assert by_number == newest_first, extra
        last = client.get("/v1/schedules", query_string={**query, "page": 3}, headers=auth).get_json()
        assert (last["total"], last["total_exact"], last["pages"]) == (5, True, 3), extra
        assert _ids_by_cursor(client, auth, query, first) == newest_first, extra
    monkeypatch.setattr(model, "SEARCH_COUNT_LIMIT", 10)
    exact = client.get("/v1/schedules", query_string={"q": "market", "page_size": 2}, headers=auth).get_json()
    assert (exact["total"], exact["total_exact"], exact["pages"]) == (5, True, 3)
    plain = client.get("/v1/schedules", query_string={"page_size": 2}, headers=auth).get_json()
    assert (plain["total"], plain["total_exact"], plain["pages"]) == (6, True, 3)
