"""Issue 12.7 and 12.8: crafted files are problems with their place, never a crash; a coordinate
system that cannot be read or used is refused, never taken for WGS84. Plus a property-based test:
random bytes, random nesting and random numbers never make ``preview_import`` raise."""

from __future__ import annotations

import io
import json
import math
import tracemalloc
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS
from streamlit.testing.v1 import AppTest

from planner.cli import main as cli
from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import PlannerError
from planner.io.crs import parse_crs_option
from planner.io.ingest import preview_import
from planner.settings import MB
from tests.test_ingest import NANSHAN

ROOT = Path(__file__).resolve().parents[1]
NAN, INF = float("nan"), float("inf")
MARS = (
    'GEOGCS["Mars 2000",DATUM["D_Mars_2000",SPHEROID["Mars_2000_IAU_IAG",3396190.0,169.894447223612]],'
    'PRIMEM["Greenwich",0],UNIT["Decimal_Degree",0.0174532925199433]]'
)


def collection(geometry: dict | None, props: dict | None = None) -> bytes:
    """A one-feature GeoJSON (NaN and Infinity written as the JSON tokens Python allows)."""
    feature = {"type": "Feature", "properties": props or {"name": "园"}, "geometry": geometry}
    return json.dumps({"type": "FeatureCollection", "features": [feature]}).encode()


def shapefile_zip(tmp_path: Path, prj: str | None) -> bytes:
    """A zipped one-point shapefile in Nanshan whose .prj holds ``prj`` (None: as GDAL wrote it)."""
    folder = tmp_path / "shp"
    folder.mkdir(exist_ok=True)
    gpd.GeoDataFrame({"name": ["园"]}, geometry=[shapely.Point(*NANSHAN)], crs=WGS84).to_file(
        folder / "p.shp"
    )
    if prj is not None:
        (folder / "p.prj").write_text(prj, encoding="utf-8")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f.name)
    return buf.getvalue()


# ---------------------------------------------------------------- 12.7 crafted files


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Point", "coordinates": [NAN, NANSHAN[1]]},
        {"type": "Point", "coordinates": [NANSHAN[0], INF]},
        {"type": "Polygon", "coordinates": [[[113.9, 22.5], [NAN, 22.6], [114.0, 22.6], [113.9, 22.5]]]},
        {"type": "Polygon", "coordinates": [[[113.9, 22.5], [114.0, 22.6], [114.0, 22.5], [113.9, 22.6],
                                             [-INF, 22.5], [113.9, 22.5]]]},
    ],
)  # fmt: skip
def test_nan_and_infinite_coordinates_are_a_problem_of_their_feature(
    plan: Plan, seed_register: Register, geometry: dict
) -> None:
    preview = preview_import(collection(geometry), "nan.geojson", plan, seed_register)
    assert [(i.code, i.problem.field) for i in preview.problems] == [("bad_coordinate", "geometry")]
    assert preview.problems[0].problem.place.startswith("nan.geojson feature 1")


def test_nan_in_a_wkt_column_is_a_problem_of_its_row(plan: Plan, seed_register: Register) -> None:
    csv = 'name,wkt\nA,"POLYGON((113.9 22.5, nan 22.6, 114 22.6, 113.9 22.5))"\nB,"POINT (113.95 22.54)"\n'
    preview = preview_import(csv.encode(), "wkt.csv", plan, seed_register)
    assert [(i.code, i.problem.place.split(" (")[0]) for i in preview.problems] == [
        ("bad_coordinate", "wkt.csv row 2")
    ]


def test_a_projection_that_overflows_is_no_place(plan: Plan, seed_register: Register) -> None:
    geometry = {"type": "Point", "coordinates": [1e300, 1e300]}
    preview = preview_import(collection(geometry), "far.geojson", plan, seed_register, crs="EPSG:4547")
    assert not preview.ok and "read_error" not in preview.codes()


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("where", ["top", "coordinates", "properties"])
def test_json_nested_deep_is_a_problem(plan: Plan, seed_register: Register, depth: int, where: str) -> None:
    if where == "top":
        text = "[" * depth + "]" * depth
    elif where == "coordinates":
        text = collection(None).decode().replace('"geometry": null', '"geometry": {"type": "Point", '
                                                  f'"coordinates": {"[" * depth + "]" * depth}}}')  # fmt: skip
    else:
        text = collection(None, {"name": "园", "x": "__X__"}).decode()
        text = text.replace('"__X__"', '{"a": ' * depth + "1" + "}" * depth)
    preview = preview_import(text.encode(), "deep.geojson", plan, seed_register)
    assert preview.codes() == {"unreadable"}
    assert (
        "嵌套" in preview.problems[0].problem.message_zh
        and "nested" in preview.problems[0].problem.message_en
    )


def test_the_cli_prints_problems_not_tracebacks(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, data in (
        ("nan.geojson", collection({"type": "Point", "coordinates": [NAN, NAN]})),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000),
    ):
        path = tmp_path / name
        path.write_bytes(data)
        assert cli.main(["import", str(path), "--dry-run"]) == cli.EXIT_REFUSED
        out = capsys.readouterr()
        assert "拒绝导入 refused" in out.out and "Traceback" not in out.out + out.err


def test_the_import_page_shows_crafted_files_as_problems() -> None:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    at.switch_page("pages/import.py").run()
    for name, data in (
        ("nan.geojson", collection({"type": "Point", "coordinates": [INF, NAN]})),
        ("deep.geojson", b"[" * 100_000 + b"]" * 100_000),
    ):
        at.file_uploader[0].set_value((name, data, "application/geo+json")).run()
        assert not at.exception, [e.message for e in at.exception]
        assert any("不能导入" in e.value for e in at.error)


# ---------------------------------------------------------------- 12.8 coordinate systems


@pytest.mark.parametrize(
    ("prj", "says"),
    [("this is not a projection", "cannot be read"), ("", "cannot be read"), (MARS, "not on Earth")],
)
def test_a_prj_that_cannot_be_used_is_refused_naming_it_and_crs(
    plan: Plan, seed_register: Register, tmp_path: Path, prj: str, says: str
) -> None:
    data = shapefile_zip(tmp_path, prj)
    preview = preview_import(data, "parks.zip", plan, seed_register)
    assert preview.codes() == {"unusable_crs"}
    problem = preview.problems[0].problem
    assert problem.place == "parks.zip (p.prj)" and problem.field == "crs"
    assert says in problem.message_en and "p.prj" in problem.message_en and "--crs" in problem.message_en
    chosen = preview_import(data, "parks.zip", plan, seed_register, crs="wgs84")
    assert chosen.ok and chosen.crs_used == "EPSG:4326"
    assert "crs_ignored" in {w.code for w in chosen.warnings}


def test_a_good_prj_still_imports(plan: Plan, seed_register: Register, tmp_path: Path) -> None:
    preview = preview_import(shapefile_zip(tmp_path, None), "parks.zip", plan, seed_register)
    assert preview.ok and preview.crs_used == "EPSG:4326"


def test_a_geocentric_crs_is_refused(plan: Plan, seed_register: Register, tmp_path: Path) -> None:
    point = gpd.GeoSeries([shapely.Point(*NANSHAN)], crs=WGS84).to_crs(4978)
    path = tmp_path / "geocentric.gpkg"
    gpd.GeoDataFrame({"name": ["园"]}, geometry=point).to_file(path)
    preview = preview_import(path, None, plan, seed_register)
    assert preview.codes() == {"unusable_crs"} and "geocentric" in preview.problems[0].problem.message_en
    with pytest.raises(PlannerError, match="geocentric"):
        parse_crs_option("EPSG:4978")
    assert CRS.from_epsg(4547) == parse_crs_option("EPSG:4547")


def test_the_cli_refuses_a_garbage_prj(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "parks.zip"
    path.write_bytes(shapefile_zip(tmp_path, "GEOGCS[garbage"))
    assert cli.main(["import", str(path), "--dry-run"]) == cli.EXIT_REFUSED
    out = capsys.readouterr().out
    assert "p.prj" in out and "--crs" in out and "Traceback" not in out


# ---------------------------------------------------------------- property-based

SUFFIXES = (".geojson", ".json", ".csv", ".txt", ".zip", ".kmz", ".kml", ".gpkg", ".xlsx")
MEMORY_BOUND = 64 * MB  # Python's own allocations while one small crafted file is read


def _preview_bounded(data: bytes, name: str, plan: Plan, register: Register):
    tracemalloc.start()
    try:
        preview = preview_import(data, name, plan, register)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "read_error" not in preview.codes(), [str(i) for i in preview.problems]  # nothing unforeseen
    assert peak < MEMORY_BOUND
    return preview


FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_are_problems(plan: Plan, seed_register: Register, data: bytes, suffix: str) -> None:
    preview = _preview_bounded(data, f"random{suffix}", plan, seed_register)
    assert preview.problems


def _nested(depth: int, kinds: list[str]) -> str:
    opens = "".join("[" if kinds[i % len(kinds)] == "a" else '{"k":' for i in range(depth))
    closes = "".join("]" if kinds[i % len(kinds)] == "a" else "}" for i in reversed(range(depth)))
    return opens + "1" + closes


@FUZZ
@given(
    depth=st.integers(min_value=0, max_value=5_000),
    kinds=st.lists(st.sampled_from("ao"), min_size=1, max_size=4),
    where=st.sampled_from(["top", "coordinates", "properties", "features"]),
    suffix=st.sampled_from((".geojson", ".json")),
)
def test_random_nesting_is_problems(
    plan: Plan, seed_register: Register, depth: int, kinds: list[str], where: str, suffix: str
) -> None:
    inner = _nested(depth, kinds)
    doc = {
        "top": inner,
        "coordinates": '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"A"},'
        f'"geometry":{{"type":"Point","coordinates":{inner}}}}}]}}',
        "properties": '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"A",'
        f'"x":{inner}}},"geometry":{{"type":"Point","coordinates":[113.95,22.54]}}}}]}}',
        "features": f'{{"type":"FeatureCollection","features":{inner}}}',
    }[where]
    preview = _preview_bounded(doc.encode(), f"nested{suffix}", plan, seed_register)
    if where != "properties":  # a nested attribute is kept as text; every other nesting is wrong
        assert preview.problems


numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=113.7, max_value=115.4),
    st.sampled_from(["1e400", "-1e400", "inf", "nan", "1e300万㎡", "NaN", "Infinity", "", "1,2", "--1"]),
)


@FUZZ
@given(rows=st.lists(st.tuples(numbers, numbers, numbers, numbers), min_size=1, max_size=5))
def test_random_numbers_never_raise(plan: Plan, seed_register: Register, rows: list[tuple]) -> None:
    csv = "名称,经度,纬度,占地面积,分配面积\n" + "".join(
        f"园{i},{x},{y},{a},{b}\n" for i, (x, y, a, b) in enumerate(rows)
    )
    preview = _preview_bounded(csv.encode(), "numbers.csv", plan, seed_register)
    land = preview.parks["land_area_m2"]
    assert preview.problems or land.map(lambda v: math.isnan(v) or math.isfinite(v)).all()
    features = [
        {"type": "Feature", "properties": {"name": f"园{i}", "占地面积": a if isinstance(a, float) else str(a)},
         "geometry": {"type": "Point", "coordinates": [x, y]}}
        for i, (x, y, a, _) in enumerate(rows)
    ]  # fmt: skip
    text = json.dumps({"type": "FeatureCollection", "features": features}, default=str)
    _preview_bounded(text.encode(), "numbers.geojson", plan, seed_register)
