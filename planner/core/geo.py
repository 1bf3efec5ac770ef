"""Coordinate systems, area measurement and the Chinese map-datum shifts.

Geometry is stored in WGS84 (EPSG:4326). Areas and distances are measured in CGCS2000 /
3-degree Gauss-Kruger CM 114E (EPSG:4547). Amap/Gaode and Tencent maps use GCJ-02, Baidu BD-09;
both are about 500 m off WGS84 in Shenzhen. The shifts are computed by ``prcoords`` (CC0/GPL),
applied to every vertex of a geometry array at once through ``shapely.transform``.
"""

from __future__ import annotations

from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import shapely

WGS84 = "EPSG:4326"
METRIC = "EPSG:4547"  # CGCS2000 / 3-degree Gauss-Kruger CM 114E

# Rough box around the city's land (with a margin), WGS84 lon/lat. The Shenzhen-Shanwei
# cooperation zone lies to the east, in Shanwei; it is included so its parks are not "outside".
SHENZHEN_BBOX = (113.70, 22.40, 115.45, 23.05)

DATUMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

M2_PER_KM2 = 1_000_000.0
M2_PER_WAN = 10_000.0  # 1 万㎡
M2_PER_HECTARE = 10_000.0
M2_PER_MU = 10_000.0 / 15.0  # 1 亩 = 666.67 m²


def to_metric(gdf: gpd.GeoDataFrame | gpd.GeoSeries) -> gpd.GeoDataFrame | gpd.GeoSeries:
    """Project to EPSG:4547 for measurement; refuses data with no CRS."""
    if gdf.crs is None:
        raise ValueError("geometry has no CRS; set it before measuring / 几何数据未声明坐标系")
    return gdf.to_crs(METRIC)


def area_m2(geoms: gpd.GeoDataFrame | gpd.GeoSeries) -> pd.Series:
    """Area of each geometry in m², measured in EPSG:4547 (never in degrees)."""
    series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    return to_metric(series).area


def _shift_array(coords: np.ndarray, fn: Callable[..., prcoords.Coords]) -> np.ndarray:
    """Apply a prcoords (lat, lon) function to an (N, 2) lon/lat array."""
    if len(coords) == 0:
        return coords
    out = np.empty_like(coords)
    shifted = [fn((lat, lon), False) for lon, lat in coords.tolist()]
    arr = np.asarray(shifted, dtype=float)
    out[:, 0] = arr[:, 1]
    out[:, 1] = arr[:, 0]
    return out


_TO_WGS84 = {"gcj02": prcoords.gcj_wgs_bored, "bd09": prcoords.bd_wgs_bored}
_FROM_WGS84 = {"gcj02": prcoords.wgs_gcj, "bd09": prcoords.wgs_bd}


def _check_datum(datum: str) -> None:
    if datum not in DATUMS:
        raise ValueError(f"unknown datum {datum!r}; use one of {', '.join(DATUMS)} / 未知坐标基准")


def _shift(
    geoms: gpd.GeoSeries | np.ndarray, datum: str, table: dict[str, Callable[..., prcoords.Coords]]
) -> np.ndarray:
    _check_datum(datum)
    arr = np.asarray(geoms.values if isinstance(geoms, gpd.GeoSeries) else geoms, dtype=object)
    if datum == "wgs84":
        return arr
    fn = table[datum]
    return shapely.transform(arr, lambda c: _shift_array(c, fn))


def shift_to_wgs84(geoms: gpd.GeoSeries | np.ndarray, datum: str) -> np.ndarray:
    """Convert geometries given in ``datum`` (gcj02, bd09 or wgs84) to WGS84.

    Returns a shapely geometry array. The inverse is iterated (prcoords' "bored" functions):
    every vertex comes back within a few centimetres.
    """
    return _shift(geoms, datum, _TO_WGS84)


def shift_from_wgs84(geoms: gpd.GeoSeries | np.ndarray, datum: str) -> np.ndarray:
    """Convert WGS84 geometries to ``datum`` for display on a GCJ-02 or BD-09 basemap."""
    return _shift(geoms, datum, _FROM_WGS84)


def shift_gdf(gdf: gpd.GeoDataFrame, *, to: str) -> gpd.GeoDataFrame:
    """A copy of a WGS84 GeoDataFrame with its geometry shifted into ``to`` (for display only)."""
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(shift_from_wgs84(gdf.geometry, to), index=gdf.index, crs=gdf.crs)
    return out


def in_shenzhen_bbox(geoms: gpd.GeoSeries) -> np.ndarray:
    """True where a WGS84 geometry's bounds lie inside the city's box."""
    b = geoms.bounds.to_numpy()
    x0, y0, x1, y1 = SHENZHEN_BBOX
    ok = (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
    return ok & ~np.isnan(b).any(axis=1)


def m2_to_wan(value: float) -> float:
    """m² to 万㎡."""
    return value / M2_PER_WAN


def fmt_m2(value: float | None) -> str:
    """'123.4万㎡ (1,234,000 m²)' or '—' for missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value / M2_PER_WAN:,.1f}万㎡ ({value:,.0f} m²)"
