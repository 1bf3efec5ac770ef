"""The app on the store (AppTest, a simulated user for each role): the store is seeded on first
run, every change is a version with its author and comment that a new session sees, two sessions
editing at once never lose an update, refusals are in the store's audit log, and the Scenarios &
history page (open, save as, compare, delete with confirmation, restore) for each role.

Every test has its own store: ``PLANNER_DB`` points into the test's tmp folder (conftest)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner.core.access import User
from planner.core.changes import register_changes
from planner.core.plan import Plan
from planner.core.register import Register
from planner.store import open_store
from tests.conftest import inside, make_register, square
from tests.test_app import app_as
from tests.test_session_auth import events

BAOAN, NANSHAN = "440306", "440305"
PLANNER = User("wang", "planner", display_name="王工")
BAOAN_STAFF = User("li", "district", BAOAN, display_name="李科长")
VIEWER = User("zhao", "viewer")
SCENARIO_PAGE = "pages/scenario.py"
WRITE_KEYS = {"save_as", "delete_scenario", "restore_version"}


def _keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def _sidebar(at: AppTest) -> str:
    return "\n".join(c.value for c in at.sidebar.caption)


def _edit_allocation(at: AppTest, code: str, row: int, area: float) -> AppTest:
    """On the district page: change one allocation's area and apply."""
    at.switch_page("pages/district.py").run()
    at.selectbox(key="district_code").set_value(code).run()
    at.session_state[f"alloc_editor_{code}"] = {
        "edited_rows": {row: {"area_m2": area}},
        "added_rows": [],
        "deleted_rows": [],
    }
    return at.button(key="apply_allocations").click().run()


def _area(register: Register, allocation_id: str) -> float:
    return float(register.allocations.set_index("allocation_id").loc[allocation_id, "area_m2"])


def _frame_with(at: AppTest, value: str):
    """The first table that lists ``value`` in some cell."""
    for d in at.dataframe:
        frame = d.value
        if frame.astype(str).isin([value]).any().any():
            return frame
    raise AssertionError(f"no table lists {value!r}")


def test_the_app_seeds_its_store_on_first_run(seed_register: Register) -> None:
    db = Path(os.environ["PLANNER_DB"])
    assert not db.exists()
    at = app_as(None)
    assert db.exists()
    store = at.session_state.store
    assert store.location == str(db)
    (row,) = store.history("main").to_dict("records")
    assert (row["version"], row["action"], row["author"]) == (1, "seed", "system")
    assert not register_changes(seed_register, at.session_state.register)
    assert "方案 main · v1 (system" in _sidebar(at)


def test_an_edit_is_a_version_that_a_new_session_sees() -> None:
    at = _edit_allocation(app_as(PLANNER), NANSHAN, 0, 12345)
    assert not at.exception and not at.error
    first = "sz_bay_super_hq-a1"
    assert _area(at.session_state.register, first) == 12345
    v = at.session_state.version
    assert (v.version, v.author, v.role, v.comment) == (
        2,
        "wang",
        "planner",
        "南山区分配表 allocations of Nanshan",
    )
    assert "方案 main · v2 (wang" in _sidebar(at)

    later = app_as(None)  # another browser, nobody signed in: reads what was saved
    assert later.session_state.version.version == 2
    assert _area(later.session_state.register, first) == 12345
    history = open_store().history("main")  # and the store itself, opened afresh
    assert list(history["version"]) == [2, 1] and history["author"].iloc[0] == "wang"


def test_two_sessions_editing_at_once_never_lose_an_update() -> None:
    first, second = app_as(PLANNER), app_as(BAOAN_STAFF)  # both load main v1
    _edit_allocation(first, NANSHAN, 0, 7000)
    assert not first.error and first.session_state.version.version == 2
    assert "已有新版本" not in _sidebar(first)
    second.run()
    assert "已有新版本 v2 (wang)" in _sidebar(second)  # the sidebar notices
    _edit_allocation(second, BAOAN, 0, 450_000)  # another row: applied onto v2, no conflict
    assert not second.exception and not second.error
    v = second.session_state.version
    assert (v.version, v.base_version, v.merged_onto) == (3, 1, 2)
    assert _area(second.session_state.register, "sz_bay_super_hq-a1") == 7000  # the working register is v3
    store = second.session_state.store
    latest, _ = store.load("main")
    assert _area(latest, "sz_bay_super_hq-a1") == 7000 and _area(latest, "tencent_penguin-a1") == 450_000
    assert [e["outcome"] for e in events(store)] == ["ok", "ok"]

    # the same row changed by both: a conflict naming it and who changed it; the change is kept
    _edit_allocation(first, BAOAN, 0, 500_000)  # first still works on v2
    assert not first.exception
    (error,) = [e.value for e in first.error]
    assert error.startswith("保存冲突: 方案 main 中你修改的行在你载入 v2 之后也被他人修改 (现为 v3)")
    assert "- 分配 tencent_penguin-a1: li (区级工作人员) 于 v3 修改" in error and "你的修改已保留" in error
    assert (
        first.session_state.version.version == 2
        and _area(store.load("main")[0], "tencent_penguin-a1") == 450_000
    )
    assert first.button(key="reapply_pending").label == "在最新版本上重新应用我的修改"
    first.button(key="reapply_pending").click().run()  # re-applied onto v3 and saved
    assert not first.exception and not first.error
    assert first.session_state.version.version == 4
    final, _ = store.load("main")
    assert _area(final, "tencent_penguin-a1") == 500_000 and _area(final, "sz_bay_super_hq-a1") == 7000
    assert [e["outcome"] for e in events(store)] == ["ok", "ok", "conflict", "ok"]


def test_district_staff_restoring_another_districts_change_is_refused_and_recorded() -> None:
    planner = _edit_allocation(app_as(PLANNER), NANSHAN, 0, 7000)  # v2 changes a Nanshan allocation
    assert planner.session_state.version.version == 2
    at = app_as(BAOAN_STAFF, SCENARIO_PAGE)
    at.radio(key="scenario_view").set_value("history").run()
    at.selectbox(key="history_version_main").set_value(1).run()
    assert "restore_version" in _keys(at)  # staff may restore what is theirs; the store decides
    at.button(key="restore_version").click().run()
    assert not at.exception
    (error,) = [e.value for e in at.error]
    assert error.startswith("无权修改, 共 1 项") and "sz_bay_super_hq-a1" in error and "南山区" in error
    store = at.session_state.store
    assert list(store.history("main")["version"]) == [2, 1]  # nothing written
    refused = [e for e in events(store) if e["outcome"] == "denied"]
    assert [(e["action"], e["user"], e["role"]) for e in refused] == [("restore", "li", "district")]
    assert "allocation sz_bay_super_hq-a1" in refused[0]["detail"]


@pytest.mark.parametrize("user", [VIEWER, None], ids=["viewer", "anonymous"])
def test_viewers_see_no_write_controls_on_the_scenario_page(user: User | None, plan: Plan) -> None:
    store = open_store(plan=plan)
    register, _ = store.load("main")
    store.copy("main", "方案B", user=PLANNER)
    changed = register.allocations.copy()
    changed.loc[0, "area_m2"] = 1.0
    store.save(
        Register(register.parks, changed, register.quotas), user=PLANNER, comment="v2", expected_version=1
    )
    at = app_as(user, SCENARIO_PAGE)
    for view in ("list", "compare", "history"):
        at.radio(key="scenario_view").set_value(view).run()
        assert not at.exception and not at.error
        assert not _keys(at) & WRITE_KEYS and not at.text_input
    at.selectbox(key="history_version_main").set_value(1).run()  # an earlier version: viewable
    assert not _keys(at) & WRITE_KEYS
    assert any("只读" in i.value for i in at.info)
    assert any(m.label == "园区 / 分配" for m in at.metric)
    assert list(store.history("main")["version"]) == [2, 1]
    assert set(store.scenarios()["scenario"]) == {"main", "方案B"}


def test_district_staff_may_not_copy_or_delete_scenarios() -> None:
    at = app_as(BAOAN_STAFF, SCENARIO_PAGE)
    assert not {"save_as", "delete_scenario"} & _keys(at)
    assert any("只有市级规划人员" in i.value for i in at.info)


def test_planner_save_as_open_compare_and_delete(plan: Plan) -> None:
    at = app_as(PLANNER, SCENARIO_PAGE)
    assert at.button(key="save_as").disabled  # no name yet
    at.text_input(key="save_as_name_main").set_value("方案B")
    at.text_input(key="save_as_comment_main").set_value("南山加密").run()
    at.button(key="save_as").click().run()
    assert not at.exception and not at.error
    assert any("已另存为方案 方案B (v1)" in s.value for s in at.success)
    assert at.session_state.scenario == "方案B" and at.session_state.version.action == "copy"
    listed = _frame_with(at, "方案B")
    assert list(listed["scenario"]) == ["main", "方案B"]
    assert "方案 方案B · v1 (wang" in _sidebar(at)
    assert at.selectbox(key="scenario_pick_方案B").value == "方案B"  # shows the open scenario
    assert at.text_input(key="save_as_name_方案B").value == ""  # a fresh form

    # 方案B gets a park more and a park less, saved by someone else through the store
    store = at.session_state.store
    b, vb = store.load("方案B")
    gone = "baguang"
    new_park = make_register(
        [{"id": "nanshan_new", "name_zh": "南山新园", "status": "planned",
          "geometry": square(inside(plan, NANSHAN), 400)}]
    ).parks  # fmt: skip
    parks = b.parks[b.parks["id"] != gone]
    parks = type(parks)(pd.concat([parks, new_park], ignore_index=True), crs=parks.crs)
    allocations = b.allocations[b.allocations["park_id"] != gone]
    store.save(Register(parks, allocations, b.quotas), user=PLANNER, comment="增删园区", scenario="方案B",
               expected_version=vb.version)  # fmt: skip

    at.selectbox(key="scenario_pick_方案B").set_value("main").run()
    at.button(key="open_scenario").click().run()
    assert at.session_state.scenario == "main" and at.session_state.version.version == 1
    at.selectbox(key="scenario_pick_main").set_value("方案B").run()
    at.button(key="open_scenario").click().run()
    assert at.session_state.scenario == "方案B" and at.session_state.version.version == 2
    assert set(at.session_state.register.parks["id"]) >= {"nanshan_new"}

    at.radio(key="scenario_view").set_value("compare").run()
    at.selectbox(key="cmp_a").set_value("main").run()
    at.selectbox(key="cmp_b").set_value("方案B").run()
    assert not at.exception
    assert any("**A** = main v1 · **B** = 方案B v2" in m.value for m in at.markdown)
    added = _frame_with(at, "nanshan_new")
    assert list(added["编号"]) == ["nanshan_new"]
    removed = _frame_with(at, gone)
    assert list(removed["编号"]) == [gone]
    assert any(s.value == "新增园区 (B 有, A 无): 1" for s in at.subheader)
    assert any(s.value == "删除园区 (A 有, B 无): 1" for s in at.subheader)
    totals = _frame_with(at, "计入")
    assert {"A main v1 (万㎡)", "B 方案B v2 (万㎡)", "Δ (万㎡)", "A main v1 (m²)", "Δ (m²)"} <= set(
        totals.columns
    )
    districts = _frame_with(at, "南山区")
    assert {plan.district(c).name_zh for c in plan.district_codes()} <= set(districts["区"])

    # delete: the button stays disabled until the name is typed
    at.radio(key="scenario_view").set_value("list").run()
    at.selectbox(key="delete_pick").set_value("方案B").run()
    assert at.button(key="delete_scenario").disabled
    at.text_input(key="delete_confirm_方案B").set_value("方案").run()
    assert at.button(key="delete_scenario").disabled
    at.text_input(key="delete_confirm_方案B").set_value("方案B").run()
    assert not at.button(key="delete_scenario").disabled
    at.button(key="delete_scenario").click().run()
    assert not at.exception and not at.error
    assert any("已删除方案 方案B" in s.value for s in at.success)
    assert not store.exists("方案B") and list(store.scenarios()["scenario"]) == ["main"]
    assert at.session_state.scenario == "main"  # it was open: back to main
    assert store.history("方案B")["action"].iloc[0] == "delete"  # a tombstone, history kept
    assert "delete_scenario" not in _keys(at)  # main alone is left and cannot be deleted


def test_planner_restores_an_earlier_version_as_a_new_one() -> None:
    at = _edit_allocation(app_as(PLANNER), NANSHAN, 0, 7000)
    assert at.session_state.version.version == 2
    at.switch_page(SCENARIO_PAGE).run()
    at.radio(key="scenario_view").set_value("history").run()
    history = next(d.value for d in at.dataframe if "restored_from" in d.value.columns)
    assert list(history["version"]) == [2, 1] and list(history["author"]) == ["wang", "system"]
    at.selectbox(key="history_version_main").set_value(1).run()
    assert any("与当前工作版本 v2 相比: 分配 allocations +0 -0 ~1" in c.value for c in at.caption)
    at.text_input(key="restore_comment_main_2").set_value("撤销南山修改")
    at.button(key="restore_version").click().run()
    assert not at.exception and not at.error
    assert any("已将 v1 恢复为新版本 v3" in s.value for s in at.success)
    store = at.session_state.store
    v = at.session_state.version
    assert (v.version, v.action, v.restored_from, v.comment) == (3, "restore", 1, "撤销南山修改")
    v1, _ = store.load("main", 1)
    v3, _ = store.load("main", 3)
    assert not register_changes(v1, v3) and not register_changes(v1, at.session_state.register)
    assert _area(store.load("main", 2)[0], "sz_bay_super_hq-a1") == 7000  # v2 stays in the history


@pytest.mark.postgis
def test_the_app_runs_on_postgis(pg_schema_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_DB", pg_schema_url)
    at = _edit_allocation(app_as(PLANNER), NANSHAN, 0, 12345)
    assert not at.exception and not at.error
    store = at.session_state.store
    assert store.location.startswith("postgresql+psycopg2://")
    assert list(store.history("main")["author"]) == ["wang", "system"]
    at.switch_page(SCENARIO_PAGE).run()
    assert not at.exception and not at.error
    assert "方案 main · v2 (wang" in _sidebar(at)
    fresh = app_as(None)
    assert _area(fresh.session_state.register, "sz_bay_super_hq-a1") == 12345
    store.record_event(user="li", role="", action="sign_in", outcome="denied", detail="wrong password")
    top = store.audit_log(1).iloc[0]
    assert (top["user"], top["action"], top["outcome"], top["scenario"]) == ("li", "sign_in", "denied", None)


def _someone_saves_first(at: AppTest) -> None:
    """Another planner saves main v2 (a Nanshan allocation) after ``at`` loaded v1."""
    store = at.session_state.store
    register, v = store.load("main")
    a = register.allocations.copy()
    a.loc[a["allocation_id"] == "sz_bay_super_hq-a1", "area_m2"] = 7000.0
    saved = store.save(
        Register(register.parks, a, register.quotas),
        user=User("chen", "planner"),
        comment="分配表 allocations 440305",
        expected_version=v.version,
    )
    assert saved.version == 2 and at.session_state.version.version == 1


def _merged(at: AppTest) -> None:
    """The save after someone else's (another row) landed: applied onto their v2 as v3, theirs kept."""
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    v = at.session_state.version
    assert (v.version, v.base_version, v.merged_onto) == (3, 1, 2)
    assert (
        _area(at.session_state.store.load("main")[0], "sz_bay_super_hq-a1") == 7000
    )  # the other's edit kept
    assert _area(at.session_state.register, "sz_bay_super_hq-a1") == 7000  # the working register is v3


def test_a_quota_save_after_someone_elses_save_of_another_row_lands() -> None:
    at = app_as(PLANNER, "pages/capacity.py")
    _someone_saves_first(at)
    codes = list(at.data_editor(key="quota_editor").value["district_code"])
    at.session_state["quota_editor"] = {
        "edited_rows": {codes.index(BAOAN): {"quota_m2": 500_000}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="apply_quotas").click().run()
    _merged(at)
    assert at.session_state.store.load("main")[0].quota(BAOAN) == 500_000


def test_a_drawing_saved_after_someone_elses_save_lands() -> None:
    from unittest import mock

    import shapely.geometry

    from tests.test_app import _fake_st_folium

    square_ = shapely.geometry.mapping(shapely.box(113.93, 22.53, 113.935, 22.535))
    with mock.patch("streamlit_folium.st_folium", _fake_st_folium({"geometry": square_})):
        at = app_as(PLANNER, "pages/map.py")
        _someone_saves_first(at)
        next(w for w in at.text_input if w.label == "名称").set_value("冲突园区")
        next(b for b in at.button if b.label == "加入登记册").click().run()
        _merged(at)
    assert "drawn-001" in set(at.session_state.store.load("main")[0].parks["id"])


def test_an_import_confirmed_after_someone_elses_save_lands(plan: Plan) -> None:
    from tests.test_uploads import good_geojson

    at = app_as(PLANNER, "pages/import.py")
    at.file_uploader[0].set_value(("good.geojson", good_geojson(plan), "application/octet-stream")).run()
    _someone_saves_first(at)
    at.button(key="import_confirm").click().run()
    _merged(at)
    stored, _ = at.session_state.store.load("main")
    assert {"up1", "up2"} <= set(stored.parks["id"])
