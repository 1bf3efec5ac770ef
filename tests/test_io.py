"""Export: RFC 7946 GeoJSON (checked by geojson-validator too), KML, Excel, the annex table, round trips."""

from __future__ import annotations

import json
import re
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path

import geojson_validator
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from planner.cli import main as cli
from planner.core.geo import WGS84, shift_from_wgs84, shift_to_wgs84
from planner.core.plan import load_plan
from planner.core.register import (
    PARK_COLUMNS,
    STATUSES,
    Register,
    conform_allocations,
    conform_parks,
    empty_parks,
    load_register,
)
from planner.io.allocations import FOOTPRINT_NOTE
from planner.io.export import (
    ANNEX_COLUMNS,
    annex_table,
    build_layer,
    parks_layer,
    write_annex_excel,
    write_layer,
)
from planner.io.ingest import confirm_import, preview_import

ROUND_TRIP_FORMATS = ("geojson", "gpkg", "csv", "kml", "xlsx")
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def plan():
    return load_plan()


@pytest.fixture(scope="module")
def register(plan):
    return load_register(plan)


def empty_register(register: Register) -> Register:
    return Register(empty_parks(), conform_allocations(pd.DataFrame()), register.quotas)


def located(register: Register) -> Register:
    """The seed parks that have a location (a file needs a geometry for each park)."""
    parks = register.parks[register.parks.geometry.notna()].reset_index(drop=True)
    return Register(parks, register.allocations.iloc[:0], register.quotas)


def assert_same_parks(a, b) -> None:
    """Same parks, figures and Chinese text, in the same order; shapes equal to 1e-7 degrees."""
    a = a.reset_index(drop=True)
    b = b.reset_index(drop=True)
    assert len(a) == len(b)
    for col in PARK_COLUMNS:
        if col in ("land_area_m2", "plot_ratio", "gfa_m2", "new_gfa_m2"):
            np.testing.assert_allclose(a[col].to_numpy(), b[col].to_numpy(), rtol=1e-12, err_msg=col)
        else:
            pd.testing.assert_series_equal(a[col], b[col], check_names=False, obj=col)
    assert shapely.equals_exact(a.geometry.values, b.geometry.values, tolerance=1e-7).all()


# ------------------------------------------------------------------ GeoJSON per RFC 7946


@pytest.mark.parametrize("layer", ["parks", "districts", "allocations"])
def test_geojson_passes_independent_validator(plan, register, layer, tmp_path):
    path = write_layer(build_layer(layer, plan, register), "geojson", tmp_path / f"{layer}.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert geojson_validator.validate_structure(doc, check_crs=True) == {}
    result = geojson_validator.validate_geometries(doc)
    assert result["invalid"] == {}, result
    assert "excessive_coordinate_precision" not in result["problematic"]
    assert "outside_lat_lon_boundaries" not in result["problematic"]


def test_validator_catches_what_we_rely_on():
    """The independent check is real: it flags a clockwise outer ring and a ``crs`` member."""
    cw = shapely.geometry.mapping(
        shapely.orient_polygons(shapely.box(114.0, 22.5, 114.1, 22.6), exterior_cw=True)
    )
    doc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "EPSG:4547"}},
        "features": [{"type": "Feature", "properties": {}, "geometry": json.loads(json.dumps(cw))}],
    }  # fmt: skip
    assert geojson_validator.validate_structure(doc, check_crs=True) != {}
    assert "exterior_not_ccw" in geojson_validator.validate_geometries(doc)["invalid"]


def test_geojson_own_rfc7946_assertions(plan, register, tmp_path):
    path = write_layer(build_layer("districts", plan, register), "geojson", tmp_path / "d.geojson")
    text = path.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert "crs" not in doc
    assert "南山区" in text  # Chinese written as text, not \\u escapes
    decimals = re.findall(r"-?\d+\.(\d+)", json.dumps([f["geometry"] for f in doc["features"]]))
    assert max(len(d) for d in decimals) <= 7
    for f in doc["features"]:
        geom = shapely.geometry.shape(f["geometry"])
        for poly in shapely.get_parts(geom):
            assert poly.exterior.is_ccw
            assert all(not ring.is_ccw for ring in poly.interiors)
        x0, y0, x1, y1 = geom.bounds
        assert -180 <= x0 <= x1 <= 180 and -90 <= y0 <= y1 <= 90


# ------------------------------------------------------------------ KML, Excel, annex


def test_kml_placemarks_carry_chinese_names(plan, register, tmp_path):
    path = write_layer(parks_layer(plan, located(register)), "kml", tmp_path / "parks.kml")
    root = ET.parse(path).getroot()
    ns = {"k": "http://www.opengis.net/kml/2.2"}
    names = [n.text for n in root.iterfind(".//k:Placemark/k:name", ns)]
    assert names == located(register).parks["name_zh"].tolist()


def test_annex_table_one_row_a_park_with_source_and_confidence(plan, register, tmp_path):
    table = annex_table(plan, register)
    assert list(table.columns) == ANNEX_COLUMNS
    assert len(table) == len(register.parks)
    assert table["序号"].tolist() == list(range(1, len(register.parks) + 1))
    assert sorted(table["园区名称"]) == sorted(register.parks["name_zh"])
    by_name = table.set_index("园区名称")
    parks = register.parks.set_index("name_zh")
    assert (by_name["来源"] == parks["source"].reindex(by_name.index)).all()
    unconfirmed = parks.index[~parks["figures_verified"]]
    assert (by_name.loc[unconfirmed, "数据可信度"] != "verified").all()
    assert by_name.loc["深圳市软件产业基地", "区"] == "南山区"
    path = write_annex_excel(plan, register, tmp_path / "annex.xlsx")
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == ["一览表", "说明"]
    back = sheets["一览表"]
    assert list(back.columns) == ANNEX_COLUMNS
    assert back["园区名称"].tolist() == table["园区名称"].tolist()
    np.testing.assert_allclose(back["占地面积(m²)"], table["占地面积(m²)"].astype(float))


def test_cli_export_kml_excel_and_annex(register, tmp_path, capsys):
    for fmt in ("kml", "xlsx"):
        out = tmp_path / f"parks.{fmt}"
        assert cli.main(["export", "--layer", "parks", "--format", fmt, "--out", str(out)]) == 0
        assert out.stat().st_size > 0
    annex = tmp_path / "annex.xlsx"
    assert cli.main(["export", "--layer", "annex", "--format", "xlsx", "--out", str(annex)]) == 0
    assert len(pd.read_excel(annex, sheet_name="一览表")) == len(register.parks)
    assert cli.main(["export", "--layer", "annex", "--format", "geojson", "--out", str(tmp_path / "a")]) == 2
    assert not (tmp_path / "a").exists()
    capsys.readouterr()


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("fmt", ROUND_TRIP_FORMATS)
def test_seed_register_round_trip(plan, register, fmt, tmp_path):
    reg = located(register)
    path = write_layer(parks_layer(plan, reg), fmt, tmp_path / f"parks.{fmt}", layer="parks")
    preview = preview_import(path, None, plan, empty_register(register))
    assert preview.ok, preview.problems
    assert_same_parks(reg.parks, confirm_import(preview, empty_register(register), plan).parks)


CJK = "深圳南山福田宝安龙岗罗湖坪山光明盐田科技软件产业园区数字经济云谷智造湾"
x0, y0, x1, y1 = (float(v) for v in load_plan().district_polygons.total_bounds)


def _land_grid() -> list[tuple[float, float]]:
    """Corners (0.01° apart) of 0.012° boxes lying wholly on the districts' land: where drawn parks go."""
    land = shapely.union_all(load_plan().district_polygons.geometry.values)
    shapely.prepare(land)
    xs, ys = np.meshgrid(np.arange(x0, x1, 0.01), np.arange(y0, y1, 0.01))
    boxes = shapely.box(xs.ravel(), ys.ravel(), xs.ravel() + 0.012, ys.ravel() + 0.012)
    keep = shapely.contains_properly(land, boxes)
    return [(round(x, 4), round(y, 4)) for x, y in zip(xs.ravel()[keep], ys.ravel()[keep], strict=True)]


LAND_GRID = _land_grid()


@st.composite
def parks_frames(draw, plan):
    n = draw(st.integers(1, 4))
    ids = draw(
        st.lists(st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True), min_size=n, max_size=n, unique=True)
    )
    district_names = [d.name_zh for d in plan.districts]
    field_keys = [f.key for f in plan.fields]
    rows, geoms = [], []
    for pid in ids:
        area = st.one_of(st.none(), st.integers(0, 10**8).map(lambda v: v / 100))
        status = draw(st.sampled_from(STATUSES))
        district = draw(st.sampled_from(["", *district_names]))
        rows.append(
            {
                "id": pid,
                "name_zh": draw(st.text(CJK, min_size=1, max_size=12)),
                "name_en": draw(st.sampled_from(["", "Valley", "Tech Park 2"])),
                "district": district,
                "district_code": plan.resolve_district(district)[0] if district else "",
                "land_area_m2": draw(area),
                "gfa_m2": draw(area),
                "new_gfa_m2": draw(area),
                "delivery_year": draw(st.one_of(st.none(), st.integers(2000, 2035))),
                "status": status,
                "status_src": draw(st.sampled_from(["", "在建", "operating"])),
                "fields": ";".join(draw(st.lists(st.sampled_from(field_keys), max_size=3, unique=True))),
                "source": draw(st.sampled_from(["", "规划局 2024", "https://example.org/a?b=1"])),
                "figures_conf": draw(st.sampled_from(["", "verified", "LOW"])),
            }
        )
        gx, gy = draw(st.sampled_from(LAND_GRID))  # inside the plan's districts: the import takes it
        lon = round(gx + draw(st.integers(0, 100)) / 10**5, 6)
        lat = round(gy + draw(st.integers(0, 100)) / 10**5, 6)
        if draw(st.booleans()):
            geoms.append(shapely.Point(lon, lat))
        else:
            w, h = draw(st.integers(1, 100)) / 10**4, draw(st.integers(1, 100)) / 10**4
            geoms.append(shapely.box(lon, lat, round(lon + w, 6), round(lat + h, 6)))
    return conform_parks(gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip_property(plan, register, data):
    parks = data.draw(parks_frames(plan))
    fmt = data.draw(st.sampled_from(ROUND_TRIP_FORMATS))
    empty = empty_register(register)
    source = Register(parks, empty.allocations, empty.quotas)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_layer(parks_layer(plan, source), fmt, Path(tmp) / f"p.{fmt}", layer="parks")
        preview = preview_import(path, None, plan, empty)
    assert preview.ok, (fmt, preview.problems)
    expected = parks.copy()
    expected["source"] = expected["source"].where(expected["source"] != "", f"import: p.{fmt}")
    # A park that names no district gets its location's district on import.
    no_district = expected["district_code"] == ""
    expected.loc[no_district, "district_code"] = preview.parks.loc[no_district, "district_code"]
    expected["geometry"] = shapely.orient_polygons(expected.geometry.values)
    # A polygon without land area gets it measured from its footprint in EPSG:4547, and says so.
    measured = expected["land_area_m2"].isna().to_numpy() & expected.geom_type.isin(
        ["Polygon", "MultiPolygon"]
    )
    got = preview.parks.loc[measured]
    want = plan.area_m2(gpd.GeoSeries(expected.geometry[measured], crs=WGS84)).round(1)
    assert np.allclose(got["land_area_m2"].to_numpy(dtype=float), want.to_numpy(), atol=0.11)
    assert got["figures_conf"].str.contains(FOOTPRINT_NOTE, regex=False).all()
    expected.loc[measured, ["land_area_m2", "figures_conf"]] = got[["land_area_m2", "figures_conf"]]
    assert_same_parks(expected, confirm_import(preview, empty, plan).parks)


# ------------------------------------------------------------------ coordinate conversion


@settings(max_examples=300, deadline=None)
@given(
    lon=st.floats(x0, x1, allow_nan=False),
    lat=st.floats(y0, y1, allow_nan=False),
    datum=st.sampled_from(["gcj02", "bd09"]),
)
def test_datum_round_trip_within_1m_anywhere_in_shenzhen(lon, lat, datum):
    pt = np.array([shapely.Point(lon, lat)], dtype=object)
    there = shift_from_wgs84(pt, datum)
    back = shift_to_wgs84(there, datum)[0]
    _, _, moved = GEOD.inv(lon, lat, there[0].x, there[0].y)
    _, _, err = GEOD.inv(lon, lat, back.x, back.y)
    assert err < 1.0
    assert moved > 100  # the shift is real (about 500 m in Shenzhen)
