"""The RQ worker process (`python -m worker`): executes runs, then emails their reports."""
