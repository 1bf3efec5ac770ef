"""What changed between two registers (planner.core.changes): the vectorised diff under rights,
conflicts and the history, on small frames and on the real Shenzhen seed register."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from planner.core.changes import register_changes, table_changes
from planner.core.editing import add_drawn_park
from planner.core.geo import WGS84
from planner.core.register import Register
from tests.conftest import inside, square

BAOAN = "440306"
OWN_ALLOC = "tencent_penguin-a1"


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


def test_register_changes_on_the_seed(plan, seed_register: Register) -> None:
    a = seed_register.allocations.copy()
    a.loc[a["allocation_id"] == OWN_ALLOC, "area_m2"] = 1.0
    shape = shapely.geometry.mapping(square(inside(plan, BAOAN), 300))
    after = add_drawn_park(
        Register(seed_register.parks, a, seed_register.quotas),
        shape,
        {"id": "drawn-001", "name_zh": "新园区"},
        plan,
    )
    changes = register_changes(seed_register, after)
    assert changes.parks.added == ["drawn-001"] and changes.allocations.changed == [OWN_ALLOC]
    assert not changes.quotas


def test_register_changes_of_a_moved_park_a_removed_one_and_a_quota(plan, seed_register: Register) -> None:
    parks = seed_register.parks.copy()
    parks.loc[parks["id"] == "tencent_penguin", "geometry"] = inside(plan, BAOAN, dx_m=50)
    parks = parks[parks["id"] != "szsib"].reset_index(drop=True)
    quotas = pd.DataFrame({"district_code": [BAOAN], "quota_m2": [500_000.0]})
    after = Register(gpd.GeoDataFrame(parks, crs=WGS84), seed_register.allocations, quotas)
    changes = register_changes(seed_register, after)
    assert changes.parks.changed == ["tencent_penguin"] and changes.parks.removed == ["szsib"]
    assert changes.quotas.added == [BAOAN] and not changes.allocations
    assert changes.summary() == "园区 parks +0 -1 ~1; 配额 quotas +1 -0 ~0"
    assert register_changes(after, after).summary() == "无变化 no change"


def test_register_changes_see_a_changed_figure_only(seed_register: Register) -> None:
    parks = seed_register.parks.copy()
    parks.loc[parks["id"] == "szsib", "gfa_m2"] = np.nan  # a figure removed is a change
    after = Register(parks, seed_register.allocations, seed_register.quotas)
    assert register_changes(seed_register, after).parks.touched == ["szsib"]
