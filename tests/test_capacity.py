"""Capacity worked out by hand for a small fixture equals the library's."""

from __future__ import annotations

import math

import pytest

from planner.core.capacity import capacity_report, target_table
from planner.core.plan import load_plan
from planner.core.register import load_register
from tests.conftest import DATA, inside, make_register, square


@pytest.fixture()
def small(plan):
    """Four parks, six allocations. Worked by hand below."""
    parks = [
        {"id": "ns", "name_zh": "南山园", "district_code": "440305", "status": "under_construction",
         "new_gfa_m2": 500_000.0, "figures_conf": "verified", "geometry": square(inside(plan, "440305"), 400)},
        {"id": "ft", "name_zh": "福田园", "district_code": "440304", "status": "planned",
         "new_gfa_m2": 300_000.0, "figures_conf": "memory", "geometry": inside(plan, "440304")},
        {"id": "lh", "name_zh": "罗湖园", "district_code": "440303", "status": "delivered",
         "new_gfa_m2": 200_000.0, "figures_conf": "verified", "geometry": inside(plan, "440303")},
        {"id": "gm", "name_zh": "光明园", "district_code": "440311", "status": "planned",
         "new_gfa_m2": 100_000.0, "figures_conf": "verified", "geometry": inside(plan, "440311")},
    ]  # fmt: skip
    allocations = [
        # id, park, spec, m², year, status, basis
        (
            "a1",
            "ns",
            "industrial_software",
            200_000,
            2023,
            "under_construction",
            "planner",
        ),  # counts, secured
        ("a2", "ns", "core_cluster", 100_000, 2025, "delivered", "planner"),  # counts, secured
        ("a3", "ft", "fintech", 150_000, 2024, "planned", "baseline"),  # counts, planned, unconfirmed
        ("a4", "ft", "modern_services", 50_000, None, "planned", "planner"),  # no year: not counted
        ("a5", "lh", "modern_services", 120_000, 2022, "delivered", "planner"),  # counts, secured
        ("a6", "gm", "ai_town", 80_000, 2025, "planned", "planner"),  # counts, planned
    ]
    cols = ["allocation_id", "park_id", "specialisation", "area_m2", "delivery_year", "status", "basis"]
    allocs = [dict(zip(cols, a, strict=True)) for a in allocations]
    allocs[5]["specialisation"] = "district_choice"
    quotas = [
        {"district_code": "440305", "quota_m2": 250_000},
        {"district_code": "440304", "quota_m2": 200_000},
    ]
    return make_register(parks, allocs, quotas)


def test_totals(plan, small):
    r = capacity_report(plan, small)
    counted = 200_000 + 100_000 + 150_000 + 120_000 + 80_000  # a1 a2 a3 a5 a6
    secured = 200_000 + 100_000 + 120_000  # a1 a2 a5
    assert r.target_m2 == 3_000_000
    assert r.counted_m2 == counted == 650_000
    assert r.secured_m2 == secured == 420_000
    assert r.planned_m2 == counted - secured == 230_000
    assert r.gap_m2 == 3_000_000 - counted
    assert r.not_counted_m2 == 50_000
    assert r.counted_unconfirmed_m2 == 150_000  # a3: park ft's figures are from memory
    assert r.counted_by_basis == {"baseline": 150_000, "planner": 500_000}


def test_by_year_is_cumulative_over_the_plan_period(plan, small):
    by_year = capacity_report(plan, small).by_year.set_index("year")
    assert list(by_year.index) == [2022, 2023, 2024, 2025]
    assert list(by_year["added_m2"]) == [120_000, 200_000, 150_000, 180_000]
    assert list(by_year["cumulative_m2"]) == [120_000, 320_000, 470_000, 650_000]
    assert list(by_year["secured_cumulative_m2"]) == [120_000, 320_000, 320_000, 420_000]
    assert (by_year["target_m2"] == 3_000_000).all()


def test_by_district_quota_and_alignment(plan, small):
    d = capacity_report(plan, small).by_district.set_index("key")
    assert d.loc["440305", "counted_m2"] == 300_000 and d.loc["440305", "secured_m2"] == 300_000
    assert d.loc["440304", "counted_m2"] == 150_000 and d.loc["440304", "allocated_m2"] == 200_000
    assert d.loc["440303", "counted_m2"] == 120_000
    assert d.loc["440311", "counted_m2"] == 80_000
    assert d.loc["440305", "quota_met"] is True and d.loc["440304", "quota_met"] is False
    assert d.loc["440303", "quota_met"] is None
    # Nanshan, the core, takes every specialisation; Futian's a4 (modern services) is not its own.
    assert d.loc["440305", "aligned_share"] == 1.0
    assert d.loc["440304", "aligned_share"] == pytest.approx(150_000 / 200_000)
    assert d.loc["440303", "aligned_share"] == 1.0
    assert d.loc["440311", "aligned_share"] != d.loc["440311", "aligned_share"]  # NaN: no designation


def test_by_status_and_specialisation(plan, small):
    r = capacity_report(plan, small)
    status = r.by_status.set_index("status")["counted_m2"]
    assert status.to_dict() == {
        "planned": 230_000,
        "under_construction": 200_000,
        "delivered": 220_000,
        "unknown": 0,
    }
    spec = r.by_specialisation.set_index("specialisation")["counted_m2"]
    assert spec["industrial_software"] == 200_000 and spec["core_cluster"] == 100_000
    assert (
        spec["fintech"] == 150_000
        and spec["modern_services"] == 120_000
        and spec["district_choice"] == 80_000
    )
    assert spec.sum() == r.counted_m2


def test_to_dict_is_the_json_shape(plan, small):
    out = capacity_report(plan, small).to_dict()
    assert out["by_district"]["南山区"] == 300_000
    assert out["by_year"] == {"2022": 120_000, "2023": 200_000, "2024": 150_000, "2025": 180_000}
    assert out["deadline"] == "2025-12-31"


def test_seed_register_real_picture(plan, seed_register):
    """The seed's baseline: only allocations whose source gives a delivery year inside 2022-2025 count."""
    r = capacity_report(plan, seed_register)
    a = seed_register.allocations
    in_plan = a["delivery_year"].between(2022, 2025).fillna(False)
    assert r.counted_m2 == a.loc[in_plan, "area_m2"].sum() > 0
    assert r.counted_m2 + r.not_counted_m2 == a["area_m2"].sum()
    assert r.gap_m2 == 3_000_000 - r.counted_m2


def test_a_plan_without_a_space_target_still_counts_its_register():
    """Zhejiang sets no new-space target: the figures are there, target, gap and progress are NaN."""
    zj = load_plan(DATA / "zhejiang")
    r = capacity_report(zj, load_register(zj))
    assert not r.has_target and math.isnan(r.target_m2) and math.isnan(r.gap_m2) and math.isnan(r.progress)
    assert r.counted_m2 == 0 and set(r.by_district["key"]) >= set(zj.district_codes())
    assert r.to_dict()["target_m2"] is None  # JSON has no NaN


def test_the_target_table_counts_parks_of_a_targets_type():
    """Zhejiang's town and enclave targets count the register's parks of that type; the pilot-zone
    target names no park type, so the register cannot tell."""
    zj = load_plan(DATA / "zhejiang")
    register = load_register(zj)
    table = target_table(zj, register).set_index("key")
    assert list(table.index) == ["pilot_zones", "digital_towns", "enclaves"]
    types = register.parks["park_type"]
    assert table.loc["digital_towns", "counted"] == (types == "digital_town").sum() == 4
    assert table.loc["enclaves", "counted"] == (types == "enclave").sum() == 1
    assert table.loc["digital_towns", "met"] is False  # 4 of ">= 40"
    assert math.isnan(table.loc["pilot_zones", "counted"]) and table.loc["pilot_zones", "met"] is None


def test_the_target_table_puts_the_new_space_target_first(plan, seed_register):
    table = target_table(plan, seed_register)
    first = table.iloc[0]
    assert first["key"] == "new_space" and first["value"] == 3_000_000
    assert first["counted"] == capacity_report(plan, seed_register).counted_m2
    assert first["counted"] < 3_000_000 and first["met"] is False  # the seed register falls short
    assert len(table) == 1 + len(plan.targets)
