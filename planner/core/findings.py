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
import shapely

from planner.core.assign import NEAR_M, assign_districts
from planner.core.capacity import CapacityReport, allocation_table, capacity_report
from planner.core.geo import M2_PER_WAN, fmt_m2
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
    zh: pd.Series,
    en: pd.Series,
    other: pd.Series | None = None,
) -> pd.DataFrame:
    """One block of the findings table from aligned columns (vectorised; no object per finding)."""
    n = len(ids)
    if n == 0:  # most codes find nothing: skip building nine empty columns
        return _EMPTY.copy()

    def col(values: pd.Series | None) -> pd.Series:
        if values is None:
            return pd.Series([""] * n, dtype=str)
        return pd.Series(values, dtype=str).reset_index(drop=True)

    return pd.DataFrame(
        {
            "severity": pd.Series([severity] * n, dtype=str),
            "code": pd.Series([code] * n, dtype=str),
            "id": col(ids),
            "other_id": col(other),
            "district_code": col(None),
            "field": pd.Series([FIELDS.get(code, "")] * n, dtype=str),
            "count": np.ones(n, dtype=np.int64),
            "message_zh": col(zh),
            "message_en": col(en),
        },
        columns=list(FINDING_COLUMNS),
    )


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


def _location_findings(plan: Plan, parks: gpd.GeoDataFrame, where: pd.DataFrame) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    names = _names(plan)
    fa_names = {a.key: (a.name_zh, a.name_en, a.note_zh, a.note_en) for a in plan.functional_areas}
    ids = parks["id"]
    located = where["located"]
    out.append(
        _emit(
            "warning",
            "PARK_NO_LOCATION",
            ids[~located],
            "园区尚无位置 (无坐标/边界)" + pd.Series("", index=ids[~located].index),
            pd.Series("park has no location yet (no coordinates or footprint)", index=ids[~located].index),
        )
    )

    in_fa = parks["functional_area"] != ""
    fa = parks[in_fa]
    out.append(
        _emit(
            "info",
            "PARK_IN_FUNCTIONAL_AREA",
            fa["id"],
            fa["functional_area"].map(
                lambda k: f"属于{fa_names.get(k, (k,) * 4)[0]}: {fa_names.get(k, (k,) * 4)[2]}"
            ),
            fa["functional_area"].map(
                lambda k: f"in {fa_names.get(k, (k,) * 4)[1]}: {fa_names.get(k, (k,) * 4)[3]}"
            ),
        )
    )

    outside = located & (where["geo_district_code"] == "") & ~in_fa
    dist = where["distance_m"].fillna(np.inf)
    nearest = where["nearest_district_code"].map(names).fillna("")
    # Just outside a boundary is an estimate's error only for a park declared in a district.
    near = outside & (dist <= NEAR_M) & (parks["district_code"] != "")
    far = outside & ~near
    out.append(
        _emit(
            "info",
            "PARK_NEAR_BOUNDARY",
            ids[near],
            "位于各区边界外 "
            + dist[near].round().astype(int).astype(str)
            + " 米 (最近: "
            + nearest[near]
            + "), 坐标可能为估计值",
            "outside the district polygons by "
            + dist[near].round().astype(int).astype(str)
            + " m (nearest: "
            + nearest[near]
            + "); the coordinate may be an estimate",
        )
    )
    out.append(
        _emit(
            "warning",
            "PARK_OUTSIDE_CITY",
            ids[far],
            f"位于{plan.city_zh}各区以外, 距最近的"
            + nearest[far]
            + " "
            + (dist[far] / 1000).round(1).astype(str)
            + " 公里",
            f"outside {plan.city_en}'s districts, "
            + (dist[far] / 1000).round(1).astype(str)
            + " km from the nearest ("
            + nearest[far]
            + ")",
        )
    )

    straddle = where["n_districts"] > 1
    out.append(
        _emit(
            "warning",
            "PARK_STRADDLES_DISTRICTS",
            ids[straddle],
            "跨越 "
            + where["n_districts"][straddle].astype(str)
            + " 个区; 主要位于"
            + where["geo_district_code"][straddle].map(names).fillna("—").astype(str)
            + " ("
            + (where["geo_share"][straddle] * 100).round().astype(int).astype(str)
            + "%)",
            "straddles "
            + where["n_districts"][straddle].astype(str)
            + " districts; mostly in "
            + where["geo_district_code"][straddle].map(names).fillna("—").astype(str)
            + " ("
            + (where["geo_share"][straddle] * 100).round().astype(int).astype(str)
            + "%)",
        )
    )

    declared = parks["district_code"]
    mismatch = (
        (declared != "") & (where["geo_district_code"] != "") & (declared != where["geo_district_code"])
    )
    out.append(
        _emit(
            "warning",
            "PARK_DISTRICT_MISMATCH",
            ids[mismatch],
            "申报所在区为"
            + declared[mismatch].map(names).fillna("—").astype(str)
            + ", 但位置在"
            + where["geo_district_code"][mismatch].map(names).fillna("—").astype(str)
            + " (以位置为准)",
            "declared in "
            + declared[mismatch].map(names).fillna("—").astype(str)
            + " but lies in "
            + where["geo_district_code"][mismatch].map(names).fillna("—").astype(str)
            + " (location decides)",
        )
    )
    ambiguous = parks["district"].str.contains("/", regex=False) & (declared == "")
    out.append(
        _emit(
            "info",
            "PARK_DISTRICT_AMBIGUOUS",
            ids[ambiguous],
            "来源标注多个区 ("
            + parks["district"][ambiguous]
            + "), 按位置归入"
            + where["geo_district_code"][ambiguous].map(names).fillna("—"),
            "the source names several districts ("
            + parks["district"][ambiguous]
            + "); location puts it in "
            + where["geo_district_code"][ambiguous].map(names).fillna("—"),
        )
    )
    return out


def _area_findings(plan: Plan, parks: gpd.GeoDataFrame) -> list[pd.DataFrame]:
    out: list[pd.DataFrame] = []
    ids = parks["id"]
    no_area = parks["land_area_m2"].isna() & parks["gfa_m2"].isna()
    out.append(
        _emit(
            "warning",
            "PARK_NO_AREA",
            ids[no_area],
            pd.Series("缺少占地面积和建筑面积, 无法核算", index=ids[no_area].index),
            pd.Series("no land or floor area: capacity cannot be checked", index=ids[no_area].index),
        )
    )

    limits = {c: plan.max_plot_ratio(c or None) for c in parks["land_use_class"].unique()}
    limit = parks["land_use_class"].map(limits).astype(float)
    unconfirmed = "" if plan.plot_ratio_confirmed else " (容积率上限未核实)"
    unconfirmed_en = "" if plan.plot_ratio_confirmed else " (plot-ratio limit unconfirmed)"
    ratio = parks["gfa_m2"] / parks["land_area_m2"]
    over = (ratio > limit).fillna(False)
    out.append(
        _emit(
            "warning",
            "PLOT_RATIO_EXCEEDED",
            ids[over],
            "建筑面积 "
            + _m2(parks["gfa_m2"][over])
            + " 超过占地 x 容积率上限 "
            + limit[over].astype(str)
            + " = "
            + _m2(parks["land_area_m2"][over] * limit[over])
            + "; 实际容积率 "
            + ratio[over].round(2).astype(str)
            + unconfirmed,
            "floor area "
            + _m2(parks["gfa_m2"][over])
            + " exceeds land area x allowed plot ratio "
            + limit[over].astype(str)
            + "; implied plot ratio "
            + ratio[over].round(2).astype(str)
            + unconfirmed_en,
        )
    )
    declared_over = (parks["plot_ratio"] > limit).fillna(False)
    out.append(
        _emit(
            "warning",
            "PLOT_RATIO_ABOVE_LIMIT",
            ids[declared_over],
            "申报容积率 "
            + parks["plot_ratio"][declared_over].astype(str)
            + " 高于上限 "
            + limit[declared_over].astype(str)
            + unconfirmed,
            "declared plot ratio "
            + parks["plot_ratio"][declared_over].astype(str)
            + " above the limit "
            + limit[declared_over].astype(str)
            + unconfirmed_en,
        )
    )
    has_figures = parks[["land_area_m2", "gfa_m2", "new_gfa_m2"]].notna().any(axis=1)
    unverified = has_figures & ~parks["figures_verified"]
    out.append(
        _emit(
            "info",
            "FIGURES_UNCONFIRMED",
            ids[unverified],
            "数据未经核实: " + parks["figures_conf"][unverified],
            "figures not verified: " + parks["figures_conf"][unverified],
        )
    )
    return out


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
    i, j = tree.query(poly, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
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
    out: list[pd.DataFrame] = []
    ids = a["allocation_id"]
    unknown = ~a["park_known"]  # allocation_table joined each allocation to its park
    out.append(
        _emit(
            "error",
            "ALLOC_UNKNOWN_PARK",
            ids[unknown],
            "分配所属园区不存在: " + a["park_id"][unknown],
            "allocation names no park in the register: " + a["park_id"][unknown],
        )
    )

    sums = a[a["park_known"]].groupby("park_id").agg(total=("area_m2", "sum"), cap=("park_cap_m2", "first"))
    hit = sums[(sums["total"] > sums["cap"]).fillna(False)]
    over, cap = hit["total"], hit["cap"]
    out.append(
        _emit(
            "error",
            "ALLOC_EXCEEDS_NEW_SPACE",
            pd.Series(over.index, index=over.index),
            "分配合计 " + _m2(over) + " 超过园区(新增)建筑面积 " + _m2(cap),
            "allocations total "
            + _int(over)
            + " m², more than the park's (new) floor area "
            + _int(cap)
            + " m²",
        )
    )

    not_counted = ~a["counted"]
    reason_zh = np.where(a["delivery_year"].isna(), "无交付年份", "交付年份不在规划期内")
    reason_en = np.where(
        a["delivery_year"].isna(), "no delivery year", "delivery year outside the plan period"
    )
    out.append(
        _emit(
            "info",
            "ALLOC_NOT_COUNTED",
            ids[not_counted],
            pd.Series(reason_zh, index=a.index)[not_counted]
            + f", 不计入 {plan.deadline_year} 年目标: "
            + _m2(a["area_m2"][not_counted]),
            pd.Series(reason_en, index=a.index)[not_counted]
            + f": not counted toward the {plan.deadline_year} target: "
            + _int(a["area_m2"][not_counted])
            + " m²",
        )
    )

    names = _names(plan)
    spec_zh = a["specialisation"].map({s.key: s.label_zh for s in plan.specialisations}).fillna("未指定")
    spec_en = a["specialisation"].map({s.key: s.label_en for s in plan.specialisations}).fillna("unspecified")
    designated = pd.Series(
        {
            d.code: "、".join(plan.label("specialisations", s) for s in d.specialisations)
            for d in plan.districts
        }
    )
    misaligned = a["aligned"] == False  # noqa: E712
    out.append(
        _emit(
            "warning",
            "ALLOC_SPEC_MISALIGNED",
            ids[misaligned],
            "方向“"
            + spec_zh[misaligned]
            + "”不在"
            + a["area_key"][misaligned].map(names).fillna("—").astype(str)
            + "的指定方向 ("
            + a["area_key"][misaligned].map(designated).fillna("—").astype(str)
            + ") 内 (规划允许各区发挥优势)",
            "specialisation '"
            + spec_en[misaligned]
            + "' is not one designated for "
            + a["area_key"][misaligned].map(names).fillna("—").astype(str)
            + " (the plan lets districts follow their strengths)",
        )
    )
    return out


def park_findings(plan: Plan, parks: gpd.GeoDataFrame, where: pd.DataFrame) -> pd.DataFrame:
    """The findings about each park on its own (location and figures; not overlaps): row-wise, so
    a re-check recomputes them for the touched parks only. ``district_code`` filled in."""
    blocks = _location_findings(plan, parks, where) + _area_findings(plan, parks)
    out = pd.concat([b for b in blocks if len(b)] or [empty_findings()], ignore_index=True)
    owner = pd.Series(where["effective_district_code"].to_numpy(), index=parks["id"].to_numpy())
    owner = owner[~owner.index.duplicated()]
    out["district_code"] = out["id"].map(owner).fillna("").astype(object)
    return out


def allocation_findings(plan: Plan, register: Register, a: pd.DataFrame) -> pd.DataFrame:
    """The findings about allocations (``a`` is :func:`allocation_table`), ``district_code`` filled in."""
    blocks = _allocation_findings(plan, register, a)
    out = pd.concat([b for b in blocks if len(b)] or [empty_findings()], ignore_index=True)
    by_alloc = pd.Series(a["area_key"].to_numpy(), index=a["allocation_id"].to_numpy())
    by_park = pd.Series(a["area_key"].to_numpy(), index=a["park_id"].to_numpy())
    by_alloc = by_alloc[~by_alloc.index.duplicated()]
    by_park = by_park[~by_park.index.duplicated()]
    per_park = out["code"] == "ALLOC_EXCEEDS_NEW_SPACE"
    out["district_code"] = np.where(per_park, out["id"].map(by_park), out["id"].map(by_alloc))
    out["district_code"] = out["district_code"].fillna("").astype(object)
    return out


def summarise(plan: Plan, findings: pd.DataFrame, n_parks: int) -> pd.DataFrame:
    """A park code that applies to every park of the register (at least ``SUMMARY_MIN``, e.g. the
    unconfirmed figures of an imported register) becomes one summary row about the plan, with the
    count and the first park's message as an example, not one row per park."""
    if n_parks < SUMMARY_MIN or findings.empty:
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
    """Errors first, then warnings, then information; by code and id within each."""
    rank = findings["severity"].map(_ORDER)
    keys = (findings["other_id"].astype(str).to_numpy(), findings["id"].astype(str).to_numpy())
    order = np.lexsort((*keys, findings["code"].to_numpy(), rank.to_numpy()))
    return findings.iloc[order].reset_index(drop=True)


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
        metric = np.asarray(parks.geometry.to_crs(plan.metric_crs).values, dtype=object)
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
