"""The ticker daemon: finds due schedules, records their runs and pushes RQ jobs (`python -m ticker`)."""
