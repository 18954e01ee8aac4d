"""A run's life: what a run is and its policy (run), the one place runs are made (create), the ticker's
dispatch of due schedules (dispatch), every transition and push of a run (lifecycle), its RQ job (jobs),
the tasks it runs (tasks, demo_tasks), and runs as the API reads them (reads)."""
