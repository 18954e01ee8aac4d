"""What every process stands on: settings, PostgreSQL access and the named queries (db, sql), logs,
and the migrations (migrate). Infrastructure only: no domain rule lives here (core/observe and
core/retention hold what operators read and what the ticker sweeps)."""
