"""Where `make dev` keeps its data, and the development secrets kept there.

`.devdata/` at the top of the repository (DEV_DATA_DIR overrides it): PostgreSQL, Redis, the email
outbox and `secrets.json` (JWT_SECRET and UNSUBSCRIBE_SECRET, made once, so tokens and unsubscribe
links survive restarts). `python -m devtools.dev mint-token` reads JWT_SECRET from here, so a token
for another account needs no copying of secrets.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    return Path(os.environ.get("DEV_DATA_DIR") or ROOT / ".devdata")


def secrets_path() -> Path:
    return data_dir() / "secrets.json"


def read_secrets() -> dict[str, str]:
    """The secrets `make dev` made, or {} when it has not run here yet."""
    try:
        return json.loads(secrets_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def ensure_secrets() -> dict[str, str]:
    """The development secrets, made (random, readable by the owner only) on first use."""
    made = read_secrets()
    if made:
        return made
    path = secrets_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    made = {"JWT_SECRET": secrets.token_urlsafe(48), "UNSUBSCRIBE_SECRET": secrets.token_urlsafe(48)}
    path.write_text(json.dumps(made))
    path.chmod(0o600)
    return made
