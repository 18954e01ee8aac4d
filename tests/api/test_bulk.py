"""POST /v1/schedules/bulk: a filter and one action over many schedules; `dry_run` lists what would
change and writes nothing; each schedule changed has its own history entry; another account's
schedules are never picked, whatever the filter says."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.api.conftest import bearer


@pytest.fixture
def fleets(create, other_auth):
    """Tenant A: three schedules tagged `holiday` (one of them disabled) and one untagged; tenant B: two
    tagged `holiday`."""
    mine = [create(name=f"Client {n}", tags=["holiday", "acme"]) for n in range(2)]
    mine.append(create(name="Client off", tags=["holiday"], active=False))
    untagged = create(name="Other work", tags=["internal"])
    theirs = [create(headers=other_auth, name=f"B {n}", tags=["holiday"]) for n in range(2)]
    return {"mine": mine, "untagged": untagged, "theirs": theirs}


def bulk(client, headers, **body):
    return client.post("/v1/schedules/bulk", json=body, headers=headers)


def states(client, headers, ids):
    return [(client.get(f"/v1/schedules/{i}", headers=headers).get_json() or {}).get("paused") for i in ids]


def test_bulk_pause_of_tagged_schedules_dry_run_then_for_real_across_two_accounts(client, auth, other_auth,
                                                                                  fleets):
    mine, theirs = fleets["mine"], fleets["theirs"]
    until = (datetime.now(timezone.utc) + timedelta(days=10)).replace(microsecond=0)
    body = {"filter": {"tag": "holiday"}, "action": "pause", "note": "holidays", "until": until.isoformat()}

    dry = bulk(client, auth, **body, dry_run=True)
    assert dry.status_code == 200, dry.get_json()
    answer = dry.get_json()
    assert (answer["dry_run"], answer["matched"], answer["changed"], answer["refused"]) == (True, 3, 2, 1)
    outcomes = {entry["name"]: (entry["state"], entry["outcome"]) for entry in answer["schedules"]}
    assert outcomes == {"Client 0": ("active", "would_change"), "Client 1": ("active", "would_change"),
                        "Client off": ("disabled", "refused")}
    refused = next(e for e in answer["schedules"] if e["outcome"] == "refused")
    assert "disabled" in refused["detail"]
    # A dry run writes nothing: no pause, no history entry.
    assert states(client, auth, [s["id"] for s in mine]) == [False, False, False]
    assert client.get(f"/v1/schedules/{mine[0]['id']}/history", headers=auth).get_json()["count"] == 1

    real = bulk(client, auth, **body)
    assert real.status_code == 200
    assert (real.get_json()["changed"], real.get_json()["refused"]) == (2, 1)
    assert states(client, auth, [s["id"] for s in mine[:2]]) == [True, True]
    for schedule in mine[:2]:
        shown = client.get(f"/v1/schedules/{schedule['id']}", headers=auth).get_json()
        assert shown["pause_note"] == "holidays" and shown["paused_until"] == until.isoformat().replace("+00:00", "Z")
        [change, _create] = client.get(f"/v1/schedules/{schedule['id']}/history", headers=auth).get_json()["history"]
        assert (change["action"], change["note"]) == ("pause", "holidays")
    # The untagged schedule and the other account's tagged ones are untouched.
    assert states(client, auth, [fleets["untagged"]["id"]]) == [False]
    assert states(client, other_auth, [s["id"] for s in theirs]) == [False, False]

    # Asking again changes nothing more.
    again = bulk(client, auth, **body).get_json()
    assert (again["changed"], again["unchanged"], again["refused"]) == (0, 2, 1)

    # Tenant B resumes its `holiday` schedules: none of A's, which stay paused.
    resumed = bulk(client, other_auth, filter={"tag": "holiday"}, action="resume").get_json()
    assert {e["name"] for e in resumed["schedules"]} == {"B 0", "B 1"}
    assert resumed["changed"] == 0 and resumed["unchanged"] == 2
    assert states(client, auth, [s["id"] for s in mine[:2]]) == [True, True]


def test_another_accounts_ids_pick_nothing(client, auth, other_auth, fleets):
    theirs = [s["id"] for s in fleets["theirs"]]
    answer = bulk(client, auth, filter={"ids": theirs}, action="delete").get_json()
    assert (answer["matched"], answer["schedules"]) == (0, [])
    assert all(client.get(f"/v1/schedules/{i}", headers=other_auth).status_code == 200 for i in theirs)
    mixed = bulk(client, auth, filter={"ids": theirs + [fleets["untagged"]["id"]]}, action="disable").get_json()
    assert [e["name"] for e in mixed["schedules"]] == ["Other work"] and mixed["changed"] == 1


def test_every_action(client, auth, fleets):
    ids = [s["id"] for s in fleets["mine"][:2]]
    by_ids = {"ids": ids}
    added = bulk(client, auth, filter=by_ids, action="add_recipient", email="Boss@example.com").get_json()
    assert added["changed"] == 2
    assert all("Boss@example.com" in client.get(f"/v1/schedules/{i}", headers=auth).get_json()["recipients"]
               for i in ids)
    again = bulk(client, auth, filter=by_ids, action="add_recipient", email="boss@EXAMPLE.com").get_json()
    assert again["unchanged"] == 2 and again["schedules"][0]["detail"] == "already a recipient"
    removed = bulk(client, auth, filter=by_ids, action="remove_recipient", email="boss@example.com").get_json()
    assert removed["changed"] == 2
    history = client.get(f"/v1/schedules/{ids[0]}/history", headers=auth).get_json()["history"]
    assert [h["action"] for h in history[:2]] == ["update", "update"]
    assert history[0]["changes"]["recipients"]["new"] == ["client@example.com"]

    assert bulk(client, auth, filter=by_ids, action="disable", note="off").get_json()["changed"] == 2
    assert bulk(client, auth, filter={"state": "disabled", "q": "CLIENT"}, action="enable").get_json()["changed"] == 3
    assert bulk(client, auth, filter={"tag": "acme"}, action="pause").get_json()["changed"] == 2
    assert bulk(client, auth, filter={"state": "paused"}, action="resume").get_json()["changed"] == 2
    deleted = bulk(client, auth, filter={"q": "client"}, action="delete").get_json()
    assert deleted["changed"] == 3
    assert [s["name"] for s in client.get("/v1/schedules?active_only=false", headers=auth).get_json()["schedules"]] \
        == ["Other work"]


@pytest.mark.parametrize("body, fields", [
    ({"action": "pause"}, {"filter": ["Missing data for required field."]}),
    ({"filter": {}, "action": "pause"}, {"filter": {"_schema": ["Give at least one of ids, tag, q, state."]}}),
    ({"filter": {"tag": "x"}, "action": "explode"}, {"action": ["Must be one of: pause, resume, enable, disable, "
                                                                "delete, add_recipient, remove_recipient."]}),
    ({"filter": {"tag": "x"}, "action": "add_recipient"}, {"email": ["email required for add_recipient"]}),
    ({"filter": {"tag": "x"}, "action": "resume", "until": "2030-01-01T00:00:00Z"}, {"until": ["until is for pause only"]}),
    ({"filter": {"state": "sleeping", "ids": ["nope"]}, "action": "pause", "dry_run": "yes"},
     {"filter": {"state": ["Must be one of: active, paused, disabled."], "ids": {"0": ["Not a valid UUID."]}},
      "dry_run": ["Not a valid boolean."]}),
    ({"filter": {"tag": "x"}, "action": "pause", "until": "2001-01-01T00:00:00Z"},
     {"until": ["until must be in the future (to resume now, resume it)"]}),
])
def test_bad_input_is_a_400_naming_every_field(client, auth, body, fields):
    response = bulk(client, auth, **body)
    assert response.status_code == 400
    assert response.get_json()["fields"] == fields


def test_bulk_needs_a_token(client, account_id):
    assert bulk(client, {}, filter={"tag": "x"}, action="pause").status_code == 401
    assert bulk(client, bearer(account_id), filter={"tag": "none"}, action="pause").get_json()["matched"] == 0
