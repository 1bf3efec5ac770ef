"""Imports that feed the target: allocation columns in a file of parks, and land area from footprints.

A file of parks may carry, per row, the new space the park dedicates to the cluster:

- ``分配面积`` / ``软件与信息服务新增空间`` (an area; units as for every area: m², 万㎡, 公顷, 亩, km²),
- ``专业方向`` (a specialisation of the plan, by key or label), and
- ``交付年份`` (the park's delivery year, which is also the allocation's).

Each row with an allocated area becomes one allocation of its park (basis ``import``). A bad area or
an unknown specialisation is a problem (the import is refused, naming row and field); an allocation
whose year lies outside the plan period is *not taken* (a warning says so, and the park is still
imported). :func:`taken_columns` tells the Import page which of the file's columns were taken, and
as what.

An imported polygon with no land area gets its land area measured from its footprint in the
plan's metric CRS (``plan.metric_crs``, EPSG:4547 for Shenzhen; never in degrees), and is marked so (``figures_conf`` says it, and a
warning lists the parks).
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.geo import M2_PER_WAN
from planner.core.plan import Plan
from planner.core.register import ALLOCATION_COLUMNS, PARK_LABELS, conform_allocations
from planner.io.headers import _label_lookup, _norm, _text
from planner.io.issues import _Collector
from planner.io.units import _HEADER_UNIT, AREA_UNITS, bad_numbers, parse_area

ALLOCATION_HEADERS: dict[str, tuple[str, ...]] = {
    "area": (
        "分配面积", "软件与信息服务新增空间", "软件与信息服务新增空间面积", "软件新增空间", "新增产业空间分配",
        "allocatedarea", "allocated_area", "allocation_m2", "allocationarea", "clusterspace",
    ),
    "specialisation": ("专业方向", "分配专业方向", "specialisation", "specialization"),
}  # fmt: skip
FOOTPRINT_NOTE = "占地面积按图形量算 / land area measured from the footprint"


def _match(header: str) -> tuple[str, float | None]:
    """('area' | 'specialisation' | '', unit factor) for a file header."""
    key = _norm(header)
    for role, names in ALLOCATION_HEADERS.items():
        if key in {_norm(n) for n in names}:
            return role, None
    m = _HEADER_UNIT.match(key)
    if m and m.group(1):
        base = m.group(1).rstrip("(_/[【")
        if base in {_norm(n) for n in ALLOCATION_HEADERS["area"]}:
            return "area", AREA_UNITS[m.group(2)]
    return "", None


def allocation_columns(headers: Any) -> dict[str, tuple[str, float | None]]:
    """The file's allocation columns: role ('area', 'specialisation') -> (header, unit factor)."""
    out: dict[str, tuple[str, float | None]] = {}
    for header in headers:
        role, unit = _match(str(header))
        if role and role not in out:
            out[role] = (str(header), unit)
    return out


def build_allocations(
    frame: pd.DataFrame,
    parks: gpd.GeoDataFrame,
    columns: dict[str, tuple[str, float | None]],
    place: Any,
    c: _Collector,
    plan: Plan,
) -> pd.DataFrame:
    """One allocation per row with an allocated area (same row order as ``parks``); problems and
    warnings go to the collector. Returns a conformed allocations frame (possibly empty)."""
    if "area" not in columns:
        if "specialisation" in columns:
            c.warn(
                "allocation_no_area", c.file, columns["specialisation"][0],
                "有专业方向列但没有分配面积列 (分配面积 / 软件与信息服务新增空间): 未导入分配",
                "a specialisation column but no allocated-area column (分配面积 / 软件与信息服务新增空间): "
                "no allocation imported",
            )  # fmt: skip
        return conform_allocations(pd.DataFrame(columns=ALLOCATION_COLUMNS))
    header, unit = columns["area"]
    raw = frame[header].reset_index(drop=True)
    area = parse_area(raw, unit)
    ids = parks["id"].reset_index(drop=True)
    for i in np.flatnonzero(bad_numbers(raw, area).to_numpy()):
        c.error(
            "bad_number", place(i, ids.iloc[i]), header, f"分配面积不是数字或单位无法识别: {raw.iloc[i]}",
            f"allocated area is not a number, or a unit the planner does not know: {raw.iloc[i]}",
        )  # fmt: skip
    for i in np.flatnonzero((area <= 0).to_numpy()):
        c.error(
            "negative_area", place(i, ids.iloc[i]), header, f"分配面积须为正数: {raw.iloc[i]}",
            f"allocated area must be positive: {raw.iloc[i]}",
        )  # fmt: skip
    spec = pd.Series("", index=raw.index)
    if "specialisation" in columns:
        sheader = columns["specialisation"][0]
        text = _text(frame[sheader].reset_index(drop=True))
        lookup = _label_lookup(plan.specialisations)
        spec = text.map(lambda v: lookup.get(_norm(v), "") if v else "")
        for i in np.flatnonzero(((text != "") & (spec == "")).to_numpy()):
            c.error(
                "unknown_value", place(i, ids.iloc[i]), sheader, f"无法识别的专业方向: {text.iloc[i]}",
                f"specialisation not known to the plan: {text.iloc[i]}; use one of "
                f"{', '.join(s.label_zh for s in plan.specialisations)}",
            )  # fmt: skip
    year = parks["delivery_year"].reset_index(drop=True)
    has = (area > 0).fillna(False)
    outside = has & year.notna() & ~year.isin(plan.years)
    for i in np.flatnonzero(outside.to_numpy(dtype=bool)):
        c.warn(
            "allocation_not_taken", place(i, ids.iloc[i]), header,
            f"交付年份 {year.iloc[i]} 不在规划期 {plan.period_start}-{plan.deadline_year} 内: 此分配未导入 (园区照常导入)",
            f"delivery year {year.iloc[i]} lies outside the plan, {plan.period_start}-{plan.deadline_year}: "
            "this allocation was not imported (the park is)",
        )  # fmt: skip
    take = (has & ~outside.fillna(False)).to_numpy(dtype=bool)
    rows = pd.DataFrame(
        {
            "allocation_id": (ids + "-a1")[take].to_numpy(),
            "park_id": ids[take].to_numpy(),
            "specialisation": spec[take].to_numpy(),
            "area_m2": area[take].to_numpy(),
            "delivery_year": year[take].to_numpy(),
            "status": parks["status"].reset_index(drop=True)[take].to_numpy(),
            "basis": "import",
            "note": f"导入 import: {c.file}",
        }
    )
    no_year = rows["delivery_year"].isna()
    if no_year.any():
        c.warn(
            "allocation_no_year", c.file, "交付年份 delivery year",
            f"{int(no_year.sum())} 条分配没有交付年份: 已导入, 但不计入目标",
            f"{int(no_year.sum())} allocation(s) have no delivery year: imported, but not counted",
        )  # fmt: skip
    return conform_allocations(rows)


def fill_footprint_areas(
    parks: gpd.GeoDataFrame, plan: Plan, place: Any, c: _Collector, *, valid: np.ndarray | None = None
) -> gpd.GeoDataFrame:
    """Polygons without a land area get it measured from their footprint in the plan's metric CRS,
    marked in ``figures_conf``; a warning lists them. Points and invalid shapes are left as they are.
    ``valid``: which geometries are valid, when the caller knows (else asked of those without an area)."""
    geoms = parks.geometry.values
    todo = parks["land_area_m2"].isna().to_numpy() & np.isin(shapely.get_type_id(geoms), [3, 6])
    if valid is not None:
        todo &= valid
    elif todo.any():
        todo[todo] = shapely.is_valid(geoms[todo])
    if not todo.any():
        return parks
    out = parks.copy()
    measured = plan.area_m2(out.loc[todo, ["geometry"]]).round(1)
    out.loc[todo, "land_area_m2"] = measured.to_numpy()
    conf = out.loc[todo, "figures_conf"]
    note = f"{FOOTPRINT_NOTE} ({plan.metric_crs})"
    out.loc[todo, "figures_conf"] = np.where(conf == "", note, conf + "; " + note)
    idx = np.flatnonzero(todo)
    shown = ", ".join(place(int(i), out["id"].iloc[i]) for i in idx[:5]) + (" …" if len(idx) > 5 else "")
    c.warn(
        "land_area_from_footprint", shown, "占地面积 land area",
        f"{len(idx)} 个园区没有占地面积, 已按图形在 {plan.metric_crs} 中量算 (已在数据可信度中注明)",
        f"{len(idx)} park(s) had no land area: measured from the footprint in {plan.metric_crs} (noted in the "
        "figures confidence)",
    )  # fmt: skip
    return out


ALLOCATION_FIELD_LABELS = {
    "area": ("分配面积 (计入目标)", "allocated area (counts towards the target)"),
    "specialisation": ("分配的专业方向", "the allocation's specialisation"),
}


def taken_columns(
    columns: dict[str, str], allocation: dict[str, tuple[str, float | None]], lang: str = "zh"
) -> pd.DataFrame:
    """Which of the file's columns were taken and as what (park fields and allocation fields)."""
    zh = lang == "zh"
    rows = [
        (header, PARK_LABELS.get(col, (col, col))[0 if zh else 1])
        for header, col in columns.items()
        if not col.startswith("_")
    ]
    rows += [
        (header, ALLOCATION_FIELD_LABELS[role][0 if zh else 1]) for role, (header, _) in allocation.items()
    ]
    if "area" in allocation and "delivery_year" in columns.values():
        rows.append(
            ("", "交付年份也作为分配的交付年份" if zh else "the delivery year is also the allocation's")
        )
    return pd.DataFrame(rows, columns=["文件列" if zh else "File column", "导入为" if zh else "Taken as"])


def allocations_table(allocations: pd.DataFrame, plan: Plan, lang: str = "zh") -> pd.DataFrame:
    """The allocations an import would add, for display (park, specialisation, m², 万㎡, year)."""
    zh = lang == "zh"
    return pd.DataFrame(
        {
            "园区编号" if zh else "Park": allocations["park_id"],
            "专业方向" if zh else "Specialisation": allocations["specialisation"].map(
                lambda k: plan.label("specialisations", k, lang) if k else "—"
            ),
            "分配面积 (m²)" if zh else "Allocated (m²)": allocations["area_m2"],
            "万㎡": allocations["area_m2"] / M2_PER_WAN,
            "交付年份" if zh else "Year": allocations["delivery_year"],
        }
    )
