"""The scenario's saved history as the monitor reads it, computed once per version.

Saved versions never change, so what the monitor needs of each one is computed when the version is
first read and kept in a per-process cache keyed on the store's location, the scenario, the version
number and its save time (a store recreated at the same place has other save times):

- :class:`Recorded`: what the version recorded, in brief: each allocation's status (the status as
  it was at a date, for the as-of figures) and a hash of each park's row (staleness);
- :class:`Figures`: counted, secured and delivered space of the version under a plan (the trend),
  keyed on the plan as well (a predecessor and its successor count the same version differently).

Only the versions not yet in the cache are read (``Store.load(scenario, version)``), so a page load
after one more save reads one register, not the whole history. The store is read through its public
API only: ``history(scenario)`` (the versions, newest first) and ``load(scenario, version)``.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pandas as pd

from planner.core.capacity import allocation_table, capacity_report
from planner.core.plan import Plan
from planner.core.register import PARK_COLUMNS, Register
from planner.errors import NotFound

CACHE_SIZE = 20_000  # entries (a few KB each); the oldest used are dropped first


class VersionedStore(Protocol):
    """What the monitor reads of a store (``planner.store.Store``'s public API)."""

    location: str

    def history(self, scenario: str = ...) -> pd.DataFrame: ...

    def load(self, scenario: str = ..., version: int | None = None) -> tuple[Register, Any]: ...


@dataclass(frozen=True)
class Recorded:
    """What one saved version recorded: when (naive UTC), each allocation's status, each park's hash."""

    version: int
    created_at: str
    when: pd.Timestamp
    statuses: pd.Series  # allocation id -> status
    park_hashes: pd.Series  # park id -> hash of its stored columns and geometry


@dataclass(frozen=True)
class Figures:
    """Counted, secured and delivered space (m²) of one version under one plan."""

    counted_m2: float
    secured_m2: float
    delivered_m2: float


def utc_naive(created_at: str) -> pd.Timestamp:
    """A version's save time as a naive UTC timestamp (a time without a zone is taken as UTC)."""
    t = pd.Timestamp(created_at)
    return t if t.tzinfo is None else t.tz_convert("UTC").tz_localize(None)


def park_hashes(register: Register) -> pd.Series:
    """One hash a park (its stored columns and geometry), indexed by park id."""
    parks = register.parks
    cols = [c for c in PARK_COLUMNS if c in parks.columns]
    frame = parks[cols].astype(str)
    frame["_geom"] = parks.geometry.to_wkb(hex=True).astype(str)
    return pd.Series(pd.util.hash_pandas_object(frame, index=False).to_numpy(), index=parks["id"].to_numpy())


def recorded(version: int, created_at: str, register: Register) -> Recorded:
    """The brief record of a version's register."""
    allocs = register.allocations
    return Recorded(
        version=int(version),
        created_at=str(created_at),
        when=utc_naive(str(created_at)),
        statuses=pd.Series(
            allocs["status"].astype(str).to_numpy(), index=allocs["allocation_id"].astype(str)
        ),
        park_hashes=park_hashes(register),
    )


def as_recorded(history: Sequence[Recorded | tuple[Any, Register]]) -> list[Recorded]:
    """``history`` as Recorded, oldest first: Recorded as they are, ``(created_at or version record,
    register)`` pairs summarised (their version number 0 when only a time is given)."""
    out = []
    for item in history:
        if isinstance(item, Recorded):
            out.append(item)
            continue
        head, register = item
        if isinstance(head, str):
            out.append(recorded(0, head, register))
        else:
            out.append(recorded(int(head.version), str(head.created_at), register))
    return out


def figures(plan: Plan, register: Register) -> Figures:
    """Counted, secured and delivered (counted and delivered) space of a register under ``plan``."""
    report = capacity_report(plan, register)
    a = allocation_table(plan, register)
    delivered = float(a.loc[a["counted"] & (a["status"] == "delivered"), "area_m2"].sum())
    return Figures(float(report.counted_m2), float(report.secured_m2), delivered)


def plan_key(plan: Plan) -> str:
    """The plan's identity for the cache: its id and a digest of its plan.toml content."""
    text = json.dumps(plan.raw, sort_keys=True, default=str, ensure_ascii=False)
    return f"{plan.id}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:16]}"


_CACHE: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_LOCK = threading.Lock()


def _get(key: tuple[Any, ...]) -> Any:
    with _LOCK:
        value = _CACHE.get(key)
        if value is not None:
            _CACHE.move_to_end(key)
        return value


def _put(key: tuple[Any, ...], value: Any) -> None:
    with _LOCK:
        _CACHE[key] = value
        _CACHE.move_to_end(key)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)


def clear_cache() -> None:
    """Forget every cached version (tests; a process that wants a fresh read)."""
    with _LOCK:
        _CACHE.clear()


def saved_versions(store: VersionedStore, scenario: str) -> list[tuple[int, str]]:
    """The scenario's saved versions as ``(version, created_at)``, oldest first (deletes left out;
    none for a scenario the store does not have)."""
    try:
        h = store.history(scenario)
    except NotFound:
        return []
    h = h[h["action"] != "delete"].sort_values("version")
    return [(int(v), str(c)) for v, c in zip(h["version"], h["created_at"], strict=True)]


def versions_of(
    store: VersionedStore, scenario: str, plan: Plan | None = None
) -> list[tuple[Recorded, Figures | None]]:
    """Every saved version of the scenario, oldest first, as :class:`Recorded` and (with ``plan``)
    its :class:`Figures`; only versions not computed before are read from the store."""
    pk = plan_key(plan) if plan is not None else None
    out: list[tuple[Recorded, Figures | None]] = []
    for version, created_at in saved_versions(store, scenario):
        base = (store.location, scenario, version, created_at)
        rec = _get(("recorded", *base))
        fig = _get(("figures", *base, pk)) if plan is not None else None
        if rec is None or (plan is not None and fig is None):
            register, _ = store.load(scenario, version)
            if rec is None:
                rec = recorded(version, created_at, register)
                _put(("recorded", *base), rec)
            if plan is not None and fig is None:
                fig = figures(plan, register)
                _put(("figures", *base, pk), fig)
        out.append((rec, fig))
    return out


TREND_COLUMNS = ["version", "created_at", "counted_m2", "secured_m2", "delivered_m2"]


def trend_frame(rows: Sequence[tuple[Recorded, Figures | None]]) -> pd.DataFrame:
    """The trend table (one row a version) of :func:`versions_of`'s rows computed with a plan."""
    return pd.DataFrame(
        [
            {
                "version": r.version,
                "created_at": r.created_at,
                "counted_m2": f.counted_m2,
                "secured_m2": f.secured_m2,
                "delivered_m2": f.delivered_m2,
            }
            for r, f in rows
            if f is not None
        ],
        columns=TREND_COLUMNS,
    )


def cached_trend(plan: Plan, store: VersionedStore, scenario: str) -> pd.DataFrame:
    """Counted, secured and delivered space at each saved version, computing new versions only."""
    return trend_frame(versions_of(store, scenario, plan))
