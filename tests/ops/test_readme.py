"""The README and the docs pages it links stand alone and their examples are true: the README stays
short and links every page, no references to documents a reader of the repository does not have,
every relative link leads to a file and heading that exist, and the examples print what the pages
show. Each check reads the page where its text lives: the quick start and the banner in README.md, the
reference in docs/*.md."""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from tests.api.conftest import app, app_config, auth, client  # noqa: F401 (fixtures)
from ticker.preview import main as preview_main

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
README = (ROOT / "README.md").read_text()
API = (DOCS / "api.md").read_text()          # the routes, the webhook receiver, the client, the command line
TESTING = (DOCS / "testing.md").read_text()  # the test count
README_MAX_LINES = 250


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _every_page() -> str:
    return "\n".join(path.read_text() for path in PAGES)


def test_the_docs_pages_exist_and_the_readme_links_each():
    assert len(PAGES) > 1, "no docs/*.md page"
    linked = {ROOT / target for target in re.findall(r"\]\((docs/[^)#\s]+\.md)(?:#[^)\s]*)?\)", README)}
    assert [_name(page) for page in PAGES[1:] if page not in linked] == []


def test_the_readme_is_at_most_250_lines():
    lines = len(README.splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the reference belongs in docs/*.md"


def test_no_page_refers_to_a_document_a_reader_does_not_have():
    found = {_name(page): re.findall(r"DESIGN\.md|(?i:\bseeds?\b)", page.read_text()) for page in PAGES}
    assert {page: words for page, words in found.items() if words} == {}


def github_anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings: the heading's text in lower case, every character
    but letters, digits, spaces, hyphens and underscores dropped (backticks, colons, parentheses...),
    spaces made hyphens; a repeated anchor gets -1, -2, ... Headings inside fenced code are not
    headings."""
    anchors: set[str] = set()
    seen: dict[str, int] = {}
    for line in _outside_fences(markdown).splitlines():
        heading = re.match(r"^ {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$", line)
        if not heading:
            continue
        anchor = re.sub(r"[^\w\- ]", "", heading.group(1).lower()).replace(" ", "-")
        anchors.add(f"{anchor}-{seen[anchor]}" if anchor in seen else anchor)
        seen[anchor] = seen.get(anchor, 0) + 1
    return anchors


def _outside_fences(markdown: str) -> str:
    return re.sub(r"^```.*?^```[^\n]*$", "", markdown, flags=re.MULTILINE | re.DOTALL)


def relative_links(markdown: str) -> list[str]:
    """The targets of the page's Markdown links that are not absolute URLs (code excluded)."""
    prose = re.sub(r"`[^`]*`", "", _outside_fences(markdown))
    targets = re.findall(r"\]\(([^()\s]*)\)", prose)
    return [target for target in targets if not re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target)]


def test_the_anchor_rules_are_githubs():
    page = ("# The ticker: exactly once, nothing lost\n## Only when there is news: `deliver_when`\n"
            "```\n# not a heading\n```\n## Deploy to Render (render.yaml)\n## Cron's day extensions\n"
            "## Notes\n## Notes\n")
    assert github_anchors(page) == {"the-ticker-exactly-once-nothing-lost", "only-when-there-is-news-deliver_when",
                                    "deploy-to-render-renderyaml", "crons-day-extensions", "notes", "notes-1"}
    assert relative_links("[a](x.md#b) [`c`](#d) `[e](f.md)` [g](https://h/i)\n```\n[j](k.md)\n```\n") == \
        ["x.md#b", "#d"]


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in PAGES:
        for target in relative_links(page.read_text()):
            path, _, anchor = target.partition("#")
            destination = (page.parent / path).resolve() if path else page
            if not destination.is_relative_to(ROOT) or not destination.exists():
                broken.append(f"{_name(page)}: {target}: no such file")
            elif anchor and destination.suffix == ".md" and anchor not in github_anchors(destination.read_text()):
                broken.append(f"{_name(page)}: {target}: no heading '#{anchor}' in {_name(destination)}")
    assert broken == []


def test_the_preview_example_prints_what_the_docs_show(capsys):
    [command] = [line for line in API.splitlines() if line.startswith("python -m ticker preview --cron")]
    argv = shlex.split(command)[4:]
    assert "--after" in argv  # without it the output would depend on today's date
    shown = API.split("`preview` prints one run a line", 1)[1].split("```", 2)[1].strip().splitlines()
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


def test_the_banner_shown_is_the_banner_make_dev_prints():
    """Every line, the sign-in link block included, with the README's placeholders for the values that
    differ from machine to machine."""
    from devtools import dev

    env = {"WEB_HOST": "127.0.0.1", "DATABASE_URL": "postgresql://postgres:@/schedules?host=/.../.devdata/postgres",
           "REDIS_URL": "unix:///.../.devdata/redis/redis.sock", "OUTBOX_DIR": "/.../.devdata/outbox"}
    printed = dev._banner(env, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9...",
                          "http://localhost:8000/console/login?token=v1.eyJhIjoi...").strip("\n")
    quick_start = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    shown = quick_start.split("Then it prints:\n\n```\n", 1)[1].split("\n\n20:", 1)[0]
    assert dev.PORT == 8000 and shown == printed


def test_no_route_is_described_twice_in_the_readme_and_docs():
    rows = re.findall(r"^\| `((?:GET|POST|PATCH|DELETE|PUT)[^`]*)` \|", _every_page(), flags=re.MULTILINE)
    assert rows and len(rows) == len(set(rows)), [row for row in rows if rows.count(row) > 1]


def test_rq_commands_are_shown_with_the_redis_url():
    """rq reads no REDIS_URL: without --url it looks at localhost:6379 and reports 0 queues."""
    commands = re.findall(r"`(rq (?:info|suspend|resume|requeue|empty)[^`]*)`", _every_page())
    assert commands and all("--url $REDIS_URL" in command for command in commands if command != "rq info"), commands


def test_the_client_generation_command_finds_ruff_and_writes_the_package_the_example_imports():
    section = API.split("Generate a typed Python client", 1)[1]
    command = section.split("```sh\n", 1)[1].split("\n```", 1)[0]
    assert command.startswith('PATH="$PWD/.venv/bin:$PATH" openapi-python-client generate ')
    package = shlex.split(command)[shlex.split(command).index("--output-path") + 1]
    example = section.split("```python\n", 1)[1].split("\n```", 1)[0]
    assert f"from {package} import AuthenticatedClient" in example


def test_the_test_count_the_docs_give_is_within_five_percent_of_the_suite():
    import subprocess
    import sys

    stated = int(re.search(r"runs everything \(about ([0-9,]+) tests", TESTING).group(1).replace(",", ""))
    collected = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300).stdout
    count = int(re.search(r"^([0-9]+) tests? collected", collected, flags=re.MULTILINE).group(1))
    assert abs(count - stated) <= stated * 0.05, f"docs/testing.md says about {stated} tests; there are {count}"
