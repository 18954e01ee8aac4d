"""Tasks registered through TASKS by the worker tests."""
CALLS: list = []


def echo(account_id, params):
    return {"report_url": f"https://reports.example.com/{params['run_id']}", "account_id": account_id,
            "params": params}


def boom(account_id, params):
    raise ValueError("the report source is down")


def not_json(account_id, params):
    return object()
