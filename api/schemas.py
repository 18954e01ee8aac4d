"""The API's marshmallow schemas: request bodies, query arguments (kept apart) and responses.

ScheduleSchema is both the create body and the response: what the server keeps (id, counters, the
next run) is dump_only, so a client that sends it gets a 400 naming the field. Instances are made
once, here, and shared by the blueprints.
"""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, pre_dump, validate, validates_schema

from api.fields import (EmailAddress, JsonInteger, JsonObject, StrictBoolean, Text, UtcDateTime, channel_type,
                        known_task, known_timezone, ledger_channel, outbound_url, recipients_limit, storable)
from core.alerts import EVENTS as ALERT_EVENTS, MESSAGE_EVENTS as ALERT_MESSAGE_EVENTS
from core.deliveries import channel_types, channels, signing
from core.engine import cron
from core.engine.explain import REASON_CODES
from core.engine.timing import TimingError, timing_problems
from core.engine.when import validate_controls
from core.schedule.pauses import next_run_shown
from core import model
from core.model import BOUNDS, CADENCES, INT32_MAX, RUN_STATUSES, TRIGGERS
# What the unsubscribe routes take for an address (they only compare it with a signed one).
# Python's whitespace (str.strip, str.split) spelled out: `\s` differs between regex dialects, and the
# document's patterns must mean one thing to every client.
_SPACES = r"\t-\r\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_NOT_AT_SPACE_NUL = rf"[^@\u0000{_SPACES}]"
EMAIL_SHAPE = rf"^{_NOT_AT_SPACE_NUL}{{1,64}}@{_NOT_AT_SPACE_NUL}{{1,255}}$"
# A cron rule's shape (a known macro, or five fields of the characters cron uses), for the
# OpenAPI document; the time engine takes a blank one as none, which only the cron cadence refuses.
_MACRO = "@(" + "|".join(name[1:] for name in cron.MACROS) + ")"  # lower case only, as core.engine.cron takes them
_CRON = _MACRO + r"|[0-9A-Za-z*,/-]+([ \t]+[0-9A-Za-z*,/-]+){4}"  # inside, only spaces and tabs (core.engine.cron)
CRON_SHAPE = rf"^[{_SPACES}]*({_CRON})[{_SPACES}]*$"
CRON_SHAPE_OR_BLANK = rf"^[{_SPACES}]*(({_CRON})[{_SPACES}]*)?$"


def _bounded(name: str, **kwargs) -> fields.Integer:
    """A body field bounded as core/model.py bounds the column (monthly_dom's -1 included)."""
    bound = BOUNDS[name]
    return _int(min((bound.low, *bound.also)), max((bound.high, *bound.also)), **kwargs)


def _int(low: int, high: int, *, strict: bool = True, **kwargs) -> fields.Integer:
    """A bounded integer; a JSON integer in bodies (3 or 3.0, as JSON Schema counts them; not "3" or 3.5),
    from text in query strings."""
    field = JsonInteger if strict else fields.Integer
    return field(validate=validate.Range(min=low, max=high), **kwargs)


class ChannelSchema(Schema):
    """A delivery channel beside email, of a registered type (core/deliveries/channel_types.py): a signed
    webhook or a Slack incoming webhook."""

    id = fields.UUID(load_default=None, metadata={
        "description": "in an edit, `{\"id\": ...}` alone keeps an existing channel as it is"})
    type = fields.String(validate=channel_type, metadata={"description": " or ".join(
        f"{kind.name} ({kind.about})" for kind in channel_types.TYPES.values())})
    url = fields.String(validate=[validate.Length(min=1, max=2048), storable, outbound_url], metadata={
        "description": "https, to a public address; a Slack URL is a secret and is read back masked"})
    status = fields.String(dump_only=True, validate=validate.OneOf(("active", "disabled")), metadata={
        "description": "disabled: the receiver answered 410 Gone; POST .../channels/{id}/enable to send again"})
    disabled_at = UtcDateTime(dump_only=True, allow_none=True)
    disabled_reason = fields.String(dump_only=True, allow_none=True)

    @validates_schema
    def _id_or_type_and_url(self, data, **kwargs):
        if data.get("id") is not None:
            if "type" in data or "url" in data:
                raise ValidationError("Give either an id (keep that channel) or a type and a url, not both.")
            return
        missing = {name: ["Missing data for required field."] for name in ("type", "url") if name not in data}
        if missing:
            raise ValidationError(missing)


def _channels_limit(value: list) -> None:
    if len(value) > channels.MAX_CHANNELS:
        raise ValidationError(f"At most {channels.MAX_CHANNELS} channels, got {len(value)}.")


class ScheduleSchema(Schema):
    id = fields.UUID(dump_only=True)
    account_id = fields.UUID(dump_only=True)
    name = Text(200, min_length=1, required=True)
    description = Text(2000, allow_none=True, load_default=None)
    task = fields.String(load_default="generate_report", validate=known_task,
                         metadata={"description": "a name in the TASKS registry"})
    task_parameters = JsonObject(load_default=dict)
    report_type = Text(100, allow_none=True, load_default=None)
    city = Text(200, allow_none=True, load_default=None)
    zip_codes = fields.List(Text(20, min_length=1), allow_none=True, load_default=None,
                            validate=validate.Length(max=500))
    lookback_days = _bounded("lookback_days", allow_none=True, load_default=30)
    filters = JsonObject(load_default=dict)
    recipients = fields.List(EmailAddress(), load_default=list,
                             validate=recipients_limit)
    channels = fields.List(fields.Nested(ChannelSchema), load_default=list, validate=_channels_limit, metadata={
        "description": "where runs are delivered besides `recipients` (email): "
                       "[{\"type\": " + "|".join(f'"{name}"' for name in channel_types.names())
                       + ", \"url\": \"https://...\"}]; "
                       "an edit with a list replaces them, one without keeps them"})
    include_attachment = StrictBoolean(load_default=False)
    cadence = fields.String(required=True, validate=validate.OneOf(CADENCES))
    weekly_dow = _bounded("weekly_dow", allow_none=True, load_default=None,
                          metadata={"description": "0 = Sunday .. 6 = Saturday"})
    monthly_dom = _bounded("monthly_dom", allow_none=True, load_default=None,
                       metadata={"description": "1..31 (past the month's end: its last day), or -1 for the last day",
                                 "not": {"const": 0}})  # the time engine refuses 0
    monthly_week = _bounded("monthly_week", allow_none=True, load_default=None, metadata={
        "description": "monthly cadence by weekday: the nth monthly_dow of the month, 1..5 (a month without a "
                       "5th has no run), or -1 for the last; instead of monthly_dom",
        "not": {"const": 0}})
    monthly_dow = _bounded("monthly_dow", allow_none=True, load_default=None, metadata={
        "description": "with monthly_week: 0 = Sunday .. 6 = Saturday"})
    calendar_id = fields.UUID(allow_none=True, load_default=None, metadata={
        "description": "a business calendar of this account (/v1/calendars) whose days off on_holiday follows"})
    on_holiday = fields.String(load_default=model.DEFAULT_ON_HOLIDAY, validate=validate.OneOf(model.ON_HOLIDAY_POLICIES),
                               metadata={"description": "an occurrence on a day off of calendar_id: run (as usual), "
                                                        "skip, next_business_day or previous_business_day (the "
                                                        "day's runs move there, at the same wall times)"})
    send_hour = _bounded("send_hour", load_default=model.DEFAULT_SEND_HOUR)
    send_minute = _bounded("send_minute", load_default=model.DEFAULT_SEND_MINUTE)
    cron_expression = Text(200, allow_none=True, load_default=None, metadata={
        "format": "cron", "pattern": CRON_SHAPE_OR_BLANK,  # the shape only: the time engine checks the values
        "description": "5 fields (minute hour day-of-month month day-of-week; numbers, names such as MON "
                       "and JAN, * , - /) or a macro (@hourly @daily @midnight @weekly @monthly @yearly "
                       "@annually); a rule that never fires (0 0 30 2 *) is refused"})
    interval_seconds = _bounded("interval_seconds", allow_none=True, load_default=None)
    timezone = fields.String(load_default=model.DEFAULT_TIMEZONE, validate=[validate.Length(max=64), known_timezone])
    start_at = UtcDateTime(allow_none=True, load_default=None, metadata={
        "description": "no run before it; required (and in the future) for once"})
    end_at = UtcDateTime(allow_none=True, load_default=None, metadata={
        "description": "no run after it; must be after start_at and in the future"})
    misfire_grace_seconds = _bounded("misfire_grace_seconds", allow_none=True, load_default=None)
    active = StrictBoolean(load_default=True)
    tags = fields.List(Text(50, min_length=1), load_default=list, validate=validate.Length(max=50))
    overlap_policy = fields.String(
        load_default=model.DEFAULT_OVERLAP_POLICY, validate=validate.OneOf(model.OVERLAP_POLICIES),
        metadata={"description": "when an occurrence falls due while an earlier run is unfinished: skip "
                                 "(record it as skipped_overlap), buffer_one (run it once the earlier one "
                                 "ends; at most one waits), allow (run both)"})
    pause_after_failures = _int(1, 1000, allow_none=True, load_default=None, metadata={
        "description": "pause the schedule by itself after this many failed runs in a row (null: never)"})
    catchup = fields.String(
        load_default=model.DEFAULT_CATCHUP, validate=validate.OneOf(model.CATCHUP_POLICIES),
        metadata={"description": "after downtime: latest (one run, for the latest missed occurrence) or all (one "
                                 "run per missed occurrence no older than catchup_window_seconds, oldest first)"})
    catchup_window_seconds = _bounded("catchup_window_seconds", allow_none=True, load_default=None, metadata={
        "description": "how far back catchup all reaches (required with it), 60 s to 31 days"})
    window_seconds = _bounded("window_seconds", allow_none=True, load_default=None, metadata={
        "description": "delivery window: each occurrence is dispatched at a fixed offset in [0, window_seconds) "
                       "after it, derived from the schedule and the occurrence (never at or past the next "
                       "occurrence); null: at the occurrence"})
    deliver_when = fields.String(
        load_default=model.DEFAULT_DELIVER_WHEN, validate=validate.OneOf(model.DELIVER_WHEN),
        metadata={"description": "always (deliver every run's result), not_empty (not when the task said its "
                                 "result is empty: `\"empty\": true`) or changed (not when the result's content "
                                 "hash equals the last delivered one's); a run with nothing new succeeds with its "
                                 "deliveries `skipped` and `skip_reason` saying why. A resend always delivers"})
    next_occurrence_at = UtcDateTime(dump_only=True, allow_none=True, metadata={
        "description": "with a delivery window: the occurrence that next_run_at (its dispatch instant) is for"})
    paused = fields.Function(lambda row: row.get("paused_at") is not None, dump_only=True, metadata={
        "description": "paused (POST .../pause, or pause_after_failures): inactive until resumed"})
    paused_at = UtcDateTime(dump_only=True, allow_none=True)
    paused_until = UtcDateTime(dump_only=True, allow_none=True, metadata={"description": "the ticker resumes it then (null: "
                                                                        "until someone resumes it)"})
    paused_by = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "who paused it: the token's subject, cli, or system (pause_after_failures)"})
    pause_note = fields.String(dump_only=True, allow_none=True)
    version = fields.Integer(dump_only=True, metadata={
        "description": "bumped by every recorded change (GET .../history); each run records the version it ran under"})
    last_run_at = UtcDateTime(dump_only=True, allow_none=True)
    next_run_at = UtcDateTime(dump_only=True, allow_none=True, metadata={
        "description": "when it runs next; while paused until an instant, the first run after the pause "
                       "(as .../preview lists it); null while paused with no end, off, or with no run left"})
    last_status = fields.String(dump_only=True, allow_none=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    run_count = fields.Integer(dump_only=True)
    success_count = fields.Integer(dump_only=True)
    failure_count = fields.Integer(dump_only=True)
    consecutive_failures = fields.Integer(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)

    # For the OpenAPI document's per-cadence forms (api/openapi.py): what a field's documentation
    # becomes when its cadence requires it (core.model.REQUIRED_BY_CADENCE).
    WHEN_REQUIRED = {"cron_expression": {"pattern": CRON_SHAPE}}

    @pre_dump
    def _next_run_as_true(self, row, **kwargs):
        """next_run_at (and next_occurrence_at) as core.schedule.pauses.next_run_shown tells them."""
        if not isinstance(row, dict) or "active" not in row or "next_run_at" not in row:
            return row
        occurrence, next_run = next_run_shown(row)
        windowed = occurrence if next_run is not None and row.get("window_seconds") else None
        return {**row, "next_run_at": next_run, "next_occurrence_at": windowed}

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _timing_fits(self, data, original, *, partial=None, **kwargs):
        """The time engine's problems beside the fields' own, in one answer: a bad recipient and a bad
        cron expression are both named (and each bad field of the expression). A field that already
        failed its own check is not judged again; an edit (partial) is judged against the schedule it
        changes, by core.schedule.schedules."""
        if not isinstance(original, dict):
            return
        if partial:  # the rest is judged with the schedule it changes; a cron expression can be judged alone
            expression = data.get("cron_expression")
            if isinstance(expression, str) and expression.strip():
                try:
                    cron.parse(expression)
                except cron.CronError as error:
                    raise ValidationError({"cron_expression": [f"cron_expression {p}" for p in error.problems]})
            return
        if data.get("cadence") is None:
            return
        failed = {name for name in original if name not in data}
        problems = timing_problems(data)
        try:
            validate_controls(data)
        except TimingError as error:
            problems.setdefault(error.field, []).append(error.message)
        problems = {name: messages for name, messages in problems.items() if name not in failed}
        if problems:
            raise ValidationError(problems)


class SchedulePatchSchema(ScheduleSchema):
    """The same fields, all optional (loaded with partial=True, so defaults do not fill the gaps)."""


class PatchArgsSchema(Schema):
    dry_run = fields.Boolean(load_default=False, metadata={
        "description": "answer with the schedule as it would be, its changes and its next runs before and "
                       "after, writing nothing"})


class SchedulePreviewSchema(ScheduleSchema):
    """A schedule body for a preview: only the timing matters, so the name may be left out."""

    name = Text(200, min_length=1)


# A page's next_cursor: its last row's created_at (UTC, microseconds) and id (core.schedule.schedules).
CURSOR_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ScheduleListArgsSchema(Schema):
    active_only = fields.Boolean(load_default=True, metadata={"description": "ignored when `state` is given"})
    state = fields.String(validate=validate.OneOf(model.SCHEDULE_STATES), metadata={
        "description": "active (on), paused (POST .../pause) or disabled (POST .../disable); the console's "
                       "State filter takes the same values"})
    q = Text(200, metadata={"description": "a part of the name, any case"})
    cadence = fields.String(validate=validate.OneOf(CADENCES))
    task = Text(100)
    tag = Text(50)
    page = _int(1, 1_000_000, strict=False, load_default=1, metadata={
        "description": "a page number (counts every matching schedule: prefer `cursor` past the first page)"})
    page_size = _int(1, 100, strict=False, load_default=50)
    cursor = fields.String(validate=validate.Regexp(CURSOR_PATTERN, error="cursor is not a next_cursor this API "
                                                                          "gave: start again without it"), metadata={
        "description": "the previous page's `next_cursor`: the page after it, however deep, at the cost of the "
                       "first (keyset); `total`, `page` and `pages` are then null. Not with `page`"})

    @validates_schema
    def _one_way_to_page(self, data, **kwargs):
        if data.get("cursor") and data.get("page", 1) != 1:
            raise ValidationError({"cursor": ["give either cursor or page, not both"]})


class ScheduleListSchema(Schema):
    schedules = fields.List(fields.Nested(ScheduleSchema))
    count = fields.Integer(metadata={"description": "schedules on this page"})
    total = fields.Integer(allow_none=True, metadata={
        "description": "schedules on all pages (null after a cursor); with `q`, counted up to "
                       f"{model.SEARCH_COUNT_LIMIT:,}: past that, this lower bound and `total_exact` false"})
    total_exact = fields.Boolean(allow_none=True, metadata={
        "description": "whether `total` is the exact count (false: at least that many; null after a cursor)"})
    page = fields.Integer(allow_none=True)
    page_size = fields.Integer()
    pages = fields.Integer(allow_none=True, metadata={
        "description": "how many pages there are (null after a cursor, or when `total` is not exact)"})
    next_cursor = fields.String(allow_none=True, metadata={
        "description": "pass as `cursor` for the next page; null on the last page"})


class DueArgsSchema(Schema):
    limit = _int(1, 500, strict=False, load_default=100)


class PreviewArgsSchema(Schema):
    count = _int(1, 100, strict=False, load_default=5)
    after = UtcDateTime(metadata={"description": "RFC 3339; default now"})


class PreviewRunSchema(Schema):
    at = UtcDateTime()
    local = fields.String(metadata={"description": "the run's wall time in the schedule's zone, RFC 3339"})
    dispatch_at = UtcDateTime(metadata={"description": "when the run is dispatched: `at`, or later inside a "
                                                       "delivery window (window_seconds)"})
    reasons = fields.List(fields.Nested(lambda: PreviewReasonSchema()), metadata={
        "description": "why the run is where it is, when that is not a plain match of the rule; empty otherwise"})


class PreviewReasonSchema(Schema):
    code = fields.String(validate=validate.OneOf(REASON_CODES))
    detail = fields.String(metadata={"example": "moved to the end of the spring-forward gap: ..."})


class SchedulePreviewArgsSchema(PreviewArgsSchema):
    schedule_id = fields.UUID(metadata={"description": "the schedule the body is for: a delivery window's "
                                                       "offsets derive from it (default: a new schedule's, "
                                                       "which will differ once it is created)"})


class PreviewSchema(Schema):
    timezone = fields.String()
    count = fields.Integer()
    runs = fields.List(fields.Nested(PreviewRunSchema))


class StatsSchema(Schema):
    total_schedules = fields.Integer()
    enabled_schedules = fields.Integer()
    disabled_schedules = fields.Integer()
    total_runs = fields.Integer()
    successful_runs = fields.Integer()
    failed_runs = fields.Integer()
    success_rate = fields.Float(allow_none=True, metadata={"description": "percent of finished runs that succeeded"})
    by_cadence = fields.Dict(keys=fields.String(), values=fields.Integer())


class RunSchema(Schema):
    id = fields.UUID(dump_only=True)
    schedule_id = fields.UUID(dump_only=True)
    # validate= on a dump-only field checks nothing; it puts the enum in the OpenAPI document.
    status = fields.String(dump_only=True, validate=validate.OneOf(RUN_STATUSES), metadata={
        "description": "unfinished: pending, queued, running, retrying (waits until not_before), buffered "
                       "(kept by overlap_policy buffer_one); final: succeeded, failed, delivery_failed (the "
                       "task ran, delivery gave up), missed, skipped_limit, skipped_overlap"})
    trigger = fields.String(dump_only=True, validate=validate.OneOf(TRIGGERS))
    scheduled_for = UtcDateTime(dump_only=True, allow_none=True)
    job_id = fields.String(dump_only=True, allow_none=True)
    attempt = fields.Integer(dump_only=True)
    error = fields.String(dump_only=True, allow_none=True)
    result = fields.Raw(dump_only=True, allow_none=True,
                        metadata={"description": "what the task returned, stored once"})
    duration_ms = fields.Integer(dump_only=True, allow_none=True)
    not_before = UtcDateTime(dump_only=True, allow_none=True,
                             metadata={"description": "retrying: when the next attempt is due"})
    reasons = fields.Function(lambda run: run.get("reasons") or [], dump_only=True, metadata={
        "description": "why a business calendar moved this run, or which days off it skipped before it: "
                       "[{code: holiday_moved|holiday_skipped, detail}]",
        "type": "array", "items": {"type": "object"}})
    queued_at = UtcDateTime(dump_only=True, allow_none=True)
    started_at = UtcDateTime(dump_only=True, allow_none=True)
    finished_at = UtcDateTime(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    schedule_version = fields.Integer(dump_only=True, allow_none=True, metadata={
        "description": "the schedule's version this run was made under (GET .../history says what it was)"})
    skip_reason = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "why the run delivered nothing although it succeeded: the schedule's deliver_when found "
                       "no news (its deliveries are `skipped`); null otherwise"})
    resend_of = fields.UUID(dump_only=True, allow_none=True, metadata={
        "description": "a resend (trigger resend): the run whose stored result it delivers again"})
    requested_by = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "a resend: who asked for it (the token's subject, or console:<who>)"})


class DeliverySchema(Schema):
    """One row of a run's delivery ledger: one (channel, target), sent at most once."""

    channel = fields.String(dump_only=True, validate=ledger_channel)
    target = fields.String(dump_only=True, metadata={
        "description": "the recipient's address, or the channel's URL (a Slack URL masked)"})
    status = fields.String(dump_only=True, validate=validate.OneOf(model.DELIVERY_STATUSES), metadata={
        "description": "pending, sending (an attempt is under way), sent, suppressed (unsubscribed, "
                       "not sent), failed (gave up; last_error says why), skipped (deliver_when found no "
                       "news: skip_reason says why)"})
    attempts = fields.Integer(dump_only=True)
    unknown_outcomes = fields.Integer(dump_only=True, metadata={
        "description": "times its sender died between handing it over and recording the answer; with "
                       "UNKNOWN_OUTCOME=resend each was followed by a resend under the same message_id"})
    last_error = fields.String(dump_only=True, allow_none=True)
    message_id = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "the email's Message-ID or the webhook's webhook-id, stable per row"})
    skip_reason = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "skipped: why (the schedule's deliver_when)"})
    resend_id = fields.UUID(dump_only=True, allow_none=True, metadata={
        "description": "a row of a resend of this run: the resend's run id (null: the run's own delivery)"})
    requested_by = fields.String(dump_only=True, allow_none=True, metadata={
        "description": "a row of a resend: who asked for it"})
    sent_at = UtcDateTime(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class ResendSummarySchema(Schema):
    """One resend of a run: its own run (trigger resend), who asked, how it stands."""

    id = fields.UUID(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(RUN_STATUSES))
    requested_by = fields.String(dump_only=True, allow_none=True)
    error = fields.String(dump_only=True, allow_none=True)
    created_at = UtcDateTime(dump_only=True)
    finished_at = UtcDateTime(dump_only=True, allow_none=True)


class RunDetailSchema(RunSchema):
    deliveries = fields.List(fields.Nested(DeliverySchema), dump_only=True, metadata={
        "description": "the run's delivery ledger, then the rows of its resends (resend_id, requested_by)"})
    resends = fields.List(fields.Nested(ResendSummarySchema), dump_only=True, metadata={
        "description": "the resends of this run, oldest first (POST .../resend)"})


class ResendSchema(Schema):
    """The body of POST .../runs/{run_id}/resend: whom to send the stored result to again."""

    recipients = fields.List(Text(254, min_length=1), allow_none=True, load_default=None,
                             validate=validate.Length(max=500), metadata={
        "description": "addresses of the run's ledger (any case); with channels left out too: every recipient "
                       "and channel of the run"})
    channels = fields.List(fields.UUID(), allow_none=True, load_default=None,
                           validate=validate.Length(max=channels.MAX_CHANNELS), metadata={
        "description": "ids of the schedule's channels (webhook, Slack) this run was delivered to"})


class ResendAnswerSchema(RunSchema):
    deliveries = fields.List(fields.Nested(DeliverySchema), dump_only=True, metadata={
        "description": "the resend's ledger: pending, or suppressed for an address that unsubscribed"})
    message = fields.String(dump_only=True)


class RunListArgsSchema(Schema):
    limit = _int(1, 500, strict=False, load_default=50)
    status = fields.String(validate=validate.OneOf(RUN_STATUSES))
    trigger = fields.String(validate=validate.OneOf(TRIGGERS))
    before = fields.UUID(metadata={"description": "a run id: runs older than it (the previous page's next_before)"})
    from_ = UtcDateTime(data_key="from", metadata={"description": "runs for occurrences (scheduled_for) at or after"})
    to = UtcDateTime(metadata={"description": "runs for occurrences (scheduled_for) at or before"})


class RunListSchema(Schema):
    runs = fields.List(fields.Nested(RunSchema))
    count = fields.Integer()
    next_before = fields.UUID(allow_none=True, metadata={"description": "pass as `before` for the next page; null "
                                                                        "when this page is not full"})


class RunNowArgsSchema(Schema):
    force = StrictBoolean(load_default=False, metadata={"description": "run even if the schedule is inactive"})


class RunNowSchema(RunSchema):
    run_id = fields.UUID(dump_only=True)
    schedule_name = fields.String(dump_only=True)
    next_run_at = UtcDateTime(dump_only=True, allow_none=True, metadata={
        "description": "the schedule's next regular run (unchanged; null while it is paused with no end or off, "
                       "as GET shows it)"})
    message = fields.String(dump_only=True)


class SuppressionSchema(Schema):
    """A suppressed address: the body of a manual suppression, and an entry of the list."""

    email = EmailAddress(required=True, metadata={"description": "stored and compared in lower case"})
    reason = Text(200, allow_none=True, load_default="manual",
                  metadata={"description": "why; unsubscribes through a link say unsubscribe_page, one_click or "
                                           "what the JSON request gave"})
    created_at = UtcDateTime(dump_only=True)


class SuppressionEntrySchema(SuppressionSchema):
    """A suppression as the API answers it: unsubscribe links suppress any address they were signed
    for, so a stored address need not match the stricter rule of a manual suppression's body."""

    email = fields.String(metadata={"description": "stored and compared in lower case"})


class SuppressionListArgsSchema(Schema):
    q = Text(254, metadata={"description": "a part of the address, any case"})
    page = _int(1, 1_000_000, strict=False, load_default=1)
    page_size = _int(1, 100, strict=False, load_default=50)


class SuppressionListSchema(Schema):
    suppressions = fields.List(fields.Nested(SuppressionEntrySchema))
    count = fields.Integer(metadata={"description": "addresses on this page"})
    total = fields.Integer(metadata={"description": "addresses on all pages"})
    page = fields.Integer()
    page_size = fields.Integer()
    pages = fields.Integer()


class AlertChannelSchema(ChannelSchema):
    """A webhook or Slack URL that gets the account's alerts."""

    class Meta:
        exclude = ("status", "disabled_at", "disabled_reason")


class AlertSettingsSchema(Schema):
    """Where the account's alerts go and which events it wants (the body of PUT, and its answer)."""

    emails = fields.List(EmailAddress(), required=True, validate=recipients_limit, metadata={
        "description": "addresses that get every alert (a PUT replaces the settings: required, may be empty); "
                       "an address that unsubscribed gets none (suppressed)"})
    channels = fields.List(fields.Nested(AlertChannelSchema), load_default=list, validate=_channels_limit, metadata={
        "description": "webhook and Slack URLs that get every alert: [{\"type\", \"url\"}]; `{\"id\"}` keeps "
                       "one already saved (a Slack URL is read back masked)"})
    events = fields.List(fields.String(validate=validate.OneOf(ALERT_EVENTS)), load_default=lambda: list(ALERT_EVENTS),
                         metadata={"description": "the events that open an alert: failed, delivery_failed, missed, "
                                                  "paused (after failures), channel_disabled (by a 410), stale "
                                                  "(stopped running); default all"})
    updated_at = UtcDateTime(dump_only=True, allow_none=True)


class AlertDeliverySchema(Schema):
    """One row of an alert message's delivery ledger."""

    channel = fields.String(dump_only=True, validate=ledger_channel)
    target = fields.String(dump_only=True, metadata={"description": "the address, or the URL (a Slack URL masked)"})
    status = fields.String(dump_only=True, validate=validate.OneOf(model.DELIVERY_STATUSES), metadata={
        "description": "pending (to send, or to retry at not_before), sending, sent, suppressed "
                       "(unsubscribed), failed"})
    attempts = fields.Integer(dump_only=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    unknown_outcomes = fields.Integer(dump_only=True, metadata={
        "description": "times its sender died mid-send (sent again with the same message id, or failed)"})
    sent_at = UtcDateTime(dump_only=True, allow_none=True)
    not_before = UtcDateTime(dump_only=True, allow_none=True, metadata={"description": "pending: when it is tried"})


class AlertMessageSchema(Schema):
    """One piece of news of an incident, delivered once to every destination."""

    id = fields.UUID(dump_only=True)
    event = fields.String(dump_only=True, validate=validate.OneOf(ALERT_MESSAGE_EVENTS), metadata={
        "description": "opened (the first bad event), paused, channel_disabled, recovered (back to normal)"})
    cause = fields.String(dump_only=True, metadata={
        "description": "what happened: failed, delivery_failed, missed, stale, paused, channel_disabled, succeeded"})
    run_id = fields.UUID(dump_only=True, allow_none=True)
    detail = fields.String(dump_only=True, allow_none=True)
    failures = fields.Integer(dump_only=True, metadata={"description": "the incident's count at this event"})
    created_at = UtcDateTime(dump_only=True)
    done_at = UtcDateTime(dump_only=True, allow_none=True, metadata={
        "description": "when every delivery was final (null: some are still to send)"})
    deliveries = fields.List(fields.Nested(AlertDeliverySchema), dump_only=True)


class AlertSchema(Schema):
    """One incident of one schedule: opened by its first bad event, counting those that follow, closed by
    its next succeeded run."""

    id = fields.UUID(dump_only=True)
    schedule_id = fields.UUID(dump_only=True)
    schedule_name = fields.String(dump_only=True)
    status = fields.String(dump_only=True, validate=validate.OneOf(("open", "closed")))
    opened_by = fields.String(dump_only=True, validate=validate.OneOf(ALERT_EVENTS))
    failures = fields.Integer(dump_only=True, metadata={
        "description": "failed, delivery_failed and missed runs counted"})
    first_run_id = fields.UUID(dump_only=True, allow_none=True)
    last_run_id = fields.UUID(dump_only=True, allow_none=True)
    last_error = fields.String(dump_only=True, allow_none=True)
    opened_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)
    closed_at = UtcDateTime(dump_only=True, allow_none=True)
    closed_run_id = fields.UUID(dump_only=True, allow_none=True, metadata={"description": "the run that succeeded"})
    messages = fields.List(fields.Nested(AlertMessageSchema), dump_only=True)


class AlertListArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(("open", "closed")))
    schedule_id = fields.UUID()
    before = fields.UUID(metadata={"description": "an alert id: older alerts (the previous page's next_before)"})
    limit = _int(1, 200, strict=False, load_default=50)


class AlertListSchema(Schema):
    alerts = fields.List(fields.Nested(AlertSchema))
    count = fields.Integer()
    next_before = fields.UUID(allow_none=True, metadata={"description": "pass as `before` for the next page; null "
                                                                        "when this page is not full"})


class ScheduleAlertsSchema(Schema):
    """Whether a schedule's events alert the account (the body of PUT, and its answer)."""

    schedule_id = fields.UUID(dump_only=True)
    enabled = StrictBoolean(required=True, metadata={"description": "false: this schedule never alerts"})


class ScheduleWithWarningsSchema(ScheduleSchema):
    """One schedule as the item routes answer it (create, read, edit, enable, disable): with warnings."""

    warnings = fields.List(fields.String(), dump_only=True, metadata={
        "description": "e.g. that another active schedule of the account does exactly the same "
                       "(same task, parameters and timing); empty when nothing is worth saying"})


class ScheduleEditSchema(ScheduleWithWarningsSchema):
    """A PATCH's answer; with ?dry_run=true, also what would change and the next runs before and after."""

    dry_run = fields.Boolean(dump_only=True, metadata={"description": "present (true) on a dry run only"})
    changes = fields.Dict(keys=fields.String(), values=fields.Raw(), dump_only=True,
                          metadata={"description": "dry run: each field that would change, {old, new}"})
    next_runs_before = fields.List(fields.Nested(PreviewRunSchema), dump_only=True,
                                   metadata={"description": "dry run: the next runs as the schedule is"})
    next_runs_after = fields.List(fields.Nested(PreviewRunSchema), dump_only=True,
                                  metadata={"description": "dry run: the next runs after the edit"})


class HealthIssueSchema(Schema):
    schedule_id = fields.UUID()
    name = fields.String()
    kind = fields.String(metadata={"description": " | ".join(model.HEALTH_KINDS)})
    detail = fields.String(metadata={"example": "3 of 12 runs succeeded"})


class HealthIssuesSchema(Schema):
    issues = fields.List(fields.Nested(HealthIssueSchema))
    count = fields.Integer()


class HealthSchema(Schema):
    status = fields.String(metadata={"example": "ok"})


class TzDatabaseSchema(Schema):
    version = fields.String(metadata={"description": "IANA release, e.g. 2026f", "example": "2026f"})
    source = fields.String(metadata={"description": "where zoneinfo reads it",
                                     "example": "tzdata package 2026.6"})


class ReadySchema(Schema):
    status = fields.String(metadata={"description": "ready | not_ready"})
    checks = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": "postgres, redis, ticker: `ok`, or what failed",
        "example": {"postgres": "ok", "redis": "ok", "ticker": "no heartbeat in the last 180 s (no ticker has one)"}})
    tz_database = fields.Nested(TzDatabaseSchema, metadata={
        "description": "the IANA tz database every run time is computed with: the pinned tzdata package "
                       "unless PYTHONTZPATH chooses the machine's files"})


class ErrorSchema(Schema):
    error = fields.String(required=True,
                          metadata={"description": "a machine-readable kind, e.g. validation_error, not_found"})
    message = fields.String(required=True)
    reason = fields.String(metadata={"description": "why a conflict (409) happened, e.g. inactive"})
    field_errors = fields.Dict(data_key="fields", keys=fields.String(), values=fields.Raw(),
                               metadata={"description": "messages per bad field (validation errors)"})


def _link_email(**kwargs) -> fields.String:
    return fields.String(validate=validate.Regexp(EMAIL_SHAPE, error="Not a valid email address."), **kwargs)


class UnsubscribeLinkSchema(Schema):
    """The signed link's fields (seed 001): the query of the page, the JSON body, the form post."""

    email = _link_email(required=True, metadata={"example": "client@example.com"})
    account_id = fields.UUID(required=True)
    token = fields.String(required=True, metadata={
        "description": "hex HMAC-SHA256 of `{email}:{account_id}` with UNSUBSCRIBE_SECRET; any other is refused",
        "pattern": "^[0-9a-f]{64}$"})  # documentation only: the HMAC comparison refuses every other token


class UnsubscribeRequestSchema(UnsubscribeLinkSchema):
    reason = fields.Raw(allow_none=True, metadata={
        "description": "text is kept (its first 200 characters, NUL removed) with the suppression; anything else "
                       "is ignored"})


class UnsubscribeFormSchema(Schema):
    """The confirmation page's form, or an RFC 8058 one-click POST to the link (fields in its query)."""

    email = _link_email(metadata={"description": "else the link's query `email`"})
    account_id = fields.UUID(metadata={"description": "else the link's query `account_id`"})
    token = fields.String(metadata={"description": "else the link's query `token`"})
    one_click = fields.String(data_key="List-Unsubscribe", validate=validate.OneOf(["One-Click"]),
                              metadata={"description": "RFC 8058: sent by mail clients' unsubscribe button"})


class UnsubscribeLinkQuerySchema(Schema):
    """The link's query on a POST (a one-click POST goes to the link itself); a form field wins."""

    email = _link_email()
    account_id = fields.UUID()
    token = fields.String()


class UnsubscribedSchema(Schema):
    status = fields.String(metadata={"example": "unsubscribed"})
    email = fields.String()


class UnsubscribeTokenArgsSchema(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1))
    account_id = fields.UUID(required=True)


class UnsubscribeTokenSchema(Schema):
    email = fields.String()
    account_id = fields.UUID()
    token = fields.String()


class NoteSchema(Schema):
    """The optional body of enable and disable: why, for the change history."""

    note = Text(500, allow_none=True, load_default=None)


class PauseSchema(NoteSchema):
    until = UtcDateTime(allow_none=True, load_default=None, metadata={
        "description": "RFC 3339, in the future: the ticker resumes the schedule then; null: until resumed"})


class BackfillSchema(Schema):
    from_ = UtcDateTime(required=True, data_key="from", metadata={"description": "RFC 3339, in the past"})
    to = UtcDateTime(required=True, metadata={"description": "RFC 3339, after `from`, not in the future; "
                                                             "occurrences at from and at to are included"})


class BackfillAnswerSchema(Schema):
    occurrences = fields.Integer(metadata={"description": "occurrences of the schedule in the range"})
    created = fields.Integer(metadata={"description": "backfill runs made by this request"})
    existing = fields.Integer(metadata={"description": "occurrences that had a run already (a backfill or a "
                                                       "scheduled one): nothing new for them"})
    runs = fields.List(fields.Nested(RunSchema), metadata={"description": "the runs this request made"})


class HistoryArgsSchema(Schema):
    limit = _int(1, 500, strict=False, load_default=50)
    before = _int(1, INT32_MAX, strict=False, metadata={"description": "a version: changes before it (the "
                                                                       "previous answer's next_before)"})


class ScheduleChangeSchema(Schema):
    version = fields.Integer(metadata={"description": "the schedule's version after this change (create: 1)"})
    action = fields.String(validate=validate.OneOf(model.CHANGE_ACTIONS))
    actor = fields.String(metadata={"description": "the token's subject, cli, ticker (a pause ended) or system "
                                                   "(pause_after_failures)"})
    changes = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "description": "each changed field: {\"old\": ..., \"new\": ...}",
        "example": {"send_hour": {"old": 9, "new": 10}}})
    note = fields.String(allow_none=True)
    created_at = UtcDateTime()


class HistorySchema(Schema):
    history = fields.List(fields.Nested(ScheduleChangeSchema))
    count = fields.Integer()
    next_before = fields.Integer(allow_none=True, metadata={"description": "pass as `before` for the next "
                                                                           "page; null on the last"})


error_schema = ErrorSchema()
schedule_schema = ScheduleSchema()
schedule_with_warnings_schema = ScheduleWithWarningsSchema()
schedule_edit_schema = ScheduleEditSchema()
schedules_schema = ScheduleSchema(many=True)
schedule_patch_schema = SchedulePatchSchema(partial=True)
schedule_preview_schema = SchedulePreviewSchema()


class SigningSecretSchema(Schema):
    secret = fields.String(metadata={"description": "masked (whsec_…last 4), except in the answer to a rotation"})
    created_at = UtcDateTime()
    expires_at = UtcDateTime(allow_none=True, metadata={"description": "a rotated secret: valid until then"})


class SigningSecretsSchema(Schema):
    current = fields.Nested(SigningSecretSchema, allow_none=True, metadata={
        "description": "signs every webhook; null until the first rotation or the first webhook"})
    previous = fields.List(fields.Nested(SigningSecretSchema), metadata={
        "description": "rotated secrets in their grace period: webhooks carry their signatures too"})


class RotateArgsSchema(Schema):
    grace_seconds = _int(0, signing.MAX_GRACE_SECONDS, load_default=signing.DEFAULT_GRACE_SECONDS, metadata={
        "description": "how long the previous secret keeps signing (default a day)"})


class RotatedSecretSchema(SigningSecretsSchema):
    secret = fields.String(metadata={"description": "the new secret, whole: shown this once, never again"})


# --------------------------------------------------------------------------- bulk changes

class BulkFilterSchema(Schema):
    """Which schedules of the account a bulk change picks: every criterion given must hold."""

    ids = fields.List(fields.UUID(), validate=validate.Length(min=1, max=1000),
                      metadata={"description": "these schedules (another account's id picks nothing)"})
    tag = Text(50, min_length=1, metadata={"description": "schedules carrying this tag"})
    q = Text(200, min_length=1, metadata={"description": "a part of the name, any case"})
    state = fields.String(validate=validate.OneOf(model.SCHEDULE_STATES),
                          metadata={"description": "active, paused or disabled"})
    OPENAPI_EXTRA = {"minProperties": 1}

    @validates_schema
    def _something(self, data, **kwargs):
        if not data:
            raise ValidationError("Give at least one of ids, tag, q, state.")


class BulkSchema(Schema):
    """POST /v1/schedules/bulk: one action on every schedule the filter picks."""

    filter = fields.Nested(BulkFilterSchema, required=True)
    action = fields.String(required=True, validate=validate.OneOf(model.BULK_ACTIONS), metadata={
        "description": "pause (note, until), resume, enable, disable (note), delete, add_recipient or "
                       "remove_recipient (email)"})
    note = Text(500, allow_none=True, load_default=None,
                metadata={"description": "pause, resume, enable, disable: goes to each schedule's history"})
    until = UtcDateTime(allow_none=True, load_default=None, metadata={
        "description": "pause: RFC 3339, in the future: the ticker resumes each schedule then"})
    email = EmailAddress(metadata={"description": "add_recipient, remove_recipient: the address (any case)"})
    dry_run = StrictBoolean(load_default=False, metadata={
        "description": "answer what would change (outcome would_change), writing nothing"})
    # email goes with (and only with) the recipient actions, until only with pause.
    OPENAPI_EXTRA = {"allOf": [
        {"if": {"properties": {"action": {"enum": ["add_recipient", "remove_recipient"]}}, "required": ["action"]},
         "then": {"required": ["email"]}, "else": {"not": {"required": ["email"]}}},
        {"if": {"properties": {"action": {"not": {"const": "pause"}}}, "required": ["action"]},
         "then": {"properties": {"until": {"type": "null"}}}},
    ]}

    @validates_schema
    def _fits_the_action(self, data, **kwargs):
        action, problems = data.get("action"), {}
        if action in ("add_recipient", "remove_recipient") and not data.get("email"):
            problems["email"] = [f"email required for {action}"]
        if data.get("until") is not None and action != "pause":
            problems["until"] = ["until is for pause only"]
        if data.get("email") and action not in ("add_recipient", "remove_recipient", None):
            problems["email"] = ["email is for add_recipient and remove_recipient only"]
        if problems:
            raise ValidationError(problems)


class BulkEntrySchema(Schema):
    id = fields.UUID()
    name = fields.String()
    state = fields.String(validate=validate.OneOf(model.SCHEDULE_STATES),
                          metadata={"description": "the schedule's state before the change"})
    outcome = fields.String(validate=validate.OneOf(("changed", "would_change", "unchanged", "refused")),
                            metadata={"description": "changed (would_change on a dry run), unchanged (already "
                                                     "so), refused (detail says why)"})
    detail = fields.String(allow_none=True)


class BulkAnswerSchema(Schema):
    action = fields.String()
    dry_run = fields.Boolean()
    matched = fields.Integer(metadata={"description": "schedules the filter picked"})
    changed = fields.Integer(metadata={"description": "schedules changed (on a dry run: that would change)"})
    unchanged = fields.Integer()
    refused = fields.Integer()
    schedules = fields.List(fields.Nested(BulkEntrySchema), metadata={
        "description": "each schedule picked, in id order, with its outcome"})


class CalendarSchema(Schema):
    """A business calendar: its public holidays come from the pinned `holidays` package."""

    id = fields.UUID(dump_only=True)
    name = Text(200, min_length=1, required=True)
    country = Text(3, min_length=2, required=True, metadata={
        "description": "ISO 3166 alpha-2 code whose public holidays count as days off (US, GB, DE, ...)"})
    subdivision = Text(20, allow_none=True, load_default=None, metadata={
        "description": "the country's subdivision code, for its own holidays (GB: ENG, NIR, SCT, WLS; DE: BY, BE, ...)"})
    weekend = fields.List(fields.Integer(validate=validate.Range(1, 7)), load_default=lambda: [6, 7],
                          validate=validate.Length(max=6), metadata={
                              "description": "ISO weekdays that are days off: 1 = Monday .. 7 = Sunday"})
    add_dates = fields.List(fields.Date(), load_default=list, validate=validate.Length(max=366), metadata={
        "description": "the office's own days off (YYYY-MM-DD)"})
    remove_dates = fields.List(fields.Date(), load_default=list, validate=validate.Length(max=366), metadata={
        "description": "days worked although a holiday or a weekend day (YYYY-MM-DD)"})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class CalendarPatchSchema(CalendarSchema):
    """A calendar edit: only the fields it names change."""

    name = Text(200, min_length=1)
    country = Text(3, min_length=2)
    subdivision = Text(20, allow_none=True)
    weekend = fields.List(fields.Integer(validate=validate.Range(1, 7)), validate=validate.Length(max=6))
    add_dates = fields.List(fields.Date(), validate=validate.Length(max=366))
    remove_dates = fields.List(fields.Date(), validate=validate.Length(max=366))


class CalendarListSchema(Schema):
    calendars = fields.List(fields.Nested(CalendarSchema))
    count = fields.Integer()
