"""AppTest over every page of the Streamlit app, on the real Shenzhen plan and seed register."""

from __future__ import annotations

import re
from pathlib import Path
from unittest import mock

import geopandas as gpd
import pytest
import shapely
from streamlit.testing.v1 import AppTest

from planner.app.mapview import build_map as real_build_map
from planner.app.mapview import view_around
from planner.core.access import User
from planner.core.geo import WGS84, area_m2, fmt_m2
from planner.core.plan import Plan
from tests.conftest import as_account

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [
    "pages/map.py",
    "pages/capacity.py",
    "pages/monitor.py",
    "pages/district.py",
    "pages/export.py",
    "pages/signin.py",
    "pages/scenario.py",
]
PLANNER = User("wang", "planner", display_name="王工")
TIMEOUT = 60
BAOAN = "440306"


def _texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [m.value for m in at.metric]
    parts += [str(m.help) for m in at.metric] + [t.value for t in at.title] + [s.value for s in at.subheader]
    return "\n".join(parts)


@pytest.fixture
def at() -> AppTest:
    return AppTest.from_file(APP, default_timeout=TIMEOUT).run()


def app_as(user: User | None, page: str | None = None) -> AppTest:
    """The app run once with ``user`` signed in (None: anonymous), then on ``page`` if given;
    it must run without an exception."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if user is not None:
        at.session_state["user"] = as_account(user)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


@pytest.fixture
def planner_at() -> AppTest:
    """The app with a city planner signed in (editing needs a signed-in user)."""
    return app_as(PLANNER)


def test_overview_shows_the_target_and_progress(at: AppTest, plan: Plan) -> None:
    assert not at.exception
    text = _texts(at)
    assert fmt_m2(plan.new_space.value) in text  # 300.0万㎡ (3,000,000 m²)
    assert plan.deadline.isoformat() in text
    labels = [m.label for m in at.metric]
    assert labels[:4] == ["目标", "已计入", "其中已落实 (在建/已交付)", "缺口"]
    assert at.metric[0].value == "300.0 万㎡"


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_and_shows_its_figures(at: AppTest, page: str, plan: Plan) -> None:
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    text = _texts(at)
    if page == "pages/capacity.py":
        assert fmt_m2(plan.new_space.value) in text
        assert len(at.dataframe) >= 2  # districts, findings
    if page == "pages/district.py":
        assert at.selectbox(key="district_code").value == plan.district_codes()[0]
    if page == "pages/export.py":
        assert len(at.get("download_button")) >= 3 * 5 + 1  # three layers x five formats, the annex


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_in_english(at: AppTest, page: str) -> None:
    at.radio[0].set_value("en").run()
    at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state.lang == "en"
    assert not any("\u4e00" <= ch <= "\u9fff" for ch in at.title[0].value)  # an English title


def test_amap_basemap_shifts_and_says_so(at: AppTest) -> None:
    at.switch_page("pages/map.py").run()
    at.selectbox(key="basemap").set_value("amap").run()
    assert not at.exception
    assert any("GCJ-02" in c.value for c in at.caption)
    at.selectbox(key="basemap").set_value("tianditu").run()
    assert not at.exception and any("Tianditu needs a key" in w.value for w in at.warning)


def test_language_switch_to_english(at: AppTest) -> None:
    at.radio[0].set_value("en").run()
    assert at.title[0].value.startswith("Shenzhen action plan")
    assert at.metric[0].label == "Target"
    at.switch_page("pages/capacity.py").run()
    assert at.title[0].value == "Capacity"


def _problems(at: AppTest):
    """The table of refused edits (place, field, problem)."""
    return next(d.value for d in at.dataframe if "字段" in d.value.columns)


def _district(at: AppTest, code: str) -> AppTest:
    at.switch_page("pages/district.py").run()
    return at.selectbox(key="district_code").set_value(code).run()


def test_allocation_table_refuses_a_bad_edit(planner_at: AppTest) -> None:
    at = _district(planner_at, BAOAN)
    before = at.session_state.register.allocations.copy()
    editor = at.data_editor[0]
    assert set(editor.value["park_id"]) >= {"tencent_penguin"}
    at.session_state[f"alloc_editor_{BAOAN}"] = {
        "edited_rows": {0: {"area_m2": -5}, 1: {"delivery_year": 2031}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="apply_allocations").click().run()
    assert not at.exception
    assert at.error and "2 个问题" in at.error[0].value
    problems = _problems(at)
    fields = dict(zip(problems["字段"], problems["位置"], strict=True))  # fields by label, rows in Chinese
    assert "第 1 行" in fields["分配面积(m²)"] and "第 2 行" in fields["交付年份"]
    assert fields["交付年份"].startswith("宝安区分配表")
    assert at.session_state.register.allocations.equals(before)


def test_allocation_table_refuses_a_park_of_another_district(planner_at: AppTest) -> None:
    at = _district(planner_at, BAOAN)
    at.session_state[f"alloc_editor_{BAOAN}"] = {
        "edited_rows": {},
        "added_rows": [{"park_id": "szsib", "specialisation": "core_cluster", "area_m2": 1000,
                        "delivery_year": 2024, "status": "planned"}],
        "deleted_rows": [],
    }  # fmt: skip
    at.button(key="apply_allocations").click().run()
    problems = _problems(at)
    assert list(problems["字段"]) == ["园区编号"]
    assert "第 3 行" in problems["位置"].iloc[0] and "位于 南山区" in problems["问题"].iloc[0]


def test_allocation_table_applies_a_good_edit(planner_at: AppTest) -> None:
    at = _district(planner_at, BAOAN)
    first = at.data_editor[0].value.iloc[0]
    at.session_state[f"alloc_editor_{BAOAN}"] = {
        "edited_rows": {0: {"area_m2": 450000, "delivery_year": 2025}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="apply_allocations").click().run()
    assert not at.exception and not at.error
    assert any("修改已应用" in s.value and "分配: 修改 1" in s.value for s in at.success)
    a = at.session_state.register.allocations.set_index("allocation_id")
    assert a.loc[first["allocation_id"], "area_m2"] == 450000
    assert a.loc[first["allocation_id"], "delivery_year"] == 2025
    assert at.metric[1].value != "40.0 万㎡"  # allocated figure follows the edit


def test_applying_an_unchanged_table_says_nothing_changed(planner_at: AppTest) -> None:
    at = _district(planner_at, BAOAN)
    before = at.session_state.version.version
    at.button(key="apply_allocations").click().run()
    assert not at.exception and not at.error
    assert any("没有修改" in s.value for s in at.success)
    assert not any("修改已应用" in s.value for s in at.success)
    assert at.session_state.version.version == before  # no new version for nothing


def test_longgang_says_its_polygon_holds_dapeng(at: AppTest, plan: Plan) -> None:
    at.switch_page("pages/district.py").run()
    at.selectbox(key="district_code").set_value("440307").run()
    dapeng = next(a for a in plan.functional_areas if a.parent == "440307")
    note = next(i.value for i in at.info if dapeng.name_zh in i.value)
    assert "388.22" in note and "778.75" in note and dapeng.note_zh in note  # the plan's own note
    at.selectbox(key="district_code").set_value(BAOAN).run()
    assert not any(dapeng.name_zh in i.value for i in at.info)  # only where it applies


def _fake_st_folium(drawing: dict | None, tooltip: str | None = None):
    def fake(*args, **kwargs) -> dict:
        assert kwargs["key"] == "plan_map"
        assert {"last_object_clicked_tooltip", "last_active_drawing"} <= set(kwargs["returned_objects"])
        return {"last_object_clicked_tooltip": tooltip, "last_active_drawing": drawing}

    return fake


def _add_button(at: AppTest):
    """The drawing form's submit button."""
    return next(b for b in at.button if b.label in ("加入登记册", "Add to register"))


def test_a_drawing_becomes_a_park() -> None:
    square = shapely.geometry.mapping(shapely.box(113.93, 22.53, 113.935, 22.535))
    drawing = {"type": "Feature", "properties": {}, "geometry": square}
    built: list = []  # the view each map of the page was built with

    def spy(*args, **kwargs):
        built.append(kwargs.get("bounds"))
        return real_build_map(*args, **kwargs)

    with (
        mock.patch("streamlit_folium.st_folium", _fake_st_folium(drawing)),
        mock.patch("planner.app.mapview.build_map", spy),
    ):
        at = app_as(PLANNER, "pages/map.py")  # the fake map serves the map page only
        n = len(at.session_state.register.parks)
        assert at.text_input[0].value == "drawn-001"
        area = next(m.value for m in at.markdown if "测得占地面积" in m.value)  # shown before saving
        metric = at.session_state.plan.metric_crs  # EPSG:4547 for Shenzhen
        measured = area_m2(gpd.GeoSeries([shapely.geometry.shape(square)], crs=WGS84), metric).iloc[0]
        assert fmt_m2(measured) in area and "亩" in area
        name = next(w for w in at.text_input if w.label == "名称")
        name.set_value("绘制的园区")
        _add_button(at).click().run()
        assert not at.exception, [e.message for e in at.exception]
        parks = at.session_state.register.parks
        assert len(parks) == n + 1
        new = parks.iloc[-1]
        assert new["id"] == "drawn-001" and new["name_zh"] == "绘制的园区"
        assert new["district_code"] == "440305" and new["land_area_m2"] > 250_000
        assert any("drawn-001" in s.value for s in at.success)
        assert any("绘制的园区" in s.value for s in at.subheader)  # selected and shown
        # the rebuilt map keeps the view around the drawing instead of the whole city
        assert at.session_state.map_view == view_around(square)
        assert built[-1] == view_around(square)


def test_a_drawing_without_a_name_is_refused() -> None:
    square = shapely.geometry.mapping(shapely.box(113.93, 22.53, 113.935, 22.535))
    with mock.patch("streamlit_folium.st_folium", _fake_st_folium({"geometry": square})):
        at = app_as(PLANNER, "pages/map.py")  # the fake map serves the map page only
        n = len(at.session_state.register.parks)
        _add_button(at).click().run()
        assert at.error and len(at.session_state.register.parks) == n


def test_clicking_a_park_shows_its_allocations() -> None:
    tip = "腾讯企鹅岛 · 在建\n编号 ID: tencent_penguin"
    # streamlit-folium reports the clicked feature as last_active_drawing too: not a drawing
    clicked = {"type": "Feature", "properties": {"id": "tencent_penguin", "_tip": tip},
               "geometry": {"type": "Point", "coordinates": [113.9, 22.6]}}  # fmt: skip
    with mock.patch("streamlit_folium.st_folium", _fake_st_folium(clicked, tip)):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
        at.switch_page("pages/map.py").run()
        assert not at.exception
        assert at.session_state.selected_park == "tencent_penguin"
        shown = at.dataframe[0].value
        assert list(shown["园区编号"]) == [
            "腾讯“互联网+”未来科技城(企鹅岛) (tencent_penguin)"
        ]  # the name beside the id
        assert not [b for b in at.button if b.label == "加入登记册"]


def test_a_finding_leads_to_its_park(at: AppTest) -> None:
    at.switch_page("pages/capacity.py").run()
    shown = next(d for d in at.dataframe if "类别" in d.value.columns).value
    row = int(shown.index[shown["类别"] == "园区无位置"][0])  # PARK_NO_LOCATION, by its label
    park_id = re.search(r"\((\S+)\)$", shown.loc[row, "对象"]).group(1)  # "name (id)"
    at.session_state["findings_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    at.button(key="goto_park").click().run()
    assert not at.exception
    assert at.session_state.selected_park == park_id
    assert at.title[0].value == "地图"
