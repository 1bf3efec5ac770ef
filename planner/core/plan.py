"""A city's plan as data: load and validate a plan folder (``plan.toml`` + ``districts.geojson``).

A plan is a folder, so a second city is a second folder, not a code change::

    >>> from planner.core.plan import load_plan
    >>> plan = load_plan()
    >>> plan.new_space.value
    3000000.0
    >>> plan.district("440305").role
    'core'
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio.errors
import pyproj
import shapely

from planner.core.geo import M2_PER_KM2, WGS84, area_m2, extent_of, in_extent, to_metric
from planner.errors import PlanError, Problem
from planner.settings import DEFAULT_PLAN as DEFAULT_PLAN  # re-exported
from planner.settings import GEODATA_DIR as GEODATA
from planner.settings import plan_name, plans_dir

PLAN_FILE = "plan.toml"
DISTRICTS_FILE = "districts.geojson"
COMPARISONS = (">=", ">", "=", "<=", "<")
CONFIDENCES = ("high", "medium", "low")
DEFAULT_EXTENT_BUFFER_M = 1000.0  # how far beyond its district polygons a park still counts as inside
DEFAULT_MAP_ZOOM = 10


def plan_folders() -> dict[str, Path]:
    """Every plan folder known by name: the bundled ones under ``geodata/`` and the planners' own
    under ``settings.plans_dir()`` (successor plans); a bundled plan wins on a clash of names."""
    own = {p.parent.name: p.parent for p in plans_dir().glob(f"*/{PLAN_FILE}")}
    bundled = {p.parent.name: p.parent for p in GEODATA.glob(f"*/{PLAN_FILE}")}
    return {**own, **bundled}


def available_plans() -> list[str]:
    """Names of the plans offered: bundled under ``geodata/`` and made by planners (``plans_dir()``)."""
    return sorted(plan_folders())


def plan_path(plan: str | Path | None = None) -> Path:
    """Resolve a plan name (``"shenzhen"``) or folder path (None: ``$PLANNER_PLAN``, else shenzhen);
    lists the valid names on a typo."""
    if plan is None:
        plan = plan_name()
    candidate = Path(plan)
    if candidate.is_dir():
        return candidate.resolve()
    bundled = GEODATA / str(plan)
    if bundled.is_dir():
        return bundled
    own = plans_dir() / str(plan)
    if (own / PLAN_FILE).is_file():
        return own.resolve()
    raise PlanError(
        [
            Problem(
                str(plan),
                "",
                f"找不到规划文件夹; 可用: {', '.join(available_plans())}",
                f"no such plan folder; bundled plans: {', '.join(available_plans())}",
            )
        ],
        what="plan",
    )


@dataclass(frozen=True)
class Target:
    """A figure from the plan, with its source."""

    key: str
    label_zh: str
    label_en: str
    value: float
    unit: str
    comparison: str
    source: str
    section: str
    quote: str = ""
    year: int | None = None
    deadline: dt.date | None = None
    park_type: str = ""  # a count of the register's parks of this type (e.g. digital_town)


@dataclass(frozen=True)
class District:
    """A district of the plan with its role and designated specialisations."""

    code: str
    name_zh: str
    short_zh: str
    name_en: str
    role: str
    specialisations: tuple[str, ...]
    any_specialisation: bool
    official_land_km2: float | None
    source: str = ""
    section: str = ""


@dataclass(frozen=True)
class FunctionalArea:
    """An area parks may belong to that has no boundary of its own here (大鹏新区, 深汕)."""

    key: str
    name_zh: str
    short_zh: str
    name_en: str
    parent: str
    role: str
    official_land_km2: float | None
    note_zh: str
    note_en: str
    bbox: tuple[float, float, float, float] | None = None  # lon0, lat0, lon1, lat1: counts as inside


@dataclass(frozen=True)
class Labelled:
    """A key with Chinese and English labels (roles, fields, levels, types)."""

    key: str
    label_zh: str
    label_en: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Plan:
    """A loaded, validated plan."""

    folder: Path
    id: str
    city_zh: str
    city_en: str
    title_zh: str
    title_en: str
    period_start: int
    deadline: dt.date
    new_space: Target | None  # the new-industrial-space target, m²; None if the plan sets none
    targets: tuple[Target, ...]
    roles: tuple[Labelled, ...]
    specialisations: tuple[Labelled, ...]
    districts: tuple[District, ...]
    functional_areas: tuple[FunctionalArea, ...]
    fields: tuple[Labelled, ...]
    pilots: tuple[dict[str, Any], ...]
    namepark_levels: tuple[Labelled, ...]
    park_types: tuple[Labelled, ...]
    land_use_classes: tuple[Labelled, ...]  # [[land_use_classes]]: the classes a park may declare
    plot_ratio: pd.DataFrame  # index density zone, one column per land-use class
    plot_ratio_confirmed: bool
    plot_ratio_default_zone: int
    plot_ratio_confidence: str  # high / medium / low ("low": the tool's assumption, not a sourced table)
    baseline_share: float
    sources: dict[str, dict[str, str]]
    raw: dict[str, Any]
    district_polygons: gpd.GeoDataFrame
    metric_crs: str  # [plan] metric_crs: where areas and distances are measured (EPSG:4547 for Shenzhen)
    extent: shapely.Geometry  # WGS84: the districts widened by [extent] buffer_m, plus functional-area boxes
    extent_buffer_m: float
    map_centre: tuple[float, float]  # lat, lon ([map] centre; default: the districts' centre)
    map_zoom: int

    @property
    def name(self) -> str:
        """The plan's name: its folder's name (``shenzhen``), as ``PLANNER_PLAN`` and ``--plan`` take it."""
        return self.folder.name

    @property
    def city(self) -> str:
        """The city (or province) name, Chinese first: '深圳市 Shenzhen'."""
        return f"{self.city_zh} {self.city_en}"

    def in_extent(self, geoms: gpd.GeoSeries) -> np.ndarray:
        """True where a WGS84 geometry lies inside the plan's extent (its districts, with a tolerance)."""
        return in_extent(geoms, self.extent)

    def to_metric(self, gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame | gpd.GeoSeries:
        """Project to the plan's metric CRS for measurement."""
        return to_metric(gdf, self.metric_crs)

    def area_m2(self, geoms: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
        """Area of each geometry in m², measured in the plan's metric CRS."""
        return area_m2(geoms, self.metric_crs)

    def extent_text(self) -> tuple[str, str]:
        """How the extent is described in a message (zh, en)."""
        b = self.district_polygons.total_bounds.round(2) if len(self.district_polygons) else [0, 0, 0, 0]
        zh = f"{self.city_zh}各区边界外 {self.extent_buffer_m:,.0f} 米以内 (约经度 {b[0]}-{b[2]}, 纬度 {b[1]}-{b[3]})"
        en = (
            f"within {self.extent_buffer_m:,.0f} m of {self.city_en}'s district boundaries "
            f"(about lon {b[0]}-{b[2]}, lat {b[1]}-{b[3]})"
        )
        return zh, en

    @property
    def deadline_year(self) -> int:
        """The year of the deadline (2025)."""
        return self.deadline.year

    @property
    def years(self) -> list[int]:
        """The plan years from period start to the deadline, inclusive."""
        return list(range(self.period_start, self.deadline_year + 1))

    def district(self, code: str) -> District:
        """The district with this code; KeyError names the valid codes."""
        for d in self.districts:
            if d.code == code:
                return d
        raise KeyError(f"unknown district code {code!r}; valid: {[d.code for d in self.districts]}")

    def district_codes(self) -> list[str]:
        """Codes of all districts, in plan order."""
        return [d.code for d in self.districts]

    def label(self, kind: str, key: str, lang: str = "zh") -> str:
        """Label of a role/specialisation/field/namepark level/park type key."""
        items: tuple[Labelled, ...] = getattr(self, kind)
        for item in items:
            if item.key == key:
                return item.label_zh if lang == "zh" else item.label_en
        return key

    def districts_frame(self) -> gpd.GeoDataFrame:
        """District polygons with role, specialisations, official and computed areas (WGS84)."""
        return self.district_polygons

    def land_use_keys(self) -> tuple[str, ...]:
        """The land-use class keys the plan knows (``("M0", "M1")`` for Shenzhen)."""
        return tuple(c.key for c in self.land_use_classes)

    @property
    def plot_ratios(self) -> dict[tuple[str, int], float]:
        """The plot-ratio table as ``{(land_use_class, density_zone): allowed plot ratio}``.

        >>> from planner.core.plan import load_plan
        >>> load_plan("shenzhen").plot_ratios[("M0", 1)]
        4.0
        """
        table = self.plot_ratio
        return {
            (str(cls), int(zone)): float(table.at[zone, cls])
            for zone in table.index
            for cls in table.columns
            if pd.notna(table.at[zone, cls]) and math.isfinite(table.at[zone, cls])
        }

    def max_plot_ratio(self, land_use_class: str | None = None, zone: int | None = None) -> float:
        """The allowed plot ratio for a class and zone (the plan's default zone when the zone is unknown);
        an unknown or missing class gets the highest ratio of the zone; no table: no limit (inf)."""
        row = self.plot_ratio.loc[zone if zone in self.plot_ratio.index else self.plot_ratio_default_zone]
        if land_use_class in row.index and pd.notna(row[land_use_class]):
            return float(row[land_use_class])
        return float(row.max()) if row.notna().any() else float("inf")

    def resolve_district(self, name: str) -> tuple[str, str]:
        """Map a district name as people write it ('南山', '南山区', 'Nanshan', '440305', '大鹏')
        to ``(district_code, functional_area_key)``; unknown names give ``("", "")``."""
        text = str(name).strip()
        for d in self.districts:
            if text in (d.code, d.name_zh, d.short_zh) or text.lower() == d.name_en.lower():
                return d.code, ""
        for a in self.functional_areas:
            if text in (a.key, a.name_zh, a.short_zh) or text.lower() == a.name_en.lower():
                return a.parent, a.key
        return "", ""


def _get(table: dict, key: str, place: str, problems: list[Problem], kind: type | tuple = str) -> Any:
    if key not in table:
        problems.append(Problem(place, key, "缺少必填项", "required key missing"))
        return None
    value = table[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        problems.append(
            Problem(place, key, f"类型错误: {value!r}", f"wrong type: {value!r}, expected {kind}")
        )
        return None
    return value


def _target(t: dict, place: str, sources: dict, problems: list[Problem]) -> Target | None:
    before = len(problems)
    key = _get(t, "key", place, problems)
    value = _get(t, "value", place, problems, (int, float))
    if value is not None and value < 0:
        problems.append(
            Problem(place, "value", f"目标值不能为负: {value}", f"target must not be negative: {value}")
        )
    comparison = t.get("comparison", ">=")
    if comparison not in COMPARISONS:
        problems.append(
            Problem(place, "comparison", f"未知比较符 {comparison!r}", f"unknown comparison {comparison!r}")
        )
    source = _get(t, "source", place, problems)
    if source is not None and source not in sources:
        problems.append(
            Problem(
                place,
                "source",
                f"未知来源 {source!r}",
                f"unknown source {source!r}; known: {sorted(sources)}",
            )
        )
    section = _get(t, "section", place, problems)
    deadline = None
    if "deadline" in t:
        try:
            deadline = dt.date.fromisoformat(str(t["deadline"]))
        except ValueError:
            problems.append(Problem(place, "deadline", "日期格式错误", f"not an ISO date: {t['deadline']!r}"))
    if len(problems) > before:
        return None
    return Target(
        key=key,
        label_zh=t.get("label_zh", key),
        label_en=t.get("label_en", key),
        value=float(value),
        unit=t.get("unit", ""),
        comparison=comparison,
        source=source,
        section=section,
        quote=t.get("quote", ""),
        year=t.get("year"),
        deadline=deadline,
        park_type=str(t.get("park_type", "")),
    )


def _labelled(items: list[dict], kind: str, file: str, problems: list[Problem]) -> tuple[Labelled, ...]:
    out = []
    seen: set[str] = set()
    for i, item in enumerate(items, 1):
        place = f"{file} [[{kind}]] #{i}"
        key = _get(item, "key", place, problems)
        if key is None:
            continue
        if key in seen:
            problems.append(Problem(place, "key", f"重复的键 {key!r}", f"duplicate key {key!r}"))
        seen.add(key)
        extra = {k: v for k, v in item.items() if k not in ("key", "label_zh", "label_en")}
        out.append(Labelled(key, item.get("label_zh", key), item.get("label_en", key), extra))
    return tuple(out)


def _plot_ratio_table(
    plot: dict[str, Any], classes: set[str], file: str, problems: list[Problem]
) -> tuple[pd.DataFrame, str]:
    """``[plot_ratio]``: one row a density zone, one column a land-use class of the plan; and its confidence.

    No table: no limit (an empty row of ``inf`` for the default zone).
    """
    place = f"{file} [plot_ratio]"
    confidence = plot.get("confidence", "low")
    if confidence not in CONFIDENCES:
        problems.append(
            Problem(
                place, "confidence", f"未知可信度 {confidence!r}", f"confidence must be one of {CONFIDENCES}"
            )
        )
    rows = plot.get("limits", [])
    if not rows:
        inf = {c: [float("inf")] for c in sorted(classes)} or {"": [float("inf")]}
        return pd.DataFrame(inf, index=pd.Index([int(plot.get("default_zone", 1))], name="zone")), confidence
    seen: set[Any] = set()
    for i, row in enumerate(rows, 1):
        where = f"{file} [[plot_ratio.limits]] #{i}"
        zone = _get(row, "zone", where, problems, int)
        if zone is not None and zone in seen:
            problems.append(
                Problem(where, "zone", f"重复的密度分区 {zone}", f"duplicate density zone {zone}")
            )
        seen.add(zone)
        for cls, val in row.items():
            if cls == "zone":
                continue
            if cls not in classes:
                problems.append(
                    Problem(
                        where,
                        cls,
                        f"未知用地类别 {cls!r}, 请先在 [[land_use_classes]] 中列出",
                        f"unknown land-use class {cls!r}; list it in [[land_use_classes]] first",
                    )
                )
            elif isinstance(val, bool) or not isinstance(val, int | float) or not val > 0:
                problems.append(
                    Problem(
                        where,
                        cls,
                        f"容积率必须为正数: {val!r}",
                        f"plot ratio must be a positive number: {val!r}",
                    )
                )
    limits = pd.DataFrame([r for r in rows if isinstance(r.get("zone"), int)])
    if limits.empty:
        return pd.DataFrame({"": [float("inf")]}, index=pd.Index([1], name="zone")), confidence
    limits = limits.drop_duplicates("zone").set_index("zone")
    limits = limits[[c for c in limits.columns if c in classes]]
    return limits.apply(pd.to_numeric, errors="coerce").astype(float), confidence


def _metric_crs(head: dict[str, Any], file: str, problems: list[Problem]) -> str:
    """``[plan] metric_crs``: a projected CRS in metres, where areas and distances are measured."""
    place = f"{file} [plan]"
    fix_zh = (
        "请写入本地的投影坐标系, 如 EPSG:4547 (CGCS2000 3度带 中央经线114°E); 其他经线: EPSG:4534+(经线-75)/3"
    )
    fix_en = "name the local projected CRS, e.g. EPSG:4547 (CGCS2000 3-degree GK, CM 114E); CM c: EPSG:4534+(c-75)/3"
    value = head.get("metric_crs")
    if not isinstance(value, str) or not value.strip():
        problems.append(
            Problem(place, "metric_crs", f"缺少量算坐标系; {fix_zh}", f"metric CRS missing; {fix_en}")
        )
        return ""
    try:
        crs = pyproj.CRS.from_user_input(value)
    except pyproj.exceptions.CRSError:
        problems.append(
            Problem(
                place,
                "metric_crs",
                f"无法识别的坐标系 {value!r}; {fix_zh}",
                f"unknown CRS {value!r}; {fix_en}",
            )
        )
        return ""
    if not crs.is_projected or crs.axis_info[0].unit_name not in ("metre", "meter"):
        problems.append(
            Problem(
                place,
                "metric_crs",
                f"{value} 不是以米为单位的投影坐标系 (不能用经纬度量算面积); {fix_zh}",
                f"{value} is not a projected CRS in metres (areas are never measured in degrees); {fix_en}",
            )
        )
        return ""
    return value


def _box(value: Any, place: str, problems: list[Problem]) -> tuple[float, float, float, float] | None:
    """A ``bbox = [lon0, lat0, lon1, lat1]`` of a functional area with no polygon of its own."""
    if value is None:
        return None
    ok = isinstance(value, list) and len(value) == 4 and all(isinstance(v, int | float) for v in value)
    if ok and -180 <= value[0] < value[2] <= 180 and -90 <= value[1] < value[3] <= 90:
        return (float(value[0]), float(value[1]), float(value[2]), float(value[3]))
    problems.append(
        Problem(
            place,
            "bbox",
            f"范围须为 [最小经度, 最小纬度, 最大经度, 最大纬度]: {value!r}",
            f"bbox must be [lon0, lat0, lon1, lat1] with lon0 < lon1, lat0 < lat1: {value!r}",
        )
    )
    return None


def _map_view(
    raw: dict[str, Any], polygons: gpd.GeoDataFrame, file: str, problems: list[Problem]
) -> tuple[tuple[float, float], int]:
    """``[map]`` centre = [lat, lon] and zoom; by default the districts' centre and zoom 10."""
    view = raw.get("map", {})
    centre = view.get("centre")
    zoom = view.get("zoom", DEFAULT_MAP_ZOOM)
    if not isinstance(zoom, int) or isinstance(zoom, bool) or not 1 <= zoom <= 18:
        problems.append(
            Problem(
                f"{file} [map]",
                "zoom",
                f"缩放级别须为 1-18 的整数: {zoom!r}",
                f"zoom must be an integer 1-18: {zoom!r}",
            )
        )
        zoom = DEFAULT_MAP_ZOOM
    if centre is None:
        if len(polygons) == 0:
            return (0.0, 0.0), zoom
        x0, y0, x1, y1 = polygons.total_bounds
        return (round((y0 + y1) / 2, 4), round((x0 + x1) / 2, 4)), zoom
    if (
        isinstance(centre, list)
        and len(centre) == 2
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in centre)
        and -90 <= centre[0] <= 90
        and -180 <= centre[1] <= 180
    ):
        return (float(centre[0]), float(centre[1])), zoom
    problems.append(
        Problem(
            f"{file} [map]",
            "centre",
            f"中心须为 [纬度, 经度]: {centre!r}",
            f"centre must be [lat, lon]: {centre!r}",
        )
    )
    return (0.0, 0.0), zoom


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as exc:
        raise PlanError(
            [Problem(str(path), "", "规划文件不存在", "plan file not found")], what="plan"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise PlanError(
            [Problem(str(path), "", f"TOML 语法错误: {exc}", f"TOML syntax error: {exc}")], what="plan"
        ) from exc


def _load_polygons(
    folder: Path,
    districts: tuple[District, ...],
    declared_codes: set[str],
    metric_crs: str,
    problems: list[Problem],
) -> gpd.GeoDataFrame:
    path = folder / DISTRICTS_FILE
    columns = [
        "code",
        "name_zh",
        "name_en",
        "role",
        "specialisations",
        "official_land_km2",
        "computed_land_km2",
    ]
    if not path.exists():
        problems.append(Problem(str(path), "", "缺少区界文件", "district polygons file missing"))
        return gpd.GeoDataFrame(columns=[*columns, "geometry"], geometry="geometry", crs=WGS84)
    try:
        polys = gpd.read_file(path)
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        problems.append(Problem(str(path), "", f"无法读取: {exc}", f"cannot read: {exc}"))
        return gpd.GeoDataFrame(columns=[*columns, "geometry"], geometry="geometry", crs=WGS84)
    if polys.crs is None or not polys.crs.equals(WGS84):
        problems.append(
            Problem(str(path), "crs", "区界必须为 WGS84", f"district polygons must be WGS84, got {polys.crs}")
        )
    polys["code"] = polys["code"].astype(str)
    known = {str(c) for c in declared_codes}  # every code the file names, even one with other problems
    for code in sorted(set(polys["code"]) - known):
        problems.append(
            Problem(
                str(path),
                "code",
                f"区界文件中有规划未列出的区 {code}",
                f"polygon for unknown district {code}",
            )
        )
    for code in sorted(known - set(polys["code"])):
        problems.append(Problem(str(path), "code", f"区 {code} 没有边界", f"no polygon for district {code}"))
    meta = pd.DataFrame(
        {
            "code": [d.code for d in districts],
            "name_zh": [d.name_zh for d in districts],
            "name_en": [d.name_en for d in districts],
            "role": [d.role for d in districts],
            "specialisations": [";".join(d.specialisations) for d in districts],
            "official_land_km2": [d.official_land_km2 for d in districts],
        }
    )
    merged = polys[["code", "geometry"]].merge(meta, on="code", how="inner")
    merged["computed_land_km2"] = (area_m2(merged, metric_crs) / M2_PER_KM2).round(2)
    return gpd.GeoDataFrame(merged[[*columns, "geometry"]], geometry="geometry", crs=WGS84)


def _deadline(head: dict[str, Any], file: str, problems: list[Problem]) -> dt.date:
    """The plan's deadline ([plan] deadline, an ISO date)."""
    deadline = dt.date(2025, 12, 31)
    try:
        deadline = dt.date.fromisoformat(str(head.get("deadline", "")))
    except ValueError:
        problems.append(
            Problem(
                f"{file} [plan]", "deadline", "日期格式错误", f"not an ISO date: {head.get('deadline')!r}"
            )
        )
    return deadline


def _targets(
    raw: dict[str, Any], file: str, sources: dict[str, Any], problems: list[Problem]
) -> tuple[Target | None, list[Target]]:
    """The new-space target (optional) and the other targets, each key once."""
    new_space = None
    if "new_space_target" in raw:  # optional: a plan may set other targets only
        new_space = _target(raw["new_space_target"], f"{file} [new_space_target]", sources, problems)
    targets = []
    target_keys = {new_space.key} if new_space else set()
    for i, t in enumerate(raw.get("targets", []), 1):
        tgt = _target(t, f"{file} [[targets]] #{i}", sources, problems)
        if tgt and tgt.key in target_keys:
            problems.append(
                Problem(
                    f"{file} [[targets]] #{i}",
                    "key",
                    f"重复的指标键 {tgt.key!r}",
                    f"duplicate target key {tgt.key!r}",
                )
            )
        elif tgt:
            target_keys.add(tgt.key)
            targets.append(tgt)
    return new_space, targets


def _districts(
    raw: dict[str, Any], file: str, role_keys: set[str], spec_keys: set[str], problems: list[Problem]
) -> tuple[list[District], set[str]]:
    """The plan's districts (known roles and specialisations, one code each) and their codes."""
    districts = []
    seen_codes: set[str] = set()
    for i, d in enumerate(raw.get("districts", []), 1):
        place = f"{file} [[districts]] #{i}" + (f" ({d.get('name_zh')})" if "name_zh" in d else "")
        before = len(problems)
        code = _get(d, "code", place, problems)
        name_zh = _get(d, "name_zh", place, problems)
        name_en = _get(d, "name_en", place, problems)
        role = _get(d, "role", place, problems)
        if role is not None and role not in role_keys:
            problems.append(
                Problem(
                    place, "role", f"未知角色 {role!r}", f"unknown role {role!r}; known: {sorted(role_keys)}"
                )
            )
        for s in d.get("specialisations", []):
            if s not in spec_keys:
                problems.append(
                    Problem(
                        place,
                        "specialisations",
                        f"未知专业方向 {s!r}",
                        f"unknown specialisation {s!r}; known: {sorted(spec_keys)}",
                    )
                )
        area = d.get("official_land_km2")
        if area is not None and (not isinstance(area, int | float) or area <= 0):
            problems.append(
                Problem(
                    place,
                    "official_land_km2",
                    f"面积必须为正数: {area!r}",
                    f"area must be positive: {area!r}",
                )
            )
        if code in seen_codes:
            problems.append(Problem(place, "code", f"重复的区代码 {code}", f"duplicate district code {code}"))
        seen_codes.add(str(code))
        if len(problems) > before:
            continue
        districts.append(
            District(
                code=str(code),
                name_zh=name_zh,
                short_zh=d.get("short_zh", name_zh),
                name_en=name_en,
                role=role,
                specialisations=tuple(d.get("specialisations", [])),
                any_specialisation=bool(d.get("any_specialisation", False)),
                official_land_km2=float(area) if area is not None else None,
                source=d.get("source", ""),
                section=d.get("section", ""),
            )
        )
    if not districts:
        problems.append(Problem(file, "districts", "规划中没有区", "the plan names no districts"))
    return districts, seen_codes


def _functional_areas(
    raw: dict[str, Any], file: str, seen_codes: set[str], problems: list[Problem]
) -> list[FunctionalArea]:
    """The functional areas (each key once, in a known district)."""
    areas = []
    area_keys: set[str] = set()
    for i, a in enumerate(raw.get("functional_areas", []), 1):
        place = f"{file} [[functional_areas]] #{i}"
        if a.get("key", "") in area_keys:
            problems.append(Problem(place, "key", f"重复的键 {a['key']!r}", f"duplicate key {a['key']!r}"))
        area_keys.add(a.get("key", ""))
        parent = str(a.get("parent", ""))
        if parent and parent not in seen_codes:
            problems.append(
                Problem(place, "parent", f"未知上级区 {parent!r}", f"unknown parent district {parent!r}")
            )
        areas.append(
            FunctionalArea(
                key=a.get("key", ""),
                name_zh=a.get("name_zh", ""),
                short_zh=a.get("short_zh", a.get("name_zh", "")),
                name_en=a.get("name_en", ""),
                parent=parent,
                role=a.get("role", "other"),
                official_land_km2=a.get("official_land_km2"),
                note_zh=a.get("note_zh", ""),
                note_en=a.get("note_en", ""),
                bbox=_box(a.get("bbox"), place, problems),
            )
        )
    return areas


def _baseline_share(raw: dict[str, Any], file: str, problems: list[Problem]) -> float:
    """[baseline] software_share: the share of new floor area the baseline counts (0-1)."""
    share = raw.get("baseline", {}).get("software_share", 0.0)
    if not isinstance(share, int | float) or not 0 <= share <= 1:
        problems.append(
            Problem(
                f"{file} [baseline]",
                "software_share",
                f"比例须在 0-1 之间: {share!r}",
                f"share must be within 0-1: {share!r}",
            )
        )
        share = 0.0
    return float(share)


def _check_target_types(
    targets: list[Target], park_types: tuple[Labelled, ...], file: str, problems: list[Problem]
) -> None:
    """Every target's park type is one the plan names."""
    type_keys = {t.key for t in park_types}
    for i, t in enumerate(targets, 1):
        if t.park_type and t.park_type not in type_keys:
            problems.append(
                Problem(
                    f"{file} [[targets]] #{i}",
                    "park_type",
                    f"未知园区类型 {t.park_type!r}",
                    f"unknown park type {t.park_type!r}; known: {sorted(type_keys)}",
                )
            )


def _extent_buffer(raw: dict[str, Any], file: str, problems: list[Problem]) -> float:
    """[extent] buffer_m: how far outside its districts a parcel still counts as in the city."""
    buffer_m = raw.get("extent", {}).get("buffer_m", DEFAULT_EXTENT_BUFFER_M)
    if isinstance(buffer_m, bool) or not isinstance(buffer_m, int | float) or not 0 <= buffer_m <= 50_000:
        problems.append(
            Problem(
                f"{file} [extent]",
                "buffer_m",
                f"容差须为 0-50000 米: {buffer_m!r}",
                f"buffer_m must be 0-50,000 metres: {buffer_m!r}",
            )
        )
        buffer_m = DEFAULT_EXTENT_BUFFER_M
    return float(buffer_m)


def _load_plan_uncached(folder: Path) -> Plan:
    file = str(folder / PLAN_FILE)
    raw = _read_toml(folder / PLAN_FILE)
    problems: list[Problem] = []
    head = raw.get("plan", {})
    for key in ("id", "city_zh", "city_en", "title_zh", "period_start", "deadline"):
        if key not in head:
            problems.append(Problem(f"{file} [plan]", key, "缺少必填项", "required key missing"))
    sources = raw.get("sources", {})
    metric_crs = _metric_crs(head, file, problems)
    deadline = _deadline(head, file, problems)

    new_space, targets = _targets(raw, file, sources, problems)

    roles = _labelled(raw.get("roles", []), "roles", file, problems)
    specs = _labelled(raw.get("specialisations", []), "specialisations", file, problems)

    districts, seen_codes = _districts(raw, file, {r.key for r in roles}, {s.key for s in specs}, problems)

    areas = _functional_areas(raw, file, seen_codes, problems)

    land_use = _labelled(raw.get("land_use_classes", []), "land_use_classes", file, problems)
    plot = raw.get("plot_ratio", {})
    limits, confidence = _plot_ratio_table(plot, {c.key for c in land_use}, file, problems)

    share = _baseline_share(raw, file, problems)

    fields = _labelled(raw.get("fields", []), "fields", file, problems)
    levels = _labelled(raw.get("namepark_levels", []), "namepark_levels", file, problems)
    park_types = _labelled(raw.get("park_types", []), "park_types", file, problems)
    _check_target_types(targets, park_types, file, problems)
    districts_t = tuple(districts)
    buffer_m = _extent_buffer(raw, file, problems)
    polygons = gpd.GeoDataFrame(geometry=[], crs=WGS84)
    if metric_crs:
        polygons = _load_polygons(folder, districts_t, seen_codes, metric_crs, problems)
    centre, zoom = _map_view(raw, polygons, file, problems)
    if problems:
        raise PlanError(problems, what=f"plan {folder}")
    return Plan(
        folder=folder,
        id=head["id"],
        city_zh=head["city_zh"],
        city_en=head["city_en"],
        title_zh=head["title_zh"],
        title_en=head.get("title_en", head["title_zh"]),
        period_start=int(head["period_start"]),
        deadline=deadline,
        new_space=new_space,
        targets=tuple(targets),
        roles=roles,
        specialisations=specs,
        districts=districts_t,
        functional_areas=tuple(areas),
        fields=fields,
        pilots=tuple(raw.get("pilots", [])),
        namepark_levels=levels,
        park_types=park_types,
        land_use_classes=land_use,
        plot_ratio=limits,
        plot_ratio_confirmed=bool(plot.get("confirmed", False)),
        plot_ratio_default_zone=int(plot.get("default_zone", limits.index[0])),
        plot_ratio_confidence=confidence,
        baseline_share=float(share),
        sources=sources,
        raw=raw,
        district_polygons=polygons,
        metric_crs=metric_crs,
        extent=extent_of(
            polygons.geometry,
            metric_crs,
            buffer_m=float(buffer_m),
            boxes=tuple(a.bbox for a in areas if a.bbox is not None),
        ),
        extent_buffer_m=float(buffer_m),
        map_centre=centre,
        map_zoom=zoom,
    )


@lru_cache(maxsize=8)
def _load_cached(folder: Path, mtime: float) -> Plan:
    return _load_plan_uncached(folder)


def load_plan(plan: str | Path | None = None) -> Plan:
    """Load and validate a plan folder (a bundled name such as ``"shenzhen"`` or a path).

    Raises :class:`PlanError` listing every problem with its place in the file.
    """
    folder = plan_path(plan)
    stamp = max((p.stat().st_mtime for p in folder.iterdir() if p.is_file()), default=0.0)
    return _load_cached(folder, stamp)
