"""Checks over a plan and a register. Each finding has a severity, the park/allocation/district id,
a stable code and a message in Chinese and English.

Codes (stable; tests trigger each one):

=============================  ========  ==========================================================
code                           severity  meaning
=============================  ========  ==========================================================
PARK_NO_LOCATION               warning   no geometry yet
PARK_OUTSIDE_CITY              warning   outside every district, farther than NEAR_M
PARK_NEAR_BOUNDARY             info      just outside the district polygons (estimated coordinate?)
PARK_IN_FUNCTIONAL_AREA        info      belongs to an area with no boundary of its own here
PARK_STRADDLES_DISTRICTS       warning   a polygon with a real share of its area in 2+ districts
PARK_DISTRICT_MISMATCH         warning   declared district differs from where the park lies
PARK_DISTRICT_AMBIGUOUS        info      the source names several districts; location decides
PARK_NO_AREA                   warning   neither land nor floor area known
PLOT_RATIO_EXCEEDED            warning   floor area > land area x allowed plot ratio
PLOT_RATIO_ABOVE_LIMIT         warning   a declared plot ratio above the allowed one
PARKS_OVERLAP                  warning   two park polygons overlap (double counting)
FIGURES_UNCONFIRMED            info      the park's figures are not verified in a source
ALLOC_UNKNOWN_PARK             error     allocation names no park in the register
ALLOC_EXCEEDS_NEW_SPACE        error     a park's allocations exceed its (new) floor area
ALLOC_NOT_COUNTED              info      no delivery year inside the plan: not counted
ALLOC_SPEC_MISALIGNED          warning   specialisation not among the district's designated ones
QUOTA_NOT_MET                  warning   a district's counted space is below its quota
TARGET_GAP                     warning   counted space is below the plan's target
=============================  ========  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely

from planner.core.assign import NEAR_M, assign_districts
from planner.core.capacity import CapacityReport, allocation_table, capacity_report
from planner.core.geo import M2_PER_WAN, fmt_m2, project
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import SEVERITIES, Problem

OVERLAP_SHARE = 0.01  # overlaps under 1% of the smaller polygon are drawing noise
SUMMARY_MIN = 2  # a park code that hits every one of at least this many parks is one summary row

FINDING_COLUMNS = (
    "severity", "code", "id", "other_id", "district_code", "field", "count", "message_zh", "message_en",
)  # fmt: skip
"""The findings table: ``id`` the park, allocation, district or plan it is about; ``other_id`` the
second park of an overlap; ``district_code`` whose it is; ``field`` the register's field concerned;
``count`` how many items the row stands for (1, or the parks of a summary row)."""

FIELDS = {
    "PARK_NO_LOCATION": "geometry", "PARK_OUTSIDE_CITY": "geometry", "PARK_NEAR_BOUNDARY": "geometry",
    "PARK_IN_FUNCTIONAL_AREA": "functional_area", "PARK_STRADDLES_DISTRICTS": "geometry",
    "PARK_DISTRICT_MISMATCH": "district_code", "PARK_DISTRICT_AMBIGUOUS": "district",
    "PARK_NO_AREA": "land_area_m2", "PLOT_RATIO_EXCEEDED": "gfa_m2", "PLOT_RATIO_ABOVE_LIMIT": "plot_ratio",
    "PARKS_OVERLAP": "geometry", "FIGURES_UNCONFIRMED": "figures_conf", "ALLOC_UNKNOWN_PARK": "park_id",
    "ALLOC_EXCEEDS_NEW_SPACE": "area_m2", "ALLOC_NOT_COUNTED": "delivery_year",
    "ALLOC_SPEC_MISALIGNED": "specialisation", "QUOTA_NOT_MET": "quota_m2", "TARGET_GAP": "area_m2",
}  # fmt: skip


@dataclass(frozen=True)
class Finding(Problem):
    """One finding of a check: the planner's problem model, its ``place`` the id of the park,
    allocation, district or plan it is about.

    >>> f = Finding.of("warning", "p1", "PARK_NO_AREA", "缺少面积", "no area")
    >>> (f.id, f.severity, f.code, f.message)
    ('p1', 'warning', 'PARK_NO_AREA', '缺少面积 / no area')
    """

    @classmethod
    def of(cls, severity: str, id: str, code: str, message_zh: str, message_en: str) -> Finding:
        """A finding about ``id``."""
        return cls(id, "", message_zh, message_en, code, severity)

    @property
    def id(self) -> str:
        """The id of the park, allocation, district or plan the finding is about."""
        return self.place

    def to_dict(self) -> dict[str, str]:
        """JSON-ready: severity, id, code, message (zh / en), message_zh, message_en."""
        return {
            "severity": self.severity,
            "id": self.id,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "message_en": self.message_en,
        }


def _emit(
    severity: str,
    code: str,
    ids: pd.Series,
    zh: pd.Series | str,
    en: pd.Series | str,
    other: pd.Series | None = None,
    district: pd.Series | None = None,
) -> pd.DataFrame:
    """One block of the findings table from aligned columns (vectorised; no object per finding); a
    message given as one string is every row's."""
    n = len(ids)
    if n == 0:  # most codes find nothing: skip building nine empty columns
        return _EMPTY.copy()

    def col(values: pd.Series | str | None) -> pd.Series:
        if values is None or isinstance(values, str):
            return pd.Series([values or ""] * n, dtype=str)
        return pd.Series(values, dtype=str).reset_index(drop=True)

    return pd.DataFrame(
        {
            "severity": pd.Series([severity] * n, dtype=str),
            "code": pd.Series([code] * n, dtype=str),
            "id": col(ids),
            "other_id": col(other),
            "district_code": col(None) if district is None else col(district.fillna("")),
            "field": pd.Series([FIELDS.get(code, "")] * n, dtype=str),
            "count": np.ones(n, dtype=np.int64),
            "message_zh": col(zh),
            "message_en": col(en),
        },
        columns=list(FINDING_COLUMNS),
    )


def finding_rows(
    severity: str, code: str, ids: pd.Series, zh: pd.Series | str, en: pd.Series | str
) -> pd.DataFrame:
    """Rows of the findings table (:data:`FINDING_COLUMNS`) from aligned columns of ids and
    messages, built column by column (the monitor's warnings are made so too)."""
    return _emit(severity, code, ids, zh, en)


def m2_text(values: pd.Series) -> pd.Series:
    """:func:`planner.core.geo.fmt_m2` over a column ('123.4万㎡ (1,234,000 m²)', '—' for missing)."""
    return _m2(values)


def _m2(values: pd.Series) -> pd.Series:
    """:func:`fmt_m2` over a column ('123.4万㎡ (1,234,000 m²)', '—' for missing), index kept."""
    out = [fmt_m2(v) if v != v else f"{v / M2_PER_WAN:,.1f}万㎡ ({v:,.0f} m²)" for v in values.tolist()]
    return pd.Series(out, index=values.index, dtype=str)


def _int(values: pd.Series) -> pd.Series:
    """Whole numbers with thousands separators ('1,234,000'), index kept."""
    return pd.Series([f"{v:,.0f}" for v in values.tolist()], index=values.index, dtype=str)


def empty_findings() -> pd.DataFrame:
    """A findings table with no rows."""
    return _EMPTY.copy()


_EMPTY = pd.DataFrame({c: pd.Series(dtype="int64" if c == "count" else str) for c in FINDING_COLUMNS})


def _names(plan: Plan) -> pd.Series:
    names = {d.code: d.name_zh for d in plan.districts}
    return pd.Series(names)


class _Rows:
    """The rows of one table that a check hits, by position: columns are taken for those rows only
    (a code that hits nothing costs one boolean mask over the table, no text is built)."""

    def __init__(self, frames: tuple[pd.DataFrame, ...], owner: pd.Series, ids: pd.Series) -> None:
        self.frames = frames
        self.owner = owner
        self.ids = ids
        self.out: list[pd.DataFrame] = []

    def add(
        self,
        severity: str,
        code: str,
        mask: np.ndarray | pd.Series,
        zh: object,
        en: object,
    ) -> None:
        """A block for the rows where ``mask`` holds; ``zh``/``en`` are strings or functions of a
        :class:`_Cols` taking columns at those rows."""
        idx = np.flatnonzero(np.asarray(mask, dtype=bool))
        if not len(idx):
            return
        cols = _Cols(self.frames, idx)
        self.out.append(
            _emit(
                severity,
                code,
                cols.at(self.ids),
                zh(cols) if callable(zh) else str(zh),
                en(cols) if callable(en) else str(en),
                district=cols.at(self.owner),
            )
        )


class _Cols:
    """Columns of the check's tables at the hit positions (index reset so the columns align)."""

    def __init__(self, frames: tuple[pd.DataFrame, ...], idx: np.ndarray) -> None:
        self.frames = frames
        self.idx = idx

    def at(self, col: pd.Series | np.ndarray) -> pd.Series:
        """``col`` (a column of the table, or an array as long) at the hit rows."""
        if isinstance(col, pd.Series):
            return col.iloc[self.idx].reset_index(drop=True)
        return pd.Series(np.asarray(col)[self.idx])

    def __getitem__(self, name: str) -> pd.Series:
        for f in self.frames:
            if name in f.columns:
                return self.at(f[name])
        raise KeyError(name)


def _location_findings(plan: Plan, parks: gpd.GeoDataFrame, where: pd.DataFrame) -> list[pd.DataFrame]:
    names = _names(plan)
    fa_names = {a.key: (a.name_zh, a.name_en, a.note_zh, a.note_en) for a in plan.functional_areas}
    rows = _Rows((parks, where), where["effective_district_code"], parks["id"])

    def name(c: pd.Series) -> pd.Series:
        return c.map(names).fillna("—").astype(str)

    located = where["located"].to_numpy(dtype=bool)
    rows.add(
        "warning",
        "PARK_NO_LOCATION",
        ~located,
        "园区尚无位置 (无坐标/边界)",
        "park has no location yet (no coordinates or footprint)",
    )
    in_fa = (parks["functional_area"] != "").to_numpy(dtype=bool)
    rows.add(
        "info",
        "PARK_IN_FUNCTIONAL_AREA",
        in_fa,
        lambda c: c["functional_area"].map(
            lambda k: f"属于{fa_names.get(k, (k,) * 4)[0]}: {fa_names.get(k, (k,) * 4)[2]}"
        ),
        lambda c: c["functional_area"].map(
            lambda k: f"in {fa_names.get(k, (k,) * 4)[1]}: {fa_names.get(k, (k,) * 4)[3]}"
        ),
    )

    geo = where["geo_district_code"]
    outside = located & (geo == "").to_numpy(dtype=bool) & ~in_fa
    dist = where["distance_m"].fillna(np.inf)
    # Just outside a boundary is an estimate's error only for a park declared in a district.
    near = (
        outside & (dist <= NEAR_M).to_numpy(dtype=bool) & (parks["district_code"] != "").to_numpy(dtype=bool)
    )
    far = outside & ~near

    def nearest(c: _Cols) -> pd.Series:
        return c["nearest_district_code"].map(names).fillna("").astype(str)

    def metres(c: _Cols) -> pd.Series:
        return c.at(dist).round().astype(int).astype(str)

    def km(c: _Cols) -> pd.Series:
        return (c.at(dist) / 1000).round(1).astype(str)

    rows.add(
        "info",
        "PARK_NEAR_BOUNDARY",
        near,
        lambda c: "位于各区边界外 " + metres(c) + " 米 (最近: " + nearest(c) + "), 坐标可能为估计值",
        lambda c: (
            "outside the district polygons by "
            + metres(c)
            + " m (nearest: "
            + nearest(c)
            + "); the coordinate may be an estimate"
        ),
    )
    rows.add(
        "warning",
        "PARK_OUTSIDE_CITY",
        far,
        lambda c: f"位于{plan.city_zh}各区以外, 距最近的" + nearest(c) + " " + km(c) + " 公里",
        lambda c: (
            f"outside {plan.city_en}'s districts, " + km(c) + " km from the nearest (" + nearest(c) + ")"
        ),
    )

    def pct(c: _Cols) -> pd.Series:
        return (c["geo_share"] * 100).round().astype(int).astype(str)

    rows.add(
        "warning",
        "PARK_STRADDLES_DISTRICTS",
        (where["n_districts"] > 1).to_numpy(dtype=bool),
        lambda c: (
            "跨越 "
            + c["n_districts"].astype(str)
            + " 个区; 主要位于"
            + name(c["geo_district_code"])
            + " ("
            + pct(c)
            + "%)"
        ),
        lambda c: (
            "straddles "
            + c["n_districts"].astype(str)
            + " districts; mostly in "
            + name(c["geo_district_code"])
            + " ("
            + pct(c)
            + "%)"
        ),
    )

    declared = parks["district_code"]
    mismatch = ((declared != "") & (geo != "") & (declared != geo)).to_numpy(dtype=bool)
    rows.add(
        "warning",
        "PARK_DISTRICT_MISMATCH",
        mismatch,
        lambda c: (
            "申报所在区为"
            + name(c["district_code"])
            + ", 但位置在"
            + name(c["geo_district_code"])
            + " (以位置为准)"
        ),
        lambda c: (
            "declared in "
            + name(c["district_code"])
            + " but lies in "
            + name(c["geo_district_code"])
            + " (location decides)"
        ),
    )
    ambiguous = (parks["district"].str.contains("/", regex=False) & (declared == "")).to_numpy(dtype=bool)
    rows.add(
        "info",
        "PARK_DISTRICT_AMBIGUOUS",
        ambiguous,
        lambda c: (
            "来源标注多个区 ("
            + c["district"].astype(str)
            + "), 按位置归入"
            + c["geo_district_code"].map(names).fillna("—")
        ),
        lambda c: (
            "the source names several districts ("
            + c["district"].astype(str)
            + "); location puts it in "
            + c["geo_district_code"].map(names).fillna("—")
        ),
    )
    return rows.out


def _area_findings(plan: Plan, parks: gpd.GeoDataFrame, owner: pd.Series) -> list[pd.DataFrame]:
    rows = _Rows((parks,), owner, parks["id"])
    land = parks["land_area_m2"].to_numpy(dtype=float, na_value=np.nan)
    gfa = parks["gfa_m2"].to_numpy(dtype=float, na_value=np.nan)
    new = parks["new_gfa_m2"].to_numpy(dtype=float, na_value=np.nan)
    declared_ratio = parks["plot_ratio"].to_numpy(dtype=float, na_value=np.nan)
    rows.add(
        "warning",
        "PARK_NO_AREA",
        np.isnan(land) & np.isnan(gfa),
        "缺少占地面积和建筑面积, 无法核算",
        "no land or floor area: capacity cannot be checked",
    )

    codes, classes = pd.factorize(parks["land_use_class"])
    per_class = np.array([plan.max_plot_ratio(c or None) for c in classes] + [np.nan], dtype=float)
    limit = per_class[codes]  # code -1 (missing) takes the last: NaN
    unconfirmed = "" if plan.plot_ratio_confirmed else " (容积率上限未核实)"
    unconfirmed_en = "" if plan.plot_ratio_confirmed else " (plot-ratio limit unconfirmed)"
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = gfa / land

    def lim(c: _Cols) -> pd.Series:
        return c.at(limit).astype(str)

    def implied(c: _Cols) -> pd.Series:
        return c.at(ratio).round(2).astype(str)

    rows.add(
        "warning",
        "PLOT_RATIO_EXCEEDED",
        ratio > limit,
        lambda c: (
            "建筑面积 "
            + _m2(c["gfa_m2"])
            + " 超过占地 x 容积率上限 "
            + lim(c)
            + " = "
            + _m2(c["land_area_m2"] * c.at(limit))
            + "; 实际容积率 "
            + implied(c)
            + unconfirmed
        ),
        lambda c: (
            "floor area "
            + _m2(c["gfa_m2"])
            + " exceeds land area x allowed plot ratio "
            + lim(c)
            + "; implied plot ratio "
            + implied(c)
            + unconfirmed_en
        ),
    )
    rows.add(
        "warning",
        "PLOT_RATIO_ABOVE_LIMIT",
        declared_ratio > limit,
        lambda c: "申报容积率 " + c["plot_ratio"].astype(str) + " 高于上限 " + lim(c) + unconfirmed,
        lambda c: (
            "declared plot ratio "
            + c["plot_ratio"].astype(str)
            + " above the limit "
            + lim(c)
            + unconfirmed_en
        ),
    )
    has_figures = ~(np.isnan(land) & np.isnan(gfa) & np.isnan(new))
    rows.add(
        "info",
        "FIGURES_UNCONFIRMED",
        has_figures & ~parks["figures_verified"].to_numpy(dtype=bool),
        lambda c: "数据未经核实: " + c["figures_conf"].astype(str),
        lambda c: "figures not verified: " + c["figures_conf"].astype(str),
    )
    return rows.out


def polygons_only(metric: np.ndarray) -> np.ndarray:
    """The geometries that are polygons (None in place of points, missing and empty ones)."""
    kinds = np.isin(shapely.get_type_id(metric), (3, 6)) & ~shapely.is_empty(metric)
    out = np.full(len(metric), None, dtype=object)
    out[kinds] = metric[kinds]
    return out


def measure_pairs(left: np.ndarray, right: np.ndarray, i: np.ndarray, j: np.ndarray) -> pd.DataFrame:
    """Overlap area (m², metric CRS) and share of the smaller polygon for candidate pairs (vectorised),
    keeping those of at least ``OVERLAP_SHARE``: columns i, j (as given), overlap_m2, share."""
    inter = shapely.area(shapely.intersection(left, right)) if len(i) else np.zeros(0)
    smaller = np.minimum(shapely.area(left), shapely.area(right)) if len(i) else np.zeros(0)
    share = inter / np.where(smaller > 0, smaller, 1)
    hit = share >= OVERLAP_SHARE
    return pd.DataFrame({"i": i[hit], "j": j[hit], "overlap_m2": inter[hit], "share": share[hit]})


def overlap_pairs(poly: np.ndarray, tree: shapely.STRtree | None = None) -> pd.DataFrame:
    """Every pair of polygons (positions i < j in ``poly``, from :func:`polygons_only`) that overlap:
    one bulk tree query with the ``intersects`` predicate, then intersection areas of the candidate
    pairs only."""
    tree = tree if tree is not None else shapely.STRtree(poly)
    i, j = tree.query(poly)  # boxes only: the predicate is tested below on the pairs i < j alone, not
    keep = i < j  # on each polygon's pair with itself (which is most of the candidates)
    i, j = i[keep], j[keep]
    hit = shapely.intersects(poly[i], poly[j])
    i, j = i[hit], j[hit]
    return measure_pairs(poly[i], poly[j], i, j)


def overlap_findings(ids: np.ndarray, pairs: pd.DataFrame) -> pd.DataFrame:
    """PARKS_OVERLAP rows from :func:`overlap_pairs` (``ids`` the parks' ids by position)."""
    p = pairs.reset_index(drop=True)
    left = pd.Series(ids[p["i"].to_numpy()], dtype=object)
    right = pd.Series(ids[p["j"].to_numpy()], dtype=object)
    shared = p["overlap_m2"]
    pct = (p["share"] * 100).round(1).astype(str)
    return _emit(
        "warning",
        "PARKS_OVERLAP",
        left,
        "与园区 " + right + " 重叠 " + _m2(shared) + " (" + pct + "%), 可能重复计算",
        "overlaps park " + right + " by " + _int(shared) + " m² (" + pct + "%): possible double counting",
        other=right,
    )


def _allocation_findings(plan: Plan, register: Register, a: pd.DataFrame) -> list[pd.DataFrame]:
    rows = _Rows((a,), a["area_key"], a["allocation_id"])
    known = a["park_known"].to_numpy(dtype=bool)  # allocation_table joined each allocation to its park
    rows.add(
        "error",
        "ALLOC_UNKNOWN_PARK",
        ~known,
        lambda c: "分配所属园区不存在: " + c["park_id"].astype(str),
        lambda c: "allocation names no park in the register: " + c["park_id"].astype(str),
    )
    exceeds = _exceeds(a, known)

    counted = a["counted"].to_numpy(dtype=bool)
    no_year = a["delivery_year"].isna().to_numpy(dtype=bool)
    reason_zh = np.where(no_year, "无交付年份", "交付年份不在规划期内")
    reason_en = np.where(no_year, "no delivery year", "delivery year outside the plan period")
    rows.add(
        "info",
        "ALLOC_NOT_COUNTED",
        ~counted,
        lambda c: c.at(reason_zh) + f", 不计入 {plan.deadline_year} 年目标: " + _m2(c["area_m2"]),
        lambda c: (
            c.at(reason_en)
            + f": not counted toward the {plan.deadline_year} target: "
            + _int(c["area_m2"])
            + " m²"
        ),
    )

    names = _names(plan)
    labels_zh = {s.key: s.label_zh for s in plan.specialisations}
    labels_en = {s.key: s.label_en for s in plan.specialisations}
    designated = pd.Series(
        {
            d.code: "、".join(plan.label("specialisations", s) for s in d.specialisations)
            for d in plan.districts
        }
    )

    def area(c: _Cols) -> pd.Series:
        return c["area_key"].map(names).fillna("—").astype(str)

    rows.add(
        "warning",
        "ALLOC_SPEC_MISALIGNED",
        (a["aligned"] == False).to_numpy(dtype=bool),  # noqa: E712
        lambda c: (
            "方向“"
            + c["specialisation"].map(labels_zh).fillna("未指定").astype(str)
            + "”不在"
            + area(c)
            + "的指定方向 ("
            + c["area_key"].map(designated).fillna("—").astype(str)
            + ") 内 (规划允许各区发挥优势)"
        ),
        lambda c: (
            "specialisation '"
            + c["specialisation"].map(labels_en).fillna("unspecified").astype(str)
            + "' is not one designated for "
            + area(c)
            + " (the plan lets districts follow their strengths)"
        ),
    )
    return [*rows.out, exceeds]


def _exceeds(a: pd.DataFrame, known: np.ndarray) -> pd.DataFrame:
    """ALLOC_EXCEEDS_NEW_SPACE: the parks whose allocations add up to more than their (new) floor
    area, summed by the park's position (``park_pos`` of :func:`allocation_table`)."""
    pos = a["park_pos"].to_numpy()[known].astype(np.int64)
    if not len(pos):
        return empty_findings()
    row = np.flatnonzero(known)
    area = np.nan_to_num(a["area_m2"].to_numpy(dtype=float, na_value=np.nan)[known])
    total = np.bincount(pos, weights=area)
    first = np.full(len(total), -1)
    first[pos[::-1]] = row[::-1]  # each park's first allocation row
    parks = np.flatnonzero(first >= 0)
    cap = a["park_cap_m2"].to_numpy(dtype=float, na_value=np.nan)[first[parks]]
    over = total[parks] > cap
    take = first[parks[over]]
    order = np.argsort(a["park_id"].to_numpy(dtype=object)[take], kind="stable")
    take = take[order]
    over_m2 = pd.Series(total[parks[over]][order])
    cap_m2 = pd.Series(cap[over][order])
    return _emit(
        "error",
        "ALLOC_EXCEEDS_NEW_SPACE",
        a["park_id"].iloc[take],
        "分配合计 " + _m2(over_m2) + " 超过园区(新增)建筑面积 " + _m2(cap_m2),
        "allocations total "
        + _int(over_m2)
        + " m², more than the park's (new) floor area "
        + _int(cap_m2)
        + " m²",
        district=a["area_key"].iloc[take],
    )


def park_findings(plan: Plan, parks: gpd.GeoDataFrame, where: pd.DataFrame) -> pd.DataFrame:
    """The findings about each park on its own (location and figures; not overlaps): row-wise, so
    a re-check recomputes them for the touched parks only. ``district_code`` filled in (whose park
    it is: ``where['effective_district_code']``)."""
    blocks = _location_findings(plan, parks, where) + _area_findings(
        plan, parks, where["effective_district_code"]
    )
    out = pd.concat([b for b in blocks if len(b)] or [empty_findings()], ignore_index=True)
    out["district_code"] = out["district_code"].astype(object)
    return out


def allocation_findings(plan: Plan, register: Register, a: pd.DataFrame) -> pd.DataFrame:
    """The findings about allocations (``a`` is :func:`allocation_table`), ``district_code`` filled in
    (the allocation's park's area key)."""
    blocks = _allocation_findings(plan, register, a)
    out = pd.concat([b for b in blocks if len(b)] or [empty_findings()], ignore_index=True)
    out["district_code"] = out["district_code"].astype(object)
    return out


def summarise(plan: Plan, findings: pd.DataFrame, n_parks: int) -> pd.DataFrame:
    """A park code that applies to every park of the register (at least ``SUMMARY_MIN``, e.g. the
    unconfirmed figures of an imported register) becomes one summary row about the plan, with the
    count and the first park's message as an example, not one row per park."""
    if n_parks < SUMMARY_MIN or findings.empty:
        return findings
    rows = findings["code"].value_counts()  # a code with fewer rows than parks cannot hit every park
    if not any(k >= n_parks and c in PARK_CODES for c, k in rows.items()):
        return findings
    counts = findings.groupby("code")["id"].nunique()
    whole = [c for c, k in counts.items() if k == n_parks and c in PARK_CODES]
    if not whole:
        return findings
    hit = findings["code"].isin(whole)
    first = findings[hit].drop_duplicates("code")
    summary = first.assign(
        id=plan.id,
        other_id="",
        district_code="",
        count=n_parks,
        message_zh=f"登记册全部 {n_parks:,} 个园区均如此, 例如 " + first["id"] + ": " + first["message_zh"],
        message_en=f"all {n_parks:,} parks of the register, e.g. " + first["id"] + ": " + first["message_en"],
    )
    return pd.concat([findings[~hit], summary], ignore_index=True)


PARK_CODES = frozenset(FIELDS) - {
    "ALLOC_UNKNOWN_PARK", "ALLOC_EXCEEDS_NEW_SPACE", "ALLOC_NOT_COUNTED", "ALLOC_SPEC_MISALIGNED",
    "QUOTA_NOT_MET", "TARGET_GAP",
}  # fmt: skip
_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def sort_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Errors first, then warnings, then information; by code, id and other id within each (a stable
    sort: rows alike in all four keep their order). One Arrow multi-key sort of the text columns as
    they are (strings compare by code point, as Python's do), not Python string comparisons."""
    sev, seen = pd.factorize(findings["severity"])
    unknown = len(SEVERITIES)  # a severity outside the three (or missing) sorts last
    rank = np.array([_ORDER.get(s, unknown) for s in seen] + [unknown], dtype=np.int64)[sev]
    keys = {c: pa.array(findings[c].astype(str), from_pandas=True) for c in ("code", "id", "other_id")}
    table = pa.table({"rank": rank, **keys})
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in table.column_names])
    return findings.take(order.to_numpy()).reset_index(drop=True)


def check_findings(
    plan: Plan,
    register: Register,
    *,
    where: pd.DataFrame | None = None,
    report: CapacityReport | None = None,
    pairs: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """All checks over the register as one table (:data:`FINDING_COLUMNS`), sorted by severity.

    ``where`` (:func:`assign_districts`), ``report`` (:func:`capacity_report`) and ``pairs``
    (:func:`overlap_pairs` over the parks' metric polygons) are reused when the caller has them.
    """
    parks = register.parks
    where = where if where is not None else assign_districts(parks, plan)
    if pairs is None:
        metric = project(parks.geometry.values, parks.crs, plan.metric_crs)
        pairs = overlap_pairs(polygons_only(metric))
    a = allocation_table(plan, register, where)
    blocks = [
        park_findings(plan, parks, where),
        overlap_findings(parks["id"].to_numpy(dtype=object), pairs),
        allocation_findings(plan, register, a),
    ]
    if plan.new_space is not None:
        blocks.append(capacity_findings(plan, report or capacity_report(plan, register, where=where)))
    table = pd.concat([b for b in blocks if len(b)] or [empty_findings()], ignore_index=True)
    return sort_findings(summarise(plan, table, len(parks)))


def run_checks(plan: Plan, register: Register) -> list[Finding]:
    """All checks over the register as :class:`Finding` objects (errors first): for a small
    register and the callers that want objects; :func:`check_findings` is the table."""
    return to_findings(check_findings(plan, register))


def to_findings(table: pd.DataFrame) -> list[Finding]:
    """The rows of a findings table as :class:`Finding` objects."""
    cols = ["severity", "id", "code", "message_zh", "message_en"]
    return [Finding.of(s, i, c, z, e) for s, i, c, z, e in table[cols].itertuples(index=False, name=None)]


def capacity_findings(plan: Plan, report: CapacityReport) -> pd.DataFrame:
    """QUOTA_NOT_MET per district short of its quota; TARGET_GAP when the counted space is short."""
    q = report.by_district[report.by_district["quota_met"] == False]  # noqa: E712
    quota = _emit(
        "warning",
        "QUOTA_NOT_MET",
        q["key"],
        q["name_zh"] + " 计入 " + _m2(q["counted_m2"]) + ", 低于指标 " + _m2(q["quota_m2"]),
        q["name_en"]
        + ": counted "
        + _int(q["counted_m2"])
        + " m², below its quota of "
        + _int(q["quota_m2"])
        + " m²",
    )
    quota["district_code"] = q["key"].to_numpy(dtype=object)
    if not report.counted_m2 < report.target_m2:
        return quota
    gap = _emit(
        "warning",
        "TARGET_GAP",
        pd.Series([plan.id]),
        pd.Series(
            [
                f"截至 {plan.deadline.isoformat()} 计入 {fmt_m2(report.counted_m2)}, "
                f"距目标 {fmt_m2(report.target_m2)} 尚差 {fmt_m2(report.gap_m2)}"
            ]
        ),
        pd.Series(
            [
                f"counted {report.counted_m2:,.0f} m² by {plan.deadline.isoformat()}; "
                f"{report.gap_m2:,.0f} m² short of the {report.target_m2:,.0f} m² target"
            ]
        ),
    )
    return pd.concat([b for b in (quota, gap) if len(b)], ignore_index=True)


def findings_frame(findings: list[Finding] | pd.DataFrame) -> pd.DataFrame:
    """Findings as a table: severity, id, code, message_zh, message_en (a findings table from
    :func:`check_findings` is returned as it is, with its further columns)."""
    if isinstance(findings, pd.DataFrame):
        return findings
    cols = ["severity", "id", "code", "message_zh", "message_en"]
    return pd.DataFrame([{c: getattr(f, c) for c in cols} for f in findings], columns=cols)
