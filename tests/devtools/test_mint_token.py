"""python -m devtools.dev mint-token: api.cli's mint-token with make dev's JWT_SECRET when it is unset.
devtools stands on api, never the other way: the deployed API has no devtools."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

from tests.api.conftest import JWT_SECRET, app, app_config, client  # noqa: F401 (fixtures)

ROOT = Path(__file__).resolve().parents[2]


def _mint(*args, **env):
    base = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp")}
    return subprocess.run([sys.executable, "-m", "devtools.dev", "mint-token", *args], cwd=ROOT,
                          env={**base, **env}, capture_output=True, text=True, timeout=60)


def test_mint_token_uses_make_devs_secret_when_jwt_secret_is_unset(client, account_id, tmp_path):
    (tmp_path / "secrets.json").write_text(json.dumps({"JWT_SECRET": JWT_SECRET, "UNSUBSCRIBE_SECRET": "u" * 40}))
    result = _mint("--account-id", str(account_id), DEV_DATA_DIR=str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert str(tmp_path / "secrets.json") in result.stderr
    response = client.get("/v1/schedules", headers={"Authorization": f"Bearer {result.stdout.strip()}"})
    assert response.status_code == 200
    production = _mint("--account-id", str(account_id), DEV_DATA_DIR=str(tmp_path), ENVIRONMENT="production")
    assert production.returncode == 2 and "JWT_SECRET" in production.stderr
    nothing_kept = _mint("--account-id", str(account_id), DEV_DATA_DIR=str(tmp_path / "none"))
    assert nothing_kept.returncode == 2 and "JWT_SECRET" in nothing_kept.stderr


def test_no_process_module_imports_devtools():
    found = []
    for package in ("api", "core", "ticker", "worker"):
        for path in sorted((ROOT / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                         else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
                found += [f"{path.relative_to(ROOT)}: {name}" for name in names if name.split(".")[0] == "devtools"]
    assert found == []
