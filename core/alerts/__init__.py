"""Alerts to the account owner: one incident per schedule problem, news of it delivered through the
delivery ledger (migration 0019 opens, counts and closes incidents in the transaction of each event).

- settings: where an account's alerts go (emails, webhook and Slack URLs) and which events it wants
- incidents: the incidents and their messages as the API and the console list them; a schedule's
  alert switch; the ticker's pass for stale schedules
- compose: what an alert says (email, webhook body, Slack message)
- ledger: the delivery of an alert message (the worker's side, and the ticker's push and recovery)
"""

# The events an account may want alerts for (alert_settings.events; migration 0019 checks the same list).
EVENTS = ("failed", "delivery_failed", "missed", "paused", "channel_disabled", "stale")
# What an incident's messages are about.
MESSAGE_EVENTS = ("opened", "paused", "channel_disabled", "recovered")
