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

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.plan import Plan

NEAR_M = 1000.0  # outside but this close: probably an estimated coordinate near a boundary
STRADDLE_SHARE = 0.05  # a polygon with at least 5% of its area in a second district straddles


def assign_districts(parks: gpd.GeoDataFrame, plan: Plan) -> pd.DataFrame:
    """For each park (same index): the district its geometry lies in, and how.

    Columns: ``geo_district_code`` ('' when outside every district or unlocated), ``geo_share``
    (share of a polygon's area in that district; 1 for points inside), ``n_districts`` (districts
    holding at least ``STRADDLE_SHARE`` of a polygon), ``distance_m`` (0 inside; else the distance
    to ``nearest_district_code``), ``located`` (has a geometry), and
    ``effective_district_code`` (whose park it is: :func:`owner_district`).
    """
    out = pd.DataFrame(index=parks.index)
    out["geo_district_code"] = ""
    out["geo_share"] = np.nan
    out["n_districts"] = 0
    out["distance_m"] = np.nan
    out["nearest_district_code"] = ""
    geoms = parks.geometry.values
    located = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    out["located"] = located
    if located.any():
        metric = parks.loc[located, ["geometry"]].to_crs(plan.metric_crs)
        districts = plan.district_polygons[["code", "geometry"]].to_crs(plan.metric_crs)
        pairs = gpd.sjoin(metric, districts, how="inner", predicate="intersects")
        if len(pairs):
            left = metric.geometry.loc[pairs.index].values
            district_geoms = districts.geometry.values
            shapely.prepare(district_geoms)
            right = district_geoms[pairs["index_right"].to_numpy()]
            # Most parks lie wholly inside one district: a prepared containment test settles them,
            # and only the few on a boundary pay for an intersection.
            whole = shapely.contains_properly(right, left)
            own_area = shapely.area(left)
            inter = own_area.copy()
            edge = ~whole
            inter[edge] = shapely.area(shapely.intersection(left[edge], right[edge]))
            share = np.where(own_area > 0, inter / np.where(own_area > 0, own_area, 1), 1.0)
            pairs = pairs.assign(share=share)
            pairs = pairs.reset_index(names="park").sort_values(["park", "share"], ascending=[True, False])
            best = pairs.drop_duplicates("park").set_index("park")
            counts = pairs[pairs["share"] >= STRADDLE_SHARE].groupby("park").size()
            out.loc[best.index, "geo_district_code"] = best["code"].astype(str)
            out.loc[best.index, "geo_share"] = best["share"]
            out.loc[best.index, "distance_m"] = 0.0
            out.loc[best.index, "nearest_district_code"] = best["code"].astype(str)
            out.loc[counts.index, "n_districts"] = counts
        missing = metric.index.difference(out.index[out["geo_district_code"] != ""])
        if len(missing):
            near = gpd.sjoin_nearest(metric.loc[missing], districts, how="left", distance_col="dist")
            near = near[~near.index.duplicated(keep="first")]
            out.loc[near.index, "distance_m"] = near["dist"]
            out.loc[near.index, "nearest_district_code"] = near["code"].astype(str)
    declared = parks["district_code"] if "district_code" in parks else pd.Series("", index=parks.index)
    out["effective_district_code"] = owner_district(out, declared)
    return out


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
