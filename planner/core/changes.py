"""What changed between two registers: rows added, removed and changed, by key, vectorised.

Used by the access rules (who changed what), the store's conflict messages and scenario diffs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


def table_changes(before: pd.DataFrame, after: pd.DataFrame, key: str) -> TableChanges:
    """Rows added, removed and changed between ``before`` and ``after``, matched on ``key``."""
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
