"""core.engine.timing around daylight-saving and other offset changes, with the exact instants exercised.

Fixed-time rules (daily, weekly, monthly, cron with neither minute nor hour starting with `*`) run
once at the end of a gap and at the first of two repeated wall times; wildcard rules (hourly,
`*/30 * * * *`, `30 * * * *`) skip the gap and run at both repeated wall times.
"""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from core.engine.timing import next_run_after, next_runs

UTC = timezone.utc


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def runs(fields: dict, after: str, count: int) -> list[str]:
    return [r.isoformat().replace("+00:00", "Z") for r in next_runs(fields, at(after), count)]


def cron(expression: str, zone: str) -> dict:
    return {"cadence": "cron", "cron_expression": expression, "timezone": zone}


class TestDstTransitions:
    zone = "America/New_York"
    # For reference, New York in 2026:
    # spring forward on March 8, 2AM EST -> 3AM EDT (07:00Z):
    #   2026-03-08T01:59:59-05:00 = 06:59:59Z, then 2026-03-08T03:00:00-04:00 = 07:00:00Z
    # fall back on November 1, 2AM EDT -> 1AM EST (06:00Z):
    #   2026-11-01T01:59:59-04:00 = 05:59:59Z, then 2026-11-01T01:00:00-05:00 = 06:00:00Z

    def test_daily_in_the_gap_runs_once_at_the_end_of_the_gap(self):
        fields = {"cadence": "daily", "send_hour": 2, "send_minute": 30, "timezone": self.zone}
        assert runs(fields, "2026-03-07T12:00", 3) == [
            "2026-03-08T07:00:00Z",  # 02:30 does not exist: 03:00 EDT
            "2026-03-09T06:30:00Z",  # 02:30 EDT
            "2026-03-10T06:30:00Z",
        ]

    def test_cron_in_the_gap_runs_once_at_the_end_of_the_gap(self):
        assert next_run_after(cron("30 2 * * *", self.zone), at("2026-03-08T00:00")) == at("2026-03-08T07:00")

    def test_two_gap_times_and_the_first_time_after_make_one_run(self):
        assert runs(cron("0,30 2 * * *", self.zone), "2026-03-08T06:00", 2) == [
            "2026-03-08T07:00:00Z",
            "2026-03-09T06:00:00Z",
        ]
        assert runs(cron("0 2,3 * * *", self.zone), "2026-03-08T06:00", 3) == [
            "2026-03-08T07:00:00Z",  # 02:00 (skipped) and 03:00 EDT are the same instant
            "2026-03-09T06:00:00Z",
            "2026-03-09T07:00:00Z",
        ]

    def test_gap_run_matches_days_by_the_skipped_wall_time(self):
        # Sunday 02:30 is skipped; the run at 03:00 EDT belongs to Sunday's rule.
        fields = {"cadence": "weekly", "weekly_dow": 0, "send_hour": 2, "send_minute": 30, "timezone": self.zone}
        assert runs(fields, "2026-03-01T12:00", 2) == ["2026-03-08T07:00:00Z", "2026-03-15T06:30:00Z"]

    def test_daily_at_a_repeated_time_runs_at_the_first(self):
        fields = {"cadence": "daily", "send_hour": 1, "send_minute": 30, "timezone": self.zone}
        assert runs(fields, "2026-10-31T12:00", 2) == [
            "2026-11-01T05:30:00Z",  # 01:30 EDT, not 01:30 EST (06:30Z)
            "2026-11-02T06:30:00Z",
        ]

    def test_cron_at_a_repeated_time_runs_once(self):
        assert runs(cron("30 1 * * *", self.zone), "2026-10-31T12:00", 2) == [
            "2026-11-01T05:30:00Z",
            "2026-11-02T06:30:00Z",
        ]

    def test_asked_between_the_two_copies_fixed_time_waits_for_tomorrow(self):
        assert next_run_after(cron("30 1 * * *", self.zone), at("2026-11-01T06:00")) == at("2026-11-02T06:30")

    def test_every_hour_fixed_rule_skips_the_repeated_hour(self):
        # `0 0-23` is fixed-time (the hour field does not start with '*'): 01:00 runs once.
        assert runs(cron("0 0-23 * * *", self.zone), "2026-11-01T04:30", 3) == [
            "2026-11-01T05:00:00Z",  # 01:00 EDT
            "2026-11-01T07:00:00Z",  # 02:00 EST
            "2026-11-01T08:00:00Z",
        ]

    def test_daily_after_the_fall_back_runs_at_its_only_instant(self):
        fields = {"cadence": "daily", "send_hour": 2, "send_minute": 30, "timezone": self.zone}
        assert runs(fields, "2026-10-31T12:00", 1) == ["2026-11-01T07:30:00Z"]

    def test_every_half_hour_skips_the_gap(self):
        assert runs(cron("*/30 * * * *", self.zone), "2026-03-08T06:00", 3) == [
            "2026-03-08T06:30:00Z",  # 01:30 EST
            "2026-03-08T07:00:00Z",  # 03:00 EDT
            "2026-03-08T07:30:00Z",
        ]

    def test_every_half_hour_runs_at_both_repeated_times(self):
        assert runs(cron("*/30 * * * *", self.zone), "2026-11-01T05:00", 4) == [
            "2026-11-01T05:30:00Z",  # 01:30 EDT
            "2026-11-01T06:00:00Z",  # 01:00 EST
            "2026-11-01T06:30:00Z",  # 01:30 EST
            "2026-11-01T07:00:00Z",  # 02:00 EST
        ]

    def test_minute_30_of_every_hour_skips_the_gap(self):
        assert runs(cron("30 * * * *", self.zone), "2026-03-08T06:00", 2) == [
            "2026-03-08T06:30:00Z",  # 01:30 EST
            "2026-03-08T07:30:00Z",  # 03:30 EDT; 02:30 never happens
        ]

    def test_minute_30_of_every_hour_runs_at_both_repeated_times(self):
        assert runs(cron("30 * * * *", self.zone), "2026-11-01T05:00", 3) == [
            "2026-11-01T05:30:00Z",  # 01:30 EDT
            "2026-11-01T06:30:00Z",  # 01:30 EST
            "2026-11-01T07:30:00Z",  # 02:30 EST
        ]

    def test_hourly_skips_the_gap(self):
        fields = {"cadence": "hourly", "timezone": self.zone}
        assert runs(fields, "2026-03-08T05:30", 3) == [
            "2026-03-08T06:00:00Z",  # 01:00 EST
            "2026-03-08T07:00:00Z",  # 03:00 EDT
            "2026-03-08T08:00:00Z",
        ]

    def test_hourly_runs_at_both_repeated_times(self):
        fields = {"cadence": "hourly", "timezone": self.zone}
        assert runs(fields, "2026-11-01T04:30", 3) == [
            "2026-11-01T05:00:00Z",  # 01:00 EDT
            "2026-11-01T06:00:00Z",  # 01:00 EST
            "2026-11-01T07:00:00Z",  # 02:00 EST
        ]

    def test_wildcard_hour_with_fixed_minute_in_the_gap_hour(self):
        # Only 02:xx matches and it does not exist on March 8: the next run is March 9.
        assert next_run_after(cron("*/15 2 * * *", self.zone), at("2026-03-08T06:10")) == at("2026-03-09T06:00")

    def test_interval_keeps_real_time_across_both_changes(self):
        fields = {"cadence": "interval", "interval_seconds": 3600, "created_at": at("2026-03-08T05:00"),
                  "timezone": self.zone}
        assert runs(fields, "2026-03-08T05:30", 3) == [
            "2026-03-08T06:00:00Z",  # 01:00 EST
            "2026-03-08T07:00:00Z",  # 03:00 EDT
            "2026-03-08T08:00:00Z",
        ]
        fields["created_at"] = at("2026-10-31T14:00")  # 10:00 EDT; a day later it is 09:00 EST
        fields["interval_seconds"] = 86400
        assert runs(fields, "2026-10-31T14:00", 2) == ["2026-11-01T14:00:00Z", "2026-11-02T14:00:00Z"]

    def test_interval_anchored_in_local_time_is_still_real_time(self):
        # Python adds a timedelta to a ZoneInfo datetime on the wall clock; the engine must not.
        created = datetime(2026, 3, 7, 9, 0, tzinfo=ZoneInfo(self.zone))  # 14:00Z, EST
        fields = {"cadence": "interval", "interval_seconds": 86400, "created_at": created, "timezone": self.zone}
        assert runs(fields, "2026-03-07T14:00", 1) == ["2026-03-08T14:00:00Z"]  # 10:00 EDT

    def test_bounds_in_the_repeated_hour_compare_instants_not_wall_times(self):
        # 01:30 EDT (05:30Z) to 01:10 EST (06:10Z): the end is later though its wall time is earlier.
        tz = ZoneInfo(self.zone)
        fields = cron("*/10 * * * *", self.zone)
        fields["start_at"] = datetime(2026, 11, 1, 1, 30, tzinfo=tz)
        fields["end_at"] = datetime(2026, 11, 1, 1, 10, fold=1, tzinfo=tz)
        assert runs(fields, "2026-11-01T00:00", 9) == [
            "2026-11-01T05:30:00Z",
            "2026-11-01T05:40:00Z",
            "2026-11-01T05:50:00Z",
            "2026-11-01T06:00:00Z",
            "2026-11-01T06:10:00Z",
        ]
        after = datetime(2026, 11, 1, 1, 5, fold=1, tzinfo=tz)  # 06:05Z
        assert next_run_after(fields, after) == at("2026-11-01T06:10")

    def test_biweekly_counts_local_days_across_the_change(self):
        fields = {"cadence": "biweekly", "weekly_dow": 0, "send_hour": 2, "send_minute": 30,
                  "timezone": self.zone, "start_at": at("2026-02-22T00:00")}
        assert runs(fields, "2026-02-01T00:00", 3) == [
            "2026-02-22T07:30:00Z",  # 02:30 EST
            "2026-03-08T07:00:00Z",  # in the gap: 03:00 EDT
            "2026-03-22T06:30:00Z",  # 02:30 EDT
        ]

    def test_once_is_an_instant_not_a_wall_time(self):
        fields = {"cadence": "once", "start_at": at("2026-03-08T07:00"), "timezone": self.zone}
        assert runs(fields, "2026-03-01T00:00", 3) == ["2026-03-08T07:00:00Z"]


class TestLordHowe:
    zone = "Australia/Lord_Howe"
    # Lord Howe moves by 30 minutes, at 02:00 local:
    # 2025-10-05: 01:59:59+10:30 = 2025-10-04T15:29:59Z, then 02:30:00+11:00 = 15:30:00Z
    # 2026-04-05: 01:59:59+11:00 = 2026-04-04T14:59:59Z, then 01:30:00+10:30 = 15:00:00Z

    def test_fixed_time_in_the_half_hour_gap(self):
        fields = {"cadence": "daily", "send_hour": 2, "send_minute": 15, "timezone": self.zone}
        assert runs(fields, "2025-10-04T00:00", 2) == ["2025-10-04T15:30:00Z", "2025-10-05T15:15:00Z"]

    def test_fixed_time_in_the_half_hour_overlap(self):
        fields = {"cadence": "daily", "send_hour": 1, "send_minute": 45, "timezone": self.zone}
        assert runs(fields, "2026-04-04T00:00", 2) == ["2026-04-04T14:45:00Z", "2026-04-05T15:15:00Z"]

    def test_every_quarter_hour_around_the_gap(self):
        assert runs(cron("*/15 * * * *", self.zone), "2025-10-04T15:00", 3) == [
            "2025-10-04T15:15:00Z",  # 01:45+10:30
            "2025-10-04T15:30:00Z",  # 02:30+11:00 (02:00 and 02:15 never happen)
            "2025-10-04T15:45:00Z",
        ]

    def test_every_quarter_hour_around_the_overlap(self):
        assert runs(cron("*/15 * * * *", self.zone), "2026-04-04T14:15", 5) == [
            "2026-04-04T14:30:00Z",  # 01:30+11:00
            "2026-04-04T14:45:00Z",  # 01:45+11:00
            "2026-04-04T15:00:00Z",  # 01:30+10:30
            "2026-04-04T15:15:00Z",  # 01:45+10:30
            "2026-04-04T15:30:00Z",  # 02:00+10:30
        ]


class TestSantiago:
    zone = "America/Santiago"
    # Santiago switches at midnight, so a whole local hour 00:xx is missing on a Sunday:
    # 2026-09-06: 23:59:59-04:00 (Sat) = 2026-09-06T03:59:59Z, then 01:00:00-03:00 (Sun) = 04:00:00Z
    # 2026-04-05: 23:59:59-03:00 (Sat) = 2026-04-05T02:59:59Z, then 23:00:00-04:00 (Sat) = 03:00:00Z

    def test_midnight_daily_on_the_missing_midnight(self):
        fields = {"cadence": "daily", "send_hour": 0, "send_minute": 30, "timezone": self.zone}
        assert runs(fields, "2026-09-05T12:00", 2) == ["2026-09-06T04:00:00Z", "2026-09-07T03:30:00Z"]

    def test_weekly_sunday_keeps_its_day_when_the_hour_is_missing(self):
        fields = {"cadence": "weekly", "weekly_dow": 0, "send_hour": 0, "send_minute": 0, "timezone": self.zone}
        assert runs(fields, "2026-09-01T00:00", 2) == ["2026-09-06T04:00:00Z", "2026-09-13T03:00:00Z"]

    def test_every_half_hour_skips_the_missing_hour(self):
        assert runs(cron("*/30 * * * *", self.zone), "2026-09-06T03:00", 3) == [
            "2026-09-06T03:30:00Z",  # Sat 23:30-04:00
            "2026-09-06T04:00:00Z",  # Sun 01:00-03:00
            "2026-09-06T04:30:00Z",
        ]

    def test_saturday_evening_repeats_in_april(self):
        fields = {"cadence": "daily", "send_hour": 23, "send_minute": 30, "timezone": self.zone}
        assert runs(fields, "2026-04-04T12:00", 2) == ["2026-04-05T02:30:00Z", "2026-04-06T03:30:00Z"]
        assert runs(cron("30 * * * *", self.zone), "2026-04-05T02:00", 2) == [
            "2026-04-05T02:30:00Z",  # 23:30-03:00
            "2026-04-05T03:30:00Z",  # 23:30-04:00
        ]


class TestZonesThatChangedTheirRules:
    def test_moscow_kept_summer_time_in_autumn_2011(self):
        # Moscow went to +04 on 2011-03-27 and did not come back in October.
        fields = {"cadence": "daily", "send_hour": 9, "timezone": "Europe/Moscow"}
        assert runs(fields, "2011-10-29T12:00", 2) == ["2011-10-30T05:00:00Z", "2011-10-31T05:00:00Z"]

    def test_moscow_fell_back_for_good_in_2014(self):
        # 2014-10-26: 01:59:59+04:00 = 2014-10-25T21:59:59Z, then 01:00:00+03:00 = 22:00:00Z
        fields = {"cadence": "daily", "send_hour": 1, "send_minute": 30, "timezone": "Europe/Moscow"}
        assert runs(fields, "2014-10-25T12:00", 2) == ["2014-10-25T21:30:00Z", "2014-10-26T22:30:00Z"]

    def test_sao_paulo_midnight_gap_in_2018_and_none_after_2019(self):
        # 2018-11-04: 23:59:59-03:00 (Sat) = 02:59:59Z, then 01:00:00-02:00 = 03:00:00Z.
        # DST was abolished in 2019: the first Sunday of November 2019 is an ordinary day.
        fields = {"cadence": "daily", "send_hour": 0, "send_minute": 30, "timezone": "America/Sao_Paulo"}
        assert runs(fields, "2018-11-03T12:00", 2) == ["2018-11-04T03:00:00Z", "2018-11-05T02:30:00Z"]
        assert runs(fields, "2019-11-02T12:00", 2) == ["2019-11-03T03:30:00Z", "2019-11-04T03:30:00Z"]

    def test_apia_skipped_friday_30_december_2011(self):
        # 2011-12-29T23:59:59-10:00 = 2011-12-30T09:59:59Z, then 2011-12-31T00:00:00+14:00 = 10:00Z
        zone = "Pacific/Apia"
        daily = {"cadence": "daily", "send_hour": 9, "timezone": zone}
        assert runs(daily, "2011-12-29T00:00", 3) == [
            "2011-12-29T19:00:00Z",  # Thu 09:00-10:00
            "2011-12-30T10:00:00Z",  # Friday's 09:00 never happened: Sat 00:00+14:00
            "2011-12-30T19:00:00Z",  # Sat 09:00+14:00
        ]
        friday = {"cadence": "weekly", "weekly_dow": 5, "send_hour": 9, "timezone": zone}
        assert runs(friday, "2011-12-25T00:00", 2) == ["2011-12-30T10:00:00Z", "2012-01-05T19:00:00Z"]
        assert runs(cron("0 * * * *", zone), "2011-12-30T09:30", 2) == [
            "2011-12-30T10:00:00Z",  # the wildcard rule's next wall hour is Sat 00:00
            "2011-12-30T11:00:00Z",
        ]

    def test_biweekly_phase_follows_the_skipped_friday(self):
        # The first run is due Friday 30 Dec (skipped, so it runs at the gap's end); the next is
        # 14 local days after that Friday, not after the Saturday the run happened on.
        fields = {"cadence": "biweekly", "weekly_dow": 5, "send_hour": 9, "timezone": "Pacific/Apia",
                  "created_at": at("2011-12-29T20:00")}
        assert runs(fields, "2011-12-29T20:00", 2) == ["2011-12-30T10:00:00Z", "2012-01-12T19:00:00Z"]

    def test_monrovia_offset_was_not_a_whole_minute(self):
        # Liberia kept -00:44:30 until 1972-01-07: 23:59:59-00:44:30 = 00:44:29Z, then
        # 00:44:30+00:00. A wall minute then began at :30 seconds UTC.
        fields = {"cadence": "daily", "send_hour": 9, "timezone": "Africa/Monrovia"}
        assert runs(fields, "1972-01-05T00:00", 3) == [
            "1972-01-05T09:44:30Z",
            "1972-01-06T09:44:30Z",
            "1972-01-07T09:00:00Z",
        ]
        midnight = {"cadence": "daily", "send_hour": 0, "timezone": "Africa/Monrovia"}
        assert runs(midnight, "1972-01-06T01:00", 2) == [
            "1972-01-07T00:44:30Z",  # midnight on the 7th was skipped: end of the 44.5-minute gap
            "1972-01-08T00:00:00Z",
        ]


def test_offset_changes_in_the_installed_tzdata_are_days_apart():
    # core.engine.timing finds a zone's offset changes by probing once a day and bisecting, which is exact
    # as long as no two changes fall within one day of each other (the closest pair today is ~4 days
    # apart: Africa/Freetown, 1939). zoneinfo has no public list of transitions; its pure-Python
    # twin loads the same files and keeps them, so read them there.
    from zoneinfo import _zoneinfo, available_timezones

    closest = None
    for key in sorted(available_timezones()):
        zone = _zoneinfo.ZoneInfo.no_cache(key)
        previous_offset = zone._tti_before.utcoff if zone._tti_before else None
        previous_change = None
        for instant, info in zip(zone._trans_utc, zone._ttinfos):
            if previous_offset is not None and info.utcoff != previous_offset:
                if previous_change is not None:
                    gap = instant - previous_change
                    closest = gap if closest is None else min(closest, gap)
                previous_change = instant
            previous_offset = info.utcoff
    assert closest is not None and closest > 2 * 86400
