"""The task registry: public task names (what a schedule's `task` may say) mapped to import paths,
and the contract of what a task returns.

The mapping comes only from the TASKS setting (`generate_report=myapp.tasks:generate_report,...`).
The API accepts only registered names and the worker imports only registered paths, so nothing stored
in the database or in Redis can make a process import code of its choosing.

The task contract: `task(account_id: str, params: dict) -> dict`, a JSON object (anything else is
wrapped as {"result": ...}). Besides what the channels deliver (`report_url`, `title`, `attachment`),
two keys speak to the schedule's `deliver_when`:
- `empty`: JSON `true` says the result has nothing to report (no new rows); a schedule with
  `deliver_when: not_empty` then delivers nothing (`is_empty`). Any other value, or none, is not empty.
- `content_key`: what identifies the result's content (e.g. the report's rows, or a hash of them),
  when the result also carries things that differ on every run (a fresh link, a generation time).
  `deliver_when: changed` compares `content_hash` with the last delivered result's: the SHA-256 of
  `content_key` when the task gives one, else of the whole result (less `empty`) as canonical JSON.
"""
from __future__ import annotations

import hashlib
import importlib
import json
from typing import Callable, Mapping


def is_empty(result) -> bool:
    """Whether the task said its result is empty: `"empty": true` (a JSON boolean) in its object."""
    return isinstance(result, dict) and result.get("empty") is True


def content_hash(result) -> str:
    """The content hash deliver_when `changed` compares: SHA-256 (hex) of the result's `content_key`,
    or of the whole result without `empty`, as canonical JSON (sorted keys, no spaces)."""
    if isinstance(result, dict) and "content_key" in result:
        content = result["content_key"]
    elif isinstance(result, dict):
        content = {key: value for key, value in result.items() if key != "empty"}
    else:
        content = result
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class TaskNotRegistered(LookupError):
    pass


class TaskImportError(ImportError):
    pass


def load_task(path: str) -> Callable:
    """Import `package.module:function`; TaskImportError says which part is missing."""
    module_name, _, attribute = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TaskImportError(f"cannot import module {module_name!r} for task {path!r}: {exc}") from exc
    task = getattr(module, attribute, None)
    if not callable(task):
        raise TaskImportError(f"{module_name!r} has no callable {attribute!r} (task {path!r})")
    return task


class TaskRegistry:
    """Resolves registered names to callables, importing each path once."""

    def __init__(self, tasks: Mapping[str, str]):
        self.paths = dict(tasks)
        self._loaded: dict[str, Callable] = {}

    def names(self) -> list[str]:
        return sorted(self.paths)

    def resolve(self, name: str) -> Callable:
        if name not in self.paths:
            raise TaskNotRegistered(
                f"task {name!r} is not registered in TASKS (registered: {', '.join(self.names())})")
        if name not in self._loaded:
            self._loaded[name] = load_task(self.paths[name])
        return self._loaded[name]

    def check_all(self) -> None:
        """Import every registered task now, so a typo in TASKS stops the worker at start."""
        for name in self.paths:
            self.resolve(name)
