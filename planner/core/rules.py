"""What makes a park, an allocation or a quota valid: every rule written once.

A rule is a vectorised test over a conformed frame (True where the rule is broken), with a stable
code, the field it is about and a message in Chinese and English (``{v}`` shows the value). Register
edits (:mod:`planner.core.register`), the app's edits (:mod:`planner.core.editing`) and imports
(:mod:`planner.io.checks`) apply the same rules; each names rows in its own way (``place``).

>>> import pandas as pd
>>> from planner.core.plan import load_plan
>>> quotas = pd.DataFrame({"district_code": ["440305", "440305", "9"], "quota_m2": [-1.0, 5e5, 1.0]})
>>> [(p.code, p.place) for p in apply(QUOTA_RULES, quotas, load_plan(), place=lambda i: f"row {i + 1}")]
[('unknown_value', 'row 3'), ('negative', 'row 1'), ('duplicate_id', 'row 2')]
>>> year_out_of_range(pd.Series([1900, 2024, None], dtype="Int64")).tolist()
[True, False, False]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.schema import BASES, PARKS, STATUSES, area_columns
from planner.core.successor import register_years
from planner.errors import Problem

RowIndex = int | np.integer  # np.flatnonzero yields numpy integers
YEAR_MIN, YEAR_MAX = 1979, 2100  # a delivery year outside this range is a typo
GEOMETRY_TYPE_IDS = (0, 3, 6)  # a park is a Point, a Polygon or a MultiPolygon
POLYGON_TYPE_IDS = (3, 6)

Mask = Callable[[pd.DataFrame, Any], Any]


@dataclass(frozen=True)
class Rule:
    """One rule: ``broken(frame, plan)`` is True where a row breaks it; a rule with ``choices`` (the
    values allowed by the plan) is broken where the field holds another value. ``{v}`` in a message
    shows the value, ``{allowed}`` the choices, ``{period}`` the plan's years."""

    code: str
    field: str
    zh: str
    en: str
    broken: Mask | None = None
    choices: Callable[[Any], Iterable[str]] | None = None


# ---- vectorised tests, shared by the rules below and by the import ---------------------------


def blank(values: pd.Series) -> pd.Series:
    """True where a text is empty (or only spaces)."""
    return values.astype(str).str.strip() == ""


def duplicated(values: pd.Series) -> pd.Series:
    """True for the second and later rows holding the same non-empty value."""
    return values.duplicated(keep="first") & (values != "")


def year_out_of_range(years: pd.Series) -> pd.Series:
    """True where a year is given and outside ``YEAR_MIN``-``YEAR_MAX``."""
    y = pd.to_numeric(years, errors="coerce")
    return (y.notna() & ((y < YEAR_MIN) | (y > YEAR_MAX))).fillna(False).astype(bool)


def not_finite(values: pd.Series) -> pd.Series:
    """True where a number is given but infinite."""
    v = pd.to_numeric(values, errors="coerce").astype(float)
    return pd.Series(np.isinf(v.to_numpy()), index=values.index)


def has_geometry(geoms: Any) -> np.ndarray:
    """True where a geometry is present and not empty."""
    g = np.asarray(geoms, dtype=object)
    return ~(shapely.is_missing(g) | shapely.is_empty(g))


def allowed_type(geoms: Any) -> np.ndarray:
    """True where a geometry is a point or a (multi)polygon."""
    return np.isin(shapely.get_type_id(np.asarray(geoms, dtype=object)), GEOMETRY_TYPE_IDS)


def inside_city(geoms: gpd.GeoSeries, plan: Plan) -> np.ndarray:
    """True where a WGS84 geometry lies inside the plan's city: the one place that asks the plan
    (:meth:`planner.core.plan.Plan.in_extent`, its district polygons widened)."""
    return plan.in_extent(geoms)


def land_use_classes(plan: Plan | None) -> list[str]:
    """The land-use classes a park may carry: the plan's (``[[land_use_classes]]``), or '' (not known)."""
    return ["", *(plan.land_use_keys() if plan is not None else ())]


# ---- the rules ------------------------------------------------------------------------------


def _keys(kind: str, *extra: str) -> Callable[[Plan], list[str]]:
    return lambda plan: [*extra, *(x.key for x in getattr(plan, kind))]


def _unknown_fields(f: pd.DataFrame, plan: Plan) -> pd.Series:
    keys = {x.key for x in plan.fields}
    return f["fields"].map(lambda s: any(k and k not in keys for k in str(s).split(";")))


def _negative(column: str) -> Rule:
    return Rule("negative_area", column, "面积不能为负数: {v}", "area must not be negative: {v}",
                lambda f, _: f[column] < 0)  # fmt: skip


def _finite(column: str) -> Rule:
    return Rule("implausible_number", column, "数值须为有限数: {v}", "must be a finite number: {v}",
                lambda f, _: not_finite(f[column]))  # fmt: skip


def _statuses(_: Any) -> tuple[str, ...]:
    return STATUSES


# Field rules: the import applies these too (after reading a file); the register all of PARK_RULES.
PARK_FIELD_RULES: tuple[Rule, ...] = (
    Rule("missing_name", "name_zh", "缺少名称", "name is missing", lambda f, _: blank(f["name_zh"])),
    *(_negative(c) for c in area_columns(PARKS)),
    *(_finite(c) for c in PARKS.of_kind("real")),
    Rule("bad_number", "plot_ratio", "容积率须大于 0: {v}", "plot ratio must be greater than 0: {v}",
         lambda f, _: (f["plot_ratio"] <= 0).fillna(False)),
    Rule("bad_year", "delivery_year", f"交付年份须在 {YEAR_MIN}-{YEAR_MAX} 之间: {{v}}",
         f"delivery year must be within {YEAR_MIN}-{YEAR_MAX}: {{v}}",
         lambda f, _: year_out_of_range(f["delivery_year"])),
    Rule("unknown_value", "land_use_class", "用地类别须为 {allowed}: {v}", "land-use class must be {allowed}: {v}",
         choices=land_use_classes),
    Rule("unknown_value", "district_code", "未知区代码: {v}", "unknown district code: {v}; use one of {allowed}",
         choices=lambda plan: ["", *plan.district_codes()]),
    Rule("duplicate_id", "id", "编号重复: {v}", "duplicate id {v}", lambda f, _: duplicated(f["id"])),
)  # fmt: skip

PARK_RULES: tuple[Rule, ...] = (
    Rule("missing_id", "id", "缺少编号", "id is missing", lambda f, _: blank(f["id"])),
    *PARK_FIELD_RULES,
    Rule("unknown_value", "status", "未知状态: {v}", "unknown status {v}; use one of {allowed}", choices=_statuses),
    Rule("unknown_value", "namepark_level", "未知名园级别: {v}", "unknown name-park level {v}; use one of {allowed}",
         choices=_keys("namepark_levels", "unknown")),
    Rule("unknown_value", "park_type", "未知园区类型: {v}", "unknown park type {v}; use one of {allowed}",
         choices=_keys("park_types", "")),
    Rule("unknown_value", "fields", "未知重点领域: {v}", "unknown field in {v}; use keys of {allowed}",
         _unknown_fields, choices=_keys("fields")),
)  # fmt: skip

ALLOCATION_RULES: tuple[Rule, ...] = (
    Rule("missing_id", "allocation_id", "缺少分配编号", "allocation id is missing",
         lambda a, _: blank(a["allocation_id"])),
    Rule("duplicate_id", "allocation_id", "分配编号重复: {v}", "duplicate allocation id: {v}",
         lambda a, _: duplicated(a["allocation_id"])),
    Rule("missing_number", "area_m2", "面积缺失或不是数字", "area is missing or not a number",
         lambda a, _: a["area_m2"].isna()),
    Rule("not_positive", "area_m2", "面积必须为正数: {v}", "area must be positive: {v}",
         lambda a, _: a["area_m2"] <= 0),
    _finite("area_m2"),
    Rule("bad_year", "delivery_year", "交付年份须在规划期 {period} 内: {v}",
         "delivery year must be within the plan, {period}: {v}",
         lambda a, plan: (a["delivery_year"].notna() & ~a["delivery_year"].isin(register_years(plan))).fillna(False)),
    Rule("unknown_value", "specialisation", "未知专业方向: {v}", "unknown specialisation {v}; use one of {allowed}",
         choices=_keys("specialisations", "")),
    Rule("unknown_value", "status", "未知状态: {v}", "unknown status {v}; use one of {allowed}", choices=_statuses),
    Rule("unknown_value", "basis", "未知依据: {v}", "unknown basis {v}; use one of {allowed}",
         choices=lambda _: BASES),
)  # fmt: skip

QUOTA_RULES: tuple[Rule, ...] = (
    Rule("unknown_value", "district_code", "未知区代码: {v}", "unknown district code: {v}; use one of {allowed}",
         choices=lambda plan: plan.district_codes()),
    Rule("negative", "quota_m2", "指标须为非负数: {v}", "quota must be a non-negative number: {v}",
         lambda q, _: q["quota_m2"].isna() | (q["quota_m2"] < 0)),
    _finite("quota_m2"),
    Rule("duplicate_id", "district_code", "同一区重复设置指标", "more than one quota for this district",
         lambda q, _: duplicated(q["district_code"])),
)  # fmt: skip


def _broken(rule: Rule, frame: pd.DataFrame, plan: Plan | None) -> tuple[np.ndarray, str]:
    """Where ``rule`` is broken, and the allowed values for its message."""
    allowed = list(rule.choices(plan)) if rule.choices is not None else []
    mask = rule.broken(frame, plan) if rule.broken is not None else ~frame[rule.field].isin(allowed)
    return np.asarray(mask, dtype=bool), ", ".join(a for a in allowed if a)


def _years_text(years: list[int]) -> str:
    """'2022-2025' for a run of years, else the list."""
    return f"{years[0]}-{years[-1]}" if years == list(range(years[0], years[-1] + 1)) else str(years)


def apply(
    rules: Iterable[Rule],
    frame: pd.DataFrame,
    plan: Plan | None,
    *,
    place: Callable[[RowIndex], str],
    field_name: Callable[[str], str] = str,
) -> list[Problem]:
    """Every row of ``frame`` (conformed) that breaks one of ``rules``, as problems: ``place(i)``
    names row ``i``, ``field_name`` the field (an import names the file's own column)."""
    out: list[Problem] = []
    period = _years_text(register_years(plan)) if plan is not None else ""
    for rule in rules:
        if rule.field not in frame:
            continue
        mask, allowed = _broken(rule, frame, plan)
        for i in np.flatnonzero(mask):
            v = frame[rule.field].iloc[i]
            zh = rule.zh.format(v=v, allowed=allowed or "空 (本规划未设取值)", period=period)
            en = rule.en.format(v=v, allowed=allowed or "empty (the plan sets none)", period=period)
            out.append(Problem(place(int(i)), field_name(rule.field), zh, en, rule.code))
    return out


def geometry_problems(
    parks: gpd.GeoDataFrame, plan: Plan, *, place: Callable[[RowIndex], str]
) -> list[Problem]:
    """Parks' geometries: a point or (multi)polygon, valid, inside the city. A park whose district
    text says it lies outside the city (a partner park elsewhere) may lie outside."""
    geoms = parks.geometry.values
    present = has_geometry(geoms)
    allowed = allowed_type(geoms)
    types = parks.geom_type
    out = [
        Problem(place(i), "geometry", f"几何类型须为点或面: {types.iloc[i]}",
                f"geometry must be a point or polygon, got {types.iloc[i]}", "wrong_geometry_type")
        for i in np.flatnonzero(present & ~allowed)
    ]  # fmt: skip
    for i in np.flatnonzero(present & allowed & ~shapely.is_valid(geoms)):
        reason = shapely.is_valid_reason(geoms[i])
        out.append(Problem(place(i), "geometry", f"几何无效: {reason}", f"invalid geometry: {reason}",
                           "invalid_geometry"))  # fmt: skip
    partner = parks["district"].str.contains("outside", case=False).to_numpy()
    outside = present & ~inside_city(parks.geometry, plan) & ~partner
    bounds = parks.geometry.bounds.round(4).values.tolist()
    out += [
        Problem(place(i), "geometry", f"坐标在{plan.city_zh}范围以外: {bounds[i]}",
                f"coordinates outside {plan.city_en}: {bounds[i]}", "outside_extent")
        for i in np.flatnonzero(outside)
    ]  # fmt: skip
    return out


def crs_problems(parks: gpd.GeoDataFrame, where: str) -> list[Problem]:
    """A parks frame is stored in WGS84 (EPSG:4326): any other CRS is a problem of the whole frame."""
    if parks.crs is None or parks.crs.equals(WGS84):
        return []
    return [Problem(where, "geometry", f"坐标系须为 WGS84, 实为 {parks.crs}", f"CRS must be WGS84, got {parks.crs}",
                    "wrong_crs")]  # fmt: skip
