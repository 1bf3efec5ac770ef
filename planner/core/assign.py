"""District assignment from geometry, vectorised (one spatial join for all parks).

Location decides the district: a point by the polygon it falls in, a polygon by the district that
holds the largest share of its area. A point outside every polygon is not snapped to one (a park
in Hong Kong lies 465 m from Futian); its nearest district and distance are reported instead, and
``NEAR_M`` tells an estimate near a boundary (seed coordinates are good to about 0.5-1 km) from a
park clearly outside.

Whose park this is (:func:`owner_district`) is decided here, once, for capacity, findings, the
district pages, rights and import alike.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.geo import project
from planner.core.plan import Plan

NEAR_M = 1000.0  # outside but this close: probably an estimated coordinate near a boundary
STRADDLE_SHARE = 0.05  # a polygon with at least 5% of its area in a second district straddles


def geometry_key(geoms: np.ndarray) -> str:
    """A digest of a geometry column (types, coordinates and their counts): the cache key of the
    assignment, so a register version's assignment is computed once however often it is asked for."""
    h = hashlib.blake2b(digest_size=16)
    h.update(np.ascontiguousarray(shapely.get_type_id(geoms)).tobytes())
    h.update(np.ascontiguousarray(shapely.get_num_coordinates(geoms)).tobytes())
    h.update(np.ascontiguousarray(shapely.get_coordinates(geoms)).tobytes())
    return h.hexdigest()


TILE_M = 2000.0  # district polygons cut into tiles this size: small prepared pieces, cheap intersections
SUB = 4  # the grid of cells a district fills (a park there is inside it, from its bounds) is TILE_M / SUB


@dataclass(frozen=True)
class _Districts:
    """The plan's district polygons in its metric CRS, prepared once per process: the whole
    polygons (for the nearest district) and their tiles (for containment and area shares)."""

    geoms: np.ndarray
    codes: np.ndarray
    tree: shapely.STRtree
    tiles: np.ndarray
    tile_district: np.ndarray
    key: str
    origin: tuple[float, float]  # the tile grid's lower-left corner
    full: np.ndarray  # (rows, columns) of TILE_M / SUB cells: the district that contains the cell, else -1


def _districts_key(plan: Plan) -> str:
    """The cache key of the plan's districts: their geometry, codes and metric CRS (cheap: the
    districts are not prepared for it)."""
    polygons = plan.district_polygons
    return "/".join(
        (
            geometry_key(np.asarray(polygons.geometry.values)),
            "|".join(polygons["code"].astype(str)),
            plan.metric_crs,
        )
    )


def _tiles(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float], np.ndarray]:
    """Each polygon cut by a ``TILE_M`` grid: the non-empty pieces and the polygon each belongs to
    (clipped by rectangle, the fast way; a piece that comes out invalid is repaired), the grid's
    origin and, per cell of the grid ``SUB`` times finer, the polygon that wholly contains the cell
    (-1: none, or two)."""
    x0, y0, x1, y1 = shapely.total_bounds(geoms)
    xs, ys = np.arange(x0, x1 + TILE_M, TILE_M), np.arange(y0, y1 + TILE_M, TILE_M)
    gx, gy = (g.ravel() for g in np.meshgrid(xs[:-1], ys[:-1]))
    boxes = shapely.box(gx, gy, gx + TILE_M, gy + TILE_M)
    # The districts as the (prepared) query geometries against a tree of boxes: five times faster
    # than the boxes against the districts; the pairs in the same order (by box, then district).
    d_i, b_i = shapely.STRtree(boxes).query(geoms, predicate="intersects")
    order = np.lexsort((d_i, b_i))
    b_i, d_i = b_i[order], d_i[order]
    pieces = np.empty(len(b_i), dtype=object)
    for k, (b, d) in enumerate(zip(b_i, d_i, strict=True)):  # one per tile, a few hundred: once per plan
        pieces[k] = shapely.clip_by_rect(geoms[d], gx[b], gy[b], gx[b] + TILE_M, gy[b] + TILE_M)
    bad = ~shapely.is_valid(pieces)
    if bad.any():
        pieces[bad] = shapely.make_valid(pieces[bad])
    area = shapely.area(pieces)
    keep = ~shapely.is_empty(pieces) & (area > 0)
    # Which district fills each cell of a grid SUB times finer (a tile's sub-cell is filled when
    # the tile is, or when the district's piece of it contains the sub-cell).
    rows, cols = (len(ys) - 1) * SUB, (len(xs) - 1) * SUB
    full = np.full((rows, cols), -1, dtype=np.int64)
    t_r, t_c = np.divmod(b_i, len(xs) - 1)
    sr, sc = (g.ravel() for g in np.meshgrid(np.arange(SUB), np.arange(SUB), indexing="ij"))
    owner = np.repeat(np.flatnonzero(keep), SUB * SUB)
    r = t_r[owner] * SUB + np.tile(sr, int(keep.sum()))
    c = t_c[owner] * SUB + np.tile(sc, int(keep.sum()))
    step = TILE_M / SUB
    cells = shapely.box(x0 + c * step, y0 + r * step, x0 + (c + 1) * step, y0 + (r + 1) * step)
    shapely.prepare(pieces[keep])
    inside = shapely.contains(pieces[owner], cells)
    taken = np.zeros((rows, cols), dtype=np.int64)
    np.add.at(taken, (r[inside], c[inside]), 1)
    full[r[inside], c[inside]] = d_i[owner[inside]]
    full[taken > 1] = -1  # two districts claim it (overlapping polygons): never settled by the grid
    return pieces[keep], d_i[keep], (float(x0), float(y0)), full


def _districts_metric(plan: Plan) -> _Districts:
    """The plan's districts, metric and prepared (cached per plan geometry)."""
    key = _districts_key(plan)
    hit = _DISTRICTS.get(key)
    if hit is None:
        districts = plan.district_polygons[["code", "geometry"]].to_crs(plan.metric_crs)
        geoms = np.asarray(districts.geometry.values, dtype=object)
        tiles, tile_district, origin, full = _tiles(geoms)
        shapely.prepare(geoms)
        shapely.prepare(tiles)
        hit = _Districts(
            geoms,
            districts["code"].astype(str).to_numpy(),
            shapely.STRtree(geoms),
            tiles,
            tile_district,
            key,
            origin,
            full,
        )
        _DISTRICTS.clear()  # one plan at a time in practice; keep memory bounded
        _DISTRICTS[key] = hit
    return hit


_DISTRICTS: dict[str, _Districts] = {}
_CACHE: OrderedDict[tuple[str, str, str], tuple[pd.DataFrame, np.ndarray]] = OrderedDict()
CACHE_SIZE = 4  # register versions whose assignment and metric geometries are kept


def clear_cache() -> None:
    """Forget the kept assignments and metric geometries (a benchmark's cold start; tests)."""
    _CACHE.clear()


def _in_whole_cells(geoms: np.ndarray, d: _Districts) -> tuple[np.ndarray, np.ndarray]:
    """The geometries whose bounding box lies in at most 2 x 2 cells of the fine grid that one
    district contains (no boundary near: wholly inside it, found from the bounds alone), and
    those districts."""
    b = shapely.bounds(geoms)
    x0, y0 = d.origin
    rows, cols = d.full.shape
    step = TILE_M / SUB
    with np.errstate(invalid="ignore"):
        c0, c1 = np.floor((b[:, 0] - x0) / step), np.floor((b[:, 2] - x0) / step)
        r0, r1 = np.floor((b[:, 1] - y0) / step), np.floor((b[:, 3] - y0) / step)
        ok = (c0 >= 0) & (r0 >= 0) & (c1 < cols) & (r1 < rows) & (c1 - c0 <= 1) & (r1 - r0 <= 1)
    idx = np.flatnonzero(ok)
    c0, c1, r0, r1 = (v[idx].astype(np.int64) for v in (c0, c1, r0, r1))
    district = d.full[r0, c0]
    same = (district >= 0) & (d.full[r0, c1] == district) & (d.full[r1, c0] == district)
    same &= d.full[r1, c1] == district
    return idx[same], district[same]


def geo_assign(metric: np.ndarray, plan: Plan) -> pd.DataFrame:
    """The geometric part of :func:`assign_districts` for geometries already in the plan's metric
    CRS (positional index). Most parks lie in a grid cell that one district fills: their bounds
    settle them. For the others, one bulk tree query per district (each prepared once) finds those
    wholly inside (``contains_properly``); only the few that cross a boundary pay for an
    intersection with the district's tiles; parks outside get their nearest district."""
    n = len(metric)
    d = _districts_metric(plan)
    geo_code = np.full(n, "", dtype=object)
    share_out = np.full(n, np.nan)
    n_districts = np.zeros(n, dtype=np.int64)
    distance = np.full(n, np.nan)
    nearest = np.full(n, "", dtype=object)
    located = ~(shapely.is_missing(metric) | shapely.is_empty(metric))
    loc_idx = np.flatnonzero(located)
    if len(loc_idx):
        geoms = metric[loc_idx]
        # Most parks lie in a cell one district fills; of the others, most lie wholly inside one
        # district: one query per prepared district polygon settles them.
        c_p, c_d = _in_whole_cells(geoms, d)
        settled = np.zeros(len(geoms), dtype=bool)
        settled[c_p] = True
        other = np.flatnonzero(~settled)
        w_d, w_o = shapely.STRtree(geoms[other]).query(d.geoms, predicate="contains_properly")
        w_p = np.concatenate([c_p, other[w_o]])
        w_d = np.concatenate([c_d, w_d])
        settled[w_p] = True
        rest = np.flatnonzero(~settled)
        # The few on a boundary: the district's small tiles, intersected only where a tile does not hold them.
        t_i, r_i = shapely.STRtree(geoms[rest]).query(d.tiles, predicate="intersects")
        left, right = geoms[rest[r_i]], d.tiles[t_i]
        inter = shapely.area(left)
        edge = ~shapely.contains_properly(right, left)
        if edge.any():
            inter[edge] = shapely.area(shapely.intersection(left[edge], right[edge]))
        p_i = np.concatenate([w_p, rest[r_i]])
        inter = np.concatenate([shapely.area(geoms[w_p]), inter])
        tile_d = np.concatenate([w_d, d.tile_district[t_i]])
        if len(p_i):
            per = pd.DataFrame({"p": p_i, "d": tile_d, "a": inter}).groupby(["p", "d"])["a"].sum()
            p_u = per.index.get_level_values("p").to_numpy()
            d_u = per.index.get_level_values("d").to_numpy()
            own_area = shapely.area(geoms[p_u])
            share = np.where(own_area > 0, per.to_numpy() / np.where(own_area > 0, own_area, 1), 1.0)
            order = np.lexsort((-share, p_u))
            p_s, d_s, s_s = p_u[order], d_u[order], share[order]
            first = np.ones(len(p_s), dtype=bool)
            first[1:] = p_s[1:] != p_s[:-1]
            best = loc_idx[p_s[first]]
            geo_code[best] = d.codes[d_s[first]]
            share_out[best] = s_s[first]
            distance[best] = 0.0
            nearest[best] = d.codes[d_s[first]]
            n_districts[:] = np.bincount(loc_idx[p_s[s_s >= STRADDLE_SHARE]], minlength=n)
        missing = loc_idx[geo_code[loc_idx] == ""]
        if len(missing):
            (m_i, d_near), dist = d.tree.query_nearest(
                metric[missing], all_matches=False, return_distance=True
            )
            nearest[missing[m_i]] = d.codes[d_near]
            distance[missing[m_i]] = dist
    return pd.DataFrame(
        {
            "geo_district_code": geo_code,
            "geo_share": share_out,
            "n_districts": n_districts,
            "distance_m": distance,
            "nearest_district_code": nearest,
            "located": located,
        }
    )


def assign_districts(
    parks: gpd.GeoDataFrame, plan: Plan, *, metric: np.ndarray | None = None
) -> pd.DataFrame:
    """For each park (same index): the district its geometry lies in, and how.

    Columns: ``geo_district_code`` ('' when outside every district or unlocated), ``geo_share``
    (share of a polygon's area in that district; 1 for points inside), ``n_districts`` (districts
    holding at least ``STRADDLE_SHARE`` of a polygon), ``distance_m`` (0 inside; else the distance
    to ``nearest_district_code``), ``located`` (has a geometry), and
    ``effective_district_code`` (whose park it is: :func:`owner_district`).

    The geometric part is computed once per geometry column (keyed on :func:`geometry_key`) and
    reused for the same register version; ``metric`` is the parks' geometry in the plan's metric
    CRS when the caller has it already.
    """
    return locate(parks, plan, metric=metric)[1]


def locate(
    parks: gpd.GeoDataFrame, plan: Plan, *, metric: np.ndarray | None = None
) -> tuple[np.ndarray, pd.DataFrame]:
    """The parks' geometries in the plan's metric CRS and :func:`assign_districts`' table, both
    computed once per geometry column (one key, :func:`geometry_key`) and kept for the last
    ``CACHE_SIZE`` register versions: a version checked again (a page rerun, a re-check) reuses them."""
    geoms = np.asarray(parks.geometry.values, dtype=object)
    key = (geometry_key(geoms), _districts_key(plan), str(parks.crs))
    hit = _CACHE.get(key)
    if hit is None:
        if metric is None:
            metric = project(parks.geometry.values, parks.crs, plan.metric_crs)
        hit = (geo_assign(metric, plan), metric)
        _CACHE[key] = hit
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    else:
        _CACHE.move_to_end(key)
    geo, kept = hit
    out = geo.copy()
    out.index = parks.index
    declared = parks["district_code"] if "district_code" in parks else pd.Series("", index=parks.index)
    out["effective_district_code"] = owner_district(out, declared)
    return kept, out


# What a store keeps of each park row it writes (planner.store): the geometry in the plan's metric
# CRS and the geometric assignment, so that loading a version needs neither projection nor assignment.
KEPT_COLUMNS = ["geo_district_code", "geo_share", "n_districts", "distance_m", "nearest_district_code"]
ASSIGN_RULE = "1"  # raise when geo_assign's rule changes: what stores kept under the old rule is recomputed


def kept_key(plan: Plan) -> str:
    """The key under which a store keeps its rows' metric geometry and assignment: the plan's
    districts (geometry, codes, metric CRS) and the rule (``STRADDLE_SHARE``, ``ASSIGN_RULE``). A
    store whose kept rows were made under another key recomputes them."""
    text = f"{_districts_key(plan)}/{STRADDLE_SHARE}/{ASSIGN_RULE}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def kept_rows(parks: gpd.GeoDataFrame, plan: Plan) -> pd.DataFrame:
    """What a store keeps of each of ``parks``' rows (positional, same order): ``metric`` (WKB in
    the plan's metric CRS; None without a geometry) and :data:`KEPT_COLUMNS` (through
    :func:`locate`: a register just checked costs nothing more)."""
    metric, where = locate(parks, plan)
    out = pd.DataFrame({"metric": shapely.to_wkb(metric)})
    for c in KEPT_COLUMNS:
        out[c] = where[c].to_numpy()
    return out


def remember(parks: gpd.GeoDataFrame, plan: Plan, kept: pd.DataFrame) -> bool:
    """Take a store's kept rows of ``parks`` (:func:`kept_rows`' columns, same order) as
    :func:`locate`'s result for this geometry column: the version's first check then projects and
    assigns nothing. Nothing is taken (False: the check computes them) when a row has none kept
    (``n_districts`` missing), or what is kept cannot be read or does not match the parks (a
    damaged store: a metric geometry that is not WKB, a text where a number belongs, a shape kept
    for a park that has none)."""
    if len(kept) != len(parks) or not len(parks) or kept["n_districts"].isna().any():
        return False
    try:
        wkb = kept["metric"].to_numpy(dtype=object)
        metric = shapely.from_wkb(np.where(pd.isna(wkb), None, wkb))
        geo = pd.DataFrame(
            {
                "geo_district_code": kept["geo_district_code"].fillna("").to_numpy(dtype=object),
                "geo_share": kept["geo_share"].to_numpy(dtype=float, na_value=np.nan),
                "n_districts": kept["n_districts"].to_numpy(dtype=np.int64),
                "distance_m": kept["distance_m"].to_numpy(dtype=float, na_value=np.nan),
                "nearest_district_code": kept["nearest_district_code"].fillna("").to_numpy(dtype=object),
                "located": ~(shapely.is_missing(metric) | shapely.is_empty(metric)),
            }
        )
    except (shapely.errors.GEOSException, ValueError, TypeError):
        return False
    geoms = np.asarray(parks.geometry.values, dtype=object)
    if not np.array_equal(geo["located"].to_numpy(), ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))):
        return False
    _CACHE[(geometry_key(geoms), _districts_key(plan), str(parks.crs))] = (geo, metric)
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return True


def owner_district(where: pd.DataFrame, declared: pd.Series) -> pd.Series:
    """Whose park this is, the one rule: the district its geometry lies in (the one holding most of
    a polygon's area). A park without a geometry, or one just outside the district polygons (within
    ``NEAR_M``: an estimated coordinate), belongs to the district it declares; a park farther out
    belongs to no district ('': only a city planner may change it).

    ``where`` is :func:`assign_districts`' table, ``declared`` the parks' ``district_code``.

    >>> where = pd.DataFrame({"geo_district_code": ["440305", "", "", ""],
    ...                       "located": [True, False, True, True], "distance_m": [0.0, None, 300.0, 9e3]})
    >>> owner_district(where, pd.Series(["440304", "440306", "440304", "440304"])).tolist()
    ['440305', '440306', '440304', '']
    """
    near = where["located"] & (where["geo_district_code"] == "") & (where["distance_m"] <= NEAR_M)
    by_declaration = ~where["located"] | near.fillna(False).astype(bool)
    return where["geo_district_code"].where(~by_declaration, declared).astype(str)


def park_districts(parks: gpd.GeoDataFrame, plan: Plan) -> pd.Series:
    """Whose each park is (:func:`owner_district`), indexed by park id."""
    codes = assign_districts(parks, plan)["effective_district_code"]
    return pd.Series(codes.to_numpy(), index=parks["id"].to_numpy(), name="district_code")
