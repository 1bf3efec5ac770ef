"""The scenario's saved history as the monitor reads it.

- :class:`RowHistory`: what the monitor needs of every saved version at once: each allocation's
  status row by row (the status as recorded at a date, when it was recorded delivered) and each
  park's rows (when it last changed), as spans of versions. :func:`row_history` reads it from the
  store's row history (``Store.row_history``: one query per table, whatever the number of
  versions, never a whole register); :func:`from_recorded` builds the same from registers (tests,
  a history held in memory). Every as-of rule (:meth:`RowHistory.statuses_at`,
  :meth:`RowHistory.delivered_since`, :meth:`RowHistory.park_last_changed`) lives here once.
- :class:`Recorded`: one version's statuses and park hashes, from its register;
- :class:`Figures`: counted, secured and delivered space of the version under a plan (the trend,
  ``--trend``), keyed on the plan as well (a predecessor and its successor count the same version
  differently). Saved versions never change, so figures are computed when a version is first read
  and kept in a per-process cache keyed on the store's location, the scenario, the version number
  and its save time (a store recreated at the same place has other save times); only versions not
  in the cache are read (``Store.load(scenario, version)``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
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


class HistoryStore(VersionedStore, Protocol):
    """A store with row histories (``planner.store.Store``): what :func:`row_history` reads."""

    def row_history(self, table: str, columns: list[str], scenario: str = ...) -> pd.DataFrame: ...


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


@dataclass(frozen=True)
class RowHistory:
    """The saved versions (deletes left out), oldest first, and the rows they recorded as spans of
    version *ranks* (positions in ``versions``): a row holds for the ranks ``r_from <= k < r_to``.

    ``statuses``: allocation_id, status, r_from, r_to; ``parks``: id, r_from, r_to (a new span
    each time the park's row was added or changed)."""

    versions: np.ndarray  # version numbers (int)
    when: pd.DatetimeIndex  # their save times, naive UTC
    statuses: pd.DataFrame
    parks: pd.DataFrame

    def __len__(self) -> int:
        return len(self.versions)

    def last_saved_by(self, day: dt.date) -> int | None:
        """The rank of the latest version saved by the end of ``day``; None before the first."""
        end = pd.Timestamp(day) + pd.Timedelta(days=1)
        k = int(self.when.searchsorted(end, side="left")) - 1
        return k if k >= 0 else None

    def current_at(self, day: dt.date) -> int | None:
        """The rank of the version current at the end of ``day``: the latest saved by then; before
        the first version the first one (the register as first recorded stands for the time before
        it); None without a history."""
        if not len(self):
            return None
        k = self.last_saved_by(day)
        return 0 if k is None else k

    @staticmethod
    def _valid(rows: pd.DataFrame, k: int) -> pd.DataFrame:
        return rows[(rows["r_from"].to_numpy() <= k) & (rows["r_to"].to_numpy() > k)]

    def statuses_at(self, k: int) -> pd.Series:
        """Each allocation's status in the version of rank ``k``: allocation id -> status."""
        rows = self._valid(self.statuses, k)
        return pd.Series(
            rows["status"].to_numpy(dtype=object), index=rows["allocation_id"].to_numpy(dtype=object)
        )

    def statuses_of(self, ids: np.ndarray, ranks: Sequence[int]) -> list[np.ndarray]:
        """The status of each of ``ids`` (allocation ids, an object array; repeats allowed) in the
        version of each rank: one object array a rank, None where that version does not hold the
        allocation. The ids are joined to the history's rows once (one hash table for all the
        ranks), as :meth:`statuses_at` per rank."""
        rows = self.statuses
        status = rows["status"].to_numpy(dtype=object)
        if not len(status):
            return [np.full(len(ids), None, dtype=object) for _ in ranks]
        recorded = rows["allocation_id"].to_numpy(dtype=object)
        codes, uniques = pd.factorize(np.concatenate([recorded, np.asarray(ids, dtype=object)]))
        of_row, of_id = codes[: len(recorded)], codes[len(recorded) :]
        r_from, r_to = rows["r_from"].to_numpy(), rows["r_to"].to_numpy()
        out: list[np.ndarray] = []
        for k in ranks:
            valid = np.flatnonzero((r_from <= k) & (r_to > k))
            at = np.full(len(uniques), -1, dtype=np.intp)
            at[of_row[valid]] = valid  # each allocation's row in version k (one at most)
            pos = at[of_id]
            got = status[np.maximum(pos, 0)]
            got[pos < 0] = None
            out.append(got)
        return out

    def delivered_since(self, as_of: dt.date, ids: Sequence[str] | None = None) -> pd.Series:
        """When each allocation was recorded delivered and stayed so (among the versions saved by the
        end of ``as_of``): allocation id -> Timestamp (naive UTC). ``ids``: only these allocations
        (the others' rows are not looked at)."""
        k = self.last_saved_by(as_of)
        if k is None:
            return pd.Series(dtype="datetime64[ns]")
        keep = (self.statuses["status"].to_numpy() == "delivered") & (self.statuses["r_from"].to_numpy() <= k)
        if ids is not None:  # looked up among the delivered rows only
            at = np.flatnonzero(keep)
            keep[at] = _isin_objects(self.statuses["allocation_id"].to_numpy(dtype=object)[at], ids)
        d = self.statuses[keep]
        d = d.sort_values(["allocation_id", "r_from"], kind="stable")
        ids = d["allocation_id"].to_numpy(dtype=object)
        r_from, r_to = d["r_from"].to_numpy(), d["r_to"].to_numpy()
        new_run = np.ones(len(d), dtype=bool)  # a run: one allocation delivered in consecutive versions
        new_run[1:] = (ids[1:] != ids[:-1]) | (r_from[1:] != r_to[:-1])
        run = np.cumsum(new_run) - 1
        start = r_from[new_run][run]
        now = (r_from <= k) & (r_to > k)
        return pd.Series(self.when[start[now]].to_numpy(), index=ids[now])

    def park_last_changed(self, as_of: dt.date | None = None) -> pd.Series:
        """When each park's row last changed: the time of the version that last added or changed it,
        among the versions saved by the end of ``as_of`` (all when None). Index park id, values
        Timestamps (naive UTC)."""
        k = len(self) - 1 if as_of is None else self.last_saved_by(as_of)
        if k is None or k < 0:
            return pd.Series(dtype="datetime64[ns]")
        rows = self._valid(self.parks, k)
        return pd.Series(
            self.when[rows["r_from"].to_numpy()].to_numpy(), index=rows["id"].to_numpy(dtype=object)
        )


def _isin_objects(values: np.ndarray, among: Sequence[str]) -> np.ndarray:
    """``values`` (an object array) found in ``among``: one hash table of the few ``among``."""
    return pd.Index(np.asarray(values, dtype=object), dtype=object).isin(np.asarray(among, dtype=object))


def _spans(long: pd.DataFrame, key: str, value: str, n: int) -> pd.DataFrame:
    """Rows ``(rank, key, value)`` of consecutive versions as spans: a new span where the key is
    missing in the version before or its value differs."""
    long = long.sort_values([key, "rank"], kind="stable")
    keys, ranks, values = long[key].to_numpy(dtype=object), long["rank"].to_numpy(), long[value].to_numpy()
    new = np.ones(len(long), dtype=bool)
    new[1:] = (keys[1:] != keys[:-1]) | (ranks[1:] != ranks[:-1] + 1) | (values[1:] != values[:-1])
    last = np.ones(len(long), dtype=bool)
    last[:-1] = new[1:]
    return (
        pd.DataFrame({key: keys[new], value: values[new], "r_from": ranks[new], "r_to": ranks[last] + 1})
        if len(long)
        else pd.DataFrame({key: [], value: [], "r_from": np.zeros(0, int), "r_to": np.zeros(0, int)})
    )


def from_recorded(history: Sequence[Recorded]) -> RowHistory:
    """The :class:`RowHistory` of versions summarised one by one (:class:`Recorded`, oldest first)."""
    n = len(history)
    statuses = pd.concat(
        [
            pd.DataFrame(
                {
                    "rank": k,
                    "allocation_id": r.statuses.index.astype(str),
                    "status": r.statuses.to_numpy(dtype=object),
                }
            )
            for k, r in enumerate(history)
        ]
        or [pd.DataFrame({"rank": [], "allocation_id": [], "status": []})],
        ignore_index=True,
    )
    parks = pd.concat(
        [
            pd.DataFrame({"rank": k, "id": r.park_hashes.index.astype(str), "hash": r.park_hashes.to_numpy()})
            for k, r in enumerate(history)
        ]
        or [pd.DataFrame({"rank": [], "id": [], "hash": []})],
        ignore_index=True,
    )
    return RowHistory(
        versions=np.array([r.version for r in history], dtype=int),
        when=pd.DatetimeIndex([r.when for r in history]),
        statuses=_spans(statuses, "allocation_id", "status", n),
        parks=_spans(parks, "id", "hash", n)[["id", "r_from", "r_to"]],
    )


def as_history(history: RowHistory | Sequence[Recorded | tuple[Any, Register]]) -> RowHistory:
    """``history`` as a :class:`RowHistory`: as it is, or built from :class:`Recorded` or
    ``(created_at or version record, register)`` pairs, oldest first (:func:`as_recorded`)."""
    return history if isinstance(history, RowHistory) else from_recorded(as_recorded(history))


def _ranks(versions: np.ndarray, numbers: pd.Series) -> np.ndarray:
    """Version numbers as ranks in ``versions`` (a closing version that is a delete, or one not in the
    list, ranks as the next saved version; a missing ``v_to``: after the last)."""
    ranks = np.full(len(numbers), len(versions), dtype=int)
    given = numbers.notna().to_numpy()
    ranks[given] = np.searchsorted(versions, numbers[given].to_numpy(dtype=int), side="left")
    return ranks


def row_history(store: HistoryStore, scenario: str) -> RowHistory:
    """The scenario's :class:`RowHistory` from the store: its versions and one query per table
    (allocations' statuses, parks' spans), never a whole register; kept per process for the
    scenario's latest version (the rows of saved versions never change)."""
    try:
        h = store.history(scenario)
    except NotFound:
        h = pd.DataFrame({"version": [], "action": [], "created_at": []})
    h = h[h["action"] != "delete"].sort_values("version")
    versions = h["version"].to_numpy(dtype=int)
    if not len(versions):
        return from_recorded([])
    key = ("rows", store.location, scenario, int(versions[-1]), str(h["created_at"].iloc[-1]))
    cached = _get(key)
    if cached is not None:
        return cached
    a = store.row_history("allocations", ["status"], scenario)
    p = store.row_history("parks", [], scenario)
    out = RowHistory(
        versions=versions,
        when=pd.DatetimeIndex([utc_naive(str(c)) for c in h["created_at"]]),
        statuses=pd.DataFrame(
            {
                "allocation_id": a["allocation_id"].astype(str).to_numpy(dtype=object),
                "status": a["status"].astype(str).to_numpy(dtype=object),
                "r_from": _ranks(versions, a["v_from"]),
                "r_to": _ranks(versions, a["v_to"]),
            }
        ),
        parks=pd.DataFrame(
            {
                "id": p["id"].astype(str).to_numpy(dtype=object),
                "r_from": _ranks(versions, p["v_from"]),
                "r_to": _ranks(versions, p["v_to"]),
            }
        ),
    )
    _put(key, out)
    return out


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
