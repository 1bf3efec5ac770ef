"""What the store's backends share: the stored columns, the version record, the backend protocol,
the error wrapper. Each backend (``gpkg``, ``postgis``) imports only this module and the core;
``planner.store.service`` holds every rule above them."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.core.changes import KEYS, Delta
from planner.core.indicators import STORED_INDICATOR_COLUMNS
from planner.core.register import (
    ALLOCATION_COLUMNS,
    QUOTA_COLUMNS,
    Register,
    conform_allocations,
    conform_quotas,
    empty_parks,
)
from planner.core.schema import TABLES
from planner.core.values import shown_text
from planner.errors import InputError, StoreUnavailable

# Set ONLY by the crash test: seconds to sleep after a save's rows are written and before its
# version row (the commit marker) is, so the test can kill the process half-way.
TEST_PAUSE_ENV = "PLANNER_STORE_TEST_PAUSE"

# The store's schema: 1 = every version a full snapshot (tables tagged by ``version``), 2 = a row
# history (``v_from``/``v_to``). A store records its schema in ``store_meta``; a store of schema 1
# is upgraded on open, one of a newer or unknown schema is refused untouched.
SCHEMA_VERSION = 2
LEGACY_SCHEMA = 1
ROW_TABLES = ("parks", "allocations", "quotas")
# A row's place in its version (``pos``): a changed row keeps its place, the rows a version adds
# get version * POS_STEP + i, after every row of the versions before it (no max() to look up).
POS_STEP = 10_000_000

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
    base_version: int | None = None  # the version the edit started from (None: a new scenario)

    @property
    def merged_onto(self) -> int | None:
        """The newer version a save from an older base was applied onto (None: saved on its base)."""
        if self.base_version is None or self.base_version == self.version - 1:
            return None
        return self.version - 1

    def describe(self) -> str:
        """'v3 by alice (planner) at 2026-...: comment'."""
        note = f" [{self.action}]" if self.action != "save" else ""
        if self.merged_onto is not None:
            note += f" [基于 v{self.base_version}, 合并到 v{self.merged_onto} / from v{self.base_version}, merged onto v{self.merged_onto}]"
        return f"v{self.version} {self.author} ({self.role}) {self.created_at}{note}: {self.comment or '—'}"


class Race(Exception):
    """Raised by a backend when the scenario's latest version is not the one expected (inside the
    write transaction, or as a unique-key violation)."""


class Backend(Protocol):
    """What a storage backend provides; ``Store`` holds every rule, the backend only stores.

    Every table of rows (parks, allocations, quotas) is a row history: a row is valid for the
    versions ``v_from <= v < v_to`` of its scenario (``v_to`` NULL: still current), so a version
    stores only the rows it adds or changes, and reading any version is one query per table."""

    location: str
    legacy: bool  # the store is in the snapshot format of schema 1 (upgrade it before use)

    def is_empty(self) -> bool: ...
    def versions(self, scenario: str | None = None) -> list[Version]: ...
    def read(self, scenario: str, version: int) -> Register: ...
    def read_keys(
        self, scenario: str, version: int, table: str, column: str, values: list[str]
    ) -> pd.DataFrame: ...  # the rows of ``table`` at ``version`` whose ``column`` is one of ``values``
    def read_near(
        self, scenario: str, version: int, boxes: np.ndarray
    ) -> gpd.GeoDataFrame: ...  # the parks at ``version`` whose envelope meets a box (the spatial index)
    def touched_since(self, scenario: str, since: int, upto: int) -> dict[str, pd.DataFrame]: ...
    def park_history(self, scenario: str, park_id: str) -> pd.DataFrame: ...
    def row_history(
        self, scenario: str, table: str, columns: list[str]
    ) -> pd.DataFrame: ...  # every stored row of ``table``: its key, ``columns``, v_from, v_to (one query)
    def write(
        self, version: Version, delta: Delta | None, expected_latest: int | None
    ) -> None: ...  # raises Race when the scenario's latest version is not ``expected_latest``
    def upgrade(self) -> list[tuple[Version, Register]]: ...  # schema 1 -> 2, in one transaction
    def audit(self, row: dict) -> None: ...
    # What is kept of each parks row (its metric geometry and district assignment): a cache the
    # service fills (planner.core.assign.kept_rows) and reads back with a version.
    def clear_kept(self) -> None: ...
    def unkept_parks(self) -> tuple[np.ndarray, np.ndarray]: ...  # fids and geometries of rows without
    def put_kept(
        self, kept: pd.DataFrame, fids: np.ndarray | None = None, *, scenario: str = "", version: int = 0
    ) -> None: ...  # for rows ``fids``, or for the rows ``version`` wrote (by ``kept["id"]``)
    def read_kept(self, scenario: str, version: int) -> pd.DataFrame | None: ...  # in read()'s order
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...
    def audit_log(self, limit: int | None) -> pd.DataFrame: ...
    def read_indicators(self) -> pd.DataFrame: ...
    def append_indicators(self, rows: pd.DataFrame) -> None: ...
    def close(self) -> None: ...


def history_columns(table: str, columns: list[str]) -> list[str]:
    """The key and ``columns`` of ``table`` a row history is read with (ValueError for a column the
    table does not store: the names go into SQL)."""
    known = {c for c, _ in COLUMNS[table]}
    names = [KEYS[table], *(c for c in columns if c != KEYS[table])]
    unknown = [c for c in names if c not in known]
    if unknown:
        raise ValueError(f"table {table!r} stores no column {', '.join(unknown)}")
    return names


def history_frame(rows: Sequence[Any], names: list[str]) -> pd.DataFrame:
    """A row history's rows (``names``, then v_from and v_to) as a table; ``v_to`` missing: current."""
    cells = np.empty((len(rows), len(names) + 2), dtype=object)  # one C pass, not a zip per column
    if len(rows):
        cells[:] = rows
    frame = pd.DataFrame({c: cells[:, k] for k, c in enumerate(names)})
    frame["v_from"] = cells[:, -2].astype(np.int64)
    frame["v_to"] = pd.array(cells[:, -1], dtype="Int64")
    return frame


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
    "read_keys",
    "touched_since",
    "park_history",
    "row_history",
    "write",
    "upgrade",
    "clear_kept",
    "unkept_parks",
    "put_kept",
    "read_kept",
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


_EMPTY: list[Register] = []


def empty_register() -> Register:
    """A register with no parks, allocations or quotas (a copy of one made once)."""
    if not _EMPTY:
        _EMPTY.append(
            Register(
                empty_parks(),
                conform_allocations(pd.DataFrame(columns=ALLOCATION_COLUMNS)),
                conform_quotas(pd.DataFrame(columns=QUOTA_COLUMNS)),
            )
        )
    return _EMPTY[0].copy()


def refuse_schema(location: str, found: str | None) -> InputError:
    """The refusal of a store written by a newer or unknown schema: never read or written."""
    return InputError(
        f"{location}: 规划库的结构版本为 {found!r}, 本程序只认识 {LEGACY_SCHEMA}-{SCHEMA_VERSION}; 未读取也未改动, "
        f"请用新版程序打开 / the store's schema version is {found!r}, this program knows "
        f"{LEGACY_SCHEMA} to {SCHEMA_VERSION}: it was written by a newer or another program; nothing was "
        "read or changed: open it with the release that wrote it"
    )


def refuse_columns(location: str, table: str, missing: set[str], extra: set[str]) -> InputError:
    """The refusal of a store whose table's columns are not the ones its schema names."""
    parts_zh, parts_en = [], []
    if missing:
        parts_zh.append(f"缺少列 {', '.join(sorted(missing))}")
        parts_en.append(f"lacks column(s) {', '.join(sorted(missing))}")
    if extra:
        parts_zh.append(f"多出列 {', '.join(sorted(extra))}")
        parts_en.append(f"has unknown column(s) {', '.join(sorted(extra))}")
    return InputError(
        f"{location}: 数据表 {table} {'; '.join(parts_zh)}, 与结构版本不符; 未读取也未改动, 请用写入它的程序版本打开 "
        f"/ table {table!r} of the store {'; '.join(parts_en)}, unlike its schema: nothing was read or "
        "changed; open it with the release that wrote it"
    )


def check_columns(location: str, table: str, found: list[str], expected: list[str]) -> None:
    """Raise :func:`refuse_columns` unless ``found`` are exactly the ``expected`` columns."""
    missing, extra = set(expected) - set(found), set(found) - set(expected)
    if missing or extra:
        raise refuse_columns(location, table, missing, extra)


def replay(
    versions: list[Version],
    read_legacy: Callable[[str, int], Register],
    apply: Callable[[Version, Delta | None], None],
) -> list[tuple[Version, Register]]:
    """Turn schema-1 snapshots into the row history: each version's change against the one before
    (a delete closes every row), handed to ``apply`` in order. Returns every version read, for the
    upgrade's re-check of stored numbers."""
    from planner.core.changes import register_delta

    seen: list[tuple[Version, Register]] = []
    previous: dict[str, Register] = {}
    for v in sorted(versions, key=lambda v: (v.scenario, v.version)):
        if v.action == "delete":
            apply(v, None)
            previous[v.scenario] = empty_register()
            continue
        register = read_legacy(v.scenario, v.version)
        apply(v, register_delta(previous.get(v.scenario, empty_register()), register))
        previous[v.scenario] = register
        seen.append((v, register))
    return seen
