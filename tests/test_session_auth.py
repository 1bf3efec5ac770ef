"""The app's write path and sign-in as pure data (planner.app.session over planner.store.service): every change
a new version of the session's scenario, rights checked at write time, refusals, conflicts and
sign-ins recorded in the store's audit log."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from planner.app.session import (
    commit_register,
    conflict_message,
    current_user,
    denied_message,
    ensure_state,
    identity_sign_in_once,
    load_latest,
    load_scenario,
    pending_change,
    problems_frame,
    quota_table,
    quotas_from_table,
    read_only_note,
    reapply_pending,
    refusal_message,
    rights_text,
    scenario_line,
    shared_store,
    sign_in,
    sign_in_identity,
    sign_out,
    user_line,
)
from planner.core.access import ANONYMOUS, User
from planner.core.accounts import SignInFailed, disable_account, save_accounts, set_account
from planner.core.changes import register_changes
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import AccessDenied, PlannerError
from planner.store import ConflictError, Store
from tests.conftest import as_account

PASSWORD = "correct horse 7"
BAOAN_STAFF = User("li", "district", "440306")


def _state(plan: Plan, user: User | None = None) -> dict:
    """A session on the test's own store (``$PLANNER_DB`` in tmp), working on ``main`` v1."""
    state: dict = {"plan": plan, "lang": "zh"}
    if user is not None:
        state["user"] = as_account(user)
    ensure_state(state)
    return state


def events(store: Store) -> list[dict]:
    """The store's audit log, oldest first, without the seeding row."""
    log = store.audit_log()
    return log[log["action"] != "seed"].iloc[::-1].to_dict("records")


def _with_area(register: Register, allocation_id: str, area: float) -> Register:
    a = register.allocations.copy()
    a.loc[a["allocation_id"] == allocation_id, "area_m2"] = area
    return Register(register.parks.copy(), a, register.quotas.copy())


def test_the_session_starts_on_main_v1_of_the_store(plan: Plan, seed_register: Register) -> None:
    state = _state(plan)
    assert state["scenario"] == "main" and state["version"].version == 1
    assert state["version"].author == "system"
    assert not register_changes(seed_register, state["register"])  # the seed, stored
    assert state["store"] is shared_store(plan)  # one store per process and location
    assert scenario_line(state, "zh").startswith("方案 main · v1 (system, ")
    assert scenario_line(state, "en").startswith("Scenario main · v1 (system, ")


def test_a_refused_change_is_recorded_and_changes_nothing(plan: Plan) -> None:
    state = _state(plan, BAOAN_STAFF)
    before = state["register"]
    forged = _with_area(before, "sz_bay_super_hq-a1", 1.0)  # a Nanshan park's allocation
    with pytest.raises(AccessDenied) as info:
        commit_register(state, forged, comment="forged")
    zh, en = denied_message(info.value, "zh"), denied_message(info.value, "en")
    assert zh.startswith("无权修改, 共 1 项") and en.startswith("Not allowed: 1 item(s)")
    line = "- 分配 sz_bay_super_hq-a1 属于 南山区 的园区, 不属于本区 (宝安区), 无权修改 / "
    assert line in zh and "allocation sz_bay_super_hq-a1 belongs to a park in Nanshan" in zh
    assert refusal_message(info.value, "zh") == zh
    assert state["register"] is before and state["version"].version == 1
    store = state["store"]
    assert len(store.history("main")) == 1  # nothing written
    (event,) = events(store)
    assert (event["action"], event["outcome"], event["user"], event["role"]) == (
        "save",
        "denied",
        "li",
        "district",
    )
    assert event["detail"].startswith("allocation sz_bay_super_hq-a1 [")


def test_an_allowed_change_is_a_new_version(plan: Plan) -> None:
    state = _state(plan, BAOAN_STAFF)
    after = _with_area(state["register"], "tencent_penguin-a1", 5.0)
    changes = commit_register(state, after, comment="own")
    assert state["register"] is after and changes.allocations.changed == ["tencent_penguin-a1"]
    v = state["version"]
    assert (v.version, v.author, v.role, v.comment) == (2, "li", "district", "own")
    assert v.created_at.endswith("+00:00")
    stored, _ = state["store"].load("main")
    assert register_changes(after, stored).allocations.changed == []  # persisted as saved
    (event,) = events(state["store"])
    assert (event["action"], event["outcome"], event["version"]) == ("save", "ok", 2)


def test_a_saved_version_is_shared_with_its_next_viewer_without_reading_it_back(plan: Plan) -> None:
    from planner.app.registers import shared_register

    state = _state(plan, BAOAN_STAFF)
    commit_register(state, _with_area(state["register"], "tencent_penguin-a1", 5.0), comment="own")
    store, v = state["store"], state["version"]
    reads: list[tuple] = []
    load = store.load
    store.load = lambda *a, **k: reads.append(a) or load(*a, **k)  # count the store's reads
    try:
        shared, shared_v = shared_register(store, "main", v.version)  # another session opens v2
    finally:
        store.load = load
    assert shared is state["register"] and shared_v == v and reads == []
    assert not register_changes(shared, load("main", v.version)[0])  # exactly what the store holds


def test_nobody_signed_in_is_a_viewer(plan: Plan) -> None:
    state = _state(plan)
    with pytest.raises(AccessDenied):
        commit_register(state, _with_area(state["register"], "tencent_penguin-a1", 5.0))
    assert events(state["store"])[0]["user"] == ANONYMOUS.name
    assert commit_register(state, state["register"]).summary() == "无变化 no change"  # nothing to refuse
    assert len(state["store"].history("main")) == 1  # and no version for no change


def test_two_sessions_never_lose_an_update(plan: Plan) -> None:
    first, second = _state(plan, User("wang", "planner")), _state(plan, BAOAN_STAFF)
    commit_register(first, _with_area(first["register"], "sz_bay_super_hq-a1", 7.0), comment="南山")
    mine = _with_area(second["register"], "tencent_penguin-a1", 5.0)  # loaded v1 too: another row
    commit_register(second, mine, comment="宝安")  # applied onto v2
    assert (second["version"].version, second["version"].merged_onto) == (3, 2)
    a = second["register"].allocations.set_index("allocation_id")["area_m2"]
    assert a["sz_bay_super_hq-a1"] == 7.0 and a["tencent_penguin-a1"] == 5.0  # the working register is v3
    # the same row from an older version: a conflict naming it and its author; the change is kept
    theirs = _with_area(first["register"], "tencent_penguin-a1", 9.0)  # first is still on v2
    with pytest.raises(ConflictError) as info:
        commit_register(first, theirs, comment="南山改宝安")
    err = info.value
    assert (err.expected_version, err.current_version) == (2, 3)
    assert [(k, v.author, v.version) for k, v in err.rows["allocations"]] == [("tencent_penguin-a1", "li", 3)]
    text = conflict_message(err, "zh")
    assert text.startswith("保存冲突: 方案 main 中你修改的行在你载入 v2 之后也被他人修改 (现为 v3)")
    assert (
        "- 分配 tencent_penguin-a1: li (区级工作人员) 于 v3 修改" in text and "在最新版本上重新应用" in text
    )
    assert "- allocation tencent_penguin-a1: changed by li (District staff) in v3" in conflict_message(
        err, "en"
    )
    assert refusal_message(err, "en") == conflict_message(err, "en")
    assert first["version"].version == 2 and pending_change(first).allocations.changed == [
        "tencent_penguin-a1"
    ]
    assert [e["outcome"] for e in events(first["store"])] == ["ok", "ok", "conflict"]
    first["editor"] = "stale edits"
    changes = reapply_pending(first, forget=["editor"])  # an on_click callback: onto v3, saved
    assert changes is not None and first["version"].version == 4 and "editor" not in first
    assert pending_change(first) is None
    stored = first["store"].load("main")[0].allocations.set_index("allocation_id")["area_m2"]
    assert stored["tencent_penguin-a1"] == 9.0 and stored["sz_bay_super_hq-a1"] == 7.0


def test_load_scenario_and_an_unknown_one(plan: Plan) -> None:
    state = _state(plan, User("wang", "planner"))
    state["store"].copy("main", "方案B", user=state["user"])
    v = load_scenario(state, "方案B")
    assert (state["scenario"], v.version, v.action) == ("方案B", 1, "copy")
    with pytest.raises(PlannerError):
        load_scenario(state, "nope")
    assert state["scenario"] == "方案B"  # unchanged
    del state["register"]
    state["store"].delete("方案B", user=state["user"], confirm="方案B")
    ensure_state(state)  # the session's scenario was deleted meanwhile: back to main
    assert state["scenario"] == "main"


def test_sign_in_and_out(plan: Plan, seed_register: Register) -> None:
    set_account("li", "district", PASSWORD, district_code="440306")  # the test's own accounts file
    state = _state(plan)
    with pytest.raises(SignInFailed):
        sign_in(state, "li", "wrong password")
    assert current_user(state) is None
    register = state["register"]
    assert sign_in(state, " li ", PASSWORD) == BAOAN_STAFF
    assert current_user(state) == BAOAN_STAFF
    assert user_line(state, "zh") == "li · 区级工作人员 · 宝安区"
    assert user_line(state, "en") == "li · District staff · Bao'an"
    sign_out(state)
    assert current_user(state) is None and state["register"] is register
    assert user_line(state, "en") == "Not signed in · read-only"
    log = events(state["store"])
    assert [(e["action"], e["outcome"], e["user"]) for e in log] == [
        ("sign_in", "denied", "li"),
        ("sign_in", "ok", "li"),
    ]
    assert "wrong password" not in json.dumps(log, default=str)


def test_an_identity_providers_email_signs_in_once(plan: Plan, seed_register: Register) -> None:
    set_account("wang", "planner", PASSWORD, email="wang@sz.gov.cn")
    state = _state(plan)
    assert sign_in_identity(state, "nobody@sz.gov.cn") is None and current_user(state) is None
    assert sign_in_identity(state, None) is None
    assert identity_sign_in_once(state, "WANG@sz.gov.cn").name == "wang"
    sign_out(state)
    assert identity_sign_in_once(state, "WANG@sz.gov.cn") is None  # a sign-out is not undone
    assert sign_in_identity(state, "wang@sz.gov.cn").role == "planner"  # but a retry works
    log = [(e["outcome"], e["user"], e["detail"]) for e in events(state["store"])]
    assert log == [
        ("denied", "", "oidc nobody@sz.gov.cn: 没有对应的账户 no account"),
        ("ok", "wang", "oidc WANG@sz.gov.cn"),
        ("ok", "wang", "oidc wang@sz.gov.cn"),
    ]


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
        {"位置": "园区 p", "字段": "区代码", "问题": "不属于本区"}  # the field's label, not the column's code
    ]
    assert problems_frame(problems, "en").to_dict("records") == [
        {"Place": "park p", "Field": "District code", "Problem": "not your district"}
    ]
    assert isinstance(problems_frame([], "zh"), pd.DataFrame)


def _signed_in(plan: Plan, **account) -> dict:
    """A session signed in with a real password as li (Bao'an staff unless ``account`` says)."""
    set_account("li", **({"role": "district", "district_code": "440306"} | account), password=PASSWORD)
    state = _state(plan)
    sign_in(state, "li", PASSWORD)
    return state


@pytest.mark.parametrize("how", ["disabled", "removed"])
def test_a_session_loses_its_rights_when_its_account_is_disabled(plan: Plan, how: str) -> None:
    state = _signed_in(plan)
    if how == "disabled":
        disable_account("li")
    else:
        save_accounts({})
    before = state["register"]
    with pytest.raises(AccessDenied) as info:
        commit_register(state, _with_area(before, "tencent_penguin-a1", 5.0), comment="own")
    assert "账户已停用" in denied_message(info.value, "zh") and "account disabled" in str(info.value)
    assert current_user(state) is None  # signed out
    assert state["register"] is before and len(state["store"].history("main")) == 1  # nothing written
    last = events(state["store"])[-1]
    assert (last["action"], last["outcome"], last["user"]) == ("save", "denied", "li")
    assert "账户已停用 account disabled" in last["detail"]


def test_a_changed_role_or_district_counts_at_once(plan: Plan) -> None:
    state = _signed_in(plan)
    set_account("li", "district", PASSWORD, district_code="440305")  # moved to Nanshan
    own_before = _with_area(state["register"], "tencent_penguin-a1", 5.0)  # a Bao'an allocation
    with pytest.raises(AccessDenied, match="tencent_penguin-a1"):
        commit_register(state, own_before)
    assert current_user(state) == User("li", "district", "440305")
    set_account("li", "planner", PASSWORD)  # promoted: may now change any district
    commit_register(state, own_before, comment="as a planner")
    assert (state["version"].author, state["version"].role) == ("li", "planner")
    assert current_user(state) == User("li", "planner")


def test_an_identity_providers_user_loses_its_rights_too(plan: Plan) -> None:
    set_account("wang", "planner", PASSWORD, email="wang@sz.gov.cn")
    state = _state(plan)
    sign_in_identity(state, "wang@sz.gov.cn")
    disable_account("wang")
    with pytest.raises(AccessDenied, match="account disabled"):
        commit_register(state, _with_area(state["register"], "tencent_penguin-a1", 5.0))
    assert current_user(state) is None


def test_an_account_with_an_unknown_district_is_refused_at_sign_in(plan: Plan) -> None:
    set_account("li", "district", PASSWORD, district_code="999999")
    state = _state(plan)
    with pytest.raises(SignInFailed, match="999999"):
        sign_in(state, "li", PASSWORD)
    assert current_user(state) is None
    (event,) = events(state["store"])
    assert (event["action"], event["outcome"], event["user"]) == ("sign_in", "denied", "li")


def test_a_scenario_deleted_while_edited_says_deleted_and_falls_back_to_main(plan: Plan) -> None:
    mine = _state(plan, User("li", "planner"))
    mine["store"].copy("main", "方案B", user=mine["user"])
    load_scenario(mine, "方案B")
    other = _state(plan, User("wang", "planner"))
    other["store"].delete("方案B", user=other["user"], confirm="方案B")
    assert "已被删除 (wang, " in scenario_line(mine, "zh")
    assert "deleted by wang" in scenario_line(mine, "en")
    with pytest.raises(ConflictError) as info:
        commit_register(mine, _with_area(mine["register"], "tencent_penguin-a1", 5.0), comment="mine")
    zh, en = conflict_message(info.value, "zh"), conflict_message(info.value, "en")
    assert "方案 方案B 在你载入 v1 之后已被 wang 于 " in zh and "删除; 你的修改未保存, 已记录" in zh
    assert "scenario 方案B was deleted by wang at " in en and "someone else" not in en and "now —" not in en
    assert "主方案 main" in zh and "[deleted]" in en
    mine["editor"] = "stale edits"
    v = load_latest(mine, forget=["editor"])  # an on_click callback: must not raise
    assert (mine["scenario"], v.scenario, v.version) == ("main", "main", 1) and "editor" not in mine
    assert "方案B 已被删除 (wang, " in mine["notice"] and "loaded main v1 instead" in mine["notice"]
    assert "已被删除" not in scenario_line(mine, "zh")
