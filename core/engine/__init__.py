"""The time engine, pure (no I/O, no clock): cadences and cron rules in a zone's wall time, through
daylight-saving changes (timing, cron), delivery windows, catch-up and backfill ranges (when), and why
a previewed run is where it is (explain)."""

from core.engine import tzdb

# Before any zone is read: the pinned tzdata package, the same on every machine (see tzdb).
tzdb.use_pinned_unless_chosen()
