"""Export layers (districts, parks, allocations) as GeoJSON (RFC 7946), GeoPackage and CSV.

GeoJSON follows RFC 7946: WGS84 longitude/latitude only, counter-clockwise outer rings
(right-hand rule), no ``crs`` member, 7 decimals (about 1 cm).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.assign import assign_districts
from planner.errors import PlannerError
from planner.geo import WGS84
from planner.plan import Plan
from planner.register import STATUS_LABELS, Register

LAYERS = ("districts", "parks", "allocations")
FORMATS = ("geojson", "gpkg", "csv")
PRECISION = 7


def _json_value(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.integer | np.floating | np.bool_):
        return _json_value(v.item())
    return v


def _round_coords(obj: Any, ndigits: int) -> Any:
    if isinstance(obj, float):
        return round(obj, ndigits)
    if isinstance(obj, list | tuple):
        return [_round_coords(x, ndigits) for x in obj]
    return obj


def to_geojson_dict(gdf: gpd.GeoDataFrame, *, precision: int = PRECISION) -> dict[str, Any]:
    """A FeatureCollection dict per RFC 7946 (reprojected to WGS84, CCW outer rings, no ``crs``)."""
    if gdf.crs is None:
        raise PlannerError("layer has no CRS; cannot write RFC 7946 GeoJSON / 图层未声明坐标系")
    wgs = gdf.to_crs(WGS84)
    geoms = shapely.orient_polygons(wgs.geometry.values, exterior_cw=False)
    props = wgs.drop(columns=wgs.geometry.name)
    records = props.astype(object).to_dict("records")
    features = []
    for rec, geom in zip(records, geoms, strict=True):
        mapped = None if geom is None or shapely.is_empty(geom) else shapely.geometry.mapping(geom)
        if mapped is not None:
            mapped = {"type": mapped["type"], "coordinates": _round_coords(mapped["coordinates"], precision)}
        features.append(
            {"type": "Feature", "properties": {k: _json_value(v) for k, v in rec.items()}, "geometry": mapped}
        )
    return {"type": "FeatureCollection", "features": features}


def _atomic_write(path: Path, write) -> None:
    """Write through a temporary file in the same folder, then rename: no half-written output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_layer(
    gdf: gpd.GeoDataFrame | pd.DataFrame, fmt: str, path: str | Path, *, layer: str = "layer"
) -> Path:
    """Write a layer as ``geojson``, ``gpkg`` or ``csv`` (UTF-8 with BOM, so Excel shows Chinese)."""
    if fmt not in FORMATS:
        raise PlannerError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)} / 未知格式")
    path = Path(path)
    if fmt == "geojson":
        text = json.dumps(to_geojson_dict(gdf), ensure_ascii=False)
        _atomic_write(path, lambda p: p.write_text(text + "\n", encoding="utf-8"))
    elif fmt == "gpkg":
        out = gdf.copy()
        for col in out.columns:
            if str(out[col].dtype) == "Int64":
                out[col] = out[col].astype("float64")
        _atomic_write(path, lambda p: (p.unlink(), out.to_file(p, layer=layer, driver="GPKG")))
    else:
        table = pd.DataFrame(gdf.drop(columns="geometry")) if isinstance(gdf, gpd.GeoDataFrame) else gdf
        if isinstance(gdf, gpd.GeoDataFrame):
            wgs = gdf.to_crs(WGS84)
            pts = wgs.geometry.representative_point()
            table = table.assign(
                lon=pts.x.round(PRECISION), lat=pts.y.round(PRECISION), wkt=wgs.geometry.to_wkt()
            )
        _atomic_write(path, lambda p: table.to_csv(p, index=False, encoding="utf-8-sig"))
    return path


def districts_layer(plan: Plan) -> gpd.GeoDataFrame:
    """District polygons with role (key and labels), specialisations and official/computed areas."""
    d = plan.district_polygons.copy()
    d["role_zh"] = d["role"].map(lambda k: plan.label("roles", k))
    d["role_en"] = d["role"].map(lambda k: plan.label("roles", k, "en"))
    specs = d["specialisations"].str.split(";")
    d["specialisations_zh"] = specs.map(
        lambda ks: "、".join(plan.label("specialisations", k) for k in ks if k)
    )
    d["specialisations_en"] = specs.map(
        lambda ks: "; ".join(plan.label("specialisations", k, "en") for k in ks if k)
    )
    inside = {a.parent: a for a in plan.functional_areas if a.parent}
    d["note"] = d["code"].map(
        lambda c: f"含{inside[c].name_zh} (无独立边界) / includes {inside[c].name_en}" if c in inside else ""
    )
    return d


def parks_layer(plan: Plan, register: Register) -> gpd.GeoDataFrame:
    """Parks with their geometry-assigned district and status labels; all source/confidence columns kept."""
    parks = register.parks.copy()
    where = assign_districts(parks, plan)
    parks["geo_district_code"] = where["geo_district_code"]
    parks["status_zh"] = parks["status"].map(lambda s: STATUS_LABELS[s][0])
    return parks


def allocations_layer(plan: Plan, register: Register) -> gpd.GeoDataFrame:
    """Allocations with their park's name, district and geometry (one feature per allocation)."""
    parks = parks_layer(plan, register)[
        ["id", "name_zh", "name_en", "geo_district_code", "figures_conf", "geometry"]
    ]
    merged = register.allocations.merge(parks.rename(columns={"id": "park_id"}), on="park_id", how="left")
    merged["specialisation_zh"] = merged["specialisation"].map(
        lambda k: plan.label("specialisations", k) if k else ""
    )
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=WGS84)


def build_layer(name: str, plan: Plan, register: Register) -> gpd.GeoDataFrame:
    """The named export layer: ``districts``, ``parks`` or ``allocations``."""
    if name == "districts":
        return districts_layer(plan)
    if name == "parks":
        return parks_layer(plan, register)
    if name == "allocations":
        return allocations_layer(plan, register)
    raise PlannerError(f"unknown layer {name!r}; use one of {', '.join(LAYERS)} / 未知图层")
