"""Edits that come from the app: a district's allocation table, a park drawn on the map.

Pure data in, data out (no streamlit): the pages call these and show the problems they raise.
Every function returns a *new* Register or raises ValidationError listing every problem, so a
refused edit leaves the working register exactly as it was.
"""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from planner.core.assign import assign_districts, park_districts
from planner.core.geo import WGS84, area_m2, shift_to_wgs84
from planner.core.plan import Plan
from planner.core.register import (
    ALLOCATION_COLUMNS,
    Register,
    add_parks,
    conform_allocations,
    replace_allocations,
    validate_allocations,
)
from planner.core.rules import POLYGON_TYPE_IDS
from planner.errors import Problem, ValidationError


def park_of_item(register: Register, item_id: str) -> str | None:
    """The park a finding is about: the id itself when it is a park, the park of an allocation
    id, else None (a district, a plan)."""
    if (register.parks["id"] == item_id).any():
        return item_id
    hit = register.allocations.loc[register.allocations["allocation_id"] == item_id, "park_id"]
    return str(hit.iloc[0]) if len(hit) and (register.parks["id"] == hit.iloc[0]).any() else None


def district_parks(register: Register, plan: Plan, district_code: str) -> gpd.GeoDataFrame:
    """The parks that are a district's (:func:`planner.core.assign.park_districts`)."""
    codes = park_districts(register.parks, plan)
    return register.parks[codes.to_numpy() == district_code].reset_index(drop=True)


def district_allocations(register: Register, plan: Plan, district_code: str) -> pd.DataFrame:
    """The allocations of a district's parks, in the register's column order."""
    ids = district_parks(register, plan, district_code)["id"]
    return register.allocations[register.allocations["park_id"].isin(ids)].reset_index(drop=True)


def district_register(register: Register, plan: Plan, district_code: str) -> Register:
    """The part of the register that is one district's: its parks, their allocations, its quota."""
    parks = district_parks(register, plan, district_code)
    allocations = register.allocations[register.allocations["park_id"].isin(parks["id"])]
    quotas = register.quotas[register.quotas["district_code"] == district_code]
    return Register(parks, allocations.reset_index(drop=True), quotas.reset_index(drop=True))


def _fill_new_rows(edited: pd.DataFrame, register: Register) -> pd.DataFrame:
    """Give rows added in the editor an allocation id (``<park>-a<n>``) and the basis "planner"."""
    out = edited.copy()
    taken = set(register.allocations["allocation_id"]) | set(out["allocation_id"])
    blank_id = (out["allocation_id"].str.strip() == "") & (out["park_id"].str.strip() != "")
    for i in np.flatnonzero(blank_id.to_numpy()):  # only rows the user just added
        park, n = out.at[i, "park_id"], 1
        while f"{park}-a{n}" in taken:
            n += 1
        out.at[i, "allocation_id"] = f"{park}-a{n}"
        taken.add(out.at[i, "allocation_id"])
    out.loc[out["basis"].str.strip() == "", "basis"] = "planner"
    return out


def apply_district_allocations(
    register: Register,
    edited: pd.DataFrame,
    district_code: str,
    plan: Plan,
    *,
    place: str | None = None,
) -> Register:
    """Replace one district's allocations with ``edited`` (the district's whole table).

    Refused (ValidationError naming each row and field) when a row's park lies in another
    district, an area is missing, zero or negative, a year is outside the plan years, or any other
    rule of ``validate_allocations`` fails. Other districts' allocations are kept as they are.
    Rows are numbered as in ``edited`` (row 1 = its first row).
    """
    where = place or f"分配表 allocations {district_code}"
    rows = _fill_new_rows(conform_allocations(edited), register)
    problems = validate_allocations(rows, register.parks, plan, place=where)

    codes = park_districts(register.parks, plan)
    row_district = rows["park_id"].map(codes)
    foreign = rows["park_id"].isin(codes.index) & (row_district != district_code)
    names = {d.code: (d.name_zh, d.name_en) for d in plan.districts}
    here = names.get(district_code, (district_code, district_code))
    for i in np.flatnonzero(foreign.to_numpy()):
        other = names.get(row_district.iloc[i], (row_district.iloc[i] or "—",) * 2)
        problems.append(
            Problem(
                f"{where} row {i + 1} ({rows['allocation_id'].iloc[i]})",
                "park_id",
                f"园区 {rows['park_id'].iloc[i]} 不在本区 ({here[0]}), 位于 {other[0]}",
                f"park {rows['park_id'].iloc[i]} is not in {here[1]} but in {other[1]}",
            )
        )
    others = register.allocations[~register.allocations["park_id"].map(codes).eq(district_code)]
    clash = rows["allocation_id"].isin(others["allocation_id"]) & ~foreign
    for i in np.flatnonzero(clash.to_numpy()):
        problems.append(
            Problem(
                f"{where} row {i + 1} ({rows['allocation_id'].iloc[i]})",
                "allocation_id",
                "分配编号已被其他区使用",
                "allocation id already used by another district",
            )
        )
    if problems:
        raise ValidationError(problems, what=where)
    combined = pd.concat([others, rows], ignore_index=True)[ALLOCATION_COLUMNS]
    return replace_allocations(register, combined, plan, place=where)


def new_park_id(register: Register, prefix: str = "drawn") -> str:
    """A park id not yet in the register: ``drawn-001``, ``drawn-002``, ..."""
    taken = set(register.parks["id"])
    n = 1
    while f"{prefix}-{n:03d}" in taken:
        n += 1
    return f"{prefix}-{n:03d}"


def drawn_geometry(geometry: dict[str, Any], *, datum: str = "wgs84") -> shapely.Geometry:
    """A GeoJSON geometry drawn on a basemap in ``datum``, as a WGS84 shapely geometry.

    A drawing on a GCJ-02 basemap (Amap) is shifted back to WGS84 before it is stored.
    """
    geom = shapely.geometry.shape(geometry)
    return shift_to_wgs84(np.array([geom], dtype=object), datum)[0]


def drawn_park(
    geometry: dict[str, Any],
    attrs: dict[str, Any],
    plan: Plan,
    *,
    datum: str = "wgs84",
) -> gpd.GeoDataFrame:
    """One new park (a one-row GeoDataFrame, WGS84) from a polygon drawn on the map and a form.

    Its land area is measured in the plan's metric CRS and its district assigned from the geometry; both
    override whatever ``attrs`` says. A polygon outside every district is refused here; all other
    rules are those of ``add_parks``.
    """
    geom = drawn_geometry(geometry, datum=datum)
    if shapely.get_type_id(geom) not in POLYGON_TYPE_IDS:
        raise ValidationError(
            [Problem("drawing", "geometry", "请绘制面 (多边形)", f"draw a polygon, not a {geom.geom_type}")],
            what="drawing",
        )
    park = gpd.GeoDataFrame({k: [v] for k, v in attrs.items()}, geometry=[geom], crs=WGS84)
    park["land_area_m2"] = area_m2(park, plan.metric_crs).round(1).to_numpy()
    code = assign_districts(park, plan)["effective_district_code"].iloc[0]
    if not code:
        raise ValidationError(
            [
                Problem(
                    "drawing",
                    "geometry",
                    "所绘园区不在任何区内",
                    "the drawn park lies outside every district",
                )
            ],
            what="drawing",
        )
    park["district_code"] = code
    park["district"] = plan.district(code).short_zh
    return park


def add_drawn_park(
    register: Register,
    geometry: dict[str, Any],
    attrs: dict[str, Any],
    plan: Plan,
    *,
    datum: str = "wgs84",
) -> Register:
    """A new register with the drawn park added, after the same validation as every other park."""
    park = drawn_park(geometry, attrs, plan, datum=datum)
    return add_parks(register, park, plan, place=f"drawing {attrs.get('id', '')}".strip())
