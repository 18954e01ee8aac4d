-- What a webhook or Slack delivery (core/deliveries/webhooks.py) reads and writes of its channel.

-- channel_for_delivery --
-- The schedule's channel a ledger row sends to, as it is now (removed: no row; disabled: disabled_at).
SELECT id, disabled_at, disabled_reason FROM schedule_channels
 WHERE schedule_id = %(schedule_id)s AND type = %(type)s AND url = %(url)s;

-- disable_schedule_channel --
-- The receiver answered 410 Gone: stop sending to it until the account enables it again.
UPDATE schedule_channels SET disabled_at = now(), disabled_reason = %(reason)s, updated_at = now()
 WHERE id = %(id)s AND disabled_at IS NULL;
