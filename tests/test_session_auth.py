"""The app's write path and sign-in as pure data (planner.session, planner.audit): rights checked
at write time, refusals and changes recorded in the session and the audit file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from planner import audit
from planner.access import ANONYMOUS, User
from planner.accounts import SignInFailed, set_account
from planner.errors import AccessDenied
from planner.plan import Plan
from planner.register import Register
from planner.session import (
    commit_register,
    current_user,
    denied_message,
    identity_sign_in_once,
    problems_frame,
    quota_table,
    quotas_from_table,
    read_only_note,
    rights_text,
    sign_in,
    sign_in_identity,
    sign_out,
    user_line,
)

PASSWORD = "correct horse 7"
BAOAN_STAFF = User("li", "district", "440306")


def _state(plan: Plan, register: Register, user: User | None = None) -> dict:
    state: dict = {"plan": plan, "register": register, "lang": "zh"}
    if user is not None:
        state["user"] = user
    return state


def _with_area(register: Register, allocation_id: str, area: float) -> Register:
    a = register.allocations.copy()
    a.loc[a["allocation_id"] == allocation_id, "area_m2"] = area
    return Register(register.parks.copy(), a, register.quotas.copy())


def test_a_refused_change_is_recorded_and_changes_nothing(plan: Plan, seed_register: Register) -> None:
    state = _state(plan, seed_register, BAOAN_STAFF)
    forged = _with_area(seed_register, "sz_bay_super_hq-a1", 1.0)  # a Nanshan park's allocation
    with pytest.raises(AccessDenied) as info:
        commit_register(state, forged, comment="forged")
    zh, en = denied_message(info.value, "zh"), denied_message(info.value, "en")
    assert zh.startswith("无权修改, 共 1 项") and en.startswith("Not allowed: 1 item(s)")
    line = "- 分配 sz_bay_super_hq-a1 属于 南山区 440305 的园区, 不属于本区 (宝安区 440306), 无权修改 / "
    assert line in zh and "allocation sz_bay_super_hq-a1 belongs to a park in Nanshan 440305" in zh
    assert state["register"] is seed_register
    (event,) = audit.read_audit()
    assert event["event"] == "refused" and event["user"] == "li" and event["district_code"] == "440306"
    assert event["comment"] == "forged" and event["problems"][0]["place"] == "allocation sz_bay_super_hq-a1"
    assert state["audit"] == [event]


def test_an_allowed_change_is_installed_and_recorded(plan: Plan, seed_register: Register) -> None:
    state = _state(plan, seed_register, BAOAN_STAFF)
    after = _with_area(seed_register, "tencent_penguin-a1", 5.0)
    changes = commit_register(state, after, comment="own")
    assert state["register"] is after and changes.allocations.changed == ["tencent_penguin-a1"]
    (event,) = audit.read_audit()
    assert event["event"] == "change" and event["allocations"] == ["tencent_penguin-a1"]
    assert event["time"].endswith("+00:00")


def test_nobody_signed_in_is_a_viewer(plan: Plan, seed_register: Register) -> None:
    state = _state(plan, seed_register)
    with pytest.raises(AccessDenied):
        commit_register(state, _with_area(seed_register, "tencent_penguin-a1", 5.0))
    assert audit.read_audit()[0]["user"] == ANONYMOUS.name
    assert commit_register(state, seed_register).summary() == "无变化 no change"  # nothing to refuse


def test_the_audit_file_is_json_lines_appended(tmp_path: Path) -> None:
    path = tmp_path / "a" / "audit.jsonl"
    audit.record({"event": "x", "user": "王工"}, path)
    audit.record({"event": "y", "time": "fixed"}, path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["x", "y"]
    assert "王工" in lines[0]  # readable, not escaped
    assert audit.read_audit(path)[1]["time"] == "fixed"
    assert audit.read_audit(tmp_path / "none.jsonl") == []


def test_sign_in_and_out(plan: Plan, seed_register: Register) -> None:
    set_account("li", "district", PASSWORD, district_code="440306")  # the test's own accounts file
    state = _state(plan, seed_register)
    with pytest.raises(SignInFailed):
        sign_in(state, "li", "wrong password")
    assert current_user(state) is None
    assert sign_in(state, " li ", PASSWORD) == BAOAN_STAFF
    assert current_user(state) == BAOAN_STAFF
    assert user_line(state, "zh") == "li · 区级工作人员 · 宝安区"
    assert user_line(state, "en") == "li · District staff · Bao'an"
    sign_out(state)
    assert current_user(state) is None and state["register"] is seed_register
    assert user_line(state, "en") == "Not signed in · read-only"
    assert [e["event"] for e in audit.read_audit()] == ["sign_in_failed", "sign_in"]
    assert "wrong password" not in json.dumps(audit.read_audit())


def test_an_identity_providers_email_signs_in_once(plan: Plan, seed_register: Register) -> None:
    set_account("wang", "planner", PASSWORD, email="wang@sz.gov.cn")
    state = _state(plan, seed_register)
    assert sign_in_identity(state, "nobody@sz.gov.cn") is None and current_user(state) is None
    assert sign_in_identity(state, None) is None
    assert identity_sign_in_once(state, "WANG@sz.gov.cn").name == "wang"
    sign_out(state)
    assert identity_sign_in_once(state, "WANG@sz.gov.cn") is None  # a sign-out is not undone
    assert sign_in_identity(state, "wang@sz.gov.cn").role == "planner"  # but a retry works
    events = [(e["event"], e.get("via")) for e in audit.read_audit()]
    assert events == [("sign_in_failed", "oidc"), ("sign_in", "oidc"), ("sign_in", "oidc")]


def test_notes_and_rights_by_role(plan: Plan) -> None:
    assert read_only_note(None, plan) == "只读 read-only: 请登录 sign in to edit"
    assert "只读" in read_only_note(User("z", "viewer"), plan)
    assert read_only_note(BAOAN_STAFF, plan, district_code="440306") is None
    assert read_only_note(BAOAN_STAFF, plan) is None  # may draw on the map (checked on write)
    note = read_only_note(BAOAN_STAFF, plan, "en", district_code="440305")
    assert "Bao'an" in note and "Nanshan" in note
    assert read_only_note(User("w", "planner"), plan, district_code="440305") is None
    assert "指标" in rights_text(User("w", "planner"), plan)
    assert "宝安区" in rights_text(BAOAN_STAFF, plan)


def test_quota_table_round_trip(plan: Plan, seed_register: Register) -> None:
    table = quota_table(plan, seed_register)
    assert list(table["district_code"]) == plan.district_codes() and table["quota_m2"].isna().all()
    table.loc[table["district_code"] == "440306", "quota_m2"] = 500_000
    quotas = quotas_from_table(table)
    assert quotas.to_dict("records") == [{"district_code": "440306", "quota_m2": 500_000.0}]


def test_problems_frame_in_both_languages() -> None:
    from planner.errors import Problem

    problems = [Problem("park p", "district_code", "不属于本区", "not your district")]
    assert problems_frame(problems, "zh").to_dict("records") == [
        {"位置": "park p", "字段": "district_code", "问题": "不属于本区"}
    ]
    assert list(problems_frame(problems, "en").columns) == ["Place", "Field", "Problem"]
    assert isinstance(problems_frame([], "zh"), pd.DataFrame)
