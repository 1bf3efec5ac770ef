"""Who may change what (planner.core.access.check_change) on the real seed register, and the diff under
it (planner.core.changes): district staff change their own district only, quotas are the city
planner's, viewers change nothing, and doing nothing is allowed to all."""

from __future__ import annotations

import pandas as pd
import pytest
import shapely
import shapely.geometry

from planner.core.access import (
    ACTIONS,
    ANONYMOUS,
    POLICY,
    ROLES,
    SYSTEM,
    User,
    check_change,
    may,
    require,
    rows,
)
from planner.core.editing import add_drawn_park
from planner.core.plan import Plan
from planner.core.register import Register, set_quotas
from planner.errors import AccessDenied
from tests.conftest import inside, square

BAOAN, NANSHAN = "440306", "440305"
PLANNER = User("wang", "planner")
BAOAN_STAFF = User("li", "district", BAOAN)
VIEWER = User("zhao", "viewer")
OWN_ALLOC, FOREIGN_ALLOC = "tencent_penguin-a1", "sz_bay_super_hq-a1"  # Bao'an, Nanshan


def _with_area(register: Register, allocation_id: str, area: float) -> Register:
    a = register.allocations.copy()
    a.loc[a["allocation_id"] == allocation_id, "area_m2"] = area
    return Register(register.parks.copy(), a, register.quotas.copy())


def _moved(register: Register, park_id: str, to: shapely.Point) -> Register:
    parks = register.parks.copy()
    parks.loc[parks["id"] == park_id, "geometry"] = to
    return Register(parks, register.allocations.copy(), register.quotas.copy())


def _drawn(register: Register, plan: Plan, code: str, park_id: str) -> Register:
    shape = shapely.geometry.mapping(square(inside(plan, code), 300))
    return add_drawn_park(register, shape, {"id": park_id, "name_zh": "新园区", "status": "planned"}, plan)


def _denied(user: User, before: Register, after: Register, plan: Plan) -> AccessDenied:
    with pytest.raises(AccessDenied) as info:
        check_change(user, before, after, plan)
    assert info.value.user is user
    return info.value


@pytest.mark.parametrize("user", [PLANNER, BAOAN_STAFF, VIEWER, ANONYMOUS, SYSTEM], ids=lambda u: u.name)
def test_no_change_is_allowed_for_everyone(user: User, plan: Plan, seed_register: Register) -> None:
    same = Register(seed_register.parks.copy(), seed_register.allocations.copy(), seed_register.quotas.copy())
    changes = check_change(user, seed_register, same, plan)
    assert not changes and changes.summary() == "无变化 no change"


def test_district_staff_change_their_own_allocation(plan: Plan, seed_register: Register) -> None:
    after = _with_area(seed_register, OWN_ALLOC, 123_456)
    changes = check_change(BAOAN_STAFF, seed_register, after, plan)
    assert changes.allocations.changed == [OWN_ALLOC]
    assert not changes.parks and not changes.quotas


def test_district_staff_may_not_change_another_districts_allocation(
    plan: Plan, seed_register: Register
) -> None:
    err = _denied(BAOAN_STAFF, seed_register, _with_area(seed_register, FOREIGN_ALLOC, 1), plan)
    assert [p.place for p in err.problems] == [f"allocation {FOREIGN_ALLOC}"]
    assert "南山区" in err.problems[0].message_zh and "宝安区" in err.problems[0].message_zh
    assert NANSHAN not in err.problems[0].message_zh  # a name, never the code
    assert "Nanshan" in err.problems[0].message_en


def test_every_refused_item_is_named_at_once(plan: Plan, seed_register: Register) -> None:
    after = _with_area(_with_area(seed_register, FOREIGN_ALLOC, 1), OWN_ALLOC, 2)  # own one is fine
    after = set_quotas(after, pd.DataFrame({"district_code": [BAOAN], "quota_m2": [1e5]}), plan)
    err = _denied(BAOAN_STAFF, seed_register, after, plan)
    assert sorted(p.place for p in err.problems) == [f"allocation {FOREIGN_ALLOC}", f"quota {BAOAN}"]


def test_moving_a_park_out_of_the_district_is_refused(plan: Plan, seed_register: Register) -> None:
    after = _moved(seed_register, "tencent_penguin", inside(plan, NANSHAN))
    err = _denied(BAOAN_STAFF, seed_register, after, plan)
    assert [p.place for p in err.problems] == ["park tencent_penguin"]
    assert "南山区" in err.problems[0].message_zh


def test_moving_a_park_into_the_district_is_refused(plan: Plan, seed_register: Register) -> None:
    after = _moved(seed_register, "szsib", inside(plan, BAOAN))  # a Nanshan park, taken over
    err = _denied(BAOAN_STAFF, seed_register, after, plan)
    assert [p.place for p in err.problems] == ["park szsib"]
    assert check_change(PLANNER, seed_register, after, plan).parks.changed == ["szsib"]


def test_moving_a_park_within_the_district_is_allowed(plan: Plan, seed_register: Register) -> None:
    after = _moved(seed_register, "tencent_penguin", inside(plan, BAOAN, dx_m=200))
    assert check_change(BAOAN_STAFF, seed_register, after, plan).parks.changed == ["tencent_penguin"]


def test_adding_a_park_in_the_own_district_only(plan: Plan, seed_register: Register) -> None:
    own = _drawn(seed_register, plan, BAOAN, "drawn-001")
    assert check_change(BAOAN_STAFF, seed_register, own, plan).parks.added == ["drawn-001"]
    foreign = _drawn(seed_register, plan, NANSHAN, "drawn-002")
    err = _denied(BAOAN_STAFF, seed_register, foreign, plan)
    assert [p.place for p in err.problems] == ["park drawn-002"]
    assert "drawn-002" in err.problems[0].message_zh and "南山区" in err.problems[0].message_zh


def test_removing_a_park_of_another_district_is_refused(plan: Plan, seed_register: Register) -> None:
    parks = seed_register.parks[seed_register.parks["id"] != "szsib"]
    after = Register(parks.reset_index(drop=True), seed_register.allocations.copy(), seed_register.quotas)
    err = _denied(BAOAN_STAFF, seed_register, after, plan)
    assert [p.place for p in err.problems] == ["park szsib"]


def test_a_park_outside_every_district_is_nobodys_but_the_planners(
    plan: Plan, seed_register: Register
) -> None:
    after = _moved(seed_register, "tencent_penguin", shapely.Point(114.9, 23.5))  # far outside Shenzhen
    err = _denied(BAOAN_STAFF, seed_register, after, plan)
    assert "区界外" in err.problems[0].message_zh and "outside every district" in err.problems[0].message_en
    check_change(PLANNER, seed_register, after, plan)


def test_quotas_are_the_city_planners(plan: Plan, seed_register: Register) -> None:
    after = set_quotas(seed_register, pd.DataFrame({"district_code": [BAOAN], "quota_m2": [5e5]}), plan)
    assert check_change(PLANNER, seed_register, after, plan).quotas.added == [BAOAN]
    err = _denied(BAOAN_STAFF, seed_register, after, plan)  # even the own district's quota
    assert [(p.place, p.field) for p in err.problems] == [(f"quota {BAOAN}", "quota_m2")]


@pytest.mark.parametrize("user", [VIEWER, ANONYMOUS], ids=lambda u: u.name)
def test_viewers_change_nothing(user: User, plan: Plan, seed_register: Register) -> None:
    err = _denied(user, seed_register, _with_area(seed_register, OWN_ALLOC, 1), plan)
    assert len(err.problems) == 1 and "只读" in err.problems[0].message_zh


def test_the_city_planner_changes_everything(plan: Plan, seed_register: Register) -> None:
    after = _moved(_with_area(seed_register, FOREIGN_ALLOC, 1), "szsib", inside(plan, BAOAN))
    after = set_quotas(after, pd.DataFrame({"district_code": [NANSHAN], "quota_m2": [1e6]}), plan)
    changes = check_change(PLANNER, seed_register, after, plan)
    assert changes.summary() == "园区 parks +0 -0 ~1; 分配 allocations +0 -0 ~1; 配额 quotas +1 -0 ~0"


def test_users_are_validated_and_know_their_districts(plan: Plan) -> None:
    with pytest.raises(ValueError, match="unknown role"):
        User("x", "admin")
    with pytest.raises(ValueError, match="needs a district code"):
        User("x", "district")
    assert PLANNER.editable_districts(plan) == plan.district_codes()
    assert BAOAN_STAFF.editable_districts(plan) == [BAOAN]
    assert VIEWER.editable_districts(plan) == [] and not VIEWER.can_write
    assert PLANNER.can_set_quotas and not BAOAN_STAFF.can_set_quotas
    assert BAOAN_STAFF.label("zh") == "li (区级工作人员 440306)"


# ---- the policy: which role may take which action, on which rows

DISTRICT_STAFF = User("li", "district", BAOAN)


@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_policy_table(action: str) -> None:
    assert rows(PLANNER, action) == "all"
    assert rows(DISTRICT_STAFF, action) == ("own" if action in ("save", "restore") else None)
    assert rows(VIEWER, action) is None and rows(None, action) is None
    assert set(POLICY) == set(ROLES)


def test_require_names_the_action_and_who_may(plan: Plan) -> None:
    require(PLANNER, "delete", "scenario x")  # allowed: returns
    with pytest.raises(AccessDenied, match="only a city planner may delete scenarios") as err:
        require(DISTRICT_STAFF, "delete", "scenario x")
    (p,) = err.value.problems
    assert (p.place, p.code) == ("scenario x", "denied") and "只有市级规划人员可以删除场景" in p.message_zh
    with pytest.raises(AccessDenied, match="read-only"):
        require(VIEWER, "save", "register")
    with pytest.raises(ValueError, match="unknown action"):
        may(PLANNER, "launch")


def test_user_rights_come_from_the_policy(plan: Plan) -> None:
    assert (DISTRICT_STAFF.can_write, DISTRICT_STAFF.can_set_quotas) == (True, False)
    assert DISTRICT_STAFF.editable_districts(plan) == [BAOAN]
    assert PLANNER.editable_districts(plan) == plan.district_codes() and VIEWER.editable_districts(plan) == []


def test_pages_and_app_helpers_ask_the_policy_not_the_role() -> None:
    """No role test in a page or an app helper: they call planner.core.access.may (one rule)."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = [*root.glob("pages/*.py"), *root.glob("planner/app/*.py"), root / "app.py"]
    role_test = re.compile(r"(?<![\w.])(user|u|current|acting)\.role\s*(==|!=|in\b|not in\b)")
    offenders = [f"{f.name}:{n}" for f in files for n, line in enumerate(f.read_text().splitlines(), 1)
                 if role_test.search(line)]  # fmt: skip
    assert offenders == []
