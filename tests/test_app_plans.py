"""The app on another plan: PLANNER_PLAN chooses it, the sidebar switches between plans, and the
Zhejiang test plan's parks import, check and map as Shenzhen's do (each plan its own store)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from planner import settings
from planner.app import mapview
from planner.app.session import choose_plan, plan_choices, session_plan_name
from planner.core.access import User
from planner.core.geo import WGS84
from planner.core.plan import Plan, load_plan
from planner.core.register import load_register
from planner.i18n import label
from tests.conftest import DATA, as_account
from tests.test_app import PAGES, _texts
from tests.test_uploads import fc_bytes, feature

APP = str(Path(__file__).resolve().parents[1] / "app.py")
ZHEJIANG = str(DATA / "zhejiang")
PLANNER = User("wang", "planner", display_name="王工")
NINGBO = "330200"
TIMEOUT = 60


@pytest.fixture
def zj() -> Plan:
    return load_plan(ZHEJIANG)


@pytest.fixture
def on_zhejiang(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """PLANNER_PLAN names the Zhejiang folder; each plan has its own store file (``{plan}``)."""
    monkeypatch.setenv("PLANNER_PLAN", ZHEJIANG)
    monkeypatch.setenv("PLANNER_DB", str(tmp_path / "{plan}.gpkg"))
    return tmp_path


def _square(plan: Plan, code: str, side_m: float) -> shapely.Polygon:
    """A WGS84 square of ``side_m`` metres (in the plan's own metric CRS) inside a district."""
    poly = plan.district_polygons.set_index("code").loc[[code], "geometry"].to_crs(plan.metric_crs)
    c = poly.representative_point().iloc[0]
    sq = shapely.box(c.x - side_m / 2, c.y - side_m / 2, c.x + side_m / 2, c.y + side_m / 2)
    return gpd.GeoSeries([sq], crs=plan.metric_crs).to_crs(WGS84).iloc[0]


def _app(user: User | None = PLANNER, page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if user is not None:
        at.session_state["user"] = as_account(user)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_planner_plan_chooses_the_apps_plan_and_its_store(on_zhejiang: Path, zj: Plan) -> None:
    at = _app()
    assert at.session_state.plan.id == zj.id
    assert at.title[0].value == zj.title_zh
    assert at.session_state.store.location.endswith("zhejiang.gpkg")
    assert set(at.session_state.register.parks["id"]) == set(load_register(zj).parks["id"])


def test_the_overview_of_a_plan_without_a_space_target_lists_its_targets(on_zhejiang: Path) -> None:
    at = _app()
    assert not at.error and not at.metric  # no new-space target: no target/gap tiles
    table = at.dataframe[0].value.set_index("指标")
    assert table.at["省级数字经济特色小镇", "登记册"] == "4"
    assert table.at["省级数字经济特色小镇", "是否达标"] == "未达标"
    assert table.at["省级数字经济创新发展试验区", "是否达标"] == "登记册无法核算"
    at.radio[0].set_value("en").run()
    assert (
        at.dataframe[0].value.set_index("Target").at["Digital-economy enclave platforms", "Register"] == "1"
    )


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_zhejiang_plan_and_never_says_shenzhen(on_zhejiang: Path, page: str) -> None:
    at = _app(page=page)
    assert not at.error, [e.value for e in at.error]
    text = _texts(at)
    assert "深圳" not in text and "Shenzhen" not in text


def test_zhejiang_parks_check_without_being_outside_the_city(on_zhejiang: Path, zj: Plan) -> None:
    at = _app(page="pages/capacity.py")
    kinds = set(at.multiselect(key="f_code").options)  # the findings' kinds, as the filter offers them
    assert label("finding", "PARK_NO_AREA") in kinds  # the seed gives no areas: said, not hidden
    assert label("finding", "PARK_OUTSIDE_CITY") not in kinds
    assert label("finding", "PARK_NEAR_BOUNDARY") not in kinds


def test_a_zhejiang_park_is_imported_in_the_app(on_zhejiang: Path, zj: Plan) -> None:
    """A park in Ningbo previews as importable (not "outside Shenzhen") and is saved on confirm."""
    at = _app(page="pages/import.py")
    data = fc_bytes(
        [
            feature(
                {"id": "nb1", "名称": "宁波测试小镇", "园区类型": "数字经济特色小镇"},
                _square(zj, NINGBO, 300),
            )
        ]
    )
    at.file_uploader[0].set_value(("ningbo.geojson", data, "application/octet-stream")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("1 个园区可以导入" in s.value for s in at.success), [e.value for e in at.error]
    at.button(key="import_confirm").click().run()
    assert not at.exception, [e.message for e in at.exception]
    stored, v = at.session_state.store.load("main")
    park = stored.parks.set_index("id").loc["nb1"]
    assert (park["district_code"], park["park_type"]) == (NINGBO, "digital_town")
    footprint = zj.area_m2(stored.parks.set_index("id").loc[["nb1"]].geometry).iloc[0]
    assert footprint == pytest.approx(90_000, rel=1e-3)  # 300 m x 300 m in EPSG:4549, and measured there
    assert v.version == 2 and (on_zhejiang / "zhejiang.gpkg").exists()
    assert not (on_zhejiang / "shenzhen.gpkg").exists()  # the other plan's store is untouched


def test_the_zhejiang_map_is_centred_on_the_province_with_its_parks(zj: Plan) -> None:
    register = load_register(zj)
    html = mapview.build_map(zj, register).get_root().render()
    assert "center: [29.2, 120.5]" in html and '"zoom": 7,' in html  # [map] of the plan file
    assert "22.62" not in html  # not Shenzhen's centre
    layer = mapview.park_layer_frame(zj, register)
    assert sorted(layer["id"]) == sorted(register.parks["id"]) and zj.in_extent(layer.geometry).all()


def test_the_sidebar_offers_both_plans_and_switches_keeping_language_and_user(
    on_zhejiang: Path, zj: Plan, plan: Plan
) -> None:
    at = _app()
    at.radio[0].set_value("en").run()
    picker = at.selectbox(key="plan_choice")
    assert picker.options[0].startswith(zj.city_zh) and any(
        o.startswith(plan.city_zh) for o in picker.options
    )
    picker.select_index(
        picker.options.index(next(o for o in picker.options if o.startswith(plan.city_zh)))
    ).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state.plan.id == plan.id and at.title[0].value == plan.title_en
    assert at.session_state.lang == "en" and at.session_state.user.name == "wang"
    assert at.session_state.store.location.endswith("shenzhen.gpkg")
    assert (on_zhejiang / "zhejiang.gpkg").exists() and (on_zhejiang / "shenzhen.gpkg").exists()


def test_a_single_plan_shows_no_picker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_PLAN", raising=False)
    assert plan_choices() == ["shenzhen"]
    at = _app(user=None)
    assert not [s for s in at.selectbox if s.key == "plan_choice"]


def test_choose_plan_drops_the_old_plans_state_and_keeps_language_and_user(on_zhejiang: Path) -> None:
    state = {
        "plan": object(),
        "store": object(),
        "register": object(),
        "version": 3,
        "lang": "en",
        "user": "u",
    }
    assert session_plan_name(state) == ZHEJIANG
    assert choose_plan(state, "shenzhen") is True
    assert state == {"lang": "en", "user": "u", "plan_name": "shenzhen"}
    state["plan"] = object()
    assert choose_plan(state, "shenzhen") is False  # the same plan: nothing dropped
    with pytest.raises(Exception, match="no such plan folder"):
        choose_plan(state, "hangzhou")
    assert state["plan_name"] == "shenzhen"  # a bad choice leaves the session as it was


def test_each_plan_gets_its_own_store_location(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_DB", raising=False)
    assert settings.db_location(plan="shenzhen") == str(settings.DEFAULT_DB)
    assert settings.db_location(plan="zhejiang") == str(settings.DATA_DIR / "planner-zhejiang.gpkg")
    monkeypatch.setenv("PLANNER_DB", "postgresql://h/db_{plan}")
    assert settings.db_location(plan="zhejiang") == "postgresql://h/db_zhejiang"
    assert settings.db_location("x.gpkg", "zhejiang") == "x.gpkg"
