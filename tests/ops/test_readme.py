"""The README stands alone and its examples are true: no references to documents a reader of the
repository does not have, and the preview example prints what the README shows."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.api.conftest import app, app_config, auth, client  # noqa: F401 (fixtures)
from ticker.preview import main as preview_main

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def test_the_readme_refers_to_no_document_a_reader_does_not_have():
    assert "DESIGN.md" not in README
    assert re.findall(r"(?i)\bseeds?\b", README) == []


def test_the_preview_example_prints_what_the_readme_shows(capsys):
    [command] = [line for line in README.splitlines() if line.startswith("python -m ticker preview --cron")]
    argv = shlex.split(command)[4:]
    assert "--after" in argv  # without it the output would depend on today's date
    shown = README.split("`preview` prints one run a line", 1)[1].split("```", 2)[1].strip().splitlines()
    assert preview_main(argv) == 0
    assert capsys.readouterr().out.splitlines() == shown


def test_the_quick_start_preview_answers_what_the_readme_shows(client, auth):
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    url = re.search(r'curl -s -X POST "http://localhost:8000(/v1/schedules/preview\?[^"]+)"', quick_start).group(1)
    body = re.search(r"-d '(\{.*?\})'", quick_start).group(1)
    shown = quick_start.split("```json", 1)[1].split("```", 1)[0]
    response = client.post(url, data=body, headers={**auth, "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.get_json() == json.loads(shown)
