"""Alerts to the account owner: one incident per schedule problem, news of it delivered through the
delivery ledger (migration 0019 opens, counts and closes incidents in the transaction of each event).

- settings: where an account's alerts go (emails, channel URLs: webhook, Slack) and which events it wants
- incidents: the incidents and their messages as the API and the console list them; a schedule's
  alert switch; the ticker's pass for stale schedules
- compose: what an alert says (its words, the email; each channel's sender renders the words)
- ledger: the delivery of an alert message (the worker's side, and the ticker's push and recovery)
"""

# The events an account may want alerts for (alert_settings.events; migration 0019 checks the same list).
EVENTS = ("failed", "delivery_failed", "missed", "paused", "channel_disabled", "stale")
# What an incident's messages are about.
MESSAGE_EVENTS = ("opened", "paused", "channel_disabled", "recovered")
