"""The webhook receiver example of the API docs (docs/api.md, "Delivery channels"), run as written (with
a real secret), served on loopback: it accepts a delivered webhook, and refuses one signed with another
secret."""
from __future__ import annotations

import re
import threading
from pathlib import Path

from werkzeug.serving import make_server

from core.deliveries import signing
from core.ops import db
from core.ops.settings import load_settings
from tests.receivers import free_port
from tests.worker.conftest import fetch, make_run
from tests.worker.test_channels import learn_secret, with_channels
from tests.worker.test_execution import execute

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def readme_receiver(secret: str):
    text = API_DOCS.read_text()
    start = text.index("A receiver that verifies the signature")
    code = re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)
    assert 'Webhook("whsec_...")' in code
    namespace: dict = {"__name__": "readme_receiver"}
    exec(compile(code.replace('"whsec_..."', repr(secret)), "docs/api.md", "exec"), namespace)
    return namespace["app"]


def test_the_readme_receiver_accepts_a_delivered_webhook_and_refuses_a_forged_one(
        conn, worker_env, registry, account_id):
    settings = load_settings({**worker_env, "WEBHOOK_ALLOW_LOOPBACK": "true"})
    secret = learn_secret(conn, account_id)
    port = free_port()
    server = make_server("127.0.0.1", port, readme_receiver(secret))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/hooks/reports"
        run_id = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": url}]))
        assert execute(conn, settings, registry, run_id)["status"] == "succeeded"

        # Signed with a secret the receiver does not know: its 400 is retried, never "delivered".
        with db.service_transaction(conn) as cur:
            cur.execute("UPDATE webhook_secrets SET secret = %s WHERE account_id = %s",
                        (signing.new_secret(), account_id))
        forged = make_run(conn, with_channels(conn, account_id, [{"type": "webhook", "url": url}], name="other"))
        assert execute(conn, settings, registry, forged)["status"] == "retrying"
    finally:
        server.shutdown()
    [sent] = fetch(conn, "SELECT status FROM deliveries WHERE run_id = %s", run_id)
    [refused] = fetch(conn, "SELECT status, last_error FROM deliveries WHERE run_id = %s", forged)
    assert sent["status"] == "sent"
    assert refused["status"] == "pending" and refused["last_error"].startswith("answered 400")
