"""Which IANA time-zone database the engine reads: the pinned `tzdata` package, unless an operator says.

Python's zoneinfo looks in the machine's zone files (zoneinfo.TZPATH: /usr/share/zoneinfo ...) before
the `tzdata` package, so the same schedule could run at different instants on two machines whose
databases differ (a Debian image with 2025b and the pin with 2026f disagree on 145 zones somewhere in
1900-2200, America/Edmonton from 2045 among them). So every process that imports the engine reads
the pinned package only, the same on a laptop, in CI and on Render, unless PYTHONTZPATH is set:
that is Python's own setting for the search path (`PYTHONTZPATH=/usr/share/zoneinfo` reads the
machine's files first, as plain Python does; the package still answers for a zone they lack).

`in_use()` says which database answers, for the start-up log lines, /readyz and /metrics.
"""
from __future__ import annotations

import functools
import os
import re
import zoneinfo
from dataclasses import dataclass
from pathlib import Path

TZPATH_VARIABLE = "PYTHONTZPATH"
_VERSION_LINE = re.compile(r"#\s*version\s+(\S+)")


@dataclass(frozen=True)
class TzDatabase:
    version: str  # the IANA release, e.g. "2026f" ("unknown" when the files do not say)
    source: str   # "tzdata package 2026.6" or the directory of the machine's files

    def __str__(self) -> str:
        return f"{self.version} ({self.source})"


def use_pinned_unless_chosen(environ=os.environ) -> None:
    """Read zones from the pinned `tzdata` package only, unless PYTHONTZPATH chooses a search path."""
    if TZPATH_VARIABLE in environ:
        return  # zoneinfo has already read it at import, as Python documents
    if zoneinfo.TZPATH:
        zoneinfo.reset_tzpath(to=())
        zoneinfo.ZoneInfo.clear_cache()  # a zone read from the machine's files before now is read again


@functools.cache
def in_use() -> TzDatabase:
    """The database zoneinfo reads first: a directory of TZPATH that has zone files, else the package.

    Read once per process (the search path is settled when the engine is imported), not on every
    /readyz or /metrics request."""
    for directory in zoneinfo.TZPATH:
        path = Path(directory)
        if (path / "UTC").is_file() or (path / "tzdata.zi").is_file():
            return TzDatabase(_version_of(path / "tzdata.zi"), f"system files in {directory}")
    return _package()


def _package() -> TzDatabase:
    try:
        import tzdata
        from importlib.metadata import version
    except ImportError:
        return TzDatabase("unknown", "no tzdata package and no zone files: install requirements.txt")
    return TzDatabase(tzdata.IANA_VERSION, f"tzdata package {version('tzdata')}")


def _version_of(tzdata_zi: Path) -> str:
    try:
        with tzdata_zi.open(encoding="utf-8") as lines:
            match = _VERSION_LINE.match(lines.readline())
    except OSError:
        return "unknown"
    return match.group(1) if match else "unknown"
