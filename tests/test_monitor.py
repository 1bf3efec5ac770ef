"""Monitoring as of a date, worked out by hand on a small fixture; every warning code; the trend
over three saved versions; the check command's --as-of / --trend."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest

from planner.cli.main import FIRST_ROWS, main
from planner.core.access import User
from planner.core.history import cached_trend, versions_of
from planner.core.monitor import WARNING_CODES, monitor, park_last_changed, trend
from planner.core.plan import load_plan
from planner.core.register import Register
from planner.store import open_store
from tests.conftest import inside, make_register, square

PLANNER = User("alice", "planner")
NANSHAN, FUTIAN = "440305", "440304"


@pytest.fixture()
def small(plan) -> Register:
    """Two parks, five allocations. Counted (2022-2025): a, b, c, d = 2,000,000 m²."""
    parks = [
        {"id": "ns", "name_zh": "南山园", "district_code": NANSHAN, "new_gfa_m2": 3_000_000.0,
         "geometry": square(inside(plan, NANSHAN), 400)},
        {"id": "ft", "name_zh": "福田园", "district_code": FUTIAN, "new_gfa_m2": 1_000_000.0,
         "geometry": inside(plan, FUTIAN)},
    ]  # fmt: skip
    cols = ["allocation_id", "park_id", "specialisation", "area_m2", "delivery_year", "status", "basis"]
    rows = [
        ("a", "ns", "core_cluster", 1_000_000, 2023, "delivered", "planner"),
        ("b", "ns", "core_cluster", 500_000, 2025, "under_construction", "planner"),
        ("c", "ft", "fintech", 300_000, 2025, "planned", "planner"),
        ("d", "ft", "fintech", 200_000, 2024, "planned", "planner"),
        ("e", "ns", "core_cluster", 400_000, 2027, "planned", "planner"),  # after the period
    ]
    quotas = [
        {"district_code": NANSHAN, "quota_m2": 2_000_000},
        {"district_code": FUTIAN, "quota_m2": 400_000},
    ]
    return make_register(parks, [dict(zip(cols, r, strict=True)) for r in rows], quotas)


def codes(mon) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in mon.warnings:
        out.setdefault(f.code, set()).add(f.id)
    return out


def test_before_the_deadline_progress(plan, small):
    mon = monitor(plan, small, dt.date(2023, 6, 30))
    assert mon.phase == "in_period"
    assert mon.counted_m2 == 2_000_000 and mon.secured_m2 == 1_500_000  # a b c d; a b
    assert mon.delivered_m2 == 1_000_000  # a (2023, delivered)
    assert mon.result_delivered_m2 is None and mon.result_met is None
    assert mon.slipped.empty
    assert "ALLOC_OVERDUE" not in codes(mon) and "ALLOC_AT_RISK" not in codes(mon)
    assert monitor(plan, small, dt.date(2021, 5, 1)).phase == "before"


def test_on_the_deadline_still_in_the_period(plan, small):
    mon = monitor(plan, small, dt.date(2025, 12, 31))
    assert mon.phase == "in_period" and mon.result_delivered_m2 is None
    assert mon.elapsed_share == 1.0
    found = codes(mon)
    assert found["ALLOC_OVERDUE"] == {"d"}  # due 2024, planned
    assert found["ALLOC_AT_RISK"] == {"c"}  # due 2025 and planned; b is under construction
    assert mon.slipped[["allocation_id", "days_late"]].values.tolist() == [["d", 365]]
    assert "PLAN_PERIOD_ENDED" not in found


def test_after_the_deadline_the_result_and_what_slipped(plan, small):
    mon = monitor(plan, small, dt.date(2026, 3, 1))
    assert mon.phase == "ended" and mon.phase_text() == "规划期已结束"
    assert mon.result_delivered_m2 == 1_000_000 and mon.result_met is False  # only a, of 3,000,000
    late = dict(zip(mon.slipped["allocation_id"], mon.slipped["days_late"], strict=True))
    assert late == {"b": 60, "c": 60, "d": 425}  # from the end of the delivery year to 1 March 2026
    assert mon.slipped_m2 == 1_000_000  # b + c + d; e (2027) is not this plan's
    found = codes(mon)
    assert found["ALLOC_OVERDUE"] == {"b", "c", "d"}
    assert found["PLAN_PERIOD_ENDED"] == found["TARGET_MISSED_AT_DEADLINE"] == {plan.id}
    assert "DISTRICT_BEHIND_PACE" not in found  # pace is a warning of the period, not of the result


def test_district_behind_its_linear_pace(plan, small):
    mon = monitor(plan, small, dt.date(2023, 12, 31))
    share = (dt.date(2023, 12, 31) - dt.date(2022, 1, 1)).days / (
        dt.date(2025, 12, 31) - dt.date(2022, 1, 1)
    ).days
    d = mon.by_district.set_index("key")
    assert d.loc[FUTIAN, "expected_m2"] == pytest.approx(400_000 * share)
    assert mon.pace_rule == "linear"
    assert codes(mon)["DISTRICT_BEHIND_PACE"] == {FUTIAN}  # 0 secured; Nanshan 1.5M of ~1.0M expected


def test_district_behind_planner_set_milestones(plan, small, tmp_path):
    folder = tmp_path / "milestones"
    shutil.copytree(plan.folder, folder)
    with (folder / "plan.toml").open("a", encoding="utf-8") as f:
        f.write("\n[[quota_milestones]]\nyear = 2023\nshare = 0.8\n")
    mplan = load_plan(folder)
    mon = monitor(mplan, small, dt.date(2024, 6, 1))
    assert mon.pace_rule == "milestones"
    assert mon.by_district.set_index("key").loc[NANSHAN, "expected_m2"] == 1_600_000
    assert codes(mon)["DISTRICT_BEHIND_PACE"] == {NANSHAN, FUTIAN}  # 1.5M < 1.6M; 0 < 320,000


def test_stale_parks_from_the_history(plan, small):
    newer = small.parks.copy()
    newer.loc[newer["id"] == "ft", "new_gfa_m2"] = 900_000.0
    history = [
        ("2024-01-10T08:00:00+00:00", small),
        ("2025-09-01T08:00:00+00:00", Register(newer, small.allocations, small.quotas)),
    ]
    changed = park_last_changed(history)
    assert changed["ns"] == pd.Timestamp("2024-01-10 08:00") and changed["ft"] == pd.Timestamp(
        "2025-09-01 08:00"
    )
    mon = monitor(plan, history[-1][1], dt.date(2025, 10, 1), history=history, stale_months=12)
    assert codes(mon)["PARK_STALE"] == {"ns"}  # unchanged for 20 months; ft changed a month ago
    early = monitor(plan, small, dt.date(2025, 6, 1), history=history, stale_months=12)
    assert codes(early)["PARK_STALE"] == {"ns", "ft"}  # the September change is after that date
    assert "PARK_STALE" not in codes(
        monitor(plan, small, dt.date(2025, 6, 1), history=history, stale_months=24)
    )


def test_every_warning_code_is_triggered(plan, small):
    history = [("2020-01-01T00:00:00+00:00", small)]
    seen = set(codes(monitor(plan, small, dt.date(2025, 12, 31), history=history)))
    seen |= set(codes(monitor(plan, small, dt.date(2023, 12, 31))))
    seen |= set(codes(monitor(plan, small, dt.date(2026, 3, 1))))
    assert seen == set(WARNING_CODES)


def test_trend_over_three_saved_versions(plan, seed_register, small):
    store = open_store(None, plan)  # v1: the seed register (counted 526,000 m², both under construction)
    v1 = store.version()
    small = Register(small.parks, small.allocations[small.allocations["allocation_id"] != "e"], small.quotas)
    v2 = store.save(
        small, user=PLANNER, comment="fixture", expected_version=v1.version
    )  # (no 2027 year here)
    allocs = small.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "b", "status"] = "delivered"
    v3 = store.save(
        Register(small.parks, allocs, small.quotas),
        user=PLANNER,
        comment="b delivered",
        expected_version=v2.version,
    )
    t = trend(plan, store.history_registers())
    assert t["version"].tolist() == [1, 2, v3.version]
    assert t["counted_m2"].tolist() == [526_000, 2_000_000, 2_000_000]
    assert t["secured_m2"].tolist() == [526_000, 1_500_000, 1_500_000]
    assert t["delivered_m2"].tolist() == [0, 1_000_000, 1_500_000]


def test_check_as_of_and_trend_on_the_command_line(plan, capsys):
    assert main(["check", "--as-of", "2026-11-29", "--trend", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    mon = out["monitor"]
    assert out["as_of"] == "2026-11-29" and mon["phase"] == "ended"
    # the seed register: 400,000 m² due 2024 and 126,000 m² due 2023, both still under construction
    assert mon["result_delivered_m2"] == 0 and mon["result_met"] is False
    assert {s["allocation_id"]: s["days_late"] for s in mon["slipped"]} == {
        "tencent_penguin-a1": (dt.date(2026, 11, 29) - dt.date(2024, 12, 31)).days,
        "shenshan_eco-a1": (dt.date(2026, 11, 29) - dt.date(2023, 12, 31)).days,
    }
    assert [v["version"] for v in out["trend"]["versions"]] == [1]
    assert main(["check", "--as-of", "2024-06-01"]) == 0
    text = capsys.readouterr().out
    assert "规划期内 / within the plan period" in text and "进度 Progress" in text
    with pytest.raises(SystemExit) as exit_info:
        main(["check", "--as-of", "2026-02-30"])
    assert exit_info.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


# ---- statuses as recorded at the as-of date (the store's history) ----------------------------------
def test_delivered_by_the_deadline_counts_what_was_recorded_by_then(plan, small):
    """Worked by hand. v1 (June 2025): a delivered. v2 (on the deadline, 10:00 UTC): b delivered.
    v3 (15 Feb 2026): c recorded delivered, its delivery year still 2025: delivered after the
    deadline and recorded after it, so not delivered by the deadline."""
    allocs = small.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "b", "status"] = "delivered"
    v2 = Register(small.parks, allocs.copy(), small.quotas)
    allocs.loc[allocs["allocation_id"] == "c", "status"] = "delivered"
    v3 = Register(small.parks, allocs, small.quotas)
    history = [
        ("2025-06-01T08:00:00+00:00", small),
        ("2025-12-31T10:00:00+00:00", v2),
        ("2026-02-15T02:00:00+00:00", v3),
    ]

    before = monitor(plan, v3, dt.date(2025, 12, 30), history=history)
    assert before.delivered_m2 == 1_000_000  # a only: b was recorded delivered the next day
    assert codes(before)["ALLOC_AT_RISK"] == {"c"} and codes(before)["ALLOC_OVERDUE"] == {"d"}
    assert before.slipped[["allocation_id", "days_late"]].values.tolist() == [["d", 364]]

    on = monitor(plan, v3, dt.date(2025, 12, 31), history=history)
    assert on.phase == "in_period" and on.delivered_m2 == 1_500_000  # a + b
    assert codes(on)["ALLOC_AT_RISK"] == {"c"}  # still planned as recorded that day

    after = monitor(plan, v3, dt.date(2026, 3, 1), history=history)
    assert after.result_delivered_m2 == 1_500_000  # a + b; c was delivered and recorded late
    assert after.delivered_m2 == 1_800_000  # delivered as of 1 March 2026: a + b + c
    slipped = after.slipped.set_index("allocation_id")
    assert slipped["days_late"].to_dict() == {"c": 46, "d": 425}  # c: 31 Dec 2025 -> 15 Feb 2026
    assert slipped.loc["c", "recorded_delivered_on"] == "2026-02-15"
    assert pd.isna(slipped.loc["d", "recorded_delivered_on"])  # not delivered yet
    assert after.to_dict()["slipped"][-1]["recorded_delivered_on"] is None
    assert after.slipped_m2 == 500_000
    assert codes(after)["ALLOC_OVERDUE"] == {"d"}  # c is delivered by 1 March
    assert after.delivered_by_year.set_index("year")["delivered_m2"].to_dict() == {
        2022: 0,
        2023: 1_000_000,
        2024: 0,
        2025: 500_000,
    }
    # the current statuses alone would have counted c as delivered by the deadline
    assert monitor(plan, v3, dt.date(2026, 3, 1)).result_delivered_m2 == 1_800_000


def test_a_status_corrected_since_and_an_allocation_recorded_later(plan, small):
    allocs = small.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "d", "status"] = "delivered"  # a mistake ...
    wrong = Register(small.parks, allocs, small.quotas)
    history = [("2025-03-01T00:00:00+00:00", wrong), ("2026-01-10T00:00:00+00:00", small)]
    mon = monitor(plan, small, dt.date(2026, 3, 1), history=history)
    assert "d" in set(mon.slipped["allocation_id"])  # ... corrected since: never delivered
    assert mon.result_delivered_m2 == 1_000_000
    # an allocation first recorded after the deadline, already "delivered" in 2025, does not count
    extra = pd.concat(
        [
            small.allocations,
            small.allocations[small.allocations["allocation_id"] == "a"].assign(allocation_id="f"),
        ]
    )
    late = Register(small.parks, extra, small.quotas)
    history = [("2025-03-01T00:00:00+00:00", small), ("2026-01-10T00:00:00+00:00", late)]
    assert monitor(plan, late, dt.date(2026, 3, 1), history=history).result_delivered_m2 == 1_000_000


def test_before_the_first_saved_version_the_first_version_stands(plan, small):
    history = [("2026-11-30T00:00:00+00:00", small)]  # a store seeded after the deadline
    mon = monitor(plan, small, dt.date(2026, 3, 1), history=history)
    assert mon.result_delivered_m2 == 1_000_000  # a, as first recorded


def test_the_trend_computes_each_saved_version_once(plan, small, monkeypatch):
    store = open_store(None, plan)
    reads: list[int | None] = []
    real_load = store.load

    def counted_load(scenario: str = "main", version: int | None = None):
        reads.append(version)
        return real_load(scenario, version)

    monkeypatch.setattr(store, "load", counted_load)  # the real store, its reads counted
    small = Register(small.parks, small.allocations[small.allocations["allocation_id"] != "e"], small.quotas)
    store.save(small, user=PLANNER, comment="fixture", expected_version=1)
    first = cached_trend(plan, store, "main")
    assert reads == [1, 2]
    assert cached_trend(plan, store, "main").equals(first) and reads == [1, 2]  # nothing new: no read
    allocs = small.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "b", "status"] = "delivered"
    store.save(Register(small.parks, allocs, small.quotas), user=PLANNER, comment="b", expected_version=2)
    again = cached_trend(plan, store, "main")
    assert reads == [1, 2, 3]  # one more save: one more version read
    fresh = trend(plan, store.history_registers())
    pd.testing.assert_frame_equal(again, fresh)
    assert again["delivered_m2"].tolist() == [0, 1_000_000, 1_500_000]
    # the monitor's history comes from the same cache: no read at all
    current = Register(small.parks, allocs, small.quotas)
    mon = monitor(
        plan, current, dt.date(2030, 1, 1), history=[r for r, _ in versions_of(store, "main", plan)]
    )
    assert reads == [1, 2, 3] and mon.delivered_m2 == 1_500_000
    assert versions_of(store, "no-such-scenario", plan) == []  # nothing saved: no history


def test_first_rows_of_each_warning_code_are_the_full_tables(plan, small):
    """``monitor(first=N)`` (what ``check --json`` prints) builds the first N warnings of each code,
    texts included, and counts them all: the same rows as cutting the full table."""
    ids = ["z9", "m5", "b0", "k7", "a1", "y2"]  # out of order: the cut takes the first by id
    years = [2023, 2022, 2024, 2025, 2025, 2025]
    statuses = ["planned", "under_construction", "planned", "planned", "unknown", "planned"]
    extra = [
        {"allocation_id": i, "park_id": "ns" if k % 2 else "ft", "specialisation": "fintech",
         "area_m2": 10_000.0 * (k + 1), "delivery_year": y, "status": st, "basis": "planner"}
        for k, (i, y, st) in enumerate(zip(ids, years, statuses, strict=True))
    ]  # fmt: skip
    reg = make_register(
        small.parks.drop(columns="geometry").assign(geometry=small.parks.geometry).to_dict("records"),
        [*small.allocations.to_dict("records"), *extra],
        small.quotas.to_dict("records"),
    )
    history = [("2020-01-01T00:00:00+00:00", reg)]
    day = dt.date(2025, 6, 30)
    full = monitor(plan, reg, day, history=history)
    by_code = full.warnings_table["code"].value_counts(sort=False)
    assert by_code["ALLOC_OVERDUE"] >= 3 and by_code["ALLOC_AT_RISK"] >= 3  # more than the cut keeps
    assert full.warnings_by_code == {
        c: int(by_code[c]) for c in full.warnings_table["code"].drop_duplicates()
    }
    for first in (1, 2):
        cut = monitor(plan, reg, day, history=history, first=first)
        expected = full.warnings_table.groupby("code", sort=False).head(first).reset_index(drop=True)
        pd.testing.assert_frame_equal(cut.warnings_table, expected)
        assert cut.warnings_by_code == full.warnings_by_code
        assert cut.warnings_total == len(full.warnings_table)
        assert cut.to_dict()["districts"] == full.to_dict()["districts"]


def test_check_json_prints_the_first_warnings_of_each_code_and_counts_all(plan, capsys):
    """``check --json`` builds only the warnings it prints: the first rows of each code of what
    ``--findings all`` prints, and the counts of all of them."""
    assert main(["check", "--as-of", "2030-06-01", "--json", "--findings", "all"]) == 0
    every = json.loads(capsys.readouterr().out)["monitor"]["warnings"]
    assert main(["check", "--as-of", "2030-06-01", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["monitor"]
    by_code: dict[str, list[dict]] = {}
    for w in every:
        by_code.setdefault(w["code"], []).append(w)
    assert max(len(rows) for rows in by_code.values()) > FIRST_ROWS  # the cut matters here
    assert out["warnings"] == [w for rows in by_code.values() for w in rows[:FIRST_ROWS]]
    assert out["warnings_by_code"] == {c: len(rows) for c, rows in by_code.items()}
    assert out["warnings_total"] == len(every)
