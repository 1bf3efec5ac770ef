"""Districts that edit at once: nine district users saving their own district's changes at the same
moment, from the same base version, on both backends; and two users changing the same row."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from planner.core.access import User
from planner.core.register import Register
from planner.store import ConflictError, Version, open_store
from tests.test_store import edited, new_park, with_park

ROUNDS = int(__import__("os").environ.get("ROUNDS", "20"))


def _together(jobs: list) -> list[object]:
    """Run the jobs in threads that start at the same moment; each one's result or exception."""
    results: list[object] = [None] * len(jobs)
    barrier = threading.Barrier(len(jobs))

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = jobs[i]()
        except Exception as exc:  # the test counts what each save did
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _named(park: Register, pid: str) -> Register:
    """``park`` (one park, as ``new_park`` makes it) under the id ``pid`` and its name."""
    parks = park.parks.copy()
    parks["id"], parks["name_zh"] = pid, f"测试园区{pid}"
    return Register(parks, park.allocations.copy(), park.quotas.copy())


def test_nine_districts_saving_at_once_from_the_same_base_all_land(store_db, plan) -> None:
    codes = plan.district_codes()
    assert len(codes) == 9
    users = [User(f"staff_{code}", "district", code) for code in codes]
    stores = [open_store(store_db, plan) for _ in users]
    # each round a district adds the same square under a new id: the square is made once
    squares = {code: new_park(plan, "", code) for code in codes}
    try:
        for r in range(ROUNDS):
            base, v = stores[0].load()  # every user starts from the same version

            def job(i: int, base: Register = base, v: Version = v, r: int = r):
                code = codes[i]
                mine = with_park(base, _named(squares[code], f"r{r}_{code}"))
                if r:  # and change the park they added the round before
                    mine = edited(mine, f"r{r - 1}_{code}", name_en=f"renamed in round {r}")
                return stores[i].save(  # as the app saves: with the register it loaded as the base
                    mine, user=users[i], comment=f"round {r}", expected_version=v.version, base=base
                )

            results = _together([lambda i=i: job(i) for i in range(len(users))])
            failures = [r for r in results if not isinstance(r, Version)]
            assert failures == [], failures  # zero conflicts, zero refusals
            assert sorted(res.base_version for res in results) == [v.version] * len(users)
        final, latest = stores[0].load()
    finally:
        for s in stores:
            s.close()
    assert latest.version == 1 + ROUNDS * len(users)
    parks = final.parks.set_index("id")
    ours = [f"r{r}_{code}" for r in range(ROUNDS) for code in codes]
    assert set(ours) <= set(parks.index)  # zero lost rows
    names = parks.loc[[f"r{r}_{code}" for r in range(ROUNDS - 1) for code in codes], "name_en"]
    assert names.tolist() == [f"renamed in round {r + 1}" for r in range(ROUNDS - 1) for _ in codes]
    assert latest.n_parks == len(final.parks)


def test_two_users_changing_the_same_allocation_at_once_one_conflict_naming_it(store_db, plan) -> None:
    store = open_store(store_db, plan)
    base, v = store.load()
    row = base.allocations.iloc[0]
    aid = str(row["allocation_id"])
    users = [User("wang", "planner"), User("li", "planner")]
    stores = [open_store(store_db, plan) for _ in users]

    def job(i: int):
        allocations = base.allocations.copy()
        allocations.loc[allocations["allocation_id"] == aid, "area_m2"] = 1000.0 * (i + 1)
        mine = Register(base.parks, allocations, base.quotas)
        return stores[i].save(mine, user=users[i], comment=f"edit {i}", expected_version=v.version)

    results = _together([lambda i=i: job(i) for i in range(2)])
    for s in stores:
        s.close()
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    saved = [r for r in results if isinstance(r, Version)]
    assert len(conflicts) == 1 and len(saved) == 1
    (conflict,) = conflicts
    assert conflict.clashing() == [f"allocation {aid}"]
    winner = saved[0].author
    assert [(k, who.author) for k, who in conflict.rows["allocations"]] == [(aid, winner)]
    text = str(conflict)
    assert aid in text and winner in text and text.index("冲突") < text.index("conflict")
    final, latest = store.load()
    assert latest.version == 2
    area = final.allocations.set_index("allocation_id").loc[aid, "area_m2"]
    assert area == (1000.0 if winner == "wang" else 2000.0)
    log = store.audit_log()
    assert (log["outcome"] == "conflict").sum() == 1
    store.close()


@pytest.mark.parametrize("table", ["quotas"])
def test_quotas_follow_the_same_row_rule(store, plan, table) -> None:
    base, v = store.load()
    planner = User("wang", "planner")
    ns, ba = "440305", "440306"

    def with_quota(register: Register, code: str, m2: float) -> Register:
        quotas = pd.concat(
            [
                register.quotas[register.quotas["district_code"] != code],
                pd.DataFrame({"district_code": [code], "quota_m2": [m2]}),
            ],
            ignore_index=True,
        )
        return Register(register.parks, register.allocations, quotas)

    store.save(with_quota(base, ns, 1e6), user=planner, comment="南山", expected_version=v.version)
    merged = store.save(
        with_quota(base, ba, 2e6), user=User("li", "planner"), comment="宝安", expected_version=v.version
    )
    assert merged.merged_onto == v.version + 1
    quotas = store.load()[0].quotas.set_index("district_code")["quota_m2"]
    assert (quotas[ns], quotas[ba]) == (1e6, 2e6)
    with pytest.raises(ConflictError) as err:
        store.save(
            with_quota(base, ns, 3e6), user=User("li", "planner"), comment="南山", expected_version=v.version
        )
    assert err.value.clashing() == [f"quota {ns}"]
