"""Site capacity and proposals (issue 14) on the real Shenzhen plan and districts.

The small fixture below is worked out by hand. Every site has its own plot ratio 2.0 (so the
figures do not depend on the plan's placeholder table), the as-of year is 2024, the deadline the
plan's (2025-12-31), the minimum allocation 1万㎡, weights the defaults (planned +1, misaligned +1,
later +0.5 per m²; plus the 0.01 tie-break for smaller sites):

| site | district | status / year | land x 2.0 - existing | capacity | earliest | cost per m² |
|---|---|---|---|---|---|---|
| A | 南山 core | delivered | 100,000 x 2 - 150,000 | 50,000 | 2024 | 1.009 |
| B | 宝安 | under construction 2025 | 200,000 x 2 - (300,000 - 200,000) | 300,000 | 2025 | 1.504 |
| C | 龙岗 | planned 2025 | 100,000 x 2 - 0 | 200,000 | 2025 | 2.506 (planned) |
| D | 福田 | delivered, tag 工业软件 | 50,000 x 2 - 20,000 | 80,000 | 2024 | 2.008 (misaligned) |
| E | 罗湖 | planned, no year | 250,000 x 2 - 0 | 500,000 | 2024+3 = 2027 | too late |
| F | 龙华 | delivered | 10,000 x 2 - 15,000 | 5,000 | 2024 | below 1万㎡ |
| G | 南山 | no land area | — | listed, not guessed |

So a target of 30万㎡ takes A (5万) then B (25万); 50万㎡ takes A, B, D and 7万 of C; 70万㎡ is out
of reach: 63万 by 2025, shortfall 7万, bound by the capacity by year (E, 2027) and the minimum size (F).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner.core.propose import (
    Params,
    Quota,
    proposal_comment,
    proposal_register,
    propose,
    quotas_from_frame,
)
from planner.core.register import validate_register
from planner.core.sites import default_as_of, site_capacity
from planner.errors import ValidationError
from tests.conftest import inside, make_register

AS_OF = 2024


def site(plan, sid, code, *, land, gfa, new=None, status="delivered", year=None, tag="", dx=0.0, ratio=2.0):
    return {
        "id": sid,
        "name_zh": f"场地{sid}",
        "district_code": code,
        "land_area_m2": land,
        "plot_ratio": ratio,
        "gfa_m2": gfa,
        "new_gfa_m2": new,
        "status": status,
        "delivery_year": year,
        "spec_tag": tag,
        "figures_conf": "verified",
        "geometry": inside(plan, code, dx, 0.0),
    }


@pytest.fixture(scope="module")
def hand(plan):
    return make_register(
        [
            site(plan, "A", "440305", land=100_000, gfa=150_000, tag="core"),
            site(plan, "B", "440306", land=200_000, gfa=300_000, new=200_000, status="under_construction",
                 year=2025, tag="social_entertainment"),
            site(plan, "C", "440307", land=100_000, gfa=0, status="planned", year=2025, tag="industrial_software"),
            site(plan, "D", "440304", land=50_000, gfa=20_000, tag="industrial_software"),
            site(plan, "E", "440303", land=250_000, gfa=0, status="planned", tag="modern_services"),
            site(plan, "F", "440309", land=10_000, gfa=15_000),
            site(plan, "G", "440305", land=None, gfa=10_000, tag="core", dx=300.0),
        ]
    )  # fmt: skip


def allocated(proposal) -> dict[str, float]:
    return dict(zip(proposal.allocations["site_id"], proposal.allocations["m2"], strict=True))


def test_site_capacity_by_hand(plan, hand):
    t = site_capacity(plan, hand, as_of=AS_OF).set_index("site_id")
    assert t.loc[list("ABCDEF"), "capacity_m2"].tolist() == [50_000, 300_000, 200_000, 80_000, 500_000, 5_000]
    assert t.loc[list("ABCDEF"), "earliest_year"].tolist() == [2024, 2025, 2025, 2024, 2027, 2024]
    assert t.loc["E", "year_basis"] == "lead_time_planned"
    assert t.loc["B", "existing_floor_m2"] == 100_000
    assert t.loc["D", "aligned"] is False and t.loc["B", "aligned"] is True
    assert not t.loc["G", "usable"] and np.isnan(t.loc["G", "capacity_m2"])
    assert "占地面积" in t.loc["G", "reason_zh"] and "land area" in t.loc["G", "reason_en"]
    assert t.loc["A", "plot_ratio_basis"] == "site"


def test_site_capacity_uses_the_plans_table_and_overrides(plan, hand):
    parks = hand.parks.copy()
    parks.loc[parks["id"] == "A", ["plot_ratio", "land_use_class"]] = [np.nan, "M1"]
    reg = type(hand)(parks, hand.allocations, hand.quotas)
    t = site_capacity(plan, reg, as_of=AS_OF).set_index("site_id")
    m1 = plan.plot_ratios[("M1", plan.plot_ratio_default_zone)]
    assert t.loc["A", "plot_ratio_allowed"] == m1
    assert t.loc["A", "capacity_m2"] == pytest.approx(max(100_000 * m1 - 150_000, 0))
    t2 = site_capacity(plan, reg, as_of=AS_OF, overrides={"A": 3.0}).set_index("site_id")
    assert t2.loc["A", "capacity_m2"] == 150_000 and t2.loc["A", "plot_ratio_basis"] == "override"


def test_existing_allocations_reduce_capacity_and_count_towards_the_target(plan, hand):
    reg = make_register(
        [dict(r) | {"geometry": g} for r, g in zip(hand.parks.drop(columns="geometry").to_dict("records"),
                                                     hand.parks.geometry, strict=True)],
        [{"allocation_id": "B-a1", "park_id": "B", "specialisation": "social_entertainment", "area_m2": 100_000,
          "delivery_year": 2025, "status": "under_construction", "basis": "planner"}],
    )  # fmt: skip
    assert site_capacity(plan, reg, as_of=AS_OF).set_index("site_id").loc["B", "capacity_m2"] == 200_000
    result = propose(plan, reg, Params(target_m2=300_000, as_of=AS_OF))
    assert result.counted_m2 == 100_000 and result.needed_m2 == 200_000
    assert allocated(result) == {"A": 50_000, "B": 150_000}


def test_hand_worked_optimum(plan, hand):
    result = propose(plan, hand, Params(target_m2=300_000, as_of=AS_OF))
    assert result.feasible and result.shortfall_m2 == 0
    assert allocated(result) == {"A": 50_000, "B": 250_000}
    years = dict(zip(result.allocations["site_id"], result.allocations["year"], strict=True))
    assert years == {"A": 2024, "B": 2025}
    bigger = propose(plan, hand, Params(target_m2=500_000, as_of=AS_OF))
    assert allocated(bigger) == {"A": 50_000, "B": 300_000, "D": 80_000, "C": 70_000}
    spec = dict(zip(bigger.allocations["site_id"], bigger.allocations["specialisation"], strict=True))
    assert spec == {"A": "core_cluster", "B": "social_entertainment", "D": "industrial_software",
                    "C": "industrial_software"}  # fmt: skip


def test_preferences_follow_the_weights(plan, hand):
    # without the misalignment weight, D (delivered, 2024) is cheaper than B (2025)
    from planner.core.propose import Weights

    result = propose(plan, hand, Params(target_m2=300_000, as_of=AS_OF, weights=Weights(misaligned=0.0)))
    assert allocated(result) == {"A": 50_000, "D": 80_000, "B": 170_000}


def test_infeasible_names_the_binding_constraints(plan, hand):
    result = propose(plan, hand, Params(target_m2=700_000, as_of=AS_OF))
    assert not result.feasible
    assert result.proposed_m2 == 630_000 and result.shortfall_m2 == 70_000
    kinds = {b.kind: b for b in result.binding}
    assert set(kinds) == {"capacity", "capacity_by_year", "min_size"}
    assert kinds["capacity_by_year"].items == ("E",) and kinds["capacity_by_year"].gain_m2 == pytest.approx(
        70_000
    )
    assert "2027" in kinds["capacity_by_year"].message_zh
    assert kinds["min_size"].items == ("F",) and kinds["min_size"].gain_m2 == pytest.approx(5_000)
    assert set(kinds["capacity"].items) == {"A", "B", "C", "D"}


def test_quota_maximum_binds(plan, hand):
    quotas = (Quota("440306", None, 100_000),)
    ok = propose(plan, hand, Params(target_m2=300_000, as_of=AS_OF, quotas=quotas))
    assert allocated(ok) == {"A": 50_000, "B": 100_000, "D": 80_000, "C": 70_000}
    short = propose(plan, hand, Params(target_m2=630_000, as_of=AS_OF, quotas=quotas))
    assert short.shortfall_m2 == 200_000
    quota = next(b for b in short.binding if b.kind == "quota_max")
    assert quota.items == ("440306",) and quota.gain_m2 == pytest.approx(200_000)
    assert "宝安区" in quota.message_zh


def test_quota_minimum_out_of_reach_is_named(plan, hand):
    result = propose(plan, hand, Params(target_m2=300_000, as_of=AS_OF, quotas=(Quota("440304", 100_000),)))
    assert result.shortfall_m2 == 0 and not result.feasible
    binding = [b for b in result.binding if b.kind == "quota_min"]
    assert binding[0].items == ("440304",) and binding[0].gain_m2 == pytest.approx(20_000)
    assert allocated(result)["D"] == 80_000


def test_core_share_and_specialisation_rule_bind(plan, hand):
    core = propose(plan, hand, Params(target_m2=300_000, as_of=AS_OF, core_share=0.5))
    assert core.proposed_m2 == 100_000 and core.shortfall_m2 == 200_000
    assert allocated(core) == {"A": 50_000, "B": 50_000}
    assert [b.items for b in core.binding if b.kind == "core_share"] == [("440305",)]
    aligned = propose(plan, hand, Params(target_m2=630_000, as_of=AS_OF, aligned_only=True))
    assert "D" not in allocated(aligned) and aligned.shortfall_m2 == 80_000
    spec = next(b for b in aligned.binding if b.kind == "specialisation")
    assert spec.items == ("D",) and spec.gain_m2 == pytest.approx(80_000)


def test_the_seed_register_against_the_plan(plan, seed_register):
    result = propose(plan, seed_register, Params(as_of=2024))
    assert result.target_m2 == plan.new_space.value
    assert result.params.deadline == plan.new_space.deadline
    assert result.counted_m2 == pytest.approx(526_000)
    assert result.proposed_m2 + result.counted_m2 >= plan.new_space.value - 1
    assert (result.allocations["m2"] >= result.params.min_allocation_m2).all()
    out = result.to_dict()
    assert set(out) >= {"target_m2", "proposed_m2", "shortfall_m2", "feasible", "binding", "allocations"}
    assert set(out["allocations"][0]) >= {"site", "district", "specialisation", "m2", "year"}


def test_default_as_of_is_clamped_to_the_plan_period(plan):
    assert default_as_of(plan, dt.date(2030, 5, 1)) == plan.deadline_year
    assert default_as_of(plan, dt.date(2019, 5, 1)) == plan.period_start
    assert default_as_of(plan, dt.date(2024, 5, 1)) == 2024


def test_the_proposal_becomes_a_valid_register_and_never_touches_the_source(plan, hand):
    before = hand.allocations.copy()
    result = propose(plan, hand, Params(target_m2=300_000, as_of=AS_OF))
    new = proposal_register(plan, hand, result)
    pd.testing.assert_frame_equal(hand.allocations, before)
    assert validate_register(new, plan) == []
    added = new.allocations[new.allocations["basis"] == "proposal"]
    assert dict(zip(added["park_id"], added["area_m2"], strict=True)) == {"A": 50_000, "B": 250_000}
    assert added["allocation_id"].tolist() == ["A-p1", "B-p1"]
    comment = proposal_comment(result, "main", 1)
    assert comment.startswith("方案生成 proposal") and '"target_m2": 300000.0' in comment


def test_a_deadline_beyond_the_plan_cannot_be_saved_as_allocations(plan, hand):
    result = propose(plan, hand, Params(target_m2=700_000, as_of=AS_OF, deadline=dt.date(2027, 12, 31)))
    assert result.feasible and "E" in allocated(result)
    with pytest.raises(ValidationError, match="2027"):
        proposal_register(plan, hand, result)


def test_quotas_from_a_table(plan):
    frame = pd.DataFrame(
        {"区": ["宝安", "440305", "深汕"], "下限": [100_000, None, ""], "上限": [None, 900_000, 5]}
    )
    quotas = quotas_from_frame(frame, plan)
    assert quotas == (
        Quota("440306", 100_000.0, None),
        Quota("440305", None, 900_000.0),
        Quota("shenshan", None, 5.0),
    )
    bad = pd.DataFrame({"district": ["火星", "宝安"], "min_m2": [1, "many"], "max_m2": [None, None]})
    with pytest.raises(ValidationError) as err:
        quotas_from_frame(bad, plan, place="q.csv")
    text = str(err.value)
    assert "q.csv row 2" in text and "火星" in text and "q.csv row 3" in text and "many" in text


# --- property: capacity, years, minimum size and quotas are never exceeded ------------------------

CODES = ["440305", "440304", "440306", "440307", "440303"]


@pytest.fixture(scope="module")
def anchors(plan):
    return {c: [inside(plan, c, dx, 0.0) for dx in (0.0, 200.0, 400.0, 600.0)] for c in CODES}


site_strategy = st.tuples(
    st.sampled_from(CODES),
    st.integers(0, 3),
    st.floats(1_000, 200_000),  # land
    st.floats(0, 4),  # existing floor / land
    st.sampled_from(["delivered", "under_construction", "planned", "unknown"]),
    st.one_of(st.none(), st.integers(2022, 2029)),
    st.floats(0.5, 5),  # own plot ratio
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sites=st.lists(site_strategy, min_size=1, max_size=12),
    target=st.floats(0, 2_000_000),
    min_size=st.sampled_from([0.0, 5_000.0, 50_000.0]),
    max_quota=st.one_of(st.none(), st.floats(0, 500_000)),
    core_share=st.sampled_from([0.0, 0.3]),
    as_of=st.integers(2022, 2025),
)
def test_capacity_years_and_quotas_are_never_exceeded(plan, anchors, sites, target, min_size, max_quota,
                                                     core_share, as_of):  # fmt: skip
    used: set[tuple[str, int]] = set()
    parks = []
    for i, (code, k, land, existing, status, year, ratio) in enumerate(sites):
        if (code, k) in used:
            continue
        used.add((code, k))
        parks.append(
            {"id": f"s{i}", "name_zh": f"s{i}", "district_code": code, "land_area_m2": land, "plot_ratio": ratio,
             "gfa_m2": land * existing, "status": status, "delivery_year": year, "geometry": anchors[code][k]}
        )  # fmt: skip
    reg = make_register(parks)
    quotas = (Quota("440306", None, max_quota),) if max_quota is not None else ()
    params = Params(
        target_m2=target, as_of=as_of, min_allocation_m2=min_size, quotas=quotas, core_share=core_share
    )
    result = propose(plan, reg, params)
    table = site_capacity(plan, reg, as_of=as_of).set_index("site_id")
    a = result.allocations.set_index("site_id")
    assert (a["m2"] <= table.loc[a.index, "capacity_m2"] + 1e-6).all()
    assert (a["m2"] >= min_size - 1e-6).all()
    assert (a["year"] >= table.loc[a.index, "earliest_year"].clip(lower=plan.period_start)).all()
    assert (a["year"] <= plan.deadline_year).all()
    if max_quota is not None:
        assert a.loc[a["district"] == "440306", "m2"].sum() <= max_quota + 1
    if core_share and result.proposed_m2 > 0:
        assert a.loc[a["district"] == "440305", "m2"].sum() >= core_share * result.proposed_m2 - 1
    assert result.proposed_m2 + result.shortfall_m2 >= result.needed_m2 - 1
    assert result.shortfall_m2 == 0 or result.binding
