"""District assignment from geometry, vectorised (one spatial join for all parks).

Location decides the district: a point by the polygon it falls in, a polygon by the district that
holds the largest share of its area. A point outside every polygon is not snapped to one (a park
in Hong Kong lies 465 m from Futian); its nearest district and distance are reported instead, and
``NEAR_M`` tells an estimate near a boundary (seed coordinates are good to about 0.5-1 km) from a
park clearly outside.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from planner.core.plan import Plan

NEAR_M = 1000.0  # outside but this close: probably an estimated coordinate near a boundary
STRADDLE_SHARE = 0.05  # a polygon with at least 5% of its area in a second district straddles

ASSIGN_COLUMNS = [
    "geo_district_code", "geo_share", "n_districts", "distance_m", "nearest_district_code", "located",
    "effective_district_code",
]  # fmt: skip


def assign_districts(parks: gpd.GeoDataFrame, plan: Plan) -> pd.DataFrame:
    """For each park (same index): the district its geometry lies in, and how.

    Columns: ``geo_district_code`` ('' when outside every district or unlocated), ``geo_share``
    (share of a polygon's area in that district; 1 for points inside), ``n_districts`` (districts
    holding at least ``STRADDLE_SHARE`` of a polygon), ``distance_m`` (0 inside; else the distance
    to ``nearest_district_code``), ``located`` (has a geometry), and
    ``effective_district_code`` (the geometry's district, else the declared ``district_code``).
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
    out["effective_district_code"] = out["geo_district_code"].where(out["geo_district_code"] != "", declared)
    return out
