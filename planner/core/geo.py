"""Coordinate systems, area measurement and the Chinese map-datum shifts.

Geometry is stored in WGS84 (EPSG:4326). Areas and distances are measured in the plan's metric CRS
(``Plan.metric_crs``: for Shenzhen CGCS2000 / 3-degree Gauss-Kruger CM 114E, EPSG:4547; a plan elsewhere
names its own), never in degrees. What counts as "inside the city" is the plan's extent
(``Plan.extent``, built by :func:`extent_of` from its district polygons). Amap/Gaode and Tencent maps use GCJ-02, Baidu BD-09;
both are about 500 m off WGS84 in Shenzhen. The shifts are computed by ``prcoords`` (CC0/GPL),
applied to every vertex of a geometry array at once through ``shapely.transform``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import prcoords
import pyproj
import shapely

WGS84 = "EPSG:4326"

DATUMS: tuple[str, ...] = ("wgs84", "gcj02", "bd09")

M2_PER_KM2 = 1_000_000.0
M2_PER_WAN = 10_000.0  # 1 万㎡
M2_PER_HECTARE = 10_000.0
M2_PER_MU = 10_000.0 / 15.0  # 1 亩 = 666.67 m²


def to_metric(gdf: gpd.GeoDataFrame | gpd.GeoSeries, crs: str) -> gpd.GeoDataFrame | gpd.GeoSeries:
    """Project to the plan's metric CRS (``plan.metric_crs``) for measurement; refuses data with no CRS."""
    if gdf.crs is None:
        raise ValueError("geometry has no CRS; set it before measuring / 几何数据未声明坐标系")
    if isinstance(gdf, gpd.GeoSeries):
        return gpd.GeoSeries(project(gdf.values, gdf.crs, crs), index=gdf.index, crs=crs, name=gdf.name)
    out = gdf.copy()
    out[gdf.geometry.name] = to_metric(gdf.geometry, crs)
    return out


@functools.lru_cache(maxsize=8)
def _wkt(crs: object) -> str:
    return pyproj.CRS(crs).to_wkt()


@functools.lru_cache(maxsize=8)
def _transformer(a: str, b: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(a, b, always_xy=True)


def project(geoms: np.ndarray, src: object, dst: object) -> np.ndarray:
    """An array of geometries from CRS ``src`` to ``dst`` (as ``GeoSeries.to_crs``, x/y order): every
    vertex of the array through one ``pyproj`` call (``shapely.transform``), about a third of the
    time ``to_crs`` takes on 100,000 parcels. One transformer per pair of CRSs in a process, used
    both ways (making one costs 0.1-0.2 s)."""
    a, b = _wkt(src), _wkt(dst)
    t, direction = (_transformer(a, b), "FORWARD") if a <= b else (_transformer(b, a), "INVERSE")

    def move(xy: np.ndarray) -> np.ndarray:
        x, y = t.transform(xy[:, 0], xy[:, 1], direction=direction)
        return np.column_stack([x, y])

    return shapely.transform(np.asarray(geoms, dtype=object), move)


def area_m2(geoms: gpd.GeoDataFrame | gpd.GeoSeries, crs: str) -> pd.Series:
    """Area of each geometry in m², measured in the metric CRS ``crs`` (never in degrees)."""
    series = geoms.geometry if isinstance(geoms, gpd.GeoDataFrame) else geoms
    return to_metric(series, crs).area


def extent_of(
    polygons: gpd.GeoSeries,
    crs: str,
    *,
    buffer_m: float,
    boxes: tuple[tuple[float, float, float, float], ...] = (),
) -> shapely.Geometry:
    """The area that counts as "inside" a plan: its district polygons' union widened by ``buffer_m``
    metres (measured in ``crs``), plus ``boxes`` (lon0, lat0, lon1, lat1) for areas with no polygon.

    Returned in WGS84 and prepared, for :func:`in_extent`. The union is simplified to a tenth of the
    buffer before widening, so the test stays fast for 100,000 parcels and never shrinks the districts.
    """
    metric = project(polygons.values, polygons.crs, crs)
    union = shapely.union_all(shapely.simplify(metric, buffer_m / 10))
    widened = shapely.buffer(union, buffer_m) if buffer_m > 0 else union
    wgs = project(np.array([widened], dtype=object), crs, WGS84)[0]
    extent = shapely.union_all([wgs, *(shapely.box(*b) for b in boxes)])
    shapely.prepare(extent)
    return extent


def in_extent(geoms: gpd.GeoSeries, extent: shapely.Geometry) -> np.ndarray:
    """True where a WGS84 geometry lies wholly inside ``extent`` (missing or empty: False).

    >>> import shapely, geopandas as gpd
    >>> in_extent(gpd.GeoSeries([shapely.Point(1, 1), shapely.Point(3, 1), None]), shapely.box(0, 0, 2, 2))
    array([ True, False, False])
    """
    values = np.asarray(geoms.values, dtype=object)
    out = np.zeros(len(values), dtype=bool)
    b = geoms.bounds.to_numpy()
    x0, y0, x1, y1 = extent.bounds
    near = ~np.isnan(b).any(axis=1) & (b[:, 0] >= x0) & (b[:, 1] >= y0) & (b[:, 2] <= x1) & (b[:, 3] <= y1)
    if near.any():
        out[near] = shapely.covers(extent, values[near])  # the prepared extent first: fast
    return out


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


def m2_to_wan(value: float) -> float:
    """m² to 万㎡."""
    return value / M2_PER_WAN


def fmt_m2(value: float | None) -> str:
    """'123.4万㎡ (1,234,000 m²)' or '—' for missing."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    return f"{value / M2_PER_WAN:,.1f}万㎡ ({value:,.0f} m²)"
