"""What changed between two registers: rows added, removed and changed, by key, vectorised.

A change is computed once (:func:`register_delta`: the keys and the new rows) and handed on: the
access rules check who changed what on its touched rows, the store validates and writes only
those rows, a refused change is re-applied onto a newer version (:func:`apply_delta`); scenario
diffs and conflict messages list it.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.register import Register


@dataclass(frozen=True)
class TableChanges:
    """Keys added, removed and changed (same key, any value different) between two tables."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)

    @property
    def touched(self) -> list[str]:
        """Every key that differs in any way."""
        return [*self.added, *self.removed, *self.changed]

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)


def _comparable(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Values as plain comparable objects (geometry as WKB, missing as None), indexed by key."""
    out = pd.DataFrame(index=frame[key].astype(str).to_numpy())
    for col in frame.columns:
        if col == key:
            continue
        values = frame[col]
        if isinstance(values.dtype, pd.api.extensions.ExtensionDtype) and values.dtype.name == "geometry":
            arr = np.asarray(values.values, dtype=object)
            out[col] = shapely.to_wkb(arr, hex=True, output_dimension=2)
        else:
            obj = values.astype(object)
            out[col] = obj.where(values.notna(), None).to_numpy()
    return out


_IDENTICAL = np.frompyfunc(operator.is_, 2, 1)


def _differs(left: pd.Series, right: pd.Series) -> np.ndarray:
    """True where two aligned columns differ (missing equals missing; geometries exactly, 2D)."""
    if isinstance(left.dtype, pd.api.extensions.ExtensionDtype) and left.dtype.name == "geometry":
        lg = np.asarray(left.values, dtype=object)
        rg = np.asarray(right.values, dtype=object)
        lm, rm = shapely.is_missing(lg), shapely.is_missing(rg)
        same = (lm & rm) | _IDENTICAL(lg, rg).astype(bool)  # the same (immutable) shape object
        both = ~lm & ~rm & ~same
        same[both] = shapely.to_wkb(lg[both], output_dimension=2) == shapely.to_wkb(
            rg[both], output_dimension=2
        )
        return ~same
    ls, rs = left.reset_index(drop=True), right.reset_index(drop=True)
    try:
        equal = (ls == rs).fillna(False).to_numpy(dtype=bool)
    except TypeError:  # values of kinds that do not compare (a mixed column): as objects
        equal = (ls.astype(object) == rs.astype(object)).to_numpy(dtype=bool)
    return ~(equal | (ls.isna() & rs.isna()).to_numpy(dtype=bool))


def _fast_changes(before: pd.DataFrame, after: pd.DataFrame, key: str) -> TableChanges | None:
    """:func:`table_changes` column by column on the aligned rows (no copy of the tables as
    objects): None when a key is duplicated or the columns differ (the general way then)."""
    if list(before.columns) != list(after.columns) or key not in before.columns:
        return None
    kb, ka = before[key].astype(str), after[key].astype(str)
    if kb.duplicated().any() or ka.duplicated().any():
        return None
    ib, ia = pd.Index(kb), pd.Index(ka)
    n = len(kb)
    if len(ka) >= n and np.array_equal(kb.to_numpy(), ka.to_numpy()[:n]):  # same rows, some appended
        added, removed, common = ia[n:].sort_values(), ib[:0], ib
        pb = pa = np.arange(n)
    else:
        added, removed = ia.difference(ib), ib.difference(ia)  # sorted, as the general way gives them
        common = ib.intersection(ia)
        pb, pa = ib.get_indexer(common), ia.get_indexer(common)
    differs = np.zeros(len(common), dtype=bool)
    for col in before.columns:
        if col != key and len(common):
            differs |= _differs(before[col].iloc[pb], after[col].iloc[pa])
    changed = common[differs]
    return TableChanges(list(map(str, added)), list(map(str, removed)), list(map(str, changed)))


def table_changes(before: pd.DataFrame, after: pd.DataFrame, key: str) -> TableChanges:
    """Rows added, removed and changed between ``before`` and ``after``, matched on ``key``."""
    fast = _fast_changes(before, after, key)
    if fast is not None:
        return fast
    a = _comparable(before, key)
    b = _comparable(after, key)
    added = b.index.difference(a.index)
    removed = a.index.difference(b.index)
    common = a.index.intersection(b.index)
    cols = [c for c in a.columns if c in b.columns]
    extra = set(a.columns) ^ set(b.columns)
    if len(common) == 0:
        changed = pd.Index([])
    elif extra:
        changed = common
    else:
        left = a.loc[common, cols]
        right = b.loc[common, cols]
        same = (left == right) | (left.isna() & right.isna())
        changed = common[~same.all(axis=1).to_numpy()]
    return TableChanges(list(map(str, added)), list(map(str, removed)), list(map(str, changed)))


@dataclass(frozen=True)
class RegisterChanges:
    """Changes to each of a register's three tables."""

    parks: TableChanges
    allocations: TableChanges
    quotas: TableChanges

    def __bool__(self) -> bool:
        return bool(self.parks or self.allocations or self.quotas)

    def summary(self) -> str:
        """One line: '园区 +1 -0 ~2; 分配 ...' in Chinese and English."""
        parts = []
        for zh, en, ch in (
            ("园区", "parks", self.parks),
            ("分配", "allocations", self.allocations),
            ("配额", "quotas", self.quotas),
        ):
            if ch:
                parts.append(f"{zh} {en} +{len(ch.added)} -{len(ch.removed)} ~{len(ch.changed)}")
        return "; ".join(parts) or "无变化 no change"


def register_changes(before: Register, after: Register) -> RegisterChanges:
    """Parks (by id), allocations (by allocation_id) and quotas (by district) that differ."""
    return RegisterChanges(
        table_changes(before.parks, after.parks, "id"),
        table_changes(before.allocations, after.allocations, "allocation_id"),
        table_changes(before.quotas, after.quotas, "district_code"),
    )


# The key of each of a register's tables: a row is matched across versions by it.
KEYS: dict[str, str] = {"parks": "id", "allocations": "allocation_id", "quotas": "district_code"}


@dataclass(frozen=True)
class Delta:
    """One change to a register, computed once and handed on (rights, validation, store): which keys
    were added, removed and changed (``changes``) and the new rows of the added and changed keys
    (``rows``: a Register holding only those rows)."""

    changes: RegisterChanges
    rows: Register

    def __bool__(self) -> bool:
        return bool(self.changes)


def _new_rows(after: pd.DataFrame, key: str, ch: TableChanges) -> pd.DataFrame:
    keep = set(ch.added) | set(ch.changed)
    return after[after[key].astype(str).isin(keep)]


def register_delta(before: Register, after: Register, changes: RegisterChanges | None = None) -> Delta:
    """The change from ``before`` to ``after`` (``changes`` when already computed): the keys and the
    rows to write."""
    changes = changes if changes is not None else register_changes(before, after)
    return Delta(
        changes,
        Register(
            _new_rows(after.parks, KEYS["parks"], changes.parks),
            _new_rows(after.allocations, KEYS["allocations"], changes.allocations),
            _new_rows(after.quotas, KEYS["quotas"], changes.quotas),
        ),
    )


def whole_delta(register: Register) -> Delta:
    """Every row of ``register`` as added (a new scenario, a seed)."""
    return Delta(
        RegisterChanges(
            *(
                TableChanges(added=frame[KEYS[t]].astype(str).tolist())
                for t, frame in (
                    ("parks", register.parks),
                    ("allocations", register.allocations),
                    ("quotas", register.quotas),
                )
            )
        ),
        register,
    )


def apply_delta(register: Register, delta: Delta) -> Register:
    """``register`` with ``delta`` applied: its removed rows dropped, its added and changed rows
    put in (a changed row in its place, an added one at the end). Re-applies a change that was
    refused as a conflict onto a newer version."""
    frames = []
    for table in ("parks", "allocations", "quotas"):
        frame, new = getattr(register, table), getattr(delta.rows, table)
        key = KEYS[table]
        ch = getattr(delta.changes, table)
        keys = frame[key].astype(str)
        place = pd.Series(np.arange(len(frame)), index=keys.to_numpy())
        place = place[~place.index.duplicated()]
        kept = frame[~keys.isin(ch.touched).to_numpy()]
        order = [*place[kept[key].astype(str)].tolist()]
        new_keys = new[key].astype(str)
        order += [place.get(k, len(frame) + i) for i, k in enumerate(new_keys)]
        out = pd.concat([kept, new], ignore_index=True) if len(new) else kept.reset_index(drop=True)
        frames.append(out.iloc[np.argsort(np.asarray(order), kind="stable")].reset_index(drop=True))
    parks = frames[0]
    if not isinstance(parks, gpd.GeoDataFrame):
        parks = gpd.GeoDataFrame(parks, geometry="geometry", crs=register.parks.crs)
    return Register(parks, frames[1], frames[2])
