"""What every process stands on and operators read: settings, PostgreSQL access and the named queries
(db, sql), logs, metrics, health, retention (maintenance), and the migrations (migrate)."""
