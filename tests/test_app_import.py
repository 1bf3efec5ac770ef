"""AppTest of the Import page: upload, preview, every problem shown, confirm; register otherwise untouched."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.errors import AppTestError

from planner.app.uploads import PREVIEW_STATE
from planner.core.access import User
from planner.core.geo import WGS84
from planner.core.plan import Plan
from tests.conftest import METRIC, as_account, inside, square
from tests.test_uploads import LONGGANG, LUOHU, broken_geojson, fc_bytes, feature, good_geojson

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGE = "pages/import.py"
TIMEOUT = 60


PLANNER = User("t", "planner")


def _open(user: User | None = PLANNER) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if user is not None:
        at.session_state["user"] = as_account(user)
    at.switch_page(PAGE).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader[0].set_value((name, data, "application/octet-stream")).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


# Each table by a column only it has (AppTest gives a dataframe's key only when it is selectable).
TABLE_COLUMN = {
    "import_parks": ("名称", "Name (zh)"),
    "import_issues": ("代码", "Code"),
    "import_repairs": ("WKT",),
}


def _table(at: AppTest, key: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if set(TABLE_COLUMN[key]) & set(d.value.columns))


def _confirm(at: AppTest):
    return at.button(key="import_confirm")


def test_the_page_waits_for_a_file_in_both_languages() -> None:
    at = _open()
    assert at.title[0].value == "导入"
    assert any("请选择要导入的文件" in i.value for i in at.info)
    assert [o for o in at.selectbox(key="import_crs").options][:4] == [
        "自动 (按文件声明)",
        "WGS84 (GPS, 天地图)",
        "GCJ-02 (高德/腾讯)",
        "BD-09 (百度)",
    ]
    at.radio[0].set_value("en").run()
    assert not at.exception and at.title[0].value == "Import"
    assert any("Choose a file" in i.value for i in at.info)


def test_a_good_file_previews_and_is_imported_on_confirm(plan: Plan) -> None:
    at = _upload(_open(), "good.geojson", good_geojson(plan))
    before = at.session_state.register.parks.copy()
    assert any("2 个园区可以导入" in s.value for s in at.success)
    parks = _table(at, "import_parks")
    assert list(parks["编号"]) == ["up1", "up2"] and list(parks["区"]) == ["龙岗区", "罗湖区"]
    assert parks["占地面积 (万㎡)"].iloc[0] == 9.0
    held = at.session_state[PREVIEW_STATE][2]
    at.run()  # a rerun (any widget) does not read the file again
    assert at.session_state[PREVIEW_STATE][2] is held
    assert at.session_state.register.parks.equals(before)  # nothing stored before the confirm
    assert not _confirm(at).disabled
    _confirm(at).click().run()
    assert not at.exception, [e.message for e in at.exception]
    after = at.session_state.register.parks
    assert set(after["id"]) == set(before["id"]) | {"up1", "up2"}
    assert after.set_index("id").at["up1", "district_code"] == LONGGANG
    assert any("已导入 good.geojson 中的 2 个园区" in s.value for s in at.success)
    assert at.file_uploader[0].value is None  # a fresh uploader for the next file
    assert PREVIEW_STATE not in at.session_state
    stored, v = at.session_state.store.load("main")  # saved as a new version of the store
    assert (v.version, v.author, v.comment) == (2, at.session_state.user.name, "import good.geojson")
    assert set(stored.parks["id"]) == set(after["id"])


def test_a_broken_file_shows_every_problem_and_cannot_be_confirmed(plan: Plan) -> None:
    at = _open()
    before = at.session_state.register.parks.copy()
    _upload(at, "broken.geojson", broken_geojson(plan))
    assert any("发现 3 个问题" in e.value for e in at.error)
    issues = _table(at, "import_issues")
    errors = issues[issues["级别"] == "错误"]
    got = {(p.split(" (")[0], f) for p, f in zip(errors["位置"], errors["字段"], strict=True)}
    assert got == {  # places and fields in Chinese
        ("broken.geojson 第 1 个要素", "几何形状"),  # bow-tie
        ("broken.geojson 第 2 个要素", "几何形状"),  # Beijing
        ("broken.geojson 第 3 个要素", "占地面积"),  # negative area
    }
    assert set(errors["代码"]) == {"invalid_geometry", "outside_extent", "negative_area"}
    repairs = _table(at, "import_repairs")
    assert list(repairs["编号"]) == ["b1"] and repairs["WKT"].iloc[0].startswith("MULTIPOLYGON")
    assert _confirm(at).disabled
    with pytest.raises(AppTestError, match="disabled"):  # no one can press it
        _confirm(at).click()
    # accepting the repair removes one problem; the other two still refuse the import
    at.checkbox(key="import_accept_repairs").check().run()
    assert not at.exception
    issues = _table(at, "import_issues")
    assert set(issues.loc[issues["级别"] == "错误", "代码"]) == {"outside_extent", "negative_area"}
    assert "geometry_repaired" in set(issues["代码"])
    assert _confirm(at).disabled
    assert at.session_state.register.parks.equals(before)


def test_an_accepted_repair_is_what_gets_stored(plan: Plan) -> None:
    c = inside(plan, LUOHU, dx_m=-600)
    x, y, d = c.x, c.y, 0.003
    bowtie = {"type": "Polygon", "coordinates": [[[x, y], [x + d, y + d], [x + d, y], [x, y + d], [x, y]]]}
    data = fc_bytes([{"type": "Feature", "properties": {"id": "bt", "名称": "蝴蝶结园"}, "geometry": bowtie}])
    at = _upload(_open(), "bowtie.geojson", data)
    assert _confirm(at).disabled
    at.checkbox(key="import_accept_repairs").check().run()
    assert not _confirm(at).disabled
    _confirm(at).click().run()
    stored = at.session_state.register.parks.set_index("id").geometry["bt"]
    assert stored.is_valid and stored.geom_type == "MultiPolygon"


def test_gcj02_choice_shifts_the_parks_before_they_are_stored(plan: Plan) -> None:
    at = _open()
    at.selectbox(key="import_crs").set_value("gcj02").run()
    _upload(at, "amap.geojson", good_geojson(plan, datum="gcj02"))
    issues = _table(at, "import_issues")
    assert "datum_shifted" in set(issues["代码"])
    _confirm(at).click().run()
    assert not at.exception
    stored = at.session_state.register.parks.set_index("id").geometry[["up1", "up2"]]
    truth = gpd.GeoSeries(
        [square(inside(plan, LONGGANG, dx_m=700), 300), inside(plan, LUOHU, dy_m=-400)], crs=WGS84
    )
    got = gpd.GeoSeries(stored.values, crs=WGS84).to_crs(METRIC).values
    for g, t in zip(got, truth.to_crs(METRIC).values, strict=True):
        assert g.hausdorff_distance(t) < 1.0


def test_changing_the_crs_reads_the_file_again(plan: Plan) -> None:
    at = _upload(_open(), "amap.geojson", good_geojson(plan, datum="gcj02"))
    first = at.session_state[PREVIEW_STATE]
    at.selectbox(key="import_crs").set_value("gcj02").run()
    second = at.session_state[PREVIEW_STATE]
    assert second[0] != first[0] and second[2] is not first[2]
    assert second[2].crs_used == "gcj02"


def test_an_epsg_code_is_checked(plan: Plan) -> None:
    at = _open()
    at.selectbox(key="import_crs").set_value("epsg").run()
    at.text_input(key="import_epsg").set_value("12345678").run()
    _upload(at, "good.geojson", good_geojson(plan))
    assert any("unknown CRS" in e.value for e in at.error)
    assert PREVIEW_STATE not in at.session_state


@pytest.mark.parametrize("user", [None, User("v", "viewer")])
def test_a_user_who_may_not_write_is_told_in_the_preview(plan: Plan, user: User | None) -> None:
    """The preview asks the rights check: a valid file is not "可以导入" for a user who may not
    import it, and the confirm cannot be pressed; nothing is written."""
    at = _open(user)
    before = at.session_state.register
    _upload(at, "good.geojson", good_geojson(plan))
    assert not any("可以导入" in s.value for s in at.success)
    (warning,) = [w.value for w in at.warning]
    assert "无权导入" in warning and "只读用户不能修改数据" in warning
    assert _confirm(at).disabled
    assert at.session_state.register is before
    assert len(at.session_state.store.history("main")) == 1  # nothing written


def test_district_staff_learn_in_the_preview_which_parks_are_not_theirs(plan: Plan) -> None:
    at = _open(User("li", "district", LONGGANG))
    _upload(at, "good.geojson", good_geojson(plan))  # a Longgang park and a Luohu park
    (warning,) = [w.value for w in at.warning]
    assert "无权导入其中 1 项" in warning and "up2" in warning and "罗湖区" in warning
    assert "up1" not in warning  # its own district's park is fine
    assert _confirm(at).disabled
    at.radio[0].set_value("en").run()
    assert any("you may not import 1 item(s)" in w.value for w in at.warning)


def test_problems_in_english(plan: Plan) -> None:
    at = _open()
    at.radio[0].set_value("en").run()
    _upload(at, "broken.geojson", broken_geojson(plan))
    issues = _table(at, "import_issues")
    assert list(issues.columns) == ["Severity", "Place", "Field", "Message", "Code"]
    assert any("outside Shenzhen" in m for m in issues["Message"])
    assert any("3 problem(s)" in e.value for e in at.error)


def test_a_file_with_a_park_already_in_the_register_is_refused(plan: Plan) -> None:
    at = _open()
    before = at.session_state.register.parks.copy()
    data = fc_bytes([feature({"id": "szsib", "名称": "软件产业基地"}, inside(plan, LUOHU, dx_m=300))])
    _upload(at, "dup.geojson", data)
    assert set(_table(at, "import_issues")["代码"]) >= {"existing_id"}
    assert _confirm(at).disabled and at.session_state.register.parks.equals(before)


def test_a_zipped_gbk_shapefile_through_the_uploader(plan: Plan, tmp_path: Path) -> None:
    from tests.test_uploads import shapefile_gbk_zip

    name, data = shapefile_gbk_zip(plan, tmp_path)
    at = _open()
    at.file_uploader[0].set_value((name, data, "application/zip")).run()
    assert not at.exception
    assert list(_table(at, "import_parks")["名称"]) == ["上传测试园", "罗湖上传园"]
    _confirm(at).click().run()
    assert {"上传测试园", "罗湖上传园"} <= set(at.session_state.register.parks["name_zh"])
