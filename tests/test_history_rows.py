"""The monitor's history from the store's row history (one query per table) on both backends: the
same statuses, delivered-since times, last changes and warnings as the history built from every
version's register; and the check command reads the register once."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from planner.cli.main import main
from planner.core.access import User
from planner.core.history import clear_cache, from_recorded, recorded, row_history
from planner.core.monitor import monitor
from planner.core.register import Register
from planner.store import Store

PLANNER = User("alice", "planner")


def _save(store: Store, register: Register, comment: str) -> None:
    store.save(register, user=PLANNER, comment=comment, expected_version=store.version().version)


def _history(store: Store) -> Store:
    """Five versions of the seed register: an allocation delivered, changed while delivered,
    corrected back; another delivered then removed; a park renamed; a park added."""
    register, _ = store.load()  # v1: the seed
    allocs, parks = register.allocations.copy(), register.parks.copy()
    first, second = allocs["allocation_id"].iloc[0], allocs["allocation_id"].iloc[1]
    allocs.loc[allocs["allocation_id"] == first, "status"] = "delivered"
    _save(store, Register(parks, allocs.copy(), register.quotas), "v2: first delivered")
    allocs.loc[allocs["allocation_id"] == first, "area_m2"] += 1000.0  # still delivered
    allocs.loc[allocs["allocation_id"] == second, "status"] = "delivered"
    _save(store, Register(parks, allocs.copy(), register.quotas), "v3")
    allocs.loc[allocs["allocation_id"] == first, "status"] = "under_construction"  # corrected
    parks.loc[parks.index[2], "name_en"] = "renamed"
    _save(store, Register(parks.copy(), allocs.copy(), register.quotas), "v4")
    allocs = allocs[allocs["allocation_id"] != second]
    extra = parks.iloc[[3]].assign(id="added_park")
    parks = pd.concat([parks, extra], ignore_index=True)
    _save(store, Register(parks, allocs, register.quotas), "v5")
    return store


def test_the_store_row_history_is_one_row_a_stored_row(store, plan) -> None:
    _history(store)
    rows = store.row_history("allocations", ["status"])
    assert list(rows.columns) == ["allocation_id", "status", "v_from", "v_to"]
    first = rows[
        rows["allocation_id"] == store.history_registers()[0][1].allocations["allocation_id"].iloc[0]
    ]
    # seed row (v1-v2), delivered (v2-v3), delivered with another area (v3-v4), corrected (v4-)
    assert first["status"].tolist() == ["under_construction", "delivered", "delivered", "under_construction"]
    assert first["v_from"].tolist() == [1, 2, 3, 4] and first["v_to"].tolist()[:3] == [2, 3, 4]
    assert pd.isna(first["v_to"].iloc[-1])
    with pytest.raises(ValueError, match="no column"):
        store.row_history("parks", ["no_such_column"])


def test_row_history_matches_the_registers_of_every_version(store, plan) -> None:
    _history(store)
    clear_cache()
    versions = store.history_registers()
    slow = from_recorded([recorded(v.version, v.created_at, r) for v, r in versions])
    fast = row_history(store, "main")
    assert fast.versions.tolist() == [1, 2, 3, 4, 5] and list(fast.when) == list(slow.when)
    for k in range(5):
        pd.testing.assert_series_equal(fast.statuses_at(k).sort_index(), slow.statuses_at(k).sort_index())
        expected = versions[k][1].allocations.set_index("allocation_id")["status"].astype(object)
        assert fast.statuses_at(k).sort_index().to_dict() == expected.sort_index().to_dict()
    today = dt.date.today()
    pd.testing.assert_series_equal(
        fast.delivered_since(today).sort_index(), slow.delivered_since(today).sort_index()
    )
    changed = fast.park_last_changed(today)
    pd.testing.assert_series_equal(changed.sort_index(), slow.park_last_changed(today).sort_index())
    assert changed["added_park"] == fast.when[4]  # added in v5
    renamed = str(versions[0][1].parks["id"].iloc[2])
    assert changed[renamed] == fast.when[3]  # renamed in v4
    assert set(changed.drop(["added_park", renamed])) == {fast.when[0]}  # the others: the seed
    register = versions[-1][1]
    for as_of in (today, dt.date(2024, 6, 1), today + dt.timedelta(days=400)):
        a = monitor(plan, register, as_of, history=fast, stale_months=1)
        b = monitor(plan, register, as_of, history=versions, stale_months=1)
        pd.testing.assert_frame_equal(a.warnings_table, b.warnings_table)
        pd.testing.assert_frame_equal(a.slipped, b.slipped)
        assert a.delivered_m2 == b.delivered_m2
    later = monitor(plan, register, today + dt.timedelta(days=400), history=fast, stale_months=1)
    assert "PARK_STALE" in set(later.warnings_table["code"])  # over a year without a change


def test_check_json_reads_the_register_once(tmp_path, plan, capsys, monkeypatch) -> None:
    from planner.store import open_store

    db = tmp_path / "s.gpkg"
    store = _history(open_store(db, plan))
    store.close()
    reads: list[int] = []
    real = Store.load

    def counted(self, scenario: str = "main", version: int | None = None):
        reads.append(version or 0)
        return real(self, scenario, version)

    monkeypatch.setattr(Store, "load", counted)  # the real store, its whole-register reads counted
    clear_cache()
    assert main(["check", "--json", "--db", str(db)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(reads) == 1 and "monitor" in out
    assert main(["check", "--json", "--trend", "--db", str(db)]) == 0  # the trend reads each version
    assert [v["version"] for v in json.loads(capsys.readouterr().out)["trend"]["versions"]] == [1, 2, 3, 4, 5]


def test_statuses_of_many_ids_at_several_ranks_are_statuses_at_each(store, plan) -> None:
    """``RowHistory.statuses_of`` (one join of the ids for all ranks) gives what ``statuses_at``
    gives rank by rank; an id a version does not hold is None, a repeated id repeats its status;
    ``delivered_since(..., ids)`` is the whole answer's rows of those ids."""
    _history(store)
    clear_cache()
    fast = row_history(store, "main")
    ids = [*fast.statuses["allocation_id"].drop_duplicates(), "no-such-allocation"]
    ids = [*ids, ids[1], ids[0]]  # repeated ids
    ranks = [4, 0, 2, 4]
    for k, got in zip(ranks, fast.statuses_of(pd.Series(ids).to_numpy(dtype=object), ranks), strict=True):
        expected = fast.statuses_at(k).to_dict()
        assert got.tolist() == [expected.get(i) for i in ids]
        assert got[len(ids) - 3] is None  # never recorded
    assert fast.statuses_of(pd.Series(ids).to_numpy(dtype=object), []) == []
    today = dt.date.today()
    whole = fast.delivered_since(today)
    assert len(whole) >= 1
    some = [whole.index[0], "no-such-allocation"]
    pd.testing.assert_series_equal(fast.delivered_since(today, some), whole[whole.index.isin(some)])


def test_monitor_first_rows_of_slipped_and_the_totals_of_all(store, plan) -> None:
    """``monitor(first=N)`` keeps the first N slipped rows (the full table's first rows) and counts
    all of them; the result message quotes the space of all."""
    _history(store)
    register, _ = store.load()
    allocs = register.allocations.copy()
    late = allocs.index[allocs["status"] != "delivered"][::2]  # every other one due in 2024
    allocs.loc[late, "delivery_year"] = 2024
    _save(store, Register(register.parks, allocs, register.quotas), "v6: due in 2024")
    clear_cache()
    register, _ = store.load()
    history = row_history(store, "main")
    after = dt.date(2026, 3, 1)  # after the deadline: those not delivered slipped
    full = monitor(plan, register, after, history=history)
    assert len(full.slipped) > 2  # the cut matters
    for first in (1, 2):
        cut = monitor(plan, register, after, history=history, first=first)
        pd.testing.assert_frame_equal(cut.slipped, full.slipped.head(first))
        assert cut.slipped_count == full.slipped_count == len(full.slipped)
        # the slipped space is of every slipped allocation, not of the rows kept
        assert cut.slipped_m2 == full.slipped_m2 == full.slipped["area_m2"].sum()
        assert cut.slipped_m2 > cut.slipped["area_m2"].sum()
        assert cut.to_dict()["slipped_m2"] == full.slipped_m2  # what check --json prints
        ended = cut.warnings_table[cut.warnings_table["code"] == "PLAN_PERIOD_ENDED"]
        pd.testing.assert_frame_equal(
            ended.reset_index(drop=True),
            full.warnings_table[full.warnings_table["code"] == "PLAN_PERIOD_ENDED"].reset_index(drop=True),
        )


def test_park_names_by_either_lookup_are_the_same(store, plan, monkeypatch) -> None:
    """The warnings name parks by a lookup of a few ids (pandas' isin) or of many (one object hash
    table): the same table either way."""
    import planner.core.monitor as monitor_module

    _history(store)
    clear_cache()
    register, _ = store.load()
    history = row_history(store, "main")
    day = dt.date.today() + dt.timedelta(days=400)
    few = monitor(plan, register, day, history=history, stale_months=1)
    monkeypatch.setattr(monitor_module, "_FEW", 0)  # every lookup the way of many ids
    many = monitor(plan, register, day, history=history, stale_months=1)
    assert {"ALLOC_OVERDUE", "PARK_STALE"} <= set(few.warnings_table["code"])
    pd.testing.assert_frame_equal(few.warnings_table, many.warnings_table)
    pd.testing.assert_frame_equal(few.slipped, many.slipped)
