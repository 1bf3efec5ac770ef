"""Measurement in EPSG:4547 and the GCJ-02 / BD-09 shifts."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from planner.core.geo import METRIC, WGS84, area_m2, fmt_m2, shift_from_wgs84, shift_to_wgs84
from tests.conftest import inside, square


def test_area_is_measured_in_metres_not_degrees(plan):
    sq = square(inside(plan, "440305"), 1000.0)
    series = gpd.GeoSeries([sq], crs=WGS84)
    assert area_m2(series).iloc[0] == pytest.approx(1_000_000, rel=1e-6)


def test_area_refuses_geometry_without_crs():
    with pytest.raises(ValueError, match="no CRS"):
        area_m2(gpd.GeoSeries([shapely.box(0, 0, 1, 1)]))


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
