"""AppTest of the 方案生成 Proposals page on the real Shenzhen plan and seed register."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from planner.core.access import User
from planner.core.plan import load_plan
from planner.store import compare, open_store
from tests.test_app import APP, PLANNER, TIMEOUT, _texts, app_as

PAGE = "pages/proposals.py"
NANSHAN_STAFF = User("ns", "district", "440305")


def generate(at: AppTest, as_of: int = 2024) -> AppTest:
    at.number_input(key="proposal_as_of").set_value(as_of)
    next(b for b in at.button if b.label in ("生成方案", "Generate proposal")).click().run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def test_the_page_lists_the_sites_and_proposes(plan):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.switch_page(PAGE).run()
    assert not at.exception and not at.error
    assert at.title[0].value == "方案生成"
    assert "方案生成" in [p[1] for p in __import__("planner.app.session", fromlist=["PAGES"]).PAGES]
    assert len(at.dataframe) == 2  # the quota editor and the site capacity table, before any proposal
    sites = at.dataframe[1].value
    assert "剩余容量(m²)" in sites.columns and "缺少占地面积" in " ".join(sites["不可用原因"].astype(str))
    generate(at)
    text = _texts(at)
    assert [m.label for m in at.metric] == ["目标", "已计入", "建议新增", "缺口"]
    assert at.metric[0].value == "300.0 万㎡" and at.metric[3].value == "0.0 万㎡"
    assert at.success and "可以达标" in at.success[0].value
    assert "建议分配" in text and len(at.dataframe) >= 3
    # anonymous: no save controls, it says who may save
    assert "只有市级规划人员" in text and not any(b.label == "保存为新方案" for b in at.button)


def test_out_of_reach_shows_what_binds():
    at = app_as(None, PAGE)
    at.number_input(key="proposal_target").set_value(8000.0)  # 8000万㎡
    generate(at)
    assert at.warning and "无法达标" in at.warning[0].value
    assert "起约束作用的条件" in _texts(at)
    binding = next(d.value for d in at.dataframe if "约束" in d.value.columns)
    assert "场地容量" in binding["约束"].tolist() and "截止年份前的容量" in binding["约束"].tolist()


def test_english_page(plan):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.radio[0].set_value("en").run()
    at.switch_page(PAGE).run()
    generate(at)
    assert at.title[0].value == "Proposals" and at.metric[2].label == "Proposed"


def test_a_planner_saves_the_proposal_as_a_new_scenario(plan):
    at = app_as(PLANNER, PAGE)
    generate(at)
    at.text_input(key="proposal_name").set_value("方案生成A").run()
    at.button(key="proposal_save").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("方案生成A v1" in s.value for s in at.success)
    assert at.session_state["scenario"] == "main"  # the page keeps working on the source scenario
    store = open_store(None, load_plan())
    main, v_main = store.load("main")
    proposal, v = store.load("方案生成A")
    assert v_main.version == 1 and v.author == "wang" and v.comment.startswith("方案生成 proposal")
    cmp = compare(plan, main, proposal)
    assert cmp.totals.set_index("metric").loc["counted", "b"] == pytest.approx(3_000_000, abs=1)


def test_district_staff_are_not_offered_the_save():
    at = app_as(NANSHAN_STAFF, PAGE)
    generate(at)
    assert not any(b.label == "保存为新方案" for b in at.button)
