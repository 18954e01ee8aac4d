"""The task registry (core/runs/tasks.py): a dict of the registered names to their functions, each
imported on first ask; nothing else can be imported through it."""
from __future__ import annotations

import pytest

from core.runs.tasks import TaskImportError, TaskNotRegistered, TaskRegistry


def test_a_registered_task_is_imported_once_and_kept():
    registry = TaskRegistry({"report": "core.runs.demo_tasks:generate_report"})
    assert "report" not in registry and not registry  # nothing imported before it is asked for
    task = registry["report"]
    from core.runs.demo_tasks import generate_report
    assert task is generate_report and registry["report"] is task and dict(registry) == {"report": task}


def test_a_name_not_registered_is_refused_and_named():
    registry = TaskRegistry({"report": "core.runs.demo_tasks:generate_report"})
    with pytest.raises(TaskNotRegistered, match=r"task 'os\.system' is not registered in TASKS \(registered: report\)"):
        registry["os.system"]
    assert dict(registry) == {}


@pytest.mark.parametrize("path, says", [
    ("no_such_module_here:run", "cannot import module 'no_such_module_here'"),
    ("core.runs.demo_tasks:no_such_function", "'core.runs.demo_tasks' has no callable 'no_such_function'"),
])
def test_a_path_that_does_not_import_says_which_part_is_missing(path, says):
    registry = TaskRegistry({"broken": path})
    with pytest.raises(TaskImportError, match=says.replace(".", r"\.")):
        registry["broken"]
    with pytest.raises(TaskImportError):
        registry.check_all()  # the worker's start: a typo in TASKS stops it


def test_check_all_imports_every_registered_task():
    registry = TaskRegistry({"a": "core.runs.demo_tasks:generate_report", "b": "core.runs.demo_tasks:generate_report"})
    registry.check_all()
    assert sorted(registry) == ["a", "b"] == registry.names()
