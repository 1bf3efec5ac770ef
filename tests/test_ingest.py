"""Import: a corpus of broken and awkward files, generated here, each refused with its own message.

Every test works on a copy of the plan folder in ``tmp_path``: geodata/ is never written.
"""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from pyproj import Transformer

from planner.cli import main as cli
from planner.core.accounts import set_account
from planner.core.geo import M2_PER_MU, WGS84, shift_from_wgs84
from planner.core.plan import GEODATA, load_plan
from planner.core.register import ALLOCATIONS_FILE, PARKS_FILE, load_register
from planner.io.ingest import (
    ImportRefused,
    confirm_import,
    match_header,
    parse_area,
    preview_import,
)
from planner.store import open_store
from tests.conftest import METRIC

# Places in Shenzhen away from every seed park (the seed coordinates have 3 decimals).
NANSHAN = (113.9517, 22.5412)
LONGGANG = (114.2473, 22.7213)
BEIJING = (116.3975, 39.9087)


@pytest.fixture
def plan_dir(tmp_path: Path) -> Path:
    """A copy of the Shenzhen plan folder, so imports never touch geodata/."""
    target = tmp_path / "plan"
    shutil.copytree(GEODATA / "shenzhen", target)
    return target


@pytest.fixture
def plan(plan_dir: Path):
    return load_plan(plan_dir)


@pytest.fixture
def register(plan):
    return load_register(plan)


@pytest.fixture
def importer(monkeypatch) -> str:
    """A city planner account for ``import`` (password through $PLANNER_PASSWORD)."""
    set_account("importer", "planner", "import-pass-123")
    monkeypatch.setenv("PLANNER_PASSWORD", "import-pass-123")
    return "importer"


def store_versions(plan) -> list[int]:
    """The versions of the store's main scenario (the store is $PLANNER_DB, a temporary file)."""
    return open_store(None, plan).history()["version"].tolist()


def feature(props: dict, geom: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geom}


def point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lon, lat]}


def square(lon: float, lat: float, d: float = 0.002) -> dict:
    return shapely.geometry.mapping(shapely.box(lon, lat, lon + d, lat + d))


def write_fc(path: Path, features: list[dict], **extra) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", **extra, "features": features}, ensure_ascii=False)
    )
    return path


def good_features() -> list[dict]:
    return [
        feature({"id": "t1", "名称": "测试软件园", "占地面积": "3公顷", "状态": "在建", "交付年份": "2025"}, point(*NANSHAN)),
        feature({"id": "t2", "名称": "龙岗数字小镇", "占地面积": "120亩"}, square(*LONGGANG)),
    ]  # fmt: skip


def files_bytes(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in (PARKS_FILE, ALLOCATIONS_FILE)}


# ------------------------------------------------------------------ the corpus


def _truncated(d: Path) -> Path:
    good = write_fc(d / "ok.geojson", good_features())
    path = d / "truncated.geojson"
    path.write_bytes(good.read_bytes()[:-40])
    return path


def _projected_undeclared(d: Path) -> Path:
    to_4547 = Transformer.from_crs(WGS84, METRIC, always_xy=True)
    x, y = to_4547.transform(*NANSHAN)
    return write_fc(d / "projected.geojson", [feature({"名称": "投影坐标园"}, point(x, y))])


def _bowtie(d: Path) -> Path:
    x, y = NANSHAN
    ring = [[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]
    return write_fc(
        d / "bowtie.geojson", [feature({"名称": "蝴蝶结园"}, {"type": "Polygon", "coordinates": [ring]})]
    )


def _beijing(d: Path) -> Path:
    return write_fc(d / "beijing.geojson", [feature({"名称": "中关村软件园"}, point(*BEIJING))])


def _swapped_csv(d: Path) -> Path:
    path = d / "swapped.csv"
    pd.DataFrame({"名称": ["互换园"], "经度": [NANSHAN[1]], "纬度": [NANSHAN[0]]}).to_csv(path, index=False)
    return path


def _negative(d: Path) -> Path:
    return write_fc(
        d / "negative.geojson", [feature({"名称": "负面积园", "占地面积": -500}, point(*NANSHAN))]
    )


def _empty(d: Path) -> Path:
    return write_fc(d / "empty.geojson", [])


def _linestring(d: Path) -> Path:
    line = {"type": "LineString", "coordinates": [list(NANSHAN), list(LONGGANG)]}
    return write_fc(d / "line.geojson", [feature({"名称": "线状园"}, line)])


def _duplicate_ids(d: Path) -> Path:
    feats = [
        feature({"id": "dup", "名称": "甲园"}, point(*NANSHAN)),
        feature({"id": "dup", "名称": "乙园"}, point(*LONGGANG)),
    ]
    return write_fc(d / "dups.geojson", feats)


def _no_name(d: Path) -> Path:
    return write_fc(d / "noname.geojson", [feature({"占地面积": 100}, point(*NANSHAN))])


def _not_a_number(d: Path) -> Path:
    return write_fc(d / "nan.geojson", [feature({"名称": "文字面积园", "占地面积": "很大"}, point(*NANSHAN))])


def _existing_id(d: Path) -> Path:
    return write_fc(
        d / "existing.geojson", [feature({"id": "szsib", "名称": "软件产业基地"}, point(*NANSHAN))]
    )


def _existing_footprint(d: Path) -> Path:
    # the seed register's 深圳市软件产业基地 (szsib) lies at 113.944, 22.524; same place, new id
    return write_fc(
        d / "footprint.geojson", [feature({"id": "new1", "名称": "软件基地"}, point(113.944, 22.524))]
    )


CORPUS = {
    "truncated JSON": (_truncated, "unreadable", "truncated"),
    "projected, undeclared": (_projected_undeclared, "undeclared_projected", "declares no coordinate system"),
    "bow-tie polygon": (_bowtie, "invalid_geometry", "Self-intersection"),
    "park in Beijing": (_beijing, "outside_extent", "outside Shenzhen"),
    "swapped lat/lon": (_swapped_csv, "swapped_axes", "look swapped"),
    "negative area": (_negative, "negative_area", "must not be negative"),
    "empty collection": (_empty, "empty", "empty"),
    "LineString park": (_linestring, "wrong_geometry_type", "got LineString"),
    "duplicate ids": (_duplicate_ids, "duplicate_id", "duplicate id dup"),
    "no name column": (_no_name, "no_name_column", "no name column"),
    "non-numeric area": (_not_a_number, "bad_number", "not a number"),
    "id already in register": (_existing_id, "existing_id", "already in the register"),
    "footprint already in register": (_existing_footprint, "existing_footprint", "nearly identical to register park szsib"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CORPUS))
def test_corpus_refused_with_its_own_message_register_unchanged(
    case, plan_dir, plan, importer, tmp_path, capsys
):
    make, code, text = CORPUS[case]
    path = make(tmp_path)
    before = files_bytes(plan_dir)
    rc = cli.main(["import", str(path), "--plan", str(plan_dir), "--json", "--user", importer])
    out = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert out["ok"] is False and out["imported"] is False
    codes = {p["code"] for p in out["problems"]}
    assert codes == {code}, out["problems"]
    assert any(text in p["message_en"] for p in out["problems"]), out["problems"]
    assert all(p["message_zh"] and p["place"] for p in out["problems"])
    assert files_bytes(plan_dir) == before
    assert store_versions(plan) == [1]


def test_unknown_crs_still_reports_field_problems(plan, register, tmp_path):
    to_4547 = Transformer.from_crs(WGS84, METRIC, always_xy=True)
    feats = [
        feature({"id": "p1", "名称": "", "占地面积": "-3"}, point(*to_4547.transform(*NANSHAN))),
        feature({"id": "p1", "名称": "乙"}, point(*to_4547.transform(*LONGGANG))),
    ]
    preview = preview_import(write_fc(tmp_path / "proj.geojson", feats), None, plan, register)
    assert preview.codes() == {"undeclared_projected", "missing_name", "negative_area", "duplicate_id"}


def test_problems_name_feature_and_field(plan, register, tmp_path):
    path = _bowtie(tmp_path)
    preview = preview_import(path, None, plan, register)
    (issue,) = preview.problems
    assert issue.place.startswith("bowtie.geojson feature 1")
    assert issue.field == "geometry"


def test_every_problem_reported_at_once(plan, register, tmp_path):
    feats = [
        feature({"id": "a", "名称": "好园"}, point(*NANSHAN)),
        feature({"id": "b", "名称": "", "占地面积": -1}, point(*LONGGANG)),
        feature({"id": "c", "名称": "京园"}, point(*BEIJING)),
        feature({"id": "a", "名称": "线园"}, {"type": "LineString", "coordinates": [list(NANSHAN), list(LONGGANG)]}),
        feature({"id": "e", "名称": "年份园", "交付年份": "明年"}, point(114.05, 22.55)),
    ]  # fmt: skip
    preview = preview_import(write_fc(tmp_path / "many.geojson", feats), None, plan, register)
    got = {(i.code, i.place.split(" (")[0]) for i in preview.problems}
    assert got == {
        ("missing_name", "many.geojson feature 2"),
        ("negative_area", "many.geojson feature 2"),
        ("outside_extent", "many.geojson feature 3"),
        ("duplicate_id", "many.geojson feature 4"),
        ("wrong_geometry_type", "many.geojson feature 4"),
        ("bad_year", "many.geojson feature 5"),
    }
    with pytest.raises(ImportRefused) as err:
        confirm_import(preview, register, plan)
    assert len(err.value.problems) == 6


def test_bowtie_repair_is_offered_not_applied(plan, register, tmp_path):
    path = _bowtie(tmp_path)
    preview = preview_import(path, None, plan, register)
    original = preview.parks.geometry.iloc[0]
    assert not original.is_valid  # the file's shape is kept as it was
    offered = preview.repairs.iloc[0]
    assert offered.is_valid and offered.geom_type == "MultiPolygon"
    (wkt,) = preview.to_dict()["repairs"].values()
    assert shapely.from_wkt(wkt).equals_exact(offered, tolerance=1e-7)
    accepted = preview_import(path, None, plan, register, accept_repairs=True)
    assert accepted.ok
    assert accepted.parks.geometry.iloc[0].equals(offered)
    assert [w.code for w in accepted.warnings if w.code == "geometry_repaired"]
    new = confirm_import(accepted, register, plan)
    assert len(new.parks) == len(register.parks) + 1


def test_good_file_imports_with_units_converted(plan, register, tmp_path):
    path = write_fc(tmp_path / "good.geojson", good_features())
    preview = preview_import(path, None, plan, register)
    assert preview.ok, preview.problems
    parks = preview.parks.set_index("id")
    assert parks.at["t1", "land_area_m2"] == pytest.approx(30_000)
    assert parks.at["t2", "land_area_m2"] == pytest.approx(120 * M2_PER_MU)
    assert parks.at["t1", "status"] == "under_construction"
    assert parks.at["t1", "delivery_year"] == 2025
    assert parks.at["t1", "district_code"] == "440305"  # from the location: 南山
    assert parks.at["t2", "district_code"] == "440307"  # 龙岗
    new = confirm_import(preview, register, plan)
    assert set(new.parks["id"]) == set(register.parks["id"]) | {"t1", "t2"}
    assert len(register.parks) == 32  # the register passed in is untouched


@pytest.mark.parametrize(
    ("header", "cell", "m2"),
    [
        ("占地面积", "15万㎡", 150_000),
        ("占地面积（公顷）", "2.5", 25_000),
        ("占地面积(亩)", "300", 200_000),
        ("land area (ha)", "1", 10_000),
        ("Land area (m²)", "1,234", 1_234),
        ("占地面积", "0.5平方公里", 500_000),
        ("建筑面积(万平方米)", "63.17", 631_700),
    ],
)
def test_units(header, cell, m2):
    col, _, unit = match_header(header)
    assert col in ("land_area_m2", "gfa_m2")
    assert parse_area(pd.Series([cell]), unit).iloc[0] == pytest.approx(m2, rel=1e-6)


def test_chinese_and_english_headers():
    assert match_header("名称")[0] == "name_zh"
    assert match_header("Name")[0] == "name_zh"
    assert match_header("新增建筑面积")[0] == "new_gfa_m2"
    assert match_header("New floor area")[0] == "new_gfa_m2"
    assert match_header("交付年份")[0] == "delivery_year"
    assert match_header("状态")[0] == "status"
    assert match_header("经度")[0] == "_lon"
    assert match_header("Latitude")[0] == "_lat"
    assert match_header("something else")[0] == ""


# ------------------------------------------------------------------ shapefiles and encodings


def _shapefile_zip(tmp: Path, name: str, *, encoding: str, cpg: bool, prj: bool = True, crs=WGS84) -> Path:
    folder = tmp / f"shp_{name}"
    folder.mkdir()
    gdf = gpd.GeoDataFrame(
        {"名称": ["深圳湾科技生态园北区", "龙岗天安云谷二期"], "占地": ["2.5公顷", "90亩"], "状态": ["在建", "规划"]},
        geometry=[shapely.Point(NANSHAN), shapely.Point(LONGGANG)],
        crs=WGS84,
    ).to_crs(crs)  # fmt: skip
    gdf.to_file(folder / "parks.shp", encoding=encoding)
    if not cpg:
        (folder / "parks.cpg").unlink()
    if not prj:
        (folder / "parks.prj").unlink()
    path = tmp / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"data/{f.name}")
    return path


@pytest.mark.parametrize(
    ("encoding", "cpg"), [("GBK", True), ("GBK", False), ("UTF-8", True), ("UTF-8", False)]
)
def test_shapefile_chinese_text_arrives_intact(plan, register, tmp_path, encoding, cpg):
    path = _shapefile_zip(tmp_path, f"{encoding}_{cpg}", encoding=encoding, cpg=cpg)
    preview = preview_import(path, None, plan, register)
    assert preview.ok, preview.problems
    assert preview.parks["name_zh"].tolist() == ["深圳湾科技生态园北区", "龙岗天安云谷二期"]
    assert preview.parks["land_area_m2"].round().tolist() == [25_000, 60_000]
    assert preview.parks["status"].tolist() == ["under_construction", "planned"]
    detected = [w for w in preview.warnings if w.code == "encoding"]
    assert bool(detected) == (encoding == "GBK" and not cpg)


def test_shapefile_declared_cgcs2000_projection_is_honoured(plan, register, tmp_path):
    path = _shapefile_zip(tmp_path, "epsg4547", encoding="UTF-8", cpg=True, crs=METRIC)
    preview = preview_import(path, None, plan, register)
    assert preview.ok, preview.problems
    assert preview.crs_used == "EPSG:4547"
    got = shapely.get_coordinates(preview.parks.geometry.values)
    np.testing.assert_allclose(got, [NANSHAN, LONGGANG], atol=1e-7)


def test_shapefile_projected_without_prj_refused_then_accepted_with_crs(plan, register, tmp_path):
    path = _shapefile_zip(tmp_path, "noprj", encoding="UTF-8", cpg=True, prj=False, crs=METRIC)
    refused = preview_import(path, None, plan, register)
    assert refused.codes() == {"undeclared_projected"}
    accepted = preview_import(path, None, plan, register, crs="EPSG:4547")
    assert accepted.ok, accepted.problems
    got = shapely.get_coordinates(accepted.parks.geometry.values)
    np.testing.assert_allclose(got, [NANSHAN, LONGGANG], atol=1e-7)


def test_declared_crs_conflicting_with_option_is_refused(plan, register, tmp_path):
    path = _shapefile_zip(tmp_path, "conflict", encoding="UTF-8", cpg=True, crs=METRIC)
    assert preview_import(path, None, plan, register, crs="gcj02").codes() == {"crs_conflict"}
    assert preview_import(path, None, plan, register, crs="EPSG:32650").codes() == {"crs_conflict"}


# ------------------------------------------------------------------ GCJ-02 / BD-09, tables


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_chinese_datum_input_converted_to_wgs84(plan, register, tmp_path, datum):
    truth = shapely.points([NANSHAN, LONGGANG])
    shifted = shift_from_wgs84(truth, datum)
    path = tmp_path / f"{datum}.csv"
    pd.DataFrame({"名称": ["甲", "乙"], "lng": shapely.get_x(shifted), "lat": shapely.get_y(shifted)}).to_csv(
        path, index=False
    )
    as_is = preview_import(path, None, plan, register)
    converted = preview_import(path, None, plan, register, crs=datum)
    assert converted.ok and converted.crs_used == datum
    assert "datum_shifted" in {w.code for w in converted.warnings}
    metric = gpd.GeoSeries(truth, crs=WGS84).to_crs(METRIC)
    err = converted.parks.geometry.to_crs(METRIC).distance(metric)
    raw = as_is.parks.geometry.to_crs(METRIC).distance(metric)
    assert (err < 1.0).all()
    assert (raw > 100).all()  # without the option the park would sit hundreds of metres off


def test_gbk_csv_and_excel_with_chinese_headers(plan, register, tmp_path):
    table = pd.DataFrame(
        {
            "园区名称": ["前海数字园", "坪山智造园"],
            "经度": [NANSHAN[0], 114.3462],
            "纬度": [NANSHAN[1], 22.6953],
            "建筑面积(万㎡)": ["12.5", ""],
            "重点领域": ["人工智能、大数据", "工业互联网"],
            "园区类型": ["数字经济产业园", ""],
        }
    )
    csv = tmp_path / "gbk.csv"
    csv.write_bytes(table.to_csv(index=False).encode("gbk"))
    xlsx = tmp_path / "parks.xlsx"
    table.to_excel(xlsx, index=False)
    for path in (csv, xlsx):
        preview = preview_import(path, None, plan, register)
        assert preview.ok, preview.problems
        parks = preview.parks
        assert parks["name_zh"].tolist() == ["前海数字园", "坪山智造园"]
        assert parks["gfa_m2"].iloc[0] == pytest.approx(125_000)
        assert np.isnan(parks["gfa_m2"].iloc[1])
        assert parks["fields"].tolist() == ["ai;big_data", "industrial_internet"]
        assert parks["park_type"].tolist() == ["digital_park", ""]
        assert parks["district_code"].tolist() == ["440305", "440310"]


def test_upload_bytes_like_the_app(plan, register, tmp_path):
    data = write_fc(tmp_path / "x.geojson", good_features()).read_bytes()
    preview = preview_import(data, "upload.geojson", plan, register)
    assert preview.ok and preview.file == "upload.geojson"
    assert list(preview.summary_frame(plan)["district_name"]) == ["南山区", "龙岗区"]


# ------------------------------------------------------------------ CLI and storage


def test_cli_import_saves_a_new_version_and_dry_run_does_not(
    plan_dir, plan, register, importer, tmp_path, capsys
):
    path = write_fc(tmp_path / "good.geojson", good_features())
    before = files_bytes(plan_dir)
    assert cli.main(["import", str(path), "--plan", str(plan_dir), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "测试软件园" in out and "t2" in out and "--dry-run" in out
    assert store_versions(plan) == [1]
    assert cli.main(["import", str(path), "--plan", str(plan_dir), "--user", importer]) == 0
    assert "v2" in capsys.readouterr().out
    after, version = open_store(None, plan).load()
    assert (version.version, version.author) == (2, importer)
    assert "good.geojson" in version.comment
    assert {"t1", "t2"} <= set(after.parks["id"])
    assert len(after.parks) == 34
    pd.testing.assert_frame_equal(after.allocations, register.allocations)
    assert files_bytes(plan_dir) == before  # the plan folder's seed files are never written
    # importing the same file again is refused: the ids are already in the register
    assert cli.main(["import", str(path), "--plan", str(plan_dir), "--json", "--user", importer]) == 1
    assert {p["code"] for p in json.loads(capsys.readouterr().out)["problems"]} == {"existing_id"}
    assert store_versions(plan) == [2, 1]


def test_cli_import_needs_a_user_and_the_right_password(
    plan_dir, plan, importer, tmp_path, monkeypatch, capsys
):
    path = write_fc(tmp_path / "good.geojson", good_features())
    with pytest.raises(SystemExit) as exc:
        cli.main(["import", str(path), "--plan", str(plan_dir)])
    assert exc.value.code == 2 and "--user" in capsys.readouterr().err
    monkeypatch.setenv("PLANNER_PASSWORD", "wrong-password")
    assert cli.main(["import", str(path), "--plan", str(plan_dir), "--user", importer]) == 4
    assert "wrong user name or password" in capsys.readouterr().err
    assert store_versions(plan) == [1]


def test_cli_bad_arguments_exit_2(plan_dir, tmp_path, capsys):
    path = write_fc(tmp_path / "good.geojson", good_features())
    with pytest.raises(SystemExit) as exc:
        cli.main(["import", str(path), "--plan", str(plan_dir), "--crs", "mars2000"])
    assert exc.value.code == 2
    assert "mars2000" in capsys.readouterr().err


def test_refused_or_interrupted_import_leaves_the_scenario_as_it_was(
    plan_dir, plan, importer, tmp_path, capsys
):
    """The store, not files, holds the register: a refused import and an import killed half-way
    through its save leave the scenario's latest version as it was (same number, same content)."""
    from tests.test_store import assert_same, kill_when_rows_written

    db = str(tmp_path / "store.gpkg")
    store = open_store(db, plan)
    before, v_before = store.load()
    log_before = len(store.audit_log())
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    rc = cli.main(["import", str(broken), "--plan", str(plan_dir), "--db", db, "--user", importer])
    assert rc == 1 and "broken.geojson" in capsys.readouterr().out
    good = write_fc(tmp_path / "good.geojson", good_features())
    kill_when_rows_written(
        ["-m", "planner", "import", str(good), "--plan", str(plan_dir), "--db", db, "--user", importer]
    )
    after, v_after = open_store(db, plan).load()
    assert v_after == v_before and open_store(db, plan).history()["version"].tolist() == [1]
    assert_same(after, before)
    log = open_store(db, plan).audit_log()
    new = log.iloc[: len(log) - log_before]  # newest first
    assert list(new["outcome"]) == ["invalid"]  # the refused import is recorded; no save recorded as done


def test_cli_gcj02_dry_run_converts_and_leaves_register(plan_dir, tmp_path, capsys):
    shifted = shift_from_wgs84(shapely.points([NANSHAN]), "gcj02")[0]
    path = write_fc(tmp_path / "amap.geojson", [feature({"名称": "高德坐标园"}, point(shifted.x, shifted.y))])
    before = files_bytes(plan_dir)
    rc = cli.main(["import", str(path), "--plan", str(plan_dir), "--crs", "gcj02", "--dry-run", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] and not out["imported"] and out["crs"] == "gcj02"
    assert "datum_shifted" in {w["code"] for w in out["warnings"]}
    assert files_bytes(plan_dir) == before


GOOGLE_EARTH_KML = """<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>我的地点</name>
<Placemark><name>光明科学城数字园</name>
<ExtendedData><Data name="占地面积"><value>3公顷</value></Data></ExtendedData>
<Point><coordinates>113.9351,22.7612,0</coordinates></Point></Placemark>
</Document></kml>
"""


def test_google_earth_kmz_and_multilayer_gpkg(plan, register, tmp_path):
    kmz = tmp_path / "places.kmz"
    with zipfile.ZipFile(kmz, "w") as zf:
        zf.writestr("doc.kml", GOOGLE_EARTH_KML)
    gpkg = tmp_path / "two.gpkg"
    gdf = gpd.GeoDataFrame(
        {"名称": ["光明科学城数字园"], "占地面积": ["3公顷"]}, geometry=[shapely.Point(113.9351, 22.7612)], crs=WGS84
    )  # fmt: skip
    gdf.to_file(gpkg, layer="parks", driver="GPKG")
    gdf.to_file(gpkg, layer="other", driver="GPKG")
    for path in (kmz, gpkg):
        preview = preview_import(path, None, plan, register)
        assert preview.ok, preview.problems
        assert preview.parks["name_zh"].tolist() == ["光明科学城数字园"]
        assert preview.parks["land_area_m2"].tolist() == [30_000]
        assert preview.parks["district_code"].tolist() == ["440311"]
    assert "layers_ignored" in {w.code for w in preview.warnings}


def test_csv_with_wkt_geometry_column(plan, register, tmp_path):
    path = tmp_path / "wkt.csv"
    poly = shapely.box(LONGGANG[0], LONGGANG[1], LONGGANG[0] + 0.003, LONGGANG[1] + 0.002)
    pd.DataFrame({"name": ["Tianan Cloud Park III"], "geometry": [poly.wkt]}).to_csv(path, index=False)
    preview = preview_import(path, None, plan, register)
    assert preview.ok, preview.problems
    assert preview.parks.geometry.iloc[0].equals(poly)
    assert preview.parks["name_zh"].iloc[0] == "Tianan Cloud Park III"


def test_unsupported_and_missing_files(plan, register, tmp_path):
    odd = tmp_path / "parks.dwg"
    odd.write_bytes(b"AC1015")
    assert preview_import(odd, None, plan, register).codes() == {"unreadable"}
    assert preview_import(tmp_path / "nope.geojson", None, plan, register).codes() == {"unreadable"}
    bad_zip = tmp_path / "broken.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    assert preview_import(bad_zip, None, plan, register).codes() == {"unreadable"}


def test_geojson_coordinate_not_a_number_named_not_missing(plan, register, tmp_path):
    x, y = 114.05, 22.55
    ring = [[x, y], [x + 0.002, y], [x + 0.002, "q"], [x, y]]
    feats = [
        feature({"id": "p1", "名称": "三维园"}, {"type": "Point", "coordinates": [x, y, "x"]}),
        feature({"id": "p2", "名称": "文字纬度园"}, {"type": "Point", "coordinates": [x, "abc"]}),
        feature({"id": "p3", "名称": "无几何园"}, None),
        feature({"id": "p4", "名称": "面园"}, {"type": "Polygon", "coordinates": [ring]}),
        feature({"id": "p5", "名称": "好园"}, point(*LONGGANG)),
    ]
    preview = preview_import(write_fc(tmp_path / "coords.geojson", feats), None, plan, register)
    got = {(i.code, i.place, i.field) for i in preview.problems}
    assert got == {
        ("bad_coordinate", "coords.geojson feature 1 (p1)", "geometry"),
        ("bad_coordinate", "coords.geojson feature 2 (p2)", "geometry"),
        ("missing_geometry", "coords.geojson feature 3 (p3)", "geometry"),
        ("bad_coordinate", "coords.geojson feature 4 (p4)", "geometry"),
    }
    bad = {i.place: i for i in preview.problems if i.code == "bad_coordinate"}
    for where, value in (
        ("1 (p1)", '"x" (coordinates[2])'),
        ("2 (p2)", '"abc" (coordinates[1])'),
        ("4 (p4)", '"q" (coordinates[0][2][1])'),
    ):
        problem = bad[f"coords.geojson feature {where}"]
        assert "coordinate is not a number" in problem.message_en and value in problem.message_en
        assert "坐标不是数字" in problem.message_zh and value in problem.message_zh


def test_csv_coordinate_not_a_number_is_one_problem(plan, register, tmp_path):
    path = tmp_path / "coords.csv"
    pd.DataFrame(
        {
            "名称": ["文字经度园", "文字纬度园", "空坐标园", "好园"],
            "经度": ["abc", "114.05", "", str(LONGGANG[0])],
            "纬度": ["22.55", "北纬", "", str(LONGGANG[1])],
        }
    ).to_csv(path, index=False)
    preview = preview_import(path, None, plan, register)
    got = sorted((i.code, i.place.split(" (")[0], i.field) for i in preview.problems)
    assert got == [
        ("bad_coordinate", "coords.csv row 2", "经度"),
        ("bad_coordinate", "coords.csv row 3", "纬度"),
        ("missing_geometry", "coords.csv row 4", "geometry"),
    ]
    lon = next(i for i in preview.problems if i.field == "经度")
    assert "not a number: abc" in lon.message_en and "不是数字: abc" in lon.message_zh
    wkt = tmp_path / "wkt.csv"
    pd.DataFrame({"name": ["坏WKT园"], "wkt": ["POLYGON ((114.05 abc))"]}).to_csv(wkt, index=False)
    (issue,) = preview_import(wkt, None, plan, register).problems
    assert (issue.code, issue.place, issue.field) == (
        "bad_coordinate",
        "wkt.csv row 2",
        "wkt",
    )


def test_a_parcel_on_nanshans_southern_edge_is_inside_the_city(plan, register, tmp_path):
    """内伶仃岛 reaches below 22.40°N (the old fixed box's edge): a parcel there, inside Nanshan's
    polygon, imports into Nanshan; a point 3 km beyond the district, in the sea, is still refused."""
    from tests.test_geo import _southern_tip

    tip = _southern_tip(plan)
    assert tip.y < 22.40
    far = gpd.GeoSeries([tip], crs=WGS84).to_crs(plan.metric_crs).translate(0, -3000).to_crs(WGS84).iloc[0]
    ok = preview_import(
        write_fc(
            tmp_path / "edge.geojson", [feature({"id": "edge", "名称": "内伶仃岛地块"}, point(tip.x, tip.y))]
        ),
        None,
        plan,
        register,
    )
    assert ok.ok, ok.problems
    assert ok.parks.set_index("id").at["edge", "district_code"] == "440305"
    sea = preview_import(
        write_fc(tmp_path / "sea.geojson", [feature({"id": "sea", "名称": "海上"}, point(far.x, far.y))]),
        None,
        plan,
        register,
    )
    assert sea.codes() == {"outside_extent"}
    message = sea.problems[0].message_zh
    assert "深圳市范围以外" in message and "1,000 米" in message


def test_a_park_outside_another_plans_extent_names_that_plans_city(tmp_path):
    """The import's code for a place outside the plan is city-neutral (outside_extent); its message
    names the city of the plan folder: a Shenzhen park offered to the Zhejiang plan is outside 浙江省."""
    from tests.conftest import DATA

    zj = load_plan(DATA / "zhejiang")
    path = write_fc(tmp_path / "sz.geojson", [feature({"id": "sz", "名称": "深圳园区"}, point(*LONGGANG))])
    preview = preview_import(path, None, zj, load_register(zj))
    assert preview.codes() == {"outside_extent"}
    (issue,) = preview.problems
    assert "浙江省范围以外" in issue.message_zh and "outside Zhejiang" in issue.message_en
    assert "深圳" not in issue.message_zh.replace("深圳园区", "") and "Shenzhen" not in issue.message_en
