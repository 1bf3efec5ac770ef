"""Edits from the app: a district's allocation table and parks drawn on the map."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import shapely

from planner.app.session import ensure_state, fmt_wan
from planner.core import editing
from planner.core.geo import area_m2, shift_from_wgs84
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import ValidationError

BAOAN = "440306"
NANSHAN = "440305"


def _square(lon: float, lat: float, d: float = 0.005) -> dict:
    return shapely.geometry.mapping(shapely.box(lon, lat, lon + d, lat + d))


def test_district_parks_follow_location(plan: Plan, seed_register: Register) -> None:
    ids = set(editing.district_parks(seed_register, plan, BAOAN)["id"])
    assert {"tencent_penguin", "taohuayuan"} <= ids
    assert "szsib" not in ids
    allocs = editing.district_allocations(seed_register, plan, BAOAN)
    assert set(allocs["park_id"]) <= ids and len(allocs) >= 2


def test_bad_district_edit_is_refused_naming_row_and_field(plan: Plan, seed_register: Register) -> None:
    table = editing.district_allocations(seed_register, plan, BAOAN)
    table.loc[0, "area_m2"] = -5.0
    table.loc[1, "delivery_year"] = 2030
    extra = pd.DataFrame(
        [{"allocation_id": "", "park_id": "szsib", "specialisation": "core_cluster", "area_m2": 1000.0,
          "delivery_year": 2024, "status": "planned", "basis": "", "note": ""}]
    )  # fmt: skip
    table = pd.concat([table, extra], ignore_index=True)
    before = seed_register.allocations.copy()
    with pytest.raises(ValidationError) as err:
        editing.apply_district_allocations(seed_register, table, BAOAN, plan)
    got = {(p.place.split(" (")[0].split()[-1], p.field) for p in err.value.problems}
    assert got == {("1", "area_m2"), ("2", "delivery_year"), ("3", "park_id")}
    (foreign,) = [p for p in err.value.problems if p.field == "park_id"]
    assert "in Nanshan" in foreign.message_en and "位于 南山区" in foreign.message_zh  # names, not codes
    pd.testing.assert_frame_equal(seed_register.allocations, before)  # untouched


def test_good_district_edit_applies_and_keeps_other_districts(plan: Plan, seed_register: Register) -> None:
    table = editing.district_allocations(seed_register, plan, BAOAN)
    table.loc[0, "area_m2"] = 450_000.0
    new_row = {"allocation_id": "", "park_id": "taohuayuan", "specialisation": "industrial_internet",
               "area_m2": 5_000.0, "delivery_year": 2025, "status": "under_construction", "basis": "", "note": ""}  # fmt: skip
    table = pd.concat([table, pd.DataFrame([new_row])], ignore_index=True)
    out = editing.apply_district_allocations(seed_register, table, BAOAN, plan)
    a = out.allocations.set_index("allocation_id")
    assert a.loc[table.loc[0, "allocation_id"], "area_m2"] == 450_000.0
    assert a.loc["taohuayuan-a2", "basis"] == "planner"  # new row: fresh id, basis planner
    others = seed_register.allocations[
        ~seed_register.allocations["allocation_id"].isin(table["allocation_id"])
    ]
    assert set(others["allocation_id"]) <= set(a.index)
    assert len(out.allocations) == len(seed_register.allocations) + 1


def test_drawn_park_area_and_district_from_geometry(plan: Plan, seed_register: Register) -> None:
    geom = _square(113.93, 22.53)
    attrs = {"id": editing.new_park_id(seed_register), "name_zh": "绘制园区", "status": "planned"}
    out = editing.add_drawn_park(seed_register, geom, attrs, plan)
    park = out.parks.iloc[-1]
    assert park["id"] == "drawn-001" and park["district_code"] == NANSHAN
    expected = area_m2(out.parks.iloc[[-1]], plan.metric_crs).iloc[0]
    assert park["land_area_m2"] == pytest.approx(expected, rel=1e-6)
    assert 250_000 < park["land_area_m2"] < 300_000  # ~0.005° x 0.005° at 22.5°N, measured in EPSG:4547


def test_drawing_on_amap_is_shifted_back_to_wgs84(plan: Plan, seed_register: Register) -> None:
    wgs = shapely.box(113.93, 22.53, 113.935, 22.535)
    gcj = shift_from_wgs84(np.array([wgs], dtype=object), "gcj02")[0]
    out = editing.add_drawn_park(
        seed_register, shapely.geometry.mapping(gcj), {"id": "x1", "name_zh": "高德绘制"}, plan, datum="gcj02"
    )
    stored = out.parks.geometry.iloc[-1]
    assert shapely.hausdorff_distance(stored, wgs) < 1e-7  # about 1 cm


def test_drawn_park_must_pass_the_registers_validation(plan: Plan, seed_register: Register) -> None:
    with pytest.raises(ValidationError, match="name is missing"):
        editing.add_drawn_park(seed_register, _square(113.93, 22.53), {"id": "x2", "name_zh": ""}, plan)
    with pytest.raises(ValidationError, match="already in the register"):
        editing.add_drawn_park(
            seed_register, _square(113.93, 22.53), {"id": "szsib", "name_zh": "重复"}, plan
        )
    with pytest.raises(ValidationError, match="outside every district"):
        editing.add_drawn_park(seed_register, _square(114.9, 22.5), {"id": "x3", "name_zh": "海上"}, plan)
    bowtie = {"type": "Polygon", "coordinates": [[[113.93, 22.53], [113.94, 22.54], [113.94, 22.53],
                                                  [113.93, 22.54], [113.93, 22.53]]]}  # fmt: skip
    with pytest.raises(ValidationError, match="invalid geometry"):
        editing.add_drawn_park(seed_register, bowtie, {"id": "x4", "name_zh": "自交"}, plan)
    with pytest.raises(ValidationError, match="draw a polygon"):
        editing.add_drawn_park(
            seed_register,
            {"type": "Point", "coordinates": [113.93, 22.53]},
            {"id": "x5", "name_zh": "点"},
            plan,
        )


def test_new_park_id_skips_taken_ids(plan: Plan, seed_register: Register) -> None:
    one = editing.add_drawn_park(
        seed_register, _square(113.93, 22.53), {"id": "drawn-001", "name_zh": "a"}, plan
    )
    assert editing.new_park_id(one) == "drawn-002"


def test_session_state_is_filled_once(plan: Plan) -> None:
    state: dict = {"lang": "fr"}
    got_plan, reg, lang = ensure_state(state)
    assert got_plan.id == plan.id and lang == "zh" and len(reg.parks) > 0
    state["lang"] = "en"
    assert ensure_state(state)[1] is reg and ensure_state(state)[2] == "en"
    assert fmt_wan(3_000_000) == "300.0 万㎡" and fmt_wan(None) == "—"


def test_park_of_a_finding_item(plan: Plan, seed_register: Register) -> None:
    assert editing.park_of_item(seed_register, "szsib") == "szsib"
    assert editing.park_of_item(seed_register, "tencent_penguin-a1") == "tencent_penguin"
    assert editing.park_of_item(seed_register, "440305") is None
    assert editing.park_of_item(seed_register, plan.id) is None
