"""The app's import step as a library: uploads, the CRS choice, the held preview, tables, confirm."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from planner.app import uploads
from planner.core.access import User
from planner.core.geo import WGS84, shift_from_wgs84
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import AccessDenied, PlannerError
from planner.io.ingest import ImportRefused
from tests.conftest import METRIC, as_account, inside, square

NANSHAN, LONGGANG, LUOHU = "440305", "440307", "440303"
BEIJING = shapely.Point(116.3975, 39.9087)


def fc_bytes(features: list[dict]) -> bytes:
    """A GeoJSON FeatureCollection as the bytes of an upload."""
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def feature(props: dict, geom: shapely.Geometry | None) -> dict:
    return {
        "type": "Feature",
        "properties": props,
        "geometry": shapely.geometry.mapping(geom) if geom else None,
    }


def good_geojson(plan: Plan, *, datum: str = "wgs84") -> bytes:
    """Two new parks in real districts (a 300 m square in Longgang, a point in Luohu), optionally
    written in a Chinese map datum as a user copying from Amap would have them."""
    geoms = [square(inside(plan, LONGGANG, dx_m=700), 300), inside(plan, LUOHU, dy_m=-400)]
    if datum != "wgs84":
        geoms = list(shift_from_wgs84(geoms, datum))
    return fc_bytes(
        [
            feature({"id": "up1", "名称": "上传测试园", "占地面积": "9公顷", "状态": "规划", "交付年份": 2025}, geoms[0]),
            feature({"id": "up2", "名称": "罗湖上传园", "新增建筑面积(万㎡)": "2.5"}, geoms[1]),
        ]
    )  # fmt: skip


def broken_geojson(plan: Plan) -> bytes:
    """A bow-tie polygon, a park in Beijing and a negative area: three problems in three features."""
    c = inside(plan, NANSHAN, dx_m=900)
    x, y, d = c.x, c.y, 0.004
    bowtie = shapely.Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d), (x, y)])
    return fc_bytes(
        [
            feature({"id": "b1", "名称": "蝴蝶结园"}, bowtie),
            feature({"id": "b2", "名称": "中关村软件园"}, BEIJING),
            feature({"id": "b3", "名称": "负面积园", "占地面积": -500}, inside(plan, LONGGANG, dy_m=900)),
        ]
    )


@pytest.fixture
def state(plan: Plan) -> dict:
    """A session of a city planner on main v1 of the test's own store (the write path saves there)."""
    from planner.app.session import ensure_state

    session = {"plan": plan, "lang": "zh", "user": as_account(User("t", "planner"))}
    ensure_state(session)
    return session


# ------------------------------------------------------------------ uploads and the CRS choice


def test_upload_types_cover_every_format_but_a_lone_shp() -> None:
    assert set(uploads.UPLOAD_TYPES) >= {"geojson", "json", "gpkg", "zip", "kml", "kmz", "csv", "xlsx"}
    assert "shp" not in uploads.UPLOAD_TYPES  # a shapefile needs its .dbf/.shx: upload it zipped


def test_read_upload_from_an_uploaded_file_or_a_pair() -> None:
    f = io.BytesIO(b"abc")
    f.name = "data/园区.geojson"  # an UploadedFile has .name and .getvalue()
    up = uploads.read_upload(f)
    assert up == uploads.Upload("园区.geojson", b"abc") and up.size == 3
    assert uploads.read_upload(("parks.csv", b"x,y")) == uploads.Upload("parks.csv", b"x,y")
    assert uploads.read_upload(None) is None
    with pytest.raises(ValueError, match="file name"):
        uploads.read_upload(("", b"x"))


def test_the_same_name_and_size_with_other_content_is_another_file() -> None:
    a, b = uploads.Upload("p.csv", b"aaa"), uploads.Upload("p.csv", b"bbb")
    assert uploads.preview_key(a, None, False) != uploads.preview_key(b, None, False)
    assert uploads.preview_key(a, None, False) == uploads.preview_key(
        uploads.Upload("p.csv", b"aaa"), None, False
    )


@pytest.mark.parametrize(
    ("choice", "text", "expected"),
    [
        ("auto", "", None),
        ("wgs84", "", "wgs84"),
        ("gcj02", "", "gcj02"),
        ("bd09", "", "bd09"),
        ("epsg", "4547", "EPSG:4547"),
        ("epsg", " epsg:4547 ", "EPSG:4547"),
        ("epsg", "EPSG 32650", "EPSG:32650"),
    ],
)
def test_crs_choice_maps_to_the_cli_option(choice: str, text: str, expected: str | None) -> None:
    assert uploads.crs_option(choice, text) == expected


@pytest.mark.parametrize(("choice", "text"), [("epsg", ""), ("epsg", "abc"), ("epsg", "999999"), ("utm", "")])
def test_a_bad_crs_choice_is_refused_with_a_message(choice: str, text: str) -> None:
    with pytest.raises(PlannerError, match=r"EPSG|choice"):
        uploads.crs_option(choice, text)


def test_crs_labels_are_bilingual() -> None:
    assert uploads.crs_label("gcj02", "zh") == "GCJ-02 (高德/腾讯)"
    assert uploads.crs_label("bd09", "en") == "BD-09 (Baidu)"
    assert [k for k, _, _ in uploads.CRS_CHOICES] == ["auto", "wgs84", "gcj02", "bd09", "epsg"]
    with pytest.raises(ValueError, match="auto"):
        uploads.crs_label("nad27")


# ------------------------------------------------------------------ the held preview


def test_a_preview_is_read_once_per_file_crs_and_register(state: dict, plan: Plan, monkeypatch) -> None:
    calls: list[str | None] = []
    real = uploads.preview_import

    def counting(*args, **kwargs):
        calls.append(kwargs.get("crs"))
        return real(*args, **kwargs)

    monkeypatch.setattr(uploads, "preview_import", counting)
    up = uploads.Upload("good.geojson", good_geojson(plan))
    first = uploads.held_preview(state, up, plan, state["register"])
    again = uploads.held_preview(state, uploads.Upload("good.geojson", up.data), plan, state["register"])
    assert again is first and calls == [None]  # a rerun does not read the file again
    uploads.held_preview(state, up, plan, state["register"], crs="gcj02")
    assert calls == [None, "gcj02"]  # another CRS: read again
    other = Register(state["register"].parks.copy(), state["register"].allocations, state["register"].quotas)
    uploads.held_preview(state, up, plan, other, crs="gcj02")
    assert len(calls) == 3  # the register changed: checked again (ids may now exist)
    uploads.forget_preview(state)
    assert uploads.PREVIEW_STATE not in state


# ------------------------------------------------------------------ what the page shows


def test_summary_table_names_districts_and_gives_m2_and_wan(plan: Plan, seed_register: Register) -> None:
    preview = uploads.preview_import(good_geojson(plan), "good.geojson", plan, seed_register)
    assert preview.ok, preview.problems
    table = uploads.summary_table(preview, plan, lang="zh").set_index("编号")
    assert table.loc["up1", "区"] == "龙岗区" and table.loc["up2", "区"] == "罗湖区"
    assert table.loc["up1", "占地面积 (m²)"] == 90_000 and table.loc["up1", "占地面积 (万㎡)"] == 9.0
    assert table.loc["up2", "新增建筑面积 (m²)"] == 25_000 and table.loc["up2", "新增建筑面积 (万㎡)"] == 2.5
    assert table.loc["up1", "形状面积 (m²)"] == pytest.approx(90_000, rel=0.01)  # a 300 m square
    assert table.loc["up1", "状态"] == "规划"
    en = uploads.summary_table(preview, plan, lang="en")
    assert list(en["District"]) == ["Longgang", "Luohu"] and "Land area (万㎡)" in en.columns


def test_issues_table_lists_every_problem_with_place_and_field(plan: Plan, seed_register: Register) -> None:
    preview = uploads.preview_import(broken_geojson(plan), "broken.geojson", plan, seed_register)
    assert not preview.ok
    zh = uploads.issues_table(preview, lang="zh")
    errors = zh[zh["级别"] == "错误"]
    got = {
        (code, place.split(" (")[0], fld)
        for code, place, fld in zip(errors["代码"], errors["位置"], errors["字段"], strict=True)
    }
    assert got == {  # places and fields in Chinese: no "feature", no "geometry"
        ("invalid_geometry", "broken.geojson 第 1 个要素", "几何形状"),
        ("outside_extent", "broken.geojson 第 2 个要素", "几何形状"),
        ("negative_area", "broken.geojson 第 3 个要素", "占地面积"),
    }  # fmt: skip
    assert list(errors["位置"].str.split(" [(]").str[0]) == [
        f"broken.geojson 第 {i} 个要素" for i in (1, 2, 3)
    ]
    assert all(any("\u4e00" <= ch <= "\u9fff" for ch in m) for m in zh["问题"])
    en = uploads.issues_table(preview, lang="en")
    assert list(en.columns) == ["Severity", "Place", "Field", "Message", "Code"]
    assert list(en.loc[en["Severity"] == "Error", "Place"].str.split(" [(]").str[0]) == [
        f"broken.geojson feature {i}" for i in (1, 2, 3)
    ]
    assert set(en["Field"]) >= {"Geometry"}
    assert any("outside Shenzhen" in m for m in en["Message"])
    # the app names its own checkbox, not the CLI's option
    assert not any("--accept-repairs" in m for m in [*zh["问题"], *en["Message"]])
    assert any("采用修复后的形状" in m for m in zh["问题"])


def test_repairs_table_offers_the_repaired_bowtie_as_wkt(plan: Plan, seed_register: Register) -> None:
    preview = uploads.preview_import(broken_geojson(plan), "broken.geojson", plan, seed_register)
    table = uploads.repairs_table(preview, plan, lang="en")
    assert list(table["ID"]) == ["b1"]
    shape = shapely.from_wkt(table["WKT"].iloc[0])
    assert shape.is_valid and shape.geom_type == "MultiPolygon"
    assert 85_000 < table["Area (m²)"].iloc[0] < 95_000  # two triangles: half a 0.004° box (410 x 445 m)
    assert preview.parks.set_index("id").geometry["b1"].is_valid is False  # offered, not applied
    good = uploads.preview_import(good_geojson(plan), "good.geojson", plan, seed_register)
    assert uploads.repairs_table(good, plan).empty


# ------------------------------------------------------------------ confirm


def test_confirm_adds_the_parks_through_the_write_path(state: dict, plan: Plan) -> None:
    before = state["register"]
    preview = uploads.held_preview(state, uploads.Upload("g.geojson", good_geojson(plan)), plan, before)
    changes = uploads.confirm_upload(state, preview)
    assert set(state["register"].parks["id"]) == set(before.parks["id"]) | {"up1", "up2"}
    assert sorted(changes.parks.added) == ["up1", "up2"] and not changes.parks.changed
    assert uploads.PREVIEW_STATE not in state
    assert len(before.parks) == 32  # the old register object is untouched


def test_a_refused_preview_leaves_the_register_as_it_was(state: dict, plan: Plan) -> None:
    before = state["register"]
    snapshot = before.parks.to_json()
    preview = uploads.held_preview(state, uploads.Upload("b.geojson", broken_geojson(plan)), plan, before)
    with pytest.raises(ImportRefused) as err:
        uploads.confirm_upload(state, preview)
    assert len(err.value.problems) == 3
    assert state["register"] is before and before.parks.to_json() == snapshot


@pytest.mark.parametrize("user", [None, User("v", "viewer"), User("d", "district", "440306")])
def test_a_user_without_the_right_is_refused(state: dict, plan: Plan, user: User | None) -> None:
    state["user"] = as_account(user)
    before = state["register"]
    preview = uploads.held_preview(state, uploads.Upload("g.geojson", good_geojson(plan)), plan, before)
    with pytest.raises(AccessDenied) as err:
        uploads.confirm_upload(state, preview)
    assert err.value.problems
    assert state["register"] is before
    assert uploads.PREVIEW_STATE in state  # the preview is kept for a retry after signing in


def test_gcj02_choice_moves_parks_back_about_500_m(state: dict, plan: Plan) -> None:
    up = uploads.Upload("amap.geojson", good_geojson(plan, datum="gcj02"))
    truth = gpd.GeoSeries(
        [square(inside(plan, LONGGANG, dx_m=700), 300), inside(plan, LUOHU, dy_m=-400)], crs=WGS84
    ).to_crs(METRIC)
    as_is = uploads.held_preview(state, up, plan, state["register"], crs=uploads.crs_option("auto"))
    converted = uploads.held_preview(state, up, plan, state["register"], crs=uploads.crs_option("gcj02"))
    assert converted.ok, converted.problems
    assert "datum_shifted" in {w.code for w in converted.warnings}

    def off(p) -> list[float]:  # the farthest vertex from where the park really is, in metres
        got = p.parks.geometry.to_crs(METRIC).values
        return [g.hausdorff_distance(t) for g, t in zip(got, truth.values, strict=True)]

    assert max(off(converted)) < 1.0
    assert all(300 < d < 800 for d in off(as_is))  # the GCJ-02 offset in Shenzhen


# ------------------------------------------------------------------ every format, as uploaded bytes


def _parks_frame(plan: Plan) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"名称": ["上传测试园", "罗湖上传园"], "占地面积": ["9公顷", "30亩"]},
        geometry=[square(inside(plan, LONGGANG, dx_m=700), 300), square(inside(plan, LUOHU, dy_m=-400), 140)],
        crs=WGS84,
    )  # polygons only: a shapefile holds one geometry type


def _gpkg(plan: Plan, tmp: Path) -> tuple[str, bytes]:
    _parks_frame(plan).to_file(tmp / "parks.gpkg", driver="GPKG")
    return "parks.gpkg", (tmp / "parks.gpkg").read_bytes()


def shapefile_gbk_zip(plan: Plan, tmp: Path) -> tuple[str, bytes]:
    folder = tmp / "shp"
    folder.mkdir()
    _parks_frame(plan).to_file(folder / "园区.shp", encoding="GBK")
    (folder / "园区.cpg").unlink()  # as many Chinese GIS exports come: GBK text, no .cpg
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in folder.iterdir():
            zf.write(f, f"园区/{f.name}")
    return "园区.zip", buf.getvalue()


def _kml(plan: Plan, tmp: Path) -> tuple[str, bytes]:
    frame = _parks_frame(plan).rename(columns={"名称": "Name"})
    frame.to_file(tmp / "parks.kml", driver="KML")
    return "parks.kml", (tmp / "parks.kml").read_bytes()


def _csv_gbk(plan: Plan, tmp: Path) -> tuple[str, bytes]:
    pts = _parks_frame(plan).to_crs(METRIC).representative_point().to_crs(WGS84)
    table = pd.DataFrame(
        {"名称": ["上传测试园", "罗湖上传园"], "经度": pts.x, "纬度": pts.y, "占地面积": ["9公顷", "30亩"]}
    )
    return "parks.csv", table.to_csv(index=False).encode("gbk")


def _xlsx(plan: Plan, tmp: Path) -> tuple[str, bytes]:
    pts = _parks_frame(plan).to_crs(METRIC).representative_point().to_crs(WGS84)
    table = pd.DataFrame(
        {"园区名称": ["上传测试园", "罗湖上传园"], "lng": pts.x, "lat": pts.y, "占地面积": ["9公顷", "30亩"]}
    )
    table.to_excel(tmp / "parks.xlsx", index=False)
    return "parks.xlsx", (tmp / "parks.xlsx").read_bytes()


@pytest.mark.parametrize(
    "make", [_gpkg, shapefile_gbk_zip, _kml, _csv_gbk, _xlsx], ids=lambda f: f.__name__.strip("_")
)
def test_every_format_previews_from_the_bytes_of_an_upload(
    state: dict, plan: Plan, tmp_path: Path, make
) -> None:
    name, data = make(plan, tmp_path)
    up = uploads.read_upload((name, data))
    assert up.name.rsplit(".", 1)[1] in uploads.UPLOAD_TYPES
    preview = uploads.held_preview(state, up, plan, state["register"])
    assert preview.ok, preview.problems
    table = uploads.summary_table(preview, plan)
    assert list(table["名称"]) == ["上传测试园", "罗湖上传园"]  # Chinese text intact (GBK included)
    assert list(table["区"]) == ["龙岗区", "罗湖区"]
    assert list(table["占地面积 (m²)"]) == [90_000, 20_000]
    uploads.confirm_upload(state, preview)
    assert len(state["register"].parks) == 34
