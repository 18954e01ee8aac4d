"""The seeds' own examples, verbatim, shared by the tests that check the schema, the ticker and the API
accept them unchanged."""

SEED_ACCOUNT_ID = "912014c3-6deb-4b40-a28d-489ef3923a3a"

# Seed 000, "Create test schedule with past next_run_at".
SEED_000_TEST_SCHEDULE = """
INSERT INTO schedules (
    account_id, name, report_type, city, cadence,
    weekly_dow, send_hour, send_minute, recipients, active, next_run_at
) VALUES (
    '912014c3-6deb-4b40-a28d-489ef3923a3a',
    'Test Weekly Snapshot',
    'market_snapshot',
    'San Diego',
    'weekly',
    1,  -- Monday
    9,
    0,
    ARRAY['test@example.com'],
    true,
    NOW() - INTERVAL '1 hour'  -- Due 1 hour ago
);
"""
