"""A whole check of a register, kept so that a re-check after an edit recomputes only what changed.

:func:`check` runs the capacity report and every finding once and keeps what they rest on: the parks'
metric geometries, the district assignment, the overlap pairs (by park id), the per-park findings
and the allocation table. :func:`recheck` takes that result, the edited register and the change
(:class:`planner.core.changes.RegisterChanges`; computed when not given) and recomputes only the
touched parks and allocations and the overlaps of the touched parks with their neighbours (found
through the kept spatial index); the capacity sums are recomputed from the kept allocation table.
The result equals a full :func:`check` of the edited register.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import shapely

from planner.core.assign import geo_assign, locate, owner_district
from planner.core.capacity import (
    CUBE_KEYS,
    CapacityReport,
    allocation_table,
    capacity_cube,
    capacity_report,
    cube_rows,
    update_cube,
)
from planner.core.capacity import cube_keys as combination_keys
from planner.core.changes import RegisterChanges, register_changes
from planner.core.findings import (
    allocation_findings,
    capacity_findings,
    empty_findings,
    measure_pairs,
    overlap_findings,
    overlap_pairs,
    park_findings,
    polygons_only,
    sort_findings,
    summarise,
)
from planner.core.geo import project
from planner.core.plan import Plan
from planner.core.register import Register

KEPT_COLUMNS = ("allocation_id", "park_id", *CUBE_KEYS, "area_m2")  # of the allocation table, for a re-check
REBUILD_AFTER = 2000  # parks edited since the spatial index was built: beyond this, rebuild it
MAX_RUNS = 16  # runs of edited rows a text column is cut around (more: one take)
MAX_CHUNKS = 64  # pieces of a text column edited so: beyond this, joined into one array
COMPACT_AFTER = 2000  # allocation rows recomputed since the table was built: beyond this, one table again


@dataclass(frozen=True)
class CheckResult:
    """A register's capacity report and findings, with what a re-check reuses."""

    plan: Plan
    register: Register
    report: CapacityReport
    findings: pd.DataFrame
    where: pd.DataFrame
    metric: np.ndarray
    tree: shapely.STRtree
    tree_ids: np.ndarray
    stale: frozenset[str]
    pairs: pd.DataFrame
    park_rows: pd.DataFrame
    alloc_base: pd.DataFrame
    alloc_rows: pd.DataFrame
    cube: pd.DataFrame
    ids: np.ndarray
    index: pd.Index
    overlap_rows: pd.DataFrame  # the PARKS_OVERLAP rows, one per row of ``pairs`` (same order)
    alloc_dead: np.ndarray | None = None  # rows of ``alloc_base`` replaced since (None: none)
    alloc_extra: pd.DataFrame | None = None  # the rows recomputed since, after the live base rows
    cube_keys: list[tuple[Any, ...]] | None = None  # each row of ``cube``'s combination (a re-check's)

    @cached_property
    def alloc_table(self) -> pd.DataFrame:
        """The allocation table's kept columns (:data:`KEPT_COLUMNS`): the live rows of the base, then
        the rows recomputed by re-checks (a re-check appends, it does not copy 100,000 rows)."""
        if self.alloc_dead is None and self.alloc_extra is None:
            return self.alloc_base
        live = self.alloc_base if self.alloc_dead is None else self.alloc_base[~self.alloc_dead]
        return pd.concat([live, self.alloc_extra], ignore_index=True)


def check(plan: Plan, register: Register) -> CheckResult:
    """The capacity report and every finding of ``register`` (assignment computed once)."""
    parks = register.parks
    metric, where = locate(parks, plan)  # both once per register version
    poly = polygons_only(metric)
    tree = shapely.STRtree(poly)
    ids = parks["id"].astype(str).to_numpy(dtype=object)
    pos = overlap_pairs(poly, tree)
    pairs = pd.DataFrame(
        {
            "a": ids[pos["i"].to_numpy()],
            "b": ids[pos["j"].to_numpy()],
            "overlap_m2": pos["overlap_m2"],
            "share": pos["share"],
        }
    )
    table = allocation_table(plan, register, where)
    kept = table[[*KEPT_COLUMNS]]
    return _finish(
        plan,
        register,
        where,
        metric,
        tree,
        ids,
        frozenset(),
        pairs,
        park_findings(plan, parks, where),
        kept,
        allocation_findings(plan, register, table),
        capacity_cube(table),
        ids,
    )


def _finish(
    plan: Plan,
    register: Register,
    where: pd.DataFrame,
    metric: np.ndarray,
    tree: shapely.STRtree,
    tree_ids: np.ndarray,
    stale: frozenset[str],
    pairs: pd.DataFrame,
    park_rows: pd.DataFrame,
    table: pd.DataFrame,
    alloc_rows: pd.DataFrame,
    cube: pd.DataFrame,
    ids: np.ndarray | None = None,
    position: pd.Index | None = None,
    overlap_rows: pd.DataFrame | None = None,
    alloc_dead: np.ndarray | None = None,
    alloc_extra: pd.DataFrame | None = None,
    keys: list[tuple[Any, ...]] | None = None,
    namepark: pd.DataFrame | None = None,
) -> CheckResult:
    """Capacity from the allocations' cube, the overlap findings in the register's order (those of
    ``pairs`` unless given), the summary. ``table`` is the allocation table's base, ``alloc_dead`` and
    ``alloc_extra`` what re-checks replaced in it (:attr:`CheckResult.alloc_table`)."""
    report = capacity_report(plan, register, where=where, table=cube, namepark_counts=namepark)
    if ids is None:
        ids = register.parks["id"].astype(str).to_numpy(dtype=object)
    if position is None:
        position = pd.Index(ids)
    if overlap_rows is None:
        overlap_rows = _overlap_rows(ids, position, pairs)
    blocks = [park_rows, overlap_rows, alloc_rows]
    if plan.new_space is not None:
        blocks.append(capacity_findings(plan, report))
    table_f = pd.concat([b for b in blocks if len(b)] or [empty_findings()], ignore_index=True)
    findings = sort_findings(summarise(plan, table_f, len(ids)))
    return CheckResult(
        plan,
        register,
        report,
        findings,
        where,
        metric,
        tree,
        tree_ids,
        stale,
        pairs,
        park_rows,
        table,
        alloc_rows,
        cube,
        ids,
        position,
        overlap_rows,
        alloc_dead,
        alloc_extra,
        keys,
    )


def _overlap_rows(ids: np.ndarray, position: pd.Index, pairs: pd.DataFrame) -> pd.DataFrame:
    """The PARKS_OVERLAP rows of ``pairs`` (by park id), one per pair in its order; the park earlier in
    the register is the finding's id, as in a full check."""
    pos_a, pos_b = position.get_indexer(pairs["a"]), position.get_indexer(pairs["b"])
    first = pos_a <= pos_b
    by_pos = pd.DataFrame(
        {
            "i": np.where(first, pos_a, pos_b),
            "j": np.where(first, pos_b, pos_a),
            "overlap_m2": pairs["overlap_m2"].to_numpy(),
            "share": pairs["share"].to_numpy(),
        }
    )
    return overlap_findings(ids, by_pos)


def _same_ids(parks: pd.DataFrame, previous: CheckResult) -> tuple[bool, np.ndarray]:
    """Whether the parks' ids are the previous check's, in the same order, and the ids (the kept
    array when they are: Arrow text columns compare in one call, no Python strings made)."""
    new, old = parks["id"], previous.register.parks["id"]
    if len(new) == len(previous.ids) and len(new) == len(old) and _arrow_equal(new, old):
        return True, previous.ids
    ids = new.astype(str).to_numpy(dtype=object)
    return len(ids) == len(previous.ids) and bool((ids == previous.ids).all()), ids


def _arrow_equal(left: pd.Series, right: pd.Series) -> bool:
    """True when both columns are Arrow text with equal values (False when either is not Arrow)."""
    if not all(isinstance(c.dtype, pd.StringDtype) and c.dtype.storage == "pyarrow" for c in (left, right)):
        return False
    a, b = (_chunked(pa.array(c)) for c in (left, right))
    return bool(a.equals(b))


def _chunked(arr: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    """An Arrow array as a chunked one (its contents compare the same however they are cut)."""
    return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])


def _with_rows(col: pd.Series, pos: np.ndarray, values: np.ndarray) -> pd.Series:
    """A new column: ``col`` with the rows at the sorted positions ``pos`` set to ``values`` (``col``
    itself untouched). An Arrow text column is cut around the few runs of new rows and the pieces
    chained (no copy; one take when the runs are many, and the chain joined once it grows long)."""
    if isinstance(col.dtype, pd.StringDtype) and col.dtype.storage == "pyarrow":
        arr = _chunked(pa.array(col))
        added = pa.array(pd.Series(values, dtype=object), type=arr.type, from_pandas=True)
        starts = np.flatnonzero(np.diff(pos, prepend=-2) != 1)  # where each run of positions begins
        if len(starts) <= MAX_RUNS:
            ends = np.append(starts[1:], len(pos))
            pieces, at, where = [], 0, pos.tolist()
            for s, e in zip(starts.tolist(), ends.tolist(), strict=True):
                pieces += [arr.slice(at, where[s] - at), added.slice(s, e - s)]
                at = where[e - 1] + 1
            pieces.append(arr.slice(at))
            parts = [c for piece in pieces for c in _chunked(piece).chunks if len(c)]
            out = pa.chunked_array(parts, type=arr.type)
            if out.num_chunks > MAX_CHUNKS:
                out = pa.chunked_array([out.combine_chunks()])
        else:
            take = np.arange(len(col))
            take[pos] = len(col) + np.arange(len(pos))
            out = pa.chunked_array([*arr.chunks, added], type=arr.type).take(take)
        return pd.Series(out, index=col.index, dtype=col.dtype, name=col.name)
    if isinstance(col.dtype, np.dtype) and col.dtype != object:  # numbers and flags: a numpy copy
        arr_np = col.to_numpy(copy=True)
        arr_np[pos] = values
        return pd.Series(arr_np, index=col.index, name=col.name)
    out_s = col.copy()
    out_s.iloc[pos] = values
    return out_s


_Frame = TypeVar("_Frame", pd.DataFrame, pd.Series)


def _same_values(old: pd.Series, new: pd.Series) -> bool:
    """Whether two short columns hold the same values in order (a missing value counts as changed)."""
    a, b = old.tolist(), new.tolist()
    return len(a) == len(b) and all(isinstance(x, str) and x == y for x, y in zip(a, b, strict=True))


def _rows(frame: _Frame, pos: np.ndarray) -> _Frame:
    """The rows of ``frame`` at the sorted positions ``pos``: a slice when they follow each other (one
    edited park; taking rows from 100,000-row Arrow columns costs more than slicing them)."""
    if len(pos) and pos[-1] - pos[0] + 1 == len(pos):
        return frame.iloc[pos[0] : pos[-1] + 1]
    return frame.iloc[pos]


def recheck(previous: CheckResult, register: Register, change: RegisterChanges | None = None) -> CheckResult:
    """The check of ``register`` (``previous.register`` after ``change``), recomputing only the
    touched parks and allocations and the overlaps of touched parks; equal to :func:`check`."""
    plan = previous.plan
    change = change if change is not None else register_changes(previous.register, register)
    if change.quotas or len(change.parks.touched) > REBUILD_AFTER:
        return check(plan, register)
    parks = register.parks
    touched = set(map(str, change.parks.touched))
    same_order, ids = _same_ids(parks, previous)
    if same_order:  # an edit in place: rows keep their positions, the kept index (and its hash table) serves
        position = previous.index
        old_pos = np.arange(len(ids))
        hit = position.get_indexer(sorted(touched))
        new = np.unique(hit[hit >= 0])
        keep = None
    else:
        position = pd.Index(ids)
        old_pos = previous.index.get_indexer(ids)
        fresh = (old_pos < 0) | position.isin(sorted(touched))
        keep = np.flatnonzero(~fresh)
        new = np.flatnonzero(fresh)

    # Geometry and district assignment: reuse the untouched rows, compute the touched ones.
    if keep is None:
        metric = previous.metric.copy()
    else:
        metric = np.empty(len(ids), dtype=object)
        metric[keep] = previous.metric[old_pos[keep]]
    sub = _rows(parks, new)  # the touched parks' rows, taken once
    if len(new):
        metric[new] = project(sub.geometry.values, parks.crs, plan.metric_crs)
    where = _recheck_where(previous, parks, sub, metric, old_pos, new, keep is None)

    pairs, stale, kept_pairs, added = _recheck_pairs(previous, ids, position, metric, new, touched)
    overlap_rows = None  # in a new order the earlier park of a kept pair may change: all rows afresh
    if keep is None:
        overlap_rows = pd.concat(
            [previous.overlap_rows[kept_pairs], _overlap_rows(ids, position, added)], ignore_index=True
        )

    # Per-park findings: drop the touched parks' rows, add theirs afresh.
    gone = touched | set(change.parks.removed)
    rows = previous.park_rows[~previous.park_rows["id"].isin(list(gone))]
    if len(new):
        rows = pd.concat([rows, park_findings(plan, sub, _rows(where, new))], ignore_index=True)

    # the parks by name-park level: the previous counts when no park's level changed
    namepark = None
    if keep is None and _same_values(
        _rows(previous.register.parks["namepark_level"], new), sub["namepark_level"]
    ):
        namepark = previous.report.namepark_counts
    base, dead, extra, alloc_rows, (cube, keys) = _recheck_allocations(
        previous, register, where, change, touched, position, (new, sub)
    )
    return _finish(
        plan,
        register,
        where,
        metric,
        previous.tree,
        previous.tree_ids,
        stale,
        pairs,
        rows,
        base,
        alloc_rows,
        cube,
        ids,
        position,
        overlap_rows,
        dead,
        extra,
        keys,
        namepark,
    )


GEO_COLUMNS = [
    "geo_district_code",
    "geo_share",
    "n_districts",
    "distance_m",
    "nearest_district_code",
    "located",
]


def _recheck_where(
    previous: CheckResult,
    parks: pd.DataFrame,
    touched: pd.DataFrame,
    metric: np.ndarray,
    old_pos: np.ndarray,
    new: np.ndarray,
    same_order: bool,
) -> pd.DataFrame:
    """The district assignment after an edit: kept rows reused, the touched rows (``touched``, the
    parks' rows at ``new``) assigned afresh."""
    plan = previous.plan
    columns = [*GEO_COLUMNS, "effective_district_code"]
    sub = None
    if len(new):
        sub = geo_assign(metric[new], plan)
        sub.index = touched.index  # owner_district aligns the declared districts by index
        sub["effective_district_code"] = owner_district(sub, touched["district_code"])
    if same_order:  # the kept columns shared (never written in place), the touched rows set in new ones
        old = previous.where
        if sub is None:
            return old.set_axis(parks.index)  # a new frame (the data shared until written: copy on write)
        cols = {
            c: _with_rows(old[c], new, sub[c].to_numpy()) if c in columns else old[c] for c in old.columns
        }
        return pd.DataFrame({c: v.array for c, v in cols.items()}, index=parks.index)
    take = np.where(old_pos < 0, 0, old_pos)
    where = pd.DataFrame(index=parks.index)
    for c in columns:
        col = previous.where[c]
        if len(col):
            where[c] = col.to_numpy()[take]
        else:
            where[c] = pd.Series(np.empty(len(parks), dtype=object), index=parks.index)
    if len(previous.where):
        where = where.astype(previous.where.dtypes.to_dict())
    if sub is not None:
        for c in columns:  # in place, column by column: dtypes kept
            where.iloc[new, where.columns.get_loc(c)] = sub[c].to_numpy()
    return where


def _recheck_pairs(
    previous: CheckResult,
    ids: np.ndarray,
    position: pd.Index,
    metric: np.ndarray,
    new: np.ndarray,
    touched: set[str],
) -> tuple[pd.DataFrame, frozenset[str], np.ndarray, pd.DataFrame]:
    """The overlap pairs after an edit: the kept pairs of untouched parks, and the touched parks'
    overlaps with their neighbours found through the kept index (entries of parks edited since it was
    built are skipped there and compared with each other directly). Also which of the previous pairs
    are kept (a mask) and the pairs added (the last rows of the pairs)."""
    pairs = previous.pairs
    new_ids = set(ids[new])
    dirty = list(touched | new_ids)
    kept = ~(pairs["a"].isin(dirty) | pairs["b"].isin(dirty)).to_numpy(dtype=bool)
    pairs = pairs[kept]
    stale = previous.stale | frozenset(dirty)
    if not len(new):
        return pairs, stale, kept, pairs.iloc[:0]
    poly_new = polygons_only(metric[new])
    q, t = previous.tree.query(poly_new, predicate="intersects")
    cand_ids = previous.tree_ids[t]
    ok = ~pd.Index(cand_ids).isin(list(stale))
    q, cand_ids = q[ok], cand_ids[ok]
    c_pos = position.get_indexer(cand_ids)
    present = c_pos >= 0
    q, c_pos = q[present], c_pos[present]
    found = [measure_pairs(poly_new[q], polygons_only(metric[c_pos]), new[q], c_pos)]
    # The edited parks among themselves (few): their current geometries, one small index.
    edited = position.get_indexer(sorted(stale))
    edited = edited[edited >= 0]
    poly_e = polygons_only(metric[edited])
    q2, t2 = shapely.STRtree(poly_e).query(poly_new, predicate="intersects")
    a_pos, b_pos = new[q2], edited[t2]
    # each pair once: a pair of two newly touched parks is found from both sides
    both_new = np.isin(b_pos, new)
    keep = ~both_new | (a_pos < b_pos)
    keep &= a_pos != b_pos
    found.append(measure_pairs(poly_new[q2[keep]], poly_e[t2[keep]], a_pos[keep], b_pos[keep]))
    got = pd.concat(found, ignore_index=True)
    add = pd.DataFrame(
        {
            "a": ids[got["i"].to_numpy(dtype=int)],
            "b": ids[got["j"].to_numpy(dtype=int)],
            "overlap_m2": got["overlap_m2"],
            "share": got["share"],
        }
    )
    return pd.concat([pairs, add], ignore_index=True), stale, kept, add


def _recheck_allocations(
    previous: CheckResult,
    register: Register,
    where: pd.DataFrame,
    change: RegisterChanges,
    touched: set[str],
    position: pd.Index,
    taken: tuple[np.ndarray, pd.DataFrame],
) -> tuple[
    pd.DataFrame,
    np.ndarray | None,
    pd.DataFrame | None,
    pd.DataFrame,
    tuple[pd.DataFrame, list[tuple[Any, ...]] | None],
]:
    """The allocation table (its base, the base rows replaced, the rows recomputed), its findings and
    its cube after an edit: the rows of touched parks and touched allocations recomputed, the rest
    kept; the cube less the old rows' sums plus the new ones'. ``position``: the parks' ids as an
    index; ``taken``: positions of parks whose rows the caller took already, and those rows."""
    plan = previous.plan
    base, dead, extra = previous.alloc_base, previous.alloc_dead, previous.alloc_extra
    allocs = register.allocations
    alloc_touched = list(set(map(str, change.allocations.touched)))
    # the parks whose allocations change: the touched parks, and the old and new parks of the
    # touched allocations
    parks_hit = set(touched)
    if alloc_touched:
        for frame in (base, extra, allocs):
            if frame is not None:
                moved = frame["allocation_id"].isin(alloc_touched)
                parks_hit |= set(frame.loc[moved, "park_id"].astype(str))
    hit = list(parks_hit)

    def selected(frame: pd.DataFrame) -> np.ndarray:
        sel = frame["park_id"].isin(hit)
        if alloc_touched:
            sel |= frame["allocation_id"].isin(alloc_touched)
        return sel.to_numpy(dtype=bool)

    base_sel = selected(base)
    if dead is not None:
        base_sel = base_sel & ~dead  # only the live rows are the old rows
    extra_sel = selected(extra) if extra is not None else None
    new_sel = selected(allocs)
    if not base_sel.any() and (extra_sel is None or not extra_sel.any()) and not new_sel.any():
        return base, dead, extra, previous.alloc_rows, (previous.cube, previous.cube_keys)
    old_parts = [_rows(base, np.flatnonzero(base_sel))]  # a slice when a park's rows follow each other
    if extra is not None and extra_sel is not None:
        old_parts.append(extra[extra_sel])
    old = pd.concat(old_parts, ignore_index=True)
    if position.is_unique:  # the kept hash table of the ids, not a pass over them
        found = position.get_indexer(hit)
        at = np.sort(found[found >= 0])
    else:
        at = np.flatnonzero(register.parks["id"].isin(hit).to_numpy(dtype=bool))
    parks_at = taken[1] if np.array_equal(at, taken[0]) else _rows(register.parks, at)
    sub = Register(parks_at, _rows(allocs, np.flatnonzero(new_sel)), register.quotas)
    part = allocation_table(plan, sub, _rows(where, at))
    kept = part[[*KEPT_COLUMNS]]
    dead = base_sel if dead is None else dead | base_sel
    if extra is None or extra_sel is None:
        extra = kept
    else:
        extra = pd.concat([extra[~extra_sel], kept], ignore_index=True)
    if len(extra) > COMPACT_AFTER:  # many rows replaced: one table again
        base = pd.concat([base[~dead], extra], ignore_index=True)
        dead, extra = None, None
    dropped = list(set(old["allocation_id"].astype(str)))
    rows = previous.alloc_rows
    stale_rows = rows["id"].isin(dropped) | (
        (rows["code"] == "ALLOC_EXCEEDS_NEW_SPACE") & rows["id"].isin(hit)
    )
    fresh_rows = allocation_findings(plan, register, part)
    keys = previous.cube_keys if previous.cube_keys is not None else combination_keys(previous.cube)
    delta = cube_rows(old, -1.0, kept)
    return (
        base,
        dead,
        extra,
        pd.concat([rows[~stale_rows], fresh_rows], ignore_index=True),
        (update_cube(previous.cube, keys, delta)),
    )
