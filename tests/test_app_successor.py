"""The app switches between a plan and its successor: a city planner starts the successor on the
monitoring page, the sidebar offers it, its period, target and figures are its own (a 2027 delivery
counts in the successor, not in the predecessor), and the session switches back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner.app.session import fmt_wan
from planner.core.geo import fmt_m2
from planner.core.plan import load_plan
from planner.core.register import Register
from planner.store import open_store
from tests.conftest import as_account
from tests.test_app import PLANNER, _texts

APP = str(Path(__file__).resolve().parents[1] / "app.py")
NEXT = "shenzhen-2026-2030"
AS_OF = dt.date(2027, 6, 30)


def _pick(at: AppTest, name_part: str) -> None:
    picker = at.selectbox(key="plan_choice")
    picker.select_index(next(i for i, o in enumerate(picker.options) if name_part in o)).run()
    assert not at.exception, [e.message for e in at.exception]


def _counted(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label == "已计入")


@pytest.mark.parametrize("stores", ["one store", "a store per plan"])
def test_a_successor_made_in_the_app_is_offered_and_counted_apart(stores, tmp_path, monkeypatch, plan):
    if stores == "a store per plan":
        monkeypatch.setenv("PLANNER_DB", str(tmp_path / "{plan}.gpkg"))
    at = AppTest.from_file(APP, default_timeout=90)
    at.session_state["user"] = as_account(PLANNER)
    at.run()
    assert not [s for s in at.selectbox if s.key == "plan_choice"]  # one plan: no choice yet
    at.date_input(key="as_of").set_value(AS_OF).run()
    at.switch_page("pages/monitor.py").run()
    next(n for n in at.number_input if n.label.startswith("新增产业空间目标")).set_value(2_000_000.0)
    next(b for b in at.button if b.label == "新建").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("shenzhen-software-2026-2030" in s.value for s in at.success)
    assert (tmp_path / "plans" / NEXT / "plan.toml").is_file()  # $PLANNER_PLANS_DIR (conftest)

    # the planner records a delivery in 2027 in the successor's register
    nxt = load_plan(NEXT)
    store = open_store(None, nxt)
    register, v = store.load()
    allocs = register.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "sz_bay_super_hq-a1", "delivery_year"] = 2027
    store.save(
        Register(register.parks, allocs, register.quotas),
        user=PLANNER,
        comment="2027",
        expected_version=v.version,
    )

    at.switch_page("app.py").run()
    assert at.session_state.plan.id == plan.id
    assert _counted(at) == fmt_wan(526_000)  # 2023 and 2024 deliveries
    _pick(at, "2026-2030")
    assert at.session_state.plan.id == "shenzhen-software-2026-2030"
    assert at.session_state.as_of == AS_OF  # the date stays across the switch
    text = _texts(at)
    assert at.title[0].value == nxt.title_zh
    assert f"{fmt_m2(2_000_000)}, 截止 2030-12-31" in text  # its own target and deadline, a draft
    assert _counted(at) == fmt_wan(37_600)  # the 2027 delivery only: not the predecessor's 2023/2024
    progress = at.get("progress")[0].proto.text
    assert "2026-2030" in progress and "规划期内" in progress and "截至 2027-06-30" in progress

    _pick(at, "2022-2025")  # and back
    assert at.session_state.plan.id == plan.id
    assert _counted(at) == fmt_wan(526_000)  # the 2027 delivery is not the predecessor's
    years = at.session_state.register.allocations.set_index("allocation_id")["delivery_year"]
    assert (
        bool(years["sz_bay_super_hq-a1"] == 2027)
        if stores == "one store"
        else pd.isna(years["sz_bay_super_hq-a1"])
    )
    assert any("规划期已于 2025-12-31 结束" in w.value for w in at.warning)
