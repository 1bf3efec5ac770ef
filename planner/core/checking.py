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

import numpy as np
import pandas as pd
import shapely

from planner.core.assign import geo_assign, locate, owner_district
from planner.core.capacity import (
    CUBE_KEYS,
    CapacityReport,
    allocation_table,
    capacity_cube,
    capacity_report,
    combine_cubes,
)
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
    alloc_table: pd.DataFrame
    alloc_rows: pd.DataFrame
    cube: pd.DataFrame
    ids: np.ndarray
    index: pd.Index


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
) -> CheckResult:
    """Capacity from the allocations' cube, the overlap findings in the register's order, the summary."""
    report = capacity_report(plan, register, where=where, table=cube)
    if ids is None:
        ids = register.parks["id"].astype(str).to_numpy(dtype=object)
    if position is None:
        position = pd.Index(ids)
    pa, pb = position.get_indexer(pairs["a"]), position.get_indexer(pairs["b"])
    first = pa <= pb  # the park earlier in the register is the finding's id, as in a full check
    i = np.where(first, pa, pb)
    j = np.where(first, pb, pa)
    by_pos = pd.DataFrame(
        {"i": i, "j": j, "overlap_m2": pairs["overlap_m2"].to_numpy(), "share": pairs["share"].to_numpy()}
    )
    blocks = [park_rows, overlap_findings(ids, by_pos), alloc_rows]
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
    )


def recheck(previous: CheckResult, register: Register, change: RegisterChanges | None = None) -> CheckResult:
    """The check of ``register`` (``previous.register`` after ``change``), recomputing only the
    touched parks and allocations and the overlaps of touched parks; equal to :func:`check`."""
    plan = previous.plan
    change = change if change is not None else register_changes(previous.register, register)
    if change.quotas or len(change.parks.touched) > REBUILD_AFTER:
        return check(plan, register)
    parks = register.parks
    ids = parks["id"].astype(str).to_numpy(dtype=object)
    touched = set(map(str, change.parks.touched))
    same_order = len(ids) == len(previous.ids) and bool((ids == previous.ids).all())
    if same_order:  # an edit in place: rows keep their positions, the kept index (and its hash table) serves
        position = previous.index
        old_pos = np.arange(len(ids))
        fresh = np.zeros(len(ids), dtype=bool)
        hit = position.get_indexer(sorted(touched))
        fresh[hit[hit >= 0]] = True
    else:
        position = pd.Index(ids)
        old_pos = previous.index.get_indexer(ids)
        fresh = (old_pos < 0) | position.isin(sorted(touched))
    keep = np.flatnonzero(~fresh)
    new = np.flatnonzero(fresh)

    # Geometry and district assignment: reuse the untouched rows, compute the touched ones.
    if same_order:
        metric = previous.metric.copy()
    else:
        metric = np.empty(len(ids), dtype=object)
        metric[keep] = previous.metric[old_pos[keep]]
    if len(new):
        metric[new] = project(parks.iloc[new].geometry.values, parks.crs, plan.metric_crs)
    where = _recheck_where(previous, parks, metric, old_pos, fresh, new, same_order)

    pairs, stale = _recheck_pairs(previous, ids, position, metric, new, touched)

    # Per-park findings: drop the touched parks' rows, add theirs afresh.
    gone = touched | set(change.parks.removed)
    rows = previous.park_rows[~previous.park_rows["id"].isin(list(gone))]
    if len(new):
        sub = parks.iloc[new]
        rows = pd.concat([rows, park_findings(plan, sub, where.iloc[new])], ignore_index=True)

    table, alloc_rows, cube = _recheck_allocations(previous, register, where, change, touched)
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
        table,
        alloc_rows,
        cube,
        ids,
        position,
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
    metric: np.ndarray,
    old_pos: np.ndarray,
    fresh: np.ndarray,
    new: np.ndarray,
    same_order: bool,
) -> pd.DataFrame:
    """The district assignment after an edit: kept rows reused, the touched rows assigned afresh."""
    plan = previous.plan
    if same_order:
        where = previous.where.copy()
        where.index = parks.index
    else:
        take = np.where(fresh, 0, old_pos)
        where = pd.DataFrame(index=parks.index)
        for c in [*GEO_COLUMNS, "effective_district_code"]:
            col = previous.where[c]
            if len(col):
                where[c] = col.to_numpy()[take]
            else:
                where[c] = pd.Series(np.empty(len(parks), dtype=object), index=parks.index)
        if len(previous.where):
            where = where.astype(previous.where.dtypes.to_dict())
    if len(new):
        sub = geo_assign(metric[new], plan)
        sub.index = parks.index[new]
        sub["effective_district_code"] = owner_district(sub, parks["district_code"].iloc[new])
        for c in [*GEO_COLUMNS, "effective_district_code"]:  # in place, column by column: dtypes kept
            where.iloc[new, where.columns.get_loc(c)] = sub[c].to_numpy()
    return where


def _recheck_pairs(
    previous: CheckResult,
    ids: np.ndarray,
    position: pd.Index,
    metric: np.ndarray,
    new: np.ndarray,
    touched: set[str],
) -> tuple[pd.DataFrame, frozenset[str]]:
    """The overlap pairs after an edit: the kept pairs of untouched parks, and the touched parks'
    overlaps with their neighbours found through the kept index (entries of parks edited since it was
    built are skipped there and compared with each other directly)."""
    pairs = previous.pairs
    new_ids = set(ids[new])
    dirty = touched | new_ids
    pairs = pairs[~(pairs["a"].isin(list(dirty)) | pairs["b"].isin(list(dirty)))]
    stale = previous.stale | dirty
    if not len(new):
        return pairs, stale
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
    return pd.concat([pairs, add], ignore_index=True), stale


def _recheck_allocations(
    previous: CheckResult, register: Register, where: pd.DataFrame, change: RegisterChanges, touched: set[str]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The allocation table, its findings and its cube after an edit: the rows of touched parks and touched
    allocations recomputed, the rest kept."""
    plan = previous.plan
    old_a = previous.alloc_table
    allocs = register.allocations
    alloc_touched = set(map(str, change.allocations.touched))
    old_sel = old_a["allocation_id"].isin(list(alloc_touched)) | old_a["park_id"].isin(list(touched))
    parks_hit = touched | set(old_a.loc[old_sel, "park_id"].astype(str))
    new_sel = allocs["allocation_id"].isin(list(alloc_touched)) | allocs["park_id"].isin(list(parks_hit))
    parks_hit |= set(allocs.loc[new_sel, "park_id"].astype(str))
    old_sel |= old_a["park_id"].isin(list(parks_hit))
    new_sel |= allocs["park_id"].isin(list(parks_hit))
    if not old_sel.any() and not new_sel.any():
        return old_a, previous.alloc_rows, previous.cube
    sub_parks = register.parks["id"].isin(list(parks_hit)).to_numpy()
    sub = Register(register.parks[sub_parks], allocs[new_sel], register.quotas)
    part = allocation_table(plan, sub, where[sub_parks])
    table = pd.concat([old_a[~old_sel], part[[*KEPT_COLUMNS]]], ignore_index=True)
    dropped = set(old_a.loc[old_sel, "allocation_id"].astype(str))
    rows = previous.alloc_rows
    stale_rows = rows["id"].isin(list(dropped)) | (
        (rows["code"] == "ALLOC_EXCEEDS_NEW_SPACE") & rows["id"].isin(list(parks_hit))
    )
    fresh_rows = allocation_findings(plan, register, part)
    cube = combine_cubes(previous.cube, capacity_cube(old_a[old_sel], -1.0), capacity_cube(part))
    return table, pd.concat([rows[~stale_rows], fresh_rows], ignore_index=True), cube
