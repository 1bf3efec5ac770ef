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

from planner.core.accounts import LOCKED_DETAIL
from planner.core.indicators import STORED_INDICATOR_COLUMNS
from planner.core.register import (
    ALLOCATION_COLUMNS,
    NUMBER_COLUMNS,
    PARK_COLUMNS,
    QUOTA_COLUMNS,
    TEXT_COLUMNS,
    Register,
)
from planner.core.values import shown_text
from planner.errors import InputError

# Set ONLY by the crash test: seconds to sleep after a save's rows are written and before its
# version row (the commit marker) is, so the test can kill the process half-way.
TEST_PAUSE_ENV = "PLANNER_STORE_TEST_PAUSE"

# The columns each table stores, with their kind (text / real / int / bool); the backends map kinds to types.
COLUMNS: dict[str, list[tuple[str, str]]] = {
    "parks": [
        (c, "text" if c in TEXT_COLUMNS else "real" if c in NUMBER_COLUMNS else "int") for c in PARK_COLUMNS
    ],
    "allocations": [
        (c, "real" if c == "area_m2" else "int" if c == "delivery_year" else "text")
        for c in ALLOCATION_COLUMNS
    ],
    "quotas": [(c, "real" if c == "quota_m2" else "text") for c in QUOTA_COLUMNS],
}
COLUMNS["parks"][PARK_COLUMNS.index("figures_verified")] = ("figures_verified", "bool")
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
    def failed_sign_ins(self, user: str, since: str) -> list[str]: ...
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


class StoreUnavailable(InputError):
    """The store's database failed (server gone, file unreadable): nothing was written."""


_BACKEND_METHODS = (
    "is_empty",
    "versions",
    "read",
    "write",
    "audit",
    "get_meta",
    "set_meta",
    "audit_log",
    "failed_sign_ins",
    "read_indicators",
    "append_indicators",
)
# audit rows a backend's failed_sign_ins returns: denied sign-ins of one user, not lockout refusals
FAILED_SIGN_INS_WHERE = (
    "action = 'sign_in' AND outcome = 'denied' AND \"user\" = {user} AND \"time\" >= {since} "
    f"AND detail NOT LIKE '{LOCKED_DETAIL}%'"
)


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
