"""The task registry: public task names (what a schedule's `task` may say) mapped to import paths.

The mapping comes only from the TASKS setting (`generate_report=myapp.tasks:generate_report,...`).
The API accepts only registered names and the worker imports only registered paths, so nothing stored
in the database or in Redis can make a process import code of its choosing.
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
