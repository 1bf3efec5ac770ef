"""Measurement in the plan's metric CRS (EPSG:4547 for Shenzhen), the plan's extent, and the GCJ-02 / BD-09 shifts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner.core.geo import WGS84, area_m2, fmt_m2, shift_from_wgs84, shift_to_wgs84
from planner.core.plan import load_plan
from tests.conftest import DATA, METRIC, inside, square


def test_area_is_measured_in_metres_not_degrees(plan):
    sq = square(inside(plan, "440305"), 1000.0)
    series = gpd.GeoSeries([sq], crs=WGS84)
    assert area_m2(series, plan.metric_crs).iloc[0] == pytest.approx(1_000_000, rel=1e-6)
    assert plan.area_m2(series).iloc[0] == pytest.approx(1_000_000, rel=1e-6)


def test_area_refuses_geometry_without_crs(plan):
    with pytest.raises(ValueError, match="no CRS"):
        area_m2(gpd.GeoSeries([shapely.box(0, 0, 1, 1)]), plan.metric_crs)


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_shift_round_trip_over_the_district_polygons(plan, datum):
    geoms = plan.district_polygons.geometry
    back = shift_to_wgs84(shift_from_wgs84(geoms, datum), datum)
    a = gpd.GeoSeries(shapely.points(shapely.get_coordinates(geoms.values)), crs=WGS84).to_crs(METRIC)
    b = gpd.GeoSeries(shapely.points(shapely.get_coordinates(back)), crs=WGS84).to_crs(METRIC)
    assert a.distance(b, align=False).max() < 0.05  # metres: every vertex back within 5 cm


def test_gcj02_offset_in_shenzhen_is_about_500_m(plan):
    pt = gpd.GeoSeries([inside(plan, "440303")], crs=WGS84)
    shifted = gpd.GeoSeries(shift_from_wgs84(pt, "gcj02"), crs=WGS84)
    d = pt.to_crs(METRIC).distance(shifted.to_crs(METRIC)).iloc[0]
    assert 450 < d < 650
    bd = gpd.GeoSeries(shift_from_wgs84(pt, "bd09"), crs=WGS84)
    assert pt.to_crs(METRIC).distance(bd.to_crs(METRIC)).iloc[0] > d


def test_unknown_datum_is_refused():
    with pytest.raises(ValueError, match="unknown datum"):
        shift_to_wgs84(np.array([shapely.Point(114, 22.5)]), "wgs72")


def test_fmt_m2_shows_both_units():
    assert fmt_m2(3_000_000) == "300.0万㎡ (3,000,000 m²)"
    assert fmt_m2(float("nan")) == "—"


def _southern_tip(plan) -> shapely.Point:
    """The point of Nanshan at least 20 m inside its boundary nearest to its southernmost vertex (内伶仃岛)."""
    nanshan = plan.district_polygons.set_index("code").loc[["440305"], "geometry"].to_crs(plan.metric_crs)
    xy = shapely.get_coordinates(nanshan.values)
    tip = shapely.Point(xy[xy[:, 1].argmin()])
    inner = shapely.shortest_line(tip, nanshan.iloc[0].buffer(-20)).coords[-1]
    return gpd.GeoSeries([shapely.Point(inner)], crs=plan.metric_crs).to_crs(WGS84).iloc[0]


def test_the_extent_follows_the_district_polygons_not_a_fixed_box(plan):
    """Nanshan reaches below 22.40°N: a parcel there, inside the district, is inside the city."""
    tip = _southern_tip(plan)
    assert tip.y < 22.40
    assert plan.district_polygons.set_index("code").loc["440305", "geometry"].contains(tip)
    parcel = square(tip, 30.0)
    assert plan.in_extent(gpd.GeoSeries([tip, parcel], crs=WGS84)).tolist() == [True, True]


def test_the_extent_has_a_tolerance_and_stops_beyond_it(plan):
    """Within buffer_m (1 km) of a district is inside; 3 km beyond the city, in the sea, is not."""
    assert plan.extent_buffer_m == 1000
    nanshan = plan.district_polygons.set_index("code").loc[["440305"], "geometry"].to_crs(plan.metric_crs)
    south = nanshan.total_bounds[1]
    xy = shapely.get_coordinates(nanshan.values)
    x = xy[xy[:, 1].argmin()][0]
    pts = gpd.GeoSeries([shapely.Point(x, south - 500), shapely.Point(x, south - 3000)], crs=plan.metric_crs)
    assert plan.in_extent(pts.to_crs(WGS84)).tolist() == [True, False]


def test_a_functional_area_box_counts_as_inside(plan, seed_register):
    """深汕 has no polygon here; its box in plan.toml keeps its park inside, Hong Kong stays outside."""
    parks = seed_register.parks.set_index("id")
    assert plan.in_extent(parks.loc[["shenshan_eco"]].geometry).tolist() == [True]
    hk = gpd.GeoSeries([shapely.Point(114.17, 22.32)], crs=WGS84)  # Kowloon
    assert plan.in_extent(hk).tolist() == [False]
    located = parks.geometry.notna() & ~parks.geometry.is_empty
    assert plan.in_extent(parks.geometry[located]).all()


def test_a_plan_elsewhere_measures_in_its_own_crs():
    """Zhejiang names EPSG:4549 (CM 120°E); a 1 km square in Hangzhou measures 1 km² there."""
    zj = load_plan(DATA / "zhejiang")
    assert zj.metric_crs == "EPSG:4549"
    hz = zj.district_polygons.set_index("code").loc[["330100"], "geometry"]
    c = hz.to_crs(zj.metric_crs).representative_point().iloc[0]
    sq = gpd.GeoSeries([shapely.box(c.x - 500, c.y - 500, c.x + 500, c.y + 500)], crs=zj.metric_crs)
    assert zj.area_m2(sq.to_crs(WGS84)).iloc[0] == pytest.approx(1_000_000, rel=1e-6)
    assert zj.in_extent(sq.to_crs(WGS84)).tolist() == [True]
    assert zj.map_centre == (29.2, 120.5) and zj.map_zoom == 7
