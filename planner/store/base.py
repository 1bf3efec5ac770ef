"""What the store's backends share: the stored columns, the version record, the backend protocol,
the error wrapper. Each backend (``gpkg``, ``postgis``) imports only this module and the core;
``planner.store.service`` holds every rule above them."""

from __future__ import annotations

import functools
import os
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import pandas as pd

from planner.core.indicators import STORED_INDICATOR_COLUMNS
from planner.core.register import Register
from planner.core.schema import TABLES
from planner.core.values import shown_text
from planner.errors import StoreUnavailable

# Set ONLY by the crash test: seconds to sleep after a save's rows are written and before its
# version row (the commit marker) is, so the test can kill the process half-way.
TEST_PAUSE_ENV = "PLANNER_STORE_TEST_PAUSE"

# The columns each table stores, with their kind (text / real / int / bool), from the schema;
# the backends map kinds to types.
COLUMNS: dict[str, list[tuple[str, str]]] = {name: table.kinds() for name, table in TABLES.items()}
# The other targets' recorded actual values (planner.core.indicators): one store-wide, append-only table.
INDICATOR_TABLE_COLUMNS: list[tuple[str, str]] = [
    (c, "int" if c == "year" else "real" if c == "value" else "text") for c in STORED_INDICATOR_COLUMNS
]


@dataclass(frozen=True)
class Version:
    """One saved version of a scenario (a delete is a version too: a tombstone, ``action='delete'``)."""

    scenario: str
    version: int
    author: str
    role: str
    created_at: str  # UTC, ISO 8601
    comment: str
    restored_from: int | None = None
    action: str = "save"
    changes: str = ""  # summary of the changes against the previous version
    n_parks: int = 0
    n_allocations: int = 0

    def describe(self) -> str:
        """'v3 by alice (planner) at 2026-...: comment'."""
        note = f" [{self.action}]" if self.action != "save" else ""
        return f"v{self.version} {self.author} ({self.role}) {self.created_at}{note}: {self.comment or '—'}"


class Race(Exception):
    """Raised by a backend when the scenario's latest version is not the one expected (inside the
    write transaction, or as a unique-key violation)."""


class Backend(Protocol):
    """What a storage backend provides; ``Store`` holds every rule, the backend only stores."""

    location: str

    def is_empty(self) -> bool: ...
    def versions(self, scenario: str | None = None) -> list[Version]: ...
    def read(self, scenario: str, version: int) -> Register: ...
    def write(
        self, version: Version, register: Register | None, expected_latest: int | None
    ) -> None: ...  # raises Race when the scenario's latest version is not ``expected_latest``
    def audit(self, row: dict) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def audit_log(self, limit: int | None) -> pd.DataFrame: ...
    def read_indicators(self) -> pd.DataFrame: ...
    def append_indicators(self, rows: pd.DataFrame) -> None: ...
    def close(self) -> None: ...


def pause_for_crash_test() -> None:
    """For the crash test only: announce that rows are written, then sleep (see TEST_PAUSE_ENV)."""
    pause = os.environ.get(TEST_PAUSE_ENV)
    if pause:
        print("rows written, pausing", file=sys.stderr, flush=True)
        time.sleep(float(pause))


def now_utc() -> str:
    """The current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def is_url(db: str | Path) -> bool:
    """Whether ``db`` is a database URL (PostGIS) rather than a file path (GeoPackage)."""
    text = str(db)
    return text.startswith(("postgresql://", "postgresql+", "postgres://"))


_BACKEND_METHODS = (
    "is_empty",
    "versions",
    "read",
    "write",
    "audit",
    "get_meta",
    "set_meta",
    "audit_log",
    "read_indicators",
    "append_indicators",
)


SQLITE_FULL = 13  # sqlite3's result code for "database or disk is full"
PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full


def disk_full(exc: BaseException) -> bool:
    """Whether a database error means the disk is full (SQLite's SQLITE_FULL, PostgreSQL's
    disk_full, or the operating system's ENOSPC)."""
    orig = getattr(exc, "orig", None) or exc
    if (
        getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
        or getattr(orig, "pgcode", None) == PG_DISK_FULL
    ):
        return True
    text = str(orig)
    return "database or disk is full" in text or "No space left on device" in text


def guard_backend(errors: tuple[type[BaseException], ...]):
    """Class decorator for a backend: its database errors (``errors``) surface as a bilingual
    :class:`StoreUnavailable` naming the store, never as the driver's traceback."""

    def wrap(method):
        @functools.wraps(method)
        def guarded(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except errors as exc:
                detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
                if disk_full(exc):
                    raise StoreUnavailable(
                        f"磁盘已满, 未写入任何内容; 请腾出 {self.location} 所在磁盘的空间后重试 / the disk of "
                        f"the store {self.location} is full; nothing was written: free some space and try "
                        f"again ({detail[0] if detail else type(exc).__name__})"
                    ) from None
                raise StoreUnavailable(
                    f"数据库出错, 未写入任何内容 / the store {self.location} failed; nothing was written: "
                    f"{detail[0] if detail else type(exc).__name__}"
                ) from None

        return guarded

    def decorate(cls):
        for name in _BACKEND_METHODS:
            setattr(cls, name, wrap(getattr(cls, name)))
        return cls

    return decorate


def audit_row(row: dict) -> dict:
    """An audit row safe for every backend: control characters in its text (a NUL in a refused
    park id or comment, which PostgreSQL cannot store) are written escaped (``\\x00``), so a
    refusal is always recorded."""
    return {k: shown_text(v) if isinstance(v, str) else v for k, v in row.items()}
