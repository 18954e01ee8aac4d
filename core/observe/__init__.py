"""What operators read: the health rules (health: /readyz, the console's health page, the ticker's
hourly check) and the SQL gauges Prometheus scrapes (gauges)."""
