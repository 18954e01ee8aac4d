"""The task registry: public task names (what a schedule's `task` may say) mapped to import paths,
and the contract of what a task returns.

The mapping comes only from the TASKS setting (`generate_report=myapp.tasks:generate_report,...`).
The API accepts only registered names and the worker imports only registered paths, so nothing stored
in the database or in Redis can make a process import code of its choosing.

The task contract: `task(account_id: str, params: dict) -> dict`, a JSON object (anything else is
wrapped as {"result": ...}). Besides what the channels deliver (`report_url`, `title`, `attachment`),
two keys speak to the schedule's `deliver_when`, which the delivery reads
(core/deliveries/delivery.py's `is_empty` and `content_hash`):
- `empty`: JSON `true` says the result has nothing to report (no new rows); a schedule with
  `deliver_when: not_empty` then delivers nothing. Any other value, or none, is not empty.
- `content_key`: what identifies the result's content (e.g. the report's rows, or a hash of them),
  when the result also carries things that differ on every run (a fresh link, a generation time).
  `deliver_when: changed` compares the result's content hash with the last delivered result's: the
  SHA-256 of `content_key` when the task gives one, else of the whole result (less `empty`) as
  canonical JSON.

A worker process's registry is a dict of the registered names to their functions, each imported the
first time it is asked for; the worker imports them all at start (`check_all`), so a run's look-up
is a plain dict read.
"""
from __future__ import annotations

import importlib
from typing import Callable, Mapping


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


class TaskRegistry(dict):
    """The registered names, each to its function: imported the first time it is asked for and kept,
    as the API reads `names` and the worker `registry[name]` (TaskNotRegistered for a name TASKS does
    not have, TaskImportError for a path that does not import)."""

    def __init__(self, tasks: Mapping[str, str]):
        super().__init__()
        self.paths = dict(tasks)

    def names(self) -> list[str]:
        return sorted(self.paths)

    def __missing__(self, name: str) -> Callable:
        if name not in self.paths:
            raise TaskNotRegistered(
                f"task {name!r} is not registered in TASKS (registered: {', '.join(self.names())})")
        task = self[name] = load_task(self.paths[name])
        return task

    def check_all(self) -> None:
        """Import every registered task now, so a typo in TASKS stops the worker at start."""
        for name in self.paths:
            self[name]
