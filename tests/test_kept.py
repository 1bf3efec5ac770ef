"""What a store keeps of each parks row: its geometry in the plan's metric CRS and its district
assignment, written with the row (``planner.core.assign.kept_rows``). A version loaded from the
store is checked with them and gives exactly the check that computes them; rows written by an
older release (nothing kept), kept rows made under another key, and a one-park edit, on both
backends."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from bench.checks import synthetic
from planner.core import assign
from planner.core.access import User
from planner.core.checking import check
from planner.core.register import Register, conform_parks, load_register
from planner.store import open_store
from planner.store.service import KEPT_META
from tests.conftest import inside, square

PLANNER = User("kept", "planner")


@pytest.fixture(scope="module")
def city(plan) -> Register:
    """1,500 parcels on the real districts (about 1% overlapping) with the seed's 32 parks (points,
    a park in Hong Kong outside every district) and one park without a geometry."""
    grid = synthetic(1500, seed=11)
    seed = load_register(plan)
    none = seed.parks.iloc[[0]].assign(id="no_shape", geometry=[None])
    parks = pd.concat([grid.parks, seed.parks, none], ignore_index=True)
    return Register(
        conform_parks(gpd.GeoDataFrame(parks, geometry="geometry", crs=seed.parks.crs)),
        pd.concat([grid.allocations, seed.allocations], ignore_index=True),
        seed.quotas,
    )


class Spy:
    """Counts the calls of ``assign.geo_assign`` (the computation the kept rows spare)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        real = assign.geo_assign

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(assign, "geo_assign", counted)


def _same_check(plan, register: Register, spy: Spy, *, kept: bool) -> None:
    """The check of ``register`` as loaded (kept rows used when ``kept``) equals one that computes
    the projection and assignment afresh."""
    before = spy.calls
    got = check(plan, register)
    assert (spy.calls == before) is kept  # kept: nothing assigned; else computed
    assign.clear_cache()
    fresh = check(plan, register)
    pd.testing.assert_frame_equal(got.where, fresh.where)
    pd.testing.assert_frame_equal(got.findings, fresh.findings)
    pd.testing.assert_frame_equal(got.pairs, fresh.pairs)
    assert list(shapely.to_wkb(got.metric)) == list(shapely.to_wkb(fresh.metric))
    assert got.report.counted_m2 == fresh.report.counted_m2
    pd.testing.assert_frame_equal(got.report.by_district, fresh.report.by_district)


def _load(db: str, plan) -> tuple:
    """A new process's view: nothing cached, the store opened and the latest version loaded."""
    assign.clear_cache()
    store = open_store(db, plan)
    register, v = store.load()
    return store, register, v


def _stored(db: str, plan, city: Register) -> tuple:
    """The store at ``db`` (seeded) with ``city`` saved over the seed; the store and the seed's version."""
    store = open_store(db, plan)
    _, v = store.load()
    store.save(city, user=PLANNER, comment="city", expected_version=v.version)
    return store, v


def test_a_loaded_version_is_checked_with_what_the_store_kept(store_db, plan, city, monkeypatch) -> None:
    store, v = _stored(store_db, plan, city)
    store.close()
    spy = Spy(monkeypatch)
    store, register, v = _load(store_db, plan)
    assert store.keeps
    where = check(plan, register).where
    assert (where["geo_district_code"] == "").sum() >= 1  # the park outside every district
    assert not where["located"].all()  # the park without a geometry
    assert (where["n_districts"] > 1).any() or (where["geo_share"] < 1).any()
    _same_check(plan, register, spy, kept=True)

    # One park moved into another district, one removed: the new version's rows are kept as written.
    parks = register.parks.copy()
    g = parks.geometry.values.copy()
    g[3] = inside(plan, "440307")  # Longgang
    parks["geometry"] = g
    edited = Register(
        gpd.GeoDataFrame(parks.drop(index=7), crs=parks.crs), register.allocations, register.quotas
    )
    store.save(edited, user=PLANNER, comment="moved", expected_version=v.version, base=register)
    store.close()
    store, latest, v2 = _load(store_db, plan)
    assert v2.version == v.version + 1
    _same_check(plan, latest, spy, kept=True)
    assert check(plan, latest).where["geo_district_code"].iloc[3] == "440307"
    older, _ = store.load(version=v.version)  # the version before keeps its own rows
    _same_check(plan, older, spy, kept=True)
    store.close()


def test_rows_with_nothing_kept_are_computed_and_filled_by_upgrade(store_db, plan, city, monkeypatch) -> None:
    store, _ = _stored(store_db, plan, city)
    store.backend.clear_kept()  # as rows an older release wrote: nothing kept, the key still set
    store.close()
    spy = Spy(monkeypatch)
    store, register, _ = _load(store_db, plan)
    _same_check(plan, register, spy, kept=False)
    assert store.fill_kept() == len(city.parks)  # every stored row (the seed's 32 are carried unchanged)
    store.close()
    store, register, _ = _load(store_db, plan)
    _same_check(plan, register, spy, kept=True)
    store.close()


def test_rows_kept_under_another_key_are_recomputed_on_open(store_db, plan, city, monkeypatch) -> None:
    store, v = _stored(store_db, plan, city)
    # What another rule or other districts would have kept: every row in one wrong district.
    register, v = store.load()
    wrong = assign.kept_rows(register.parks, plan)
    wrong["geo_district_code"] = "440309"
    wrong["id"] = register.parks["id"].astype(str).to_numpy()
    store.backend.put_kept(wrong, scenario="main", version=v.version)
    store.backend.set_meta(KEPT_META, "another key")
    store.close()
    spy = Spy(monkeypatch)
    store, register, _ = _load(store_db, plan)  # opening drops them and computes every row's
    assert store.backend.get_meta(KEPT_META) == assign.kept_key(plan)
    _same_check(plan, register, spy, kept=True)
    assert set(check(plan, register).where["geo_district_code"]) != {"440309"}
    store.close()


def test_a_store_of_the_release_before_gets_its_rows_kept_on_open(store_db, plan, city, monkeypatch) -> None:
    """A store written by the release before (no ``parks_kept`` table, no key in ``store_meta``):
    opening it computes every row's, keeping every version as it was."""
    store, v = _stored(store_db, plan, city)
    before = [
        (x.version, len(store.load(version=x.version)[0].parks)) for x in store.backend.versions("main")
    ]
    if store_db.startswith("postgresql"):
        import sqlalchemy as sa

        with store.backend.engine.begin() as con:
            con.execute(sa.text("DROP TABLE parks_kept"))
            con.execute(sa.text("DELETE FROM store_meta WHERE key = :k"), {"k": KEPT_META})
    else:
        import sqlite3

        con = sqlite3.connect(store_db)
        con.execute("DROP TABLE parks_kept")
        con.execute("DELETE FROM store_meta WHERE key = ?", (KEPT_META,))
        con.commit()
        con.close()
    assert store.backend.read_kept("main", v.version + 1) is None  # nothing kept, nothing read
    store.close()
    spy = Spy(monkeypatch)
    store, register, _ = _load(store_db, plan)
    assert store.keeps and store.backend.get_meta(KEPT_META) == assign.kept_key(plan)
    _same_check(plan, register, spy, kept=True)
    assert [
        (x.version, len(store.load(version=x.version)[0].parks)) for x in store.backend.versions("main")
    ] == before
    store.close()


def test_a_row_another_program_edits_in_place_is_computed_not_taken_stale(
    store_db, plan, city, monkeypatch
) -> None:
    """QGIS (or SQL) moving a stored park in place, bypassing the planner: the store's trigger
    drops that row's kept values, so the next check computes and puts the park where it now is."""
    store, _ = _stored(store_db, plan, city)
    register, _ = store.load()
    pid = str(register.parks["id"].iloc[3])
    assert check(plan, register).where["geo_district_code"].iloc[3] != "440307"
    moved = square(inside(plan, "440307"), 300.0)  # into Longgang
    if store_db.startswith("postgresql"):
        import sqlalchemy as sa

        with store.backend.engine.begin() as con:
            con.execute(
                sa.text("UPDATE parks SET geom = ST_GeomFromText(:w, 4326) WHERE id = :i AND v_to IS NULL"),
                {"w": moved.wkt, "i": pid},
            )
    else:
        import sqlite3

        from planner.store.gpkg import to_gpkg_blobs

        con = sqlite3.connect(store_db)
        con.execute(
            "UPDATE parks SET geom = ? WHERE id = ? AND v_to IS NULL",
            (to_gpkg_blobs(np.array([moved], dtype=object))[0], pid),
        )
        con.commit()
        con.close()
    store.close()
    spy = Spy(monkeypatch)
    store, register, _ = _load(store_db, plan)
    _same_check(plan, register, spy, kept=False)  # that row has nothing kept: the version computed
    assert check(plan, register).where["geo_district_code"].iloc[3] == "440307"
    store.close()


@pytest.mark.parametrize("damage", ["not WKB", "a text for a number", "a shape for a park without one"])
def test_damaged_kept_rows_are_not_taken_and_the_store_is_left_as_it_was(
    tmp_path, plan, city, monkeypatch, damage
):
    """A store whose kept rows were damaged (by hand, another program, a bad disk): the load still
    gives the register, the check computes what was kept (and equals the computed one), and the
    stored rows are not touched by reading."""
    import sqlite3

    db = str(tmp_path / "damaged.gpkg")
    store, _ = _stored(db, plan, city)
    register, _ = store.load()
    none_fid = "(SELECT p.fid FROM parks p WHERE p.id = 'no_shape' AND p.v_to IS NULL)"
    sql = {
        "not WKB": "UPDATE parks_kept SET metric = x'00ff' WHERE fid = (SELECT min(fid) FROM parks_kept)",
        "a text for a number": "UPDATE parks_kept SET geo_share = 'abc' WHERE fid = (SELECT max(fid) FROM parks_kept)",
        "a shape for a park without one": "UPDATE parks_kept SET metric = "
        "(SELECT metric FROM parks_kept WHERE metric IS NOT NULL LIMIT 1) WHERE fid = " + none_fid,
    }[damage]
    store.close()
    con = sqlite3.connect(db)
    assert con.execute(sql).rowcount == 1
    con.commit()
    con.close()
    before = Path(db).read_bytes()
    spy = Spy(monkeypatch)
    store, loaded, _ = _load(db, plan)
    pd.testing.assert_frame_equal(
        loaded.parks.drop(columns="geometry"), register.parks.drop(columns="geometry")
    )
    _same_check(plan, loaded, spy, kept=False)  # nothing taken: computed
    store.close()
    assert Path(db).read_bytes() == before
