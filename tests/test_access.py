"""Who may change what (planner.core.access.check_change) on the real seed register, and the diff under
it (planner.core.changes): district staff change their own district only, quotas are the city
planner's, viewers change nothing, and doing nothing is allowed to all."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry

from planner.core.access import ANONYMOUS, SYSTEM, User, check_change
from planner.core.changes import register_changes, table_changes
from planner.core.editing import add_drawn_park
from planner.core.geo import WGS84
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


# planner.core.changes.table_changes


def _frame(rows: dict[str, list]) -> pd.DataFrame:
    return pd.DataFrame(rows)


def test_table_changes_added_removed_changed() -> None:
    before = _frame({"k": ["a", "b", "c"], "v": [1.0, 2.0, 3.0], "t": ["x", "y", "z"]})
    after = _frame({"k": ["b", "c", "d"], "v": [2.0, 30.0, 4.0], "t": ["y", "z", "w"]})
    ch = table_changes(before, after, "k")
    assert (ch.added, ch.removed, ch.changed) == (["d"], ["a"], ["c"])
    assert ch.touched == ["d", "a", "c"] and bool(ch)


def test_table_changes_missing_equals_missing() -> None:
    before = _frame({"k": ["a", "b", "c"], "v": [np.nan, 1.0, np.nan]})
    after = _frame({"k": ["c", "b", "a"], "v": [5.0, 1.0, np.nan]})  # order does not matter
    assert table_changes(before, after, "k").changed == ["c"]
    nullable = _frame({"k": ["a"], "y": pd.array([pd.NA], dtype="Int64")})
    assert not table_changes(nullable, nullable.copy(), "k")


def test_table_changes_sees_a_moved_geometry() -> None:
    pts = [shapely.Point(113.9, 22.5), shapely.Point(114.0, 22.6)]
    before = gpd.GeoDataFrame({"id": ["p1", "p2"]}, geometry=pts, crs=WGS84)
    same = gpd.GeoDataFrame({"id": ["p1", "p2"]}, geometry=[shapely.Point(113.9, 22.5), pts[1]], crs=WGS84)
    assert not table_changes(before, same, "id")
    moved = before.copy()
    moved.loc[1, "geometry"] = shapely.Point(114.0, 22.6001)
    assert table_changes(before, moved, "id").changed == ["p2"]
    emptied = before.copy()
    emptied.loc[0, "geometry"] = None
    assert table_changes(before, emptied, "id").changed == ["p1"]


def test_table_changes_a_column_added_changes_every_row() -> None:
    before = _frame({"k": ["a", "b"], "v": [1, 2]})
    after = before.assign(w=["", ""])
    assert table_changes(before, after, "k").changed == ["a", "b"]


def test_register_changes_on_the_seed(plan: Plan, seed_register: Register) -> None:
    after = _drawn(_with_area(seed_register, OWN_ALLOC, 1), plan, BAOAN, "drawn-001")
    changes = register_changes(seed_register, after)
    assert changes.parks.added == ["drawn-001"] and changes.allocations.changed == [OWN_ALLOC]
    assert not changes.quotas
