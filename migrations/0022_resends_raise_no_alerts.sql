-- 0022: a resend (0020) is not the schedule running. Its end neither closes the schedule's open alert
-- ("back to normal" is the next scheduled, manual or backfill run that succeeds) nor counts into it: a
-- resend whose delivery fails is shown in the run's deliveries, where it was asked for.
DROP TRIGGER alert_run_ended ON schedule_runs;
CREATE TRIGGER alert_run_ended AFTER UPDATE OF status ON schedule_runs
    FOR EACH ROW WHEN (OLD.status <> NEW.status AND NEW.status IN ('succeeded', 'failed', 'delivery_failed')
                       AND NEW.trigger <> 'resend')
    EXECUTE FUNCTION alert_on_run();
