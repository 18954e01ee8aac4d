"""schemathesis hooks for test_schemathesis.py: the test data that no OpenAPI document can describe.

Loaded by the `st` process through SCHEMATHESIS_HOOKS. Nothing here loosens a check; it only gives
schemathesis what a real client has and a schema cannot say:
- values for the two documented custom formats: `iana-time-zone` (the zones the time engine knows)
  and `cron` (rules that fire; the document gives their shape as a pattern);
- positive schedule bodies are kept only when the clock and the stored row allow them: no `end_at`
  (it must lie after the first run, which depends on every other field), a `start_at` in the future
  (a `once` in the past would never run), and a PATCH that neither nulls a field some cadence needs
  nor switches cadence without that cadence's fields (a partial update is judged with the stored row);
- schedule bodies and alert settings with delivery channels are left out (positive and negative): a channel's URL must
  resolve to a public address, which the API checks in DNS, and tests send nothing beyond loopback;
- positive unsubscribe requests carry a correctly signed link for the test's account (HMAC with
  UNSUBSCRIBE_SECRET): a schema can say a token is 64 hex digits, not which one is right;
- positive schedule bodies with `catchup: all` carry `catchup_window_seconds` (a rule between two
  fields, stated in the field's description);
- positive pauses, bulk pauses and backfills get instants the clock allows (`until` in the future; `from` and `to`
  in the past, in order, an hour apart), and each positive request with an Idempotency-Key gets a key
  of its own (a key reused with another body is refused, as it must be).
Negative cases are never touched.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from zoneinfo import available_timezones

import schemathesis
from hypothesis import strategies as st

from core.deliveries.email import unsubscribe_token
from core.engine.timing import TimingError, validate_timing
from core.model import REQUIRED_BY_CADENCE

SCHEDULE_BODIES = {("POST", "/v1/schedules"), ("PATCH", "/v1/schedules/{schedule_id}"),
                   ("POST", "/v1/schedules/preview")}
NEEDED_BY_SOME_CADENCE = {name for names in REQUIRED_BY_CADENCE.values() for name in names}


def _known_zone(name: str) -> bool:
    try:
        validate_timing({"cadence": "daily", "timezone": name})
    except TimingError:
        return False
    return True


ZONES = sorted(zone for zone in available_timezones() if _known_zone(zone))
schemathesis.openapi.format("iana-time-zone", st.sampled_from(ZONES))

_numbers = lambda low, high: st.integers(low, high).map(str)  # noqa: E731
_field = lambda low, high: (st.just("*") | _numbers(low, high)  # noqa: E731
                            | st.tuples(st.integers(low, high), st.integers(0, high - low),
                                        st.integers(1, min(9, high - low + 1))).map(
                                lambda t: f"{t[0]}-{min(t[0] + t[1], high)}/{t[2]}"))
CRON_RULES = (st.sampled_from(["@daily", "@hourly", "@weekly", "@monthly", "@yearly", "0 9 * * 1",
                               "*/15 * * * *", "30 2 * * *", "0 9 * * mon-fri", "5,35 8-18/2 * jan-jun *"])
              | st.tuples(_field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 7)).map(" ".join))
schemathesis.openapi.format("cron", CRON_RULES)


def _positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode.is_positive


def _instant(value):
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None


@schemathesis.hook("filter_case")
def keep_positive_schedule_bodies_the_clock_allows(context, case) -> bool:
    if (case.operation.method.upper(), case.operation.path) == ("PUT", "/v1/alerts/settings"):
        body = case.body  # alert channels are judged as a schedule's: left out, as there
        return not (isinstance(body, dict) and isinstance(body.get("channels"), list) and body["channels"])
    if (case.operation.method.upper(), case.operation.path) not in SCHEDULE_BODIES:
        return True
    body = case.body
    if not isinstance(body, dict):
        return True
    if isinstance(body.get("channels"), list) and body["channels"]:
        return False  # a channel URL is resolved in DNS when it is written: no traffic leaves loopback
    if not _positive(case):
        return True
    if body.get("end_at") is not None:
        return False
    # A calendar is the account's own (its id cannot be guessed), on_holiday needs one, and a monthly
    # schedule names its day one way of two (core.model.MONTHLY_DAY_FIELDS, said in the description).
    if body.get("calendar_id") is not None or body.get("on_holiday") not in (None, "run"):
        return False
    if body.get("monthly_week") is not None and body.get("monthly_dom") is not None:
        return False
    if body.get("cadence") == "monthly" and body.get("monthly_dom") is None and (
            body.get("monthly_week") is None or body.get("monthly_dow") is None):
        return False
    if case.operation.method.upper() == "PATCH" and ({"monthly_week", "monthly_dow", "monthly_dom"} & set(body)):
        return False
    if body.get("catchup") == "all" and body.get("catchup_window_seconds") is None:
        return False
    start_at = _instant(body["start_at"]) if body.get("start_at") is not None else None
    if start_at is not None and (start_at.utcoffset() is None
                                 or start_at < datetime.now(timezone.utc) + timedelta(days=1)):
        return False
    if case.operation.method.upper() == "PATCH":
        if any(name in body and body[name] is None for name in NEEDED_BY_SOME_CADENCE | {"start_at"}):
            return False
        if "cadence" in body and not all(body.get(name) is not None
                                         for name in REQUIRED_BY_CADENCE.get(body["cadence"], ())):
            return False
    return True


def sign_positive_unsubscribe_links(context, case):
    if case.operation.path != "/v1/email/unsubscribe" or not _positive(case):
        return case
    account_id = uuid.UUID(os.environ["HOOKS_ACCOUNT_ID"])
    body = case.body if isinstance(case.body, dict) else None
    email = str((body or {}).get("email") or (case.query or {}).get("email") or "client@example.com").strip()
    link = {"email": email, "account_id": str(account_id),
            "token": unsubscribe_token(os.environ["HOOKS_UNSUBSCRIBE_SECRET"], email, account_id)}
    if body is not None:
        case.body = {**body, **link}
    case.query = {**(case.query or {}), **link}
    return case


def give_positive_cases_what_the_clock_and_keys_need(context, case):
    if not _positive(case):
        return case
    now = datetime.now(timezone.utc)
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers = {**case.headers, "Idempotency-Key": str(uuid.uuid4())}
    body = case.body if isinstance(case.body, dict) else None
    if (case.operation.method.upper(), case.operation.path) == ("GET", "/v1/schedules") and case.query:
        # A cursor is what a page of this API answered (next_cursor): one made up is a correct 400.
        case.query = {name: value for name, value in case.query.items() if name != "cursor"}
    if body is not None and case.operation.path.endswith(("/pause", "/bulk")) and body.get("until") is not None:
        case.body = {**body, "until": (now + timedelta(days=1)).isoformat()}
    if body is not None and case.operation.path.startswith("/v1/calendars"):
        # Holidays come from a package that knows some codes: a real one, and no date both off and worked.
        removed = [d for d in body.get("remove_dates") or [] if d not in (body.get("add_dates") or [])]
        case.body = {**body, "country": "US", "subdivision": None,
                     **({"remove_dates": removed} if "remove_dates" in body else {}),
                     **({"weekend": [6, 7]} if "weekend" in body and len(set(body["weekend"] or [])) == 7 else {})}
        if case.operation.method.upper() == "PATCH":
            # The stored calendar's dates may meet either list (a day both off and worked is a 400).
            case.body.pop("add_dates", None)
            case.body.pop("remove_dates", None)
    if body is not None and case.operation.path.endswith("/backfill"):
        case.body = {**body, "from": (now - timedelta(hours=2)).isoformat(),
                     "to": (now - timedelta(hours=1)).isoformat()}
    return case


@schemathesis.hook("map_case")
def map_positive_cases(context, case):
    return give_positive_cases_what_the_clock_and_keys_need(context, sign_positive_unsubscribe_links(context, case))


@schemathesis.hook("before_add_examples")
def same_rules_for_the_examples_phase(context, examples) -> None:
    """The examples phase (cases built from the document's examples and defaults) skips the hooks above."""
    kept = [map_positive_cases(context, case) for case in examples
            if keep_positive_schedule_bodies_the_clock_allows(context, case)]
    examples[:] = kept
