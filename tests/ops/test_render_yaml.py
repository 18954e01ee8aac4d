"""render.yaml (Render Blueprint) deploys what the Procfile describes: the same commands, wired to one
PostgreSQL and one Key Value, with shared generated secrets and the values to be set by hand."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def procfile() -> dict[str, str]:
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


@pytest.fixture(scope="module")
def blueprint() -> dict:
    return yaml.safe_load((ROOT / "render.yaml").read_text())


def services(blueprint, kind) -> list[dict]:
    return [service for service in blueprint["services"] if service["type"] == kind]


def env(service) -> dict:
    return {entry["key"]: entry for entry in service["envVars"] if "key" in entry}


def test_start_commands_are_the_procfiles(blueprint):
    commands = procfile()
    assert set(commands) == {"web", "ticker", "worker", "release"}
    [web] = services(blueprint, "web")
    workers = {service["startCommand"] for service in services(blueprint, "worker")}
    assert web["startCommand"] == commands["web"]
    assert workers == {commands["ticker"], commands["worker"]}
    for service in services(blueprint, "web") + services(blueprint, "worker"):
        assert service["preDeployCommand"] == commands["release"], service["name"]


def test_the_web_service(blueprint):
    [web] = services(blueprint, "web")
    assert web["runtime"] == "python"
    assert web["buildCommand"] == "pip install -r requirements.txt"
    assert web["healthCheckPath"] == "/healthz"
    assert env(web)["PROMETHEUS_MULTIPROC_DIR"]["value"].startswith("/")


def test_every_process_is_wired_to_the_database_and_key_value(blueprint):
    [database] = blueprint["databases"]
    [keyvalue] = services(blueprint, "keyvalue")
    assert keyvalue["ipAllowList"] == []
    [group] = blueprint["envVarGroups"]
    python_services = services(blueprint, "web") + services(blueprint, "worker")
    assert len(python_services) == 3
    for service in python_services:
        assert service["runtime"] == "python" and service["buildCommand"] == "pip install -r requirements.txt"
        variables = env(service)
        assert variables["DATABASE_URL"]["fromDatabase"] == {"name": database["name"], "property": "connectionString"}
        assert variables["REDIS_URL"]["fromService"] == {"type": "keyvalue", "name": keyvalue["name"],
                                                         "property": "connectionString"}
        assert {"fromGroup": group["name"]} in service["envVars"], service["name"]


def test_secrets_are_generated_once_and_shared_and_the_rest_is_asked_for(blueprint):
    [group] = blueprint["envVarGroups"]
    variables = env(group)
    assert variables["JWT_SECRET"]["generateValue"] is True
    assert variables["UNSUBSCRIBE_SECRET"]["generateValue"] is True
    assert variables["ENVIRONMENT"]["value"] == "production"
    for name in ("PUBLIC_BASE_URL", "SMTP_URL", "EMAIL_FROM"):
        assert variables[name] == {"key": name, "sync": False}
    for service in blueprint["services"]:  # defined once, in the group, so every service has the same
        assert not {"JWT_SECRET", "UNSUBSCRIBE_SECRET"} & set(env(service) if "envVars" in service else {})
