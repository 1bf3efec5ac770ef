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

from dataclasses import asdict, dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.assign import NEAR_M, assign_districts
from planner.core.capacity import allocation_table, capacity_report
from planner.core.geo import fmt_m2
from planner.core.plan import Plan
from planner.core.register import Register

SEVERITIES = ("error", "warning", "info")
OVERLAP_SHARE = 0.01  # overlaps under 1% of the smaller polygon are drawing noise


@dataclass(frozen=True)
class Finding:
    """One finding of a check."""

    severity: str
    id: str
    code: str
    message_zh: str
    message_en: str

    @property
    def message(self) -> str:
        """Chinese first, then English."""
        return f"{self.message_zh} / {self.message_en}"

    def to_dict(self) -> dict[str, str]:
        """JSON-ready: severity, id, code, message (zh / en), message_zh, message_en."""
        return {"severity": self.severity, "id": self.id, "code": self.code, "message": self.message} | {
            k: v for k, v in asdict(self).items() if k.startswith("message_")
        }


def _emit(severity: str, code: str, ids: pd.Series, zh: pd.Series, en: pd.Series) -> list[Finding]:
    return [Finding(severity, i, code, z, e) for i, z, e in zip(ids, zh, en, strict=True)]


def _names(plan: Plan) -> pd.Series:
    names = {d.code: d.name_zh for d in plan.districts}
    return pd.Series(names)


def _location_findings(plan: Plan, parks: gpd.GeoDataFrame, where: pd.DataFrame) -> list[Finding]:
    out: list[Finding] = []
    names = _names(plan)
    fa_names = {a.key: (a.name_zh, a.name_en, a.note_zh, a.note_en) for a in plan.functional_areas}
    ids = parks["id"]
    located = where["located"]
    out += _emit(
        "warning",
        "PARK_NO_LOCATION",
        ids[~located],
        "园区尚无位置 (无坐标/边界)" + pd.Series("", index=ids[~located].index),
        pd.Series("park has no location yet (no coordinates or footprint)", index=ids[~located].index),
    )

    in_fa = parks["functional_area"] != ""
    fa = parks[in_fa]
    out += _emit(
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

    outside = located & (where["geo_district_code"] == "") & ~in_fa
    dist = where["distance_m"].fillna(np.inf)
    nearest = where["nearest_district_code"].map(names).fillna("")
    # Just outside a boundary is an estimate's error only for a park declared in a district.
    near = outside & (dist <= NEAR_M) & (parks["district_code"] != "")
    far = outside & ~near
    out += _emit(
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
    out += _emit(
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

    straddle = where["n_districts"] > 1
    out += _emit(
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

    declared = parks["district_code"]
    mismatch = (
        (declared != "") & (where["geo_district_code"] != "") & (declared != where["geo_district_code"])
    )
    out += _emit(
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
    ambiguous = parks["district"].str.contains("/", regex=False) & (declared == "")
    out += _emit(
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
    return out


def _area_findings(plan: Plan, parks: gpd.GeoDataFrame) -> list[Finding]:
    out: list[Finding] = []
    ids = parks["id"]
    no_area = parks["land_area_m2"].isna() & parks["gfa_m2"].isna()
    out += _emit(
        "warning",
        "PARK_NO_AREA",
        ids[no_area],
        pd.Series("缺少占地面积和建筑面积, 无法核算", index=ids[no_area].index),
        pd.Series("no land or floor area: capacity cannot be checked", index=ids[no_area].index),
    )

    limits = {c: plan.max_plot_ratio(c or None) for c in parks["land_use_class"].unique()}
    limit = parks["land_use_class"].map(limits).astype(float)
    unconfirmed = "" if plan.plot_ratio_confirmed else " (容积率上限未核实)"
    unconfirmed_en = "" if plan.plot_ratio_confirmed else " (plot-ratio limit unconfirmed)"
    ratio = parks["gfa_m2"] / parks["land_area_m2"]
    over = (ratio > limit).fillna(False)
    out += _emit(
        "warning",
        "PLOT_RATIO_EXCEEDED",
        ids[over],
        "建筑面积 "
        + parks["gfa_m2"][over].map(fmt_m2).astype(str)
        + " 超过占地 x 容积率上限 "
        + limit[over].astype(str)
        + " = "
        + (parks["land_area_m2"][over] * limit[over]).map(fmt_m2).astype(str)
        + "; 实际容积率 "
        + ratio[over].round(2).astype(str)
        + unconfirmed,
        "floor area "
        + parks["gfa_m2"][over].map(fmt_m2).astype(str)
        + " exceeds land area x allowed plot ratio "
        + limit[over].astype(str)
        + "; implied plot ratio "
        + ratio[over].round(2).astype(str)
        + unconfirmed_en,
    )
    declared_over = (parks["plot_ratio"] > limit).fillna(False)
    out += _emit(
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
    has_figures = parks[["land_area_m2", "gfa_m2", "new_gfa_m2"]].notna().any(axis=1)
    unverified = has_figures & ~parks["figures_verified"]
    out += _emit(
        "info",
        "FIGURES_UNCONFIRMED",
        ids[unverified],
        "数据未经核实: " + parks["figures_conf"][unverified],
        "figures not verified: " + parks["figures_conf"][unverified],
    )
    return out


def _overlap_findings(plan: Plan, parks: gpd.GeoDataFrame) -> list[Finding]:
    kinds = parks.geom_type.isin(["Polygon", "MultiPolygon"])
    polys = parks.loc[kinds, ["id", "geometry"]].to_crs(plan.metric_crs)
    if len(polys) < 2:
        return []
    pairs = gpd.sjoin(polys, polys, how="inner", predicate="intersects")
    pairs = pairs[pairs.index < pairs["index_right"]]
    if pairs.empty:
        return []
    left = polys.geometry.loc[pairs.index].values
    right = polys.geometry.loc[pairs["index_right"].to_numpy()].values
    inter = shapely.area(shapely.intersection(left, right))
    smaller = np.minimum(shapely.area(left), shapely.area(right))
    share = inter / np.where(smaller > 0, smaller, 1)
    hit = share >= OVERLAP_SHARE
    p = pairs[hit]
    shared = pd.Series(inter[hit], index=p.index)
    pct = pd.Series((share[hit] * 100).round(1), index=p.index).astype(str)
    return _emit(
        "warning",
        "PARKS_OVERLAP",
        p["id_left"],
        "与园区 "
        + p["id_right"]
        + " 重叠 "
        + shared.map(fmt_m2).astype(str)
        + " ("
        + pct
        + "%), 可能重复计算",
        "overlaps park "
        + p["id_right"]
        + " by "
        + shared.map("{:,.0f}".format).astype(str)
        + " m² ("
        + pct
        + "%): possible double counting",
    )


def _allocation_findings(plan: Plan, register: Register, a: pd.DataFrame) -> list[Finding]:
    out: list[Finding] = []
    ids = a["allocation_id"]
    unknown = ~a["park_id"].isin(register.parks["id"])
    out += _emit(
        "error",
        "ALLOC_UNKNOWN_PARK",
        ids[unknown],
        "分配所属园区不存在: " + a["park_id"][unknown],
        "allocation names no park in the register: " + a["park_id"][unknown],
    )

    per_park = a.groupby("park_id")["area_m2"].sum()
    parks = register.parks.set_index("id")
    cap = parks["new_gfa_m2"].fillna(parks["gfa_m2"])
    over = per_park[(per_park > cap.reindex(per_park.index)).fillna(False)]
    out += _emit(
        "error",
        "ALLOC_EXCEEDS_NEW_SPACE",
        pd.Series(over.index, index=over.index),
        "分配合计 "
        + over.map(fmt_m2).astype(str)
        + " 超过园区(新增)建筑面积 "
        + cap.reindex(over.index).map(fmt_m2).astype(str),
        "allocations total "
        + over.map("{:,.0f}".format).astype(str)
        + " m², more than the park's (new) floor area "
        + cap.reindex(over.index).map("{:,.0f}".format).astype(str)
        + " m²",
    )

    not_counted = ~a["counted"]
    reason_zh = np.where(a["delivery_year"].isna(), "无交付年份", "交付年份不在规划期内")
    reason_en = np.where(
        a["delivery_year"].isna(), "no delivery year", "delivery year outside the plan period"
    )
    out += _emit(
        "info",
        "ALLOC_NOT_COUNTED",
        ids[not_counted],
        pd.Series(reason_zh, index=a.index)[not_counted]
        + f", 不计入 {plan.deadline_year} 年目标: "
        + a["area_m2"][not_counted].map(fmt_m2).astype(str),
        pd.Series(reason_en, index=a.index)[not_counted]
        + f": not counted toward the {plan.deadline_year} target: "
        + a["area_m2"][not_counted].map("{:,.0f}".format).astype(str)
        + " m²",
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
    out += _emit(
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
    return out


def run_checks(plan: Plan, register: Register) -> list[Finding]:
    """All checks over the register; errors first, then warnings, then information."""
    parks = register.parks
    where = assign_districts(parks, plan)
    a = allocation_table(plan, register, where)
    findings = (
        _location_findings(plan, parks, where) + _area_findings(plan, parks) + _overlap_findings(plan, parks)
    )
    findings += _allocation_findings(plan, register, a)
    if plan.new_space is not None:
        findings += _capacity_findings(plan, register, where)
    order = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (order[f.severity], f.code, f.id))


def _capacity_findings(plan: Plan, register: Register, where: pd.DataFrame) -> list[Finding]:
    report = capacity_report(plan, register, where=where)

    q = report.by_district[report.by_district["quota_met"] == False]  # noqa: E712
    findings = _emit(
        "warning",
        "QUOTA_NOT_MET",
        q["key"],
        q["name_zh"]
        + " 计入 "
        + q["counted_m2"].map(fmt_m2).astype(str)
        + ", 低于指标 "
        + q["quota_m2"].map(fmt_m2).astype(str),
        q["name_en"]
        + ": counted "
        + q["counted_m2"].map("{:,.0f}".format).astype(str)
        + " m², below its quota of "
        + q["quota_m2"].map("{:,.0f}".format).astype(str)
        + " m²",
    )
    if report.counted_m2 < report.target_m2:
        findings.append(
            Finding(
                "warning",
                plan.id,
                "TARGET_GAP",
                f"截至 {plan.deadline.isoformat()} 计入 {fmt_m2(report.counted_m2)}, 距目标 {fmt_m2(report.target_m2)} 尚差 {fmt_m2(report.gap_m2)}",
                f"counted {report.counted_m2:,.0f} m² by {plan.deadline.isoformat()}; {report.gap_m2:,.0f} m² short of the {report.target_m2:,.0f} m² target",
            )
        )
    return findings


def findings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Findings as a table: severity, id, code, message_zh, message_en."""
    return pd.DataFrame(
        [asdict(f) for f in findings], columns=["severity", "id", "code", "message_zh", "message_en"]
    )
