"""The app's monitoring: the overview after and before the deadline (the sidebar's date), the trend
chart, the monitoring page's report download, the planner-only indicator and successor controls,
and their library helpers (the same write paths as the page)."""

from __future__ import annotations

import datetime as dt
import io
import os

import docx
import pytest

from planner.app.monitoring import record_indicator_file, session_monitor, start_successor
from planner.app.session import ensure_state
from planner.core import plan as plan_module
from planner.core.access import User
from planner.core.geo import fmt_m2
from planner.core.successor import TargetInput
from planner.errors import AccessDenied, InputError, ValidationError
from planner.i18n import label
from planner.io.report import cjk_font
from planner.store import open_store
from tests.conftest import as_account
from tests.test_app import PLANNER, _texts, app_as

VIEWER = User("vic", "viewer")


def test_overview_after_the_deadline_shows_the_result_not_progress() -> None:
    at = app_as(None)
    at.date_input(key="as_of").set_value(dt.date(2026, 11, 29)).run()
    text = _texts(at) + "\n".join(e.value for e in at.warning)
    assert "规划期已于 2025-12-31 结束" in text and "未达成" in text
    assert f"规划期内应交付但未交付 {fmt_m2(526_000)}" in text  # the seed's 2023 and 2024 allocations
    assert not at.get("progress")  # no "进度 17.5%" after the deadline
    assert "截止时已交付 (结果)" in [m.label for m in at.metric]
    targets = next(d.value for d in at.dataframe if "截止时是否达成" in d.value.columns)
    assert "产业集群增加值" in set(targets["目标"]) and "新建新型研发机构和创新载体" in set(targets["目标"])


def test_overview_before_the_deadline_shows_progress() -> None:
    at = app_as(None)
    at.date_input(key="as_of").set_value(dt.date(2024, 6, 30)).run()
    assert not at.exception
    bars = at.get("progress")
    assert bars and "截至 2024-06-30" in bars[0].proto.text and "规划期内" in bars[0].proto.text
    assert "截止时已交付 (结果)" not in [m.label for m in at.metric]


def test_capacity_page_has_the_trend_and_the_warnings() -> None:
    at = app_as(None, "pages/capacity.py")
    assert any("变化趋势" in s.value for s in at.subheader)
    findings = next(d.value for d in at.dataframe if "类别" in d.value.columns)  # kinds by label
    assert {label("finding", "ALLOC_OVERDUE"), label("finding", "TARGET_MISSED_AT_DEADLINE")} <= set(
        findings["类别"]
    )


def test_monitoring_page_report_download_and_planner_controls() -> None:
    at = app_as(PLANNER, "pages/monitor.py")
    at.date_input(key="as_of").set_value(dt.date(2026, 11, 29)).run()
    assert at.title[0].value == "监测评估"
    assert any(e.label.startswith("录入实际值") for e in at.expander)
    at.button(key="make_report").click().run()
    assert not at.exception, [e.message for e in at.exception]
    name, data = at.session_state.report_file
    assert name.endswith("终期评估-2026-11-29.docx")
    text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    assert "终期评估报告" in text
    if cjk_font() is not None or os.environ.get("CI"):  # the PDF needs a CJK font (fonts-noto-cjk)
        at.button(key="make_report_pdf").click().run()
        assert not at.exception, [e.message for e in at.exception]
        name, data = at.session_state.report_file
        assert name.endswith("终期评估-2026-11-29.pdf") and data.startswith(b"%PDF")
        assert at.get("download_button")[0].proto.label.endswith(".pdf")
    viewer = app_as(VIEWER, "pages/monitor.py")
    assert not any(e.label.startswith("录入实际值") for e in viewer.expander)


def _state(user: User | None) -> dict:
    state: dict = {"user": as_account(user)} if user else {}
    ensure_state(state)
    return state


def test_page_helpers_record_values_as_the_signed_in_user(plan) -> None:
    good = (
        "indicator,year,district_code,value,source,confidence,note\nvalue_added,2025,,4300,公报,confirmed,\n"
    )
    bad = (
        "indicator,year,district_code,value,source,confidence,note\nvalue_added,2025,,lots,公报,confirmed,\n"
    )
    viewer = _state(VIEWER)
    with pytest.raises(AccessDenied):
        record_indicator_file(viewer, plan, good.encode(), "good.csv")
    state = _state(PLANNER)
    with pytest.raises(ValidationError, match="row 1"):
        record_indicator_file(state, plan, bad.encode(), "bad.csv")
    assert record_indicator_file(state, plan, good.encode(), "good.csv") == 1
    assert open_store(None, plan).indicators()["recorded_by"].tolist() == ["wang"]
    state["as_of"] = dt.date(2024, 1, 1)
    assert session_monitor(state, plan, state["register"]).phase == "in_period"


def test_page_helper_starts_a_successor_in_the_plans_directory(plan, tmp_path) -> None:
    state, viewer = _state(PLANNER), _state(VIEWER)
    nxt = start_successor(
        state,
        plan,
        state["register"],
        folder_name="shenzhen-2026-2030",
        period=(2026, 2030),
        plan_id="shenzhen-software-2026-2030",
        title_zh="深圳市软件与信息服务产业集群行动计划(2026-2030年)",
        targets=[TargetInput("new_space", 2_000_000)],
    )
    assert nxt.deadline == dt.date(2030, 12, 31)
    assert (tmp_path / "plans" / "shenzhen-2026-2030" / "plan.toml").is_file()  # $PLANNER_PLANS_DIR
    assert plan_module.load_plan("shenzhen-2026-2030").id == "shenzhen-software-2026-2030"
    assert plan_module.available_plans() == ["shenzhen", "shenzhen-2026-2030"]
    with pytest.raises(InputError, match="already exists"):  # a known plan's name is refused
        start_successor(
            state, plan, state["register"], folder_name="shenzhen", period=(2026, 2030),
            plan_id="y", title_zh="y", targets=[],
        )  # fmt: skip
    with pytest.raises(AccessDenied):
        start_successor(
            viewer,
            plan,
            state["register"],
            folder_name="x",
            period=(2026, 2030),
            plan_id="x",
            title_zh="x",
            targets=[],
        )
    assert not (tmp_path / "plans" / "x").exists()
