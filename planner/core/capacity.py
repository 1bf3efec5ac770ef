"""Capacity: allocations counted against the plan's new-space target.

An allocation counts when its delivery year lies inside the plan period (period start to the
deadline year). Counted space is *secured* when its status is delivered or under construction,
otherwise only *planned*. Allocations with no delivery year, or one outside the plan, are listed
as not counted. Figures resting on unconfirmed park data are reported apart, never hidden in a total.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from planner.core.assign import assign_districts
from planner.core.plan import Plan
from planner.core.register import SECURED_STATUSES, STATUS_LABELS, STATUSES, Register

UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class CapacityReport:
    """The capacity picture of a register against a plan. Areas in m²."""

    plan_id: str
    target_m2: float
    deadline: dt.date
    period_start: int
    counted_m2: float
    secured_m2: float
    planned_m2: float
    gap_m2: float
    not_counted_m2: float
    counted_unconfirmed_m2: float
    counted_by_basis: dict[str, float]
    by_district: pd.DataFrame
    by_year: pd.DataFrame
    by_status: pd.DataFrame
    by_specialisation: pd.DataFrame
    namepark_counts: pd.DataFrame

    @property
    def has_target(self) -> bool:
        """False for a plan that sets no new-space target (target, gap and progress are then NaN)."""
        return not np.isnan(self.target_m2)

    @property
    def progress(self) -> float:
        """Counted space as a share of the target (0-1+)."""
        return self.counted_m2 / self.target_m2 if self.target_m2 else float("nan")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``check --json``)."""

        def num(x: Any) -> Any:
            if x is None or (isinstance(x, float) and np.isnan(x)):
                return None
            if isinstance(x, np.integer | np.floating):
                return x.item()
            return x

        def records(df: pd.DataFrame) -> list[dict[str, Any]]:
            return [{k: num(v) for k, v in row.items()} for row in df.to_dict("records")]

        return {
            "plan": self.plan_id,
            "target_m2": num(self.target_m2),
            "deadline": self.deadline.isoformat(),
            "period_start": self.period_start,
            "counted_m2": self.counted_m2,
            "secured_m2": self.secured_m2,
            "planned_m2": self.planned_m2,
            "gap_m2": num(self.gap_m2),
            "not_counted_m2": self.not_counted_m2,
            "counted_unconfirmed_m2": self.counted_unconfirmed_m2,
            "counted_by_basis": self.counted_by_basis,
            "by_district": {r["name_zh"]: num(r["counted_m2"]) for r in self.by_district.to_dict("records")},
            "by_year": {str(r["year"]): num(r["added_m2"]) for r in self.by_year.to_dict("records")},
            "by_year_cumulative": {
                str(r["year"]): num(r["cumulative_m2"]) for r in self.by_year.to_dict("records")
            },
            "by_status": {r["status"]: num(r["counted_m2"]) for r in self.by_status.to_dict("records")},
            "by_specialisation": {
                r["specialisation"]: num(r["counted_m2"]) for r in self.by_specialisation.to_dict("records")
            },
            "districts": records(self.by_district),
            "namepark_counts": {r["level"]: int(r["parks"]) for r in self.namepark_counts.to_dict("records")},
        }


def allocation_table(plan: Plan, register: Register, where: pd.DataFrame | None = None) -> pd.DataFrame:
    """Allocations joined with their park's district, area key, confidence and whether they count.

    Columns added: ``area_key`` (district code, functional-area key, or 'unassigned'),
    ``park_known`` (the park is in the register), ``park_pos`` (its row in ``register.parks``, -1 when
    unknown), ``park_cap_m2`` (its new floor area, else its floor
    area), ``figures_verified``, ``counted``, ``secured``, ``aligned`` (True/False, NaN where the district
    designates no specialisation).
    """
    parks = register.parks
    if where is None:
        where = assign_districts(parks, plan)
    no_parent = {a.key for a in plan.functional_areas if not a.parent}
    district_s, functional_s = where["effective_district_code"], parks["functional_area"]
    district = district_s.to_numpy(dtype=object)
    functional = functional_s.to_numpy(dtype=object)
    park_info = pd.DataFrame(
        {  # the text columns in their own arrays (no conversion to objects and back)
            "park_id": parks["id"].array,
            "district_code": district_s.array,
            "functional_area": functional_s.array,
            "figures_verified": parks["figures_verified"].to_numpy(),
            "park_known": True,
            "park_pos": np.arange(len(parks)),
            "park_cap_m2": parks["new_gfa_m2"].fillna(parks["gfa_m2"]).to_numpy(dtype=float),
            "area_key": np.where(
                district != "",
                district,
                np.where(functional_s.isin(no_parent).to_numpy(), functional, UNASSIGNED),
            ),
        }
    )
    a = _join_parks(register.allocations, park_info)
    a["area_key"] = a["area_key"].fillna(UNASSIGNED)
    a["figures_verified"] = a["figures_verified"].fillna(False).astype(bool)
    a["park_known"] = a["park_known"].fillna(False).astype(bool)
    a["park_pos"] = a["park_pos"].fillna(-1).astype(np.int64)
    year = a["delivery_year"]
    a["counted"] = (
        (year.notna() & (year >= plan.period_start) & (year <= plan.deadline_year)).fillna(False).astype(bool)
    )
    a["secured"] = a["counted"] & a["status"].isin(SECURED_STATUSES)
    a["aligned"] = _aligned(plan, a["area_key"], a["specialisation"])
    return a


def _join_parks(allocs: pd.DataFrame, park_info: pd.DataFrame) -> pd.DataFrame:
    """``allocs`` left-joined to ``park_info`` on ``park_id``: by position when park ids are unique
    (one hash lookup, the columns taken by position), else by a merge (one row per matching park)."""
    ids = pd.Index(park_info["park_id"])
    if not ids.is_unique:
        return allocs.merge(park_info, on="park_id", how="left")
    pos = ids.get_indexer(allocs["park_id"])
    known = pos >= 0
    take = np.where(known, pos, 0)
    a = allocs.reset_index(drop=True)
    extra = {}
    for c in park_info.columns.drop("park_id"):
        col = park_info[c]
        if not len(col):
            extra[c] = pd.Series(np.full(len(a), np.nan, dtype=object))
            continue
        values = pd.Series(col.array.take(take))  # in the column's own array type: no object round trip
        extra[c] = values.where(known, np.nan) if not known.all() else values
    return pd.concat([a, pd.DataFrame(extra)], axis=1)


def _aligned(plan: Plan, area_key: pd.Series, spec: pd.Series) -> pd.Series:
    """True/False whether each specialisation is designated for its area, NaN where the area
    designates none (a district with ``any_specialisation`` accepts every one)."""
    keys, key_values = pd.factorize(area_key)
    specs, spec_values = pd.factorize(spec)
    allowed = np.zeros((len(key_values) + 1, len(spec_values) + 1), dtype=bool)  # last row/col: missing
    designating = np.zeros(len(key_values) + 1, dtype=bool)
    key_at = {v: i for i, v in enumerate(key_values)}  # the few areas and specialisations present
    spec_at = {v: i for i, v in enumerate(spec_values)}
    for d in plan.districts:  # the plan's few districts
        k = key_at.get(d.code, -1)
        if k < 0 or not (d.any_specialisation or d.specialisations):
            continue
        designating[k] = True
        if d.any_specialisation:
            allowed[k, :] = True
            continue
        hit = [spec_at[s] for s in d.specialisations if s in spec_at]
        allowed[k, hit] = True
    match = allowed[keys, specs]
    return pd.Series(match, index=area_key.index).astype(object).where(designating[keys], np.nan)


CUBE_KEYS = [
    "area_key", "counted", "secured", "aligned", "delivery_year", "status", "specialisation", "basis",
    "figures_verified",
]  # fmt: skip


def capacity_cube(table: pd.DataFrame, sign: float = 1.0) -> pd.DataFrame:
    """The allocation table summed over every key the report groups by: ``area_m2`` and the number
    of rows ``n`` per combination (a few hundred rows for 100,000 allocations). The report reads it
    as it reads the table; a re-check subtracts the old rows' cube and adds the new ones'
    (:func:`combine_cubes`) instead of summing everything again. ``sign`` -1 gives the rows to take off."""
    cube = (
        table[[*CUBE_KEYS, "area_m2"]]
        .assign(n=1)
        .groupby(CUBE_KEYS, dropna=False, sort=False)[["area_m2", "n"]]
        .sum()
        .reset_index()
    )
    cube[["area_m2", "n"]] = cube[["area_m2", "n"]] * sign
    return cube


def cube_rows(table: pd.DataFrame, sign: float = 1.0, new: pd.DataFrame | None = None) -> pd.DataFrame:
    """A few rows of the allocation table as cube rows, not summed (:func:`combine_cubes` and
    :func:`update_cube` sum them with a cube): ``sign`` -1 gives the rows to take off; the rows of
    ``new``, when given, follow with sign +1 (an edit's old and new rows in one frame)."""
    rows = table[[*CUBE_KEYS, "area_m2"]]
    signs = np.full(len(rows), sign)
    if new is not None:
        rows = pd.concat([rows, new[[*CUBE_KEYS, "area_m2"]]], ignore_index=True)
        signs = np.concatenate([signs, np.ones(len(new))])
    area = rows["area_m2"].to_numpy(dtype=float, na_value=np.nan) * signs
    return rows.assign(area_m2=area, n=signs)


def combine_cubes(*cubes: pd.DataFrame) -> pd.DataFrame:
    """Cubes (or :func:`cube_rows`) added up; combinations left with no row dropped."""
    both = pd.concat(cubes, ignore_index=True)
    out = both.groupby(CUBE_KEYS, dropna=False, sort=False)[["area_m2", "n"]].sum().reset_index()
    return out[out["n"] > 0].reset_index(drop=True)


def cube_keys(rows: pd.DataFrame) -> list[tuple[Any, ...]]:
    """Each row's combination of :data:`CUBE_KEYS` as a tuple of plain Python values (a cube, or
    :func:`cube_rows`), alike for alike values whatever the column's type (2024 and 2024.0 are one
    key; every missing value is None, as a groupby with ``dropna=False`` takes them as one)."""
    cols = []
    for c in CUBE_KEYS:
        col = rows[c]
        values = col.astype(object)
        if col.hasnans:
            values = values.where(col.notna(), None)
        cols.append(values.tolist())
    return list(zip(*cols, strict=True)) if len(rows) else []


def update_cube(
    cube: pd.DataFrame, keys: list[tuple[Any, ...]], delta: pd.DataFrame
) -> tuple[pd.DataFrame, list[tuple[Any, ...]]]:
    """``cube`` (with its :func:`cube_keys`) plus the few :func:`cube_rows` of ``delta``: the sums of
    the combinations it has added in place, new combinations appended in their first row's order,
    combinations left with no row dropped (as :func:`combine_cubes` of them, without regrouping the
    cube), and the keys of the result."""
    row_of = {k: i for i, k in enumerate(keys)}
    if len(row_of) < len(keys):  # values alike as text that a groupby tells apart: sum them all again
        out = combine_cubes(cube, delta)
        return out, cube_keys(out)
    d_keys = cube_keys(delta)
    at = np.array([row_of.get(k, -1) for k in d_keys], dtype=np.int64)  # the few rows of the edit
    d_area = np.nan_to_num(delta["area_m2"].to_numpy(dtype=float, na_value=np.nan))
    d_n = delta["n"].to_numpy(dtype=float)
    area = cube["area_m2"].to_numpy(dtype=float, copy=True)
    n = cube["n"].to_numpy(dtype=float, copy=True)
    old = at >= 0
    np.add.at(area, at[old], d_area[old])
    np.add.at(n, at[old], d_n[old])
    out = cube.assign(area_m2=area, n=n)
    keys = list(keys)
    if not old.all():  # combinations the cube has not had: grouped among themselves, appended
        fresh = np.flatnonzero(~old)
        group: dict[tuple[Any, ...], int] = {}
        codes = np.array([group.setdefault(d_keys[i], len(group)) for i in fresh], dtype=np.int64)
        first = np.full(len(group), -1)
        first[codes[::-1]] = fresh[::-1]
        added = delta.iloc[first].assign(
            area_m2=np.bincount(codes, weights=d_area[fresh], minlength=len(group)),
            n=np.bincount(codes, weights=d_n[fresh], minlength=len(group)),
        )
        out = pd.concat([out, added[out.columns]], ignore_index=True)
        keys += list(group)
    live = out["n"].to_numpy() > 0
    return out[live].reset_index(drop=True), [k for k, keep in zip(keys, live.tolist(), strict=True) if keep]


def _area_rows(plan: Plan) -> pd.DataFrame:
    rows = [
        {
            "key": d.code,
            "name_zh": d.name_zh,
            "name_en": d.name_en,
            "role": d.role,
            "specialisations": "、".join(plan.label("specialisations", s) for s in d.specialisations),
            "specialisations_en": "; ".join(
                plan.label("specialisations", s, "en") for s in d.specialisations
            ),
        }
        for d in plan.districts
    ]
    rows += [
        {
            "key": a.key,
            "name_zh": a.name_zh,
            "name_en": a.name_en,
            "role": a.role,
            "specialisations": "",
            "specialisations_en": "",
        }
        for a in plan.functional_areas
        if not a.parent
    ]
    rows.append(
        {
            "key": UNASSIGNED,
            "name_zh": "未定位/区外",
            "name_en": "Unassigned / outside",
            "role": "",
            "specialisations": "",
            "specialisations_en": "",
        }
    )
    return pd.DataFrame(rows)


def capacity_report(
    plan: Plan,
    register: Register,
    *,
    where: pd.DataFrame | None = None,
    table: pd.DataFrame | None = None,
    namepark_counts: pd.DataFrame | None = None,
) -> CapacityReport:
    """Count the register's allocations against the plan's new-space target.

    A plan that sets no new-space target still gets its figures (counted, secured, by district,
    year, status); its target, gap and progress are NaN (``report.has_target`` is False).
    ``where`` is ``assign_districts(register.parks, plan)`` and ``table`` the
    :func:`allocation_table` (or its :func:`capacity_cube`) when the caller has them already;
    ``namepark_counts`` the parks by name-park level when they are known unchanged (a re-check's).
    """
    a = table if table is not None else allocation_table(plan, register, where)
    target = plan.new_space.value if plan.new_space is not None else float("nan")
    # Every sum is one weighted count over a factorised key (the cube has a few hundred rows; no
    # groupby per figure): missing areas count as 0 and missing keys in no group, as a groupby sums.
    area = np.nan_to_num(a["area_m2"].to_numpy(dtype=float, na_value=np.nan))
    counted_mask = a["counted"].to_numpy(dtype=bool)
    secured_mask = counted_mask & a["secured"].to_numpy(dtype=bool)
    aligned = a["aligned"]
    counted_m2 = float(area[counted_mask].sum())
    secured_m2 = float(area[secured_mask].sum())

    areas = _area_rows(plan)
    keys, key_values = pd.factorize(a["area_key"])
    n_keys = len(key_values)
    designating = aligned.notna().to_numpy(dtype=bool)
    designated = _sums(keys, area, designating, n_keys)
    # each area row's figures by its key's position among the table's keys (none: 0, share NaN)
    at = pd.Index(key_values).get_indexer(areas["key"])
    known = at >= 0

    def per_area(sums: np.ndarray, missing: float = 0.0) -> np.ndarray:
        out = np.full(len(areas), missing)
        out[known] = sums[at[known]]
        return out

    allocated = per_area(_sums(keys, area, None, n_keys))
    counted_by = per_area(_sums(keys, area, counted_mask, n_keys))
    secured_by = per_area(_sums(keys, area, secured_mask, n_keys))
    aligned_by = per_area(_sums(keys, area, (aligned == True).to_numpy(dtype=bool), n_keys))  # noqa: E712
    # no designating row: no share (NaN), as a sum over no rows would be missing
    has_designated = _sums(keys, np.ones(len(a)), designating, n_keys) > 0
    designated_by = per_area(np.where(has_designated, designated, np.nan), np.nan)
    quotas = register.quotas["quota_m2"].to_numpy(dtype=float, na_value=np.nan)
    q_at = pd.Index(register.quotas["district_code"]).get_indexer(areas["key"])
    quota = np.where(q_at >= 0, quotas[np.maximum(q_at, 0)] if len(quotas) else np.nan, np.nan)
    keep = (areas["key"] != UNASSIGNED).to_numpy(dtype=bool) | (allocated > 0)
    has_quota = ~np.isnan(quota)
    met = np.full(len(areas), None, dtype=object)  # None: no quota set
    met[has_quota] = (counted_by >= quota)[has_quota]
    by_district = pd.DataFrame(
        {
            **{c: areas[c].array for c in areas.columns},
            "allocated_m2": allocated,
            "counted_m2": counted_by,
            "secured_m2": secured_by,
            "aligned_m2": aligned_by,
            "planned_m2": counted_by - secured_by,
            "aligned_share": aligned_by / designated_by,
            "quota_m2": quota,
            "quota_met": met,
        }
    )
    by_district = by_district[keep].reset_index(drop=True)

    years = pd.Index(plan.years, name="year")
    year_pos = _positions(years, a["delivery_year"])
    added = pd.Series(_sums(year_pos, area, counted_mask, len(years)), index=years)
    added_secured = pd.Series(_sums(year_pos, area, secured_mask, len(years)), index=years)
    by_year = pd.DataFrame(
        {
            "year": list(years),
            "added_m2": added.to_numpy(dtype=float),
            "cumulative_m2": added.cumsum().to_numpy(dtype=float),
            "secured_cumulative_m2": added_secured.cumsum().to_numpy(dtype=float),
            "target_m2": target,
        }
    )

    status_pos = _positions(pd.Index(list(STATUSES)), a["status"])
    by_status = pd.DataFrame(
        {
            "status": list(STATUSES),
            "label_zh": [STATUS_LABELS[s][0] for s in STATUSES],
            "label_en": [STATUS_LABELS[s][1] for s in STATUSES],
            "counted_m2": _sums(status_pos, area, counted_mask, len(STATUSES)),
            "allocated_m2": _sums(status_pos, area, None, len(STATUSES)),
        }
    )

    spec_keys = [s.key for s in plan.specialisations]
    spec_pos = _positions(pd.Index(spec_keys), a["specialisation"].replace("", "district_choice"))
    by_specialisation = pd.DataFrame(
        {
            "specialisation": spec_keys,
            "label_zh": [s.label_zh for s in plan.specialisations],
            "label_en": [s.label_en for s in plan.specialisations],
            "counted_m2": _sums(spec_pos, area, counted_mask, len(spec_keys)),
            "allocated_m2": _sums(spec_pos, area, None, len(spec_keys)),
        }
    )
    basis, basis_values = pd.factorize(a["basis"], sort=True)
    by_basis = _sums(basis, area, counted_mask, len(basis_values))
    has_basis = _sums(basis, np.ones(len(a)), counted_mask, len(basis_values)) > 0

    levels = [lv.key for lv in plan.namepark_levels]
    if namepark_counts is None:
        namepark_counts = pd.DataFrame(
            {
                "level": levels,
                "label_zh": [lv.label_zh for lv in plan.namepark_levels],
                "label_en": [lv.label_en for lv in plan.namepark_levels],
                "parks": register.parks["namepark_level"]
                .value_counts()
                .reindex(levels, fill_value=0)
                .to_numpy(dtype=int),
            }
        )
    else:
        namepark_counts = namepark_counts.copy()

    return CapacityReport(
        plan_id=plan.id,
        target_m2=target,
        deadline=plan.deadline,
        period_start=plan.period_start,
        counted_m2=counted_m2,
        secured_m2=secured_m2,
        planned_m2=counted_m2 - secured_m2,
        gap_m2=max(target - counted_m2, 0.0) if plan.new_space is not None else float("nan"),
        not_counted_m2=float(area[~counted_mask].sum()),
        counted_unconfirmed_m2=float(area[counted_mask & ~a["figures_verified"].to_numpy(dtype=bool)].sum()),
        counted_by_basis={
            str(k): float(v) for k, v, h in zip(basis_values, by_basis, has_basis, strict=True) if h
        },
        by_district=by_district,
        by_year=by_year,
        by_status=by_status,
        by_specialisation=by_specialisation,
        namepark_counts=namepark_counts,
    )


def _positions(keys: pd.Index, values: pd.Series) -> np.ndarray:
    """Each value's position in ``keys`` (-1 for a value not among them, or missing)."""
    return keys.get_indexer(values)


def _sums(groups: np.ndarray, area: np.ndarray, mask: np.ndarray | None, n: int) -> np.ndarray:
    """``area`` summed by group (``groups`` 0..n-1; -1 in none) over the rows of ``mask`` (all when None)."""
    take = groups >= 0 if mask is None else (groups >= 0) & mask
    return np.bincount(groups[take], weights=area[take], minlength=n)[:n].astype(float)


def target_table(plan: Plan, register: Register, report: CapacityReport | None = None) -> pd.DataFrame:
    """Every target of the plan (the new-space target first, if any), with what the register shows.

    Columns: key, label_zh, label_en, comparison, value, unit, year, source (the document's title),
    section, quote, ``counted`` (the counted new space for the new-space target; the number of the
    register's parks of the target's ``park_type`` for a count of parks; NaN when the register
    cannot tell) and ``met`` (True/False, None when not counted).
    """
    targets = ([plan.new_space] if plan.new_space is not None else []) + list(plan.targets)
    types = register.parks["park_type"].value_counts()
    rows = []
    for t in targets:
        if plan.new_space is not None and t is plan.new_space:
            counted = (report or capacity_report(plan, register)).counted_m2
        elif t.park_type:
            counted = float(types.get(t.park_type, 0))
        else:
            counted = float("nan")
        met = None if np.isnan(counted) else _meets(counted, t.comparison, t.value)
        rows.append(
            {
                "key": t.key,
                "label_zh": t.label_zh,
                "label_en": t.label_en,
                "comparison": t.comparison,
                "value": t.value,
                "unit": t.unit,
                "year": t.year if t.year is not None else (t.deadline.year if t.deadline else None),
                "source": plan.sources.get(t.source, {}).get("title_zh", t.source),
                "section": t.section,
                "quote": t.quote,
                "counted": counted,
                "met": met,
            }
        )
    return pd.DataFrame(rows, columns=[*TARGET_COLUMNS])


TARGET_COLUMNS = (
    "key", "label_zh", "label_en", "comparison", "value", "unit", "year", "source", "section", "quote",
    "counted", "met",
)  # fmt: skip


def _meets(counted: float, comparison: str, value: float) -> bool:
    """Whether ``counted`` satisfies ``comparison value`` (>=, >, =, <=, <)."""
    return bool(
        {
            ">=": counted >= value,
            ">": counted > value,
            "=": counted == value,
            "<=": counted <= value,
            "<": counted < value,
        }[comparison]
    )
