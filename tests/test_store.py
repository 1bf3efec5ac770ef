"""The storage suite: the same tests against a GeoPackage file and a real PostGIS server."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pandas.testing as pdt
import pyogrio
import pytest
import shapely

from planner.core.access import User
from planner.core.assign import park_districts
from planner.core.geo import WGS84
from planner.core.register import Register, conform_quotas
from planner.errors import AccessDenied, NotFound, PlannerError, StoreUnavailable, ValidationError
from planner.store.base import TEST_PAUSE_ENV
from planner.store.service import (
    DEFAULT_DB,
    MAIN,
    SEED_COMMENT,
    ConflictError,
    compare,
    db_location,
    open_store,
)
from tests.conftest import ROOT, inside, make_register, square

PLANNER = User("alice", "planner", display_name="Alice")
PLANNER2 = User("bob", "planner")
NANSHAN = User("ns_staff", "district", "440305")
VIEWER = User("vic", "viewer")


def assert_same(a: Register, b: Register) -> None:
    pdt.assert_frame_equal(a.parks, b.parks)
    pdt.assert_frame_equal(a.allocations, b.allocations)
    pdt.assert_frame_equal(a.quotas, b.quotas)


def park_in(plan, register: Register, code: str) -> str:
    """The id of a park of the register that lies in district ``code``."""
    codes = park_districts(register.parks, plan)
    return str(codes[codes == code].index[0])


def edited(register: Register, park_id: str, **values) -> Register:
    parks = register.parks.copy()
    for col, value in values.items():
        parks.loc[parks["id"] == park_id, col] = value
    return Register(parks, register.allocations.copy(), register.quotas.copy())


def with_park(register: Register, park: Register) -> Register:
    parks = pd.concat([register.parks, park.parks], ignore_index=True)
    return Register(
        gpd.GeoDataFrame(parks, geometry="geometry", crs=WGS84),
        register.allocations.copy(),
        register.quotas.copy(),
    )


def new_park(plan, pid: str, code: str = "440305", polygon: bool = True) -> Register:
    c = inside(plan, code, dx_m=50, dy_m=-30)
    return make_register(
        [
            {
                "id": pid,
                "name_zh": f"测试园区{pid}",
                "district_code": code,
                "new_gfa_m2": 12000.5,
                "geometry": square(c, 200) if polygon else c,
            }
        ]
    )


# ---- choosing a store ---------------------------------------------------------------------------
def test_db_location_argument_then_environment_then_default(monkeypatch, tmp_path):
    assert db_location(tmp_path / "x.gpkg") == str(tmp_path / "x.gpkg")
    monkeypatch.setenv("PLANNER_DB", "postgresql://u@h/db")
    assert db_location() == "postgresql://u@h/db"
    monkeypatch.delenv("PLANNER_DB")
    assert db_location() == str(DEFAULT_DB)
    assert DEFAULT_DB == ROOT / "data" / "planner.gpkg"


def test_tests_never_touch_the_repo_data_folder():
    assert not db_location().startswith(str(ROOT / "data"))


def test_unreachable_postgis_is_a_planner_error_without_the_password(plan):
    with pytest.raises(PlannerError) as err:
        open_store("postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere", plan)
    assert "s3cret-pw" not in str(err.value)
    assert "cannot connect" in str(err.value)


def test_a_store_belongs_to_the_plan_it_was_seeded_from(store, store_db, plan):
    from dataclasses import replace

    with pytest.raises(PlannerError, match="belongs to plan"):
        open_store(store_db, replace(plan, id="another-city"))
    same = open_store(store_db, plan)
    assert same.load()[1].version == 1
    same.close()


def test_a_file_that_is_not_a_store_is_refused(plan, tmp_path):
    path = tmp_path / "other.gpkg"
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE something (x)")
    with pytest.raises(PlannerError, match="not a planner store"):
        open_store(path, plan)


# ---- the suite, on both backends -----------------------------------------------------------------
def test_first_use_seeds_main_from_the_plan(store, store_db, plan, seed_register):
    table = store.scenarios()
    assert table[["scenario", "version", "author", "comment"]].to_dict("records") == [
        {"scenario": MAIN, "version": 1, "author": "system", "comment": SEED_COMMENT}
    ]
    assert table["n_parks"].iloc[0] == len(seed_register.parks)
    register, v = store.load()
    assert (v.version, v.author, v.action, v.restored_from) == (1, "system", "seed", None)
    assert v.created_at.endswith("+00:00")
    assert_same(register, seed_register)
    again = open_store(store_db, plan)  # a second open seeds nothing
    assert len(again.history(MAIN)) == 1
    again.close()


def test_round_trip_keeps_geometry_figures_text_and_dtypes(store, plan, seed_register):
    poly = new_park(plan, "rt_poly")
    point = new_park(plan, "rt_point", code="440304", polygon=False)
    nowhere = make_register([{"id": "rt_none", "name_zh": "未定位园区 “引号” 'q'\n第二行", "geometry": None}])
    register = with_park(with_park(with_park(seed_register, poly), point), nowhere)
    parks = register.parks.copy()
    parks.loc[parks["id"] == "rt_poly", ["delivery_year", "plot_ratio", "figures_conf"]] = [
        2024,
        3.75,
        "verified 已核实",
    ]
    parks.loc[parks["id"] == "rt_poly", "figures_verified"] = True
    multi = shapely.MultiPolygon(
        [square(inside(plan, "440306"), 100), square(inside(plan, "440306", 500), 80)]
    )
    parks.loc[parks["id"] == "rt_point", "geometry"] = multi
    register = Register(parks, register.allocations, conform_quotas(pd.DataFrame(columns=["district_code"])))
    v = store.save(register, user=PLANNER, comment="三种几何 three geometries", expected_version=1)
    assert v.version == 2
    loaded, lv = store.load()
    assert lv == v
    expected = Register(
        gpd.GeoDataFrame(register.parks.reset_index(drop=True), geometry="geometry", crs=WGS84),
        register.allocations,
        register.quotas,
    )
    from planner.store.service import conform

    assert_same(loaded, conform(expected))
    assert loaded.parks.crs.equals(WGS84)
    geoms = loaded.parks.set_index("id").geometry
    assert geoms["rt_none"] is None
    assert geoms["rt_point"].geom_type == "MultiPolygon"
    assert shapely.equals_exact(geoms["rt_poly"], poly.parks.geometry.iloc[0], tolerance=0)
    assert loaded.parks.set_index("id").loc["rt_none", "name_zh"] == "未定位园区 “引号” 'q'\n第二行"
    assert loaded.quotas.empty
    # quotas too
    quotas = conform_quotas(pd.DataFrame({"district_code": ["440305", "440304"], "quota_m2": [1e6, 2.5e5]}))
    store.save(
        Register(loaded.parks, loaded.allocations, quotas), user=PLANNER, comment="配额", expected_version=2
    )
    pdt.assert_frame_equal(store.load()[0].quotas, quotas)


def test_versions_are_append_only_with_history_and_restore(store, plan, seed_register):
    pid = park_in(plan, seed_register, "440305")
    v2 = store.save(
        edited(seed_register, pid, new_gfa_m2=99999.0), user=PLANNER, comment="改面积", expected_version=1
    )
    r2, _ = store.load()
    v3 = store.save(
        with_park(r2, new_park(plan, "p_new")), user=PLANNER2, comment="加园区", expected_version=2
    )
    assert (v2.version, v3.version) == (2, 3)
    hist = store.history()
    assert hist["version"].tolist() == [3, 2, 1]
    assert hist["author"].tolist() == ["bob", "alice", "system"]
    assert hist["comment"].tolist()[:2] == ["加园区", "改面积"]
    assert "parks +1 -0 ~0" in hist["changes"].iloc[0]
    assert "parks +0 -0 ~1" in hist["changes"].iloc[1]
    # every earlier version is still there, unchanged
    assert_same(store.load(version=1)[0], seed_register)
    assert store.load(version=2)[0].parks.set_index("id").loc[pid, "new_gfa_m2"] == 99999.0
    v4 = store.restore(MAIN, 1, user=PLANNER, comment="回到种子")
    assert (v4.version, v4.restored_from, v4.action, v4.comment) == (4, 1, "restore", "回到种子")
    assert_same(store.load()[0], seed_register)
    assert len(store.load(version=3)[0].parks) == len(seed_register.parks) + 1
    assert store.history()["version"].tolist() == [4, 3, 2, 1]
    with pytest.raises(NotFound, match="no version 9"):
        store.load(version=9)


def test_a_version_read_by_gdal_keeps_the_stored_order_of_its_rows(plan, tmp_path, seed_register):
    """A changed row is stored anew (a new fid) but keeps its place: GDAL's read, which leaves the
    sort to numpy, gives the rows in the order of the plain ``ORDER BY pos, fid`` read."""
    from pyogrio.raw import read_arrow

    from planner.core.register import conform_allocations

    store = open_store(tmp_path / "s.gpkg", plan)
    pid = str(seed_register.parks["id"].iloc[3])
    register = edited(seed_register, pid, new_gfa_m2=1.0)
    allocs = register.allocations.copy()
    allocs.loc[allocs.index[2], "area_m2"] = 7.0
    register = with_park(Register(register.parks, allocs, register.quotas), new_park(plan, "p_new"))
    store.save(register, user=PLANNER, comment="改 / edit", expected_version=1)
    loaded, _ = store.load()
    b = store.backend
    for table in ("parks", "allocations"):  # the rows come out of order: the sort matters
        _, rows = read_arrow(str(b.path), sql=b._version_sql(table, MAIN, 2))
        assert rows["_pos"].to_pylist() != sorted(rows["_pos"].to_pylist())
    with b._connect() as con:
        parks = b._parks(b._frame(con, "parks", MAIN, 2))
        allocations = conform_allocations(b._frame(con, "allocations", MAIN, 2))
    pdt.assert_frame_equal(loaded.parks, parks)
    pdt.assert_frame_equal(loaded.allocations, allocations)
    assert loaded.parks["id"].tolist() == register.parks["id"].tolist()
    assert loaded.allocations["allocation_id"].tolist() == allocs["allocation_id"].tolist()
    kept = b.read_kept(MAIN, 2)  # what the store keeps of each parks row: in the same order
    assert kept is not None and kept["id"].tolist() == register.parks["id"].tolist()
    assert kept["n_districts"].notna().all()
    store.close()


def test_missing_scenario_or_version_is_not_found_not_a_failing_store(store):
    """NotFound (nothing by that name) is distinct from StoreUnavailable (the database failed)."""
    assert not issubclass(NotFound, StoreUnavailable) and not issubclass(StoreUnavailable, NotFound)
    with pytest.raises(NotFound, match="no scenario named 'nowhere'"):
        store.load("nowhere")
    with pytest.raises(NotFound, match="no scenario named 'nowhere'"):
        store.history("nowhere")
    with pytest.raises(NotFound, match="no version 7"):
        store.version(MAIN, 7)
    with pytest.raises(NotFound, match="no version 7"):
        store.backend.read(MAIN, 7)  # each backend says so itself
    with pytest.raises(NotFound):
        store.copy("nowhere", "b", user=PLANNER)
    assert store.scenarios()["scenario"].tolist() == [MAIN]  # nothing was written


def test_scenarios_copy_and_delete_with_confirmation(store, plan, seed_register):
    v = store.copy(MAIN, "方案B", user=PLANNER)
    assert (v.scenario, v.version, v.action) == ("方案B", 1, "copy")
    assert store.scenarios()["scenario"].tolist() == [MAIN, "方案B"]
    assert_same(store.load("方案B")[0], seed_register)
    with pytest.raises(PlannerError, match="already exists"):
        store.copy(MAIN, "方案B", user=PLANNER)
    with pytest.raises(AccessDenied):
        store.copy(MAIN, "mine", user=NANSHAN)
    with pytest.raises(AccessDenied):
        store.delete("方案B", user=NANSHAN, confirm="方案B")
    with pytest.raises(PlannerError, match="confirm"):
        store.delete("方案B", user=PLANNER, confirm="yes")
    with pytest.raises(PlannerError, match="cannot be deleted"):
        store.delete(MAIN, user=PLANNER, confirm=MAIN)
    assert store.exists("方案B")
    store.delete("方案B", user=PLANNER, confirm="方案B")
    assert store.scenarios()["scenario"].tolist() == [MAIN]
    assert not store.exists("方案B")
    with pytest.raises(NotFound, match="deleted"):
        store.load("方案B")
    # a tombstone: the history and every earlier version stay (留痕)
    assert_same(store.load("方案B", version=1)[0], seed_register)
    hist = store.history("方案B")
    assert hist["action"].tolist() == ["delete", "copy"]
    assert hist["author"].iloc[0] == "alice"
    # restoring a version of a deleted scenario brings it back; versions go on after the tombstone
    back = store.restore("方案B", 1, user=PLANNER)
    assert (back.version, back.action, back.restored_from) == (3, "restore", 1)
    assert store.exists("方案B")
    store.delete("方案B", user=PLANNER, confirm="方案B")
    again = store.copy(MAIN, "方案B", user=PLANNER)  # and the name can be used again
    assert again.version == 5
    log = store.audit_log()
    assert {"copy", "delete"} <= set(log["action"])
    assert (log["outcome"] == "denied").sum() == 2


def test_saves_from_the_same_base_on_different_rows_both_succeed(store, plan, seed_register):
    reg_a, va = store.load()
    reg_b, vb = store.load()
    assert va.version == vb.version == 1
    store.save(
        with_park(reg_a, new_park(plan, "from_alice")),
        user=PLANNER,
        comment="Alice 加园区",
        expected_version=1,
    )
    pid = park_in(plan, reg_b, "440304")
    bobs = store.save(
        edited(reg_b, pid, name_en="Bob's name"),
        user=PLANNER2,
        comment="Bob 改名",
        expected_version=vb.version,
    )
    # Bob's change is applied onto Alice's version and recorded as such: nothing of either is lost
    assert (bobs.version, bobs.base_version, bobs.merged_onto) == (3, 1, 2)
    assert "merged onto v2" in bobs.describe() and "合并到 v2" in bobs.describe()
    latest, v = store.load()
    assert v.version == 3 and len(latest.parks) == len(seed_register.parks) + 1
    final = latest.parks.set_index("id")
    assert "from_alice" in final.index and final.loc[pid, "name_en"] == "Bob's name"
    assert store.history()["base_version"].tolist()[:2] == [1, 1]
    assert "merged onto v2" in store.audit_log(limit=1)["detail"].iloc[0]


def test_a_row_changed_by_both_is_a_conflict_naming_it_and_who_changed_it(store, plan, seed_register):
    reg, v = store.load()
    pid = park_in(plan, reg, "440304")
    store.save(
        edited(reg, pid, name_en="Alice's name"), user=PLANNER, comment="Alice 改名", expected_version=1
    )
    mine = edited(reg, pid, name_en="Bob's name")
    with pytest.raises(ConflictError) as err:
        store.save(mine, user=PLANNER2, comment="Bob 改名", expected_version=v.version)
    exc = err.value
    assert (exc.scenario, exc.expected_version, exc.current_version) == (MAIN, 1, 2)
    assert exc.clashing() == [f"park {pid}"]
    assert [(k, who.author, who.version) for k, who in exc.rows["parks"]] == [(pid, "alice", 2)]
    text = str(exc)
    assert text.index("冲突") < text.index("conflict") and pid in text and "alice" in text
    # nothing lost: Alice's version is the latest, Bob's was not written and his register is untouched
    latest, now = store.load()
    assert now.version == 2 and latest.parks.set_index("id").loc[pid, "name_en"] == "Alice's name"
    assert mine.parks.set_index("id").loc[pid, "name_en"] == "Bob's name"
    assert store.audit_log(limit=1)["outcome"].iloc[0] == "conflict"
    # Bob re-applies onto the latest and saves
    store.save(
        edited(latest, pid, name_en="Bob's name"), user=PLANNER2, comment="Bob 改名", expected_version=2
    )
    assert store.load()[0].parks.set_index("id").loc[pid, "name_en"] == "Bob's name"


def _race(store_db, plan, registers: list[Register]) -> list[object]:
    stores = [open_store(store_db, plan) for _ in registers]
    results: list[object] = [None] * len(registers)
    barrier = threading.Barrier(len(registers))

    def save(i: int) -> None:
        barrier.wait()
        try:
            results[i] = stores[i].save(registers[i], user=PLANNER, comment=f"race {i}", expected_version=1)
        except ConflictError as exc:
            results[i] = exc

    threads = [threading.Thread(target=save, args=(i,)) for i in range(len(registers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s in stores:
        s.close()
    return results


def test_simultaneous_saves_of_different_rows_both_land(store_db, plan, seed_register):
    open_store(store_db, plan).close()
    results = _race(store_db, plan, [with_park(seed_register, new_park(plan, f"race_{i}")) for i in range(2)])
    assert sorted(type(r).__name__ for r in results) == ["Version", "Version"]
    again = open_store(store_db, plan)
    assert again.history()["version"].tolist() == [3, 2, 1]
    assert {"race_0", "race_1"} <= set(again.load()[0].parks["id"])
    again.close()


def test_simultaneous_saves_of_the_same_row_one_wins_one_conflicts(store_db, plan, seed_register):
    open_store(store_db, plan).close()
    pid = park_in(plan, seed_register, "440305")
    results = _race(store_db, plan, [edited(seed_register, pid, name_en=f"name {i}") for i in range(2)])
    assert sorted(type(r).__name__ for r in results) == ["ConflictError", "Version"]
    conflict = next(r for r in results if isinstance(r, ConflictError))
    assert conflict.clashing() == [f"park {pid}"]
    again = open_store(store_db, plan)
    assert again.history()["version"].tolist() == [2, 1]
    again.close()


def test_district_staff_change_their_own_district_only_and_refusals_are_recorded(store, plan, seed_register):
    other = park_in(plan, seed_register, "440304")
    own = park_in(plan, seed_register, "440305")
    with pytest.raises(AccessDenied) as err:
        store.save(
            edited(seed_register, other, name_en="x"), user=NANSHAN, comment="越权", expected_version=1
        )
    assert other in str(err.value)
    log = store.audit_log()
    top = log.iloc[0]
    assert (top["user"], top["role"], top["outcome"], top["action"]) == (
        "ns_staff",
        "district",
        "denied",
        "save",
    )
    assert other in top["detail"]
    assert store.load()[1].version == 1  # nothing written
    v = store.save(
        edited(seed_register, own, name_en="ours"), user=NANSHAN, comment="本区", expected_version=1
    )
    assert (v.version, v.author, v.role) == (2, "ns_staff", "district")
    reg = store.load()[0]
    quotas = conform_quotas(pd.DataFrame({"district_code": ["440305"], "quota_m2": [5e5]}))
    with pytest.raises(AccessDenied, match="quota"):
        store.save(
            Register(reg.parks, reg.allocations, quotas), user=NANSHAN, comment="配额", expected_version=2
        )
    with pytest.raises(AccessDenied, match="read-only"):
        store.save(reg, user=VIEWER, comment="看看", expected_version=2)
    with pytest.raises(AccessDenied):
        store.restore(MAIN, 1, user=VIEWER)
    store.save(Register(reg.parks, reg.allocations, quotas), user=PLANNER, comment="配额", expected_version=2)
    outcomes = store.audit_log()["outcome"].tolist()
    assert outcomes.count("denied") == 4 and outcomes.count("ok") >= 2


def test_an_invalid_register_is_refused_and_nothing_is_written(store, seed_register):
    allocations = seed_register.allocations.copy()
    allocations.loc[0, "area_m2"] = -5.0
    bad = Register(seed_register.parks, allocations, seed_register.quotas)
    with pytest.raises(ValidationError, match="area"):
        store.save(bad, user=PLANNER, comment="负面积", expected_version=1)
    assert store.history()["version"].tolist() == [1]
    assert store.audit_log(limit=1)["outcome"].iloc[0] == "invalid"
    with pytest.raises(PlannerError, match="invalid scenario name"):
        store.save(seed_register, user=PLANNER, comment="", scenario=" ", expected_version=None)


def test_saving_to_a_new_scenario_expects_no_version(store, seed_register):
    v = store.save(seed_register, user=PLANNER, comment="new", scenario="alt", expected_version=None)
    assert v.version == 1
    with pytest.raises(ConflictError):
        store.save(seed_register, user=PLANNER, comment="again", scenario="alt", expected_version=None)
    with pytest.raises(ConflictError):
        store.save(seed_register, user=PLANNER, comment="ahead", scenario="alt", expected_version=7)


CRASH_SCRIPT = """
import sys
import geopandas as gpd, numpy as np, pandas as pd
from planner.core.access import SYSTEM
from planner.store import open_store
from planner.core.register import Register, conform_parks
store = open_store(sys.argv[1])
reg, v = store.load()
n = 100_000
rng = np.random.default_rng(1)
x = 113.93 + rng.random(n) * 0.02
y = 22.52 + rng.random(n) * 0.02
parks = gpd.GeoDataFrame({"id": [f"bulk{i}" for i in range(n)], "name_zh": "批量", "new_gfa_m2": 1.0},
                         geometry=gpd.points_from_xy(x, y), crs=4326)
big = Register(conform_parks(pd.concat([reg.parks, parks], ignore_index=True)), reg.allocations, reg.quotas)
store.save(big, user=SYSTEM, comment="never lands", expected_version=v.version)
print("SAVED", flush=True)
"""


def kill_when_rows_written(args: list[str]) -> None:
    """Run ``python ARGS`` with the store's crash-test pause and SIGKILL it once a save's rows are
    written and its version row (the commit marker) is not."""
    env = os.environ | {TEST_PAUSE_ENV: "120", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stderr.readline()  # the hook says the rows are written, the version row not yet
        assert "rows written" in line, line + proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)  # reaps it and closes the pipes
    assert proc.returncode == -signal.SIGKILL


def test_a_save_killed_half_way_leaves_the_last_good_version(store, store_db, plan, seed_register):
    kill_when_rows_written(["-c", CRASH_SCRIPT, store_db])
    again = open_store(store_db, plan)
    register, v = again.load()
    assert v.version == 1
    assert_same(register, seed_register)
    assert again.history()["version"].tolist() == [1]
    # and the store goes on working
    nxt = again.save(
        with_park(register, new_park(plan, "after_crash")), user=PLANNER, comment="ok", expected_version=1
    )
    assert nxt.version == 2
    if not store_db.startswith("postgresql"):
        with sqlite3.connect(store_db) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            # a version stores its change only: the seed's rows and the one added park
            assert con.execute("SELECT count(*) FROM parks").fetchone()[0] == len(seed_register.parks) + 1
        assert len(pyogrio.read_dataframe(store_db, layer="parks")) == len(seed_register.parks) + 1
    again.close()


# ---- GeoPackage specifics ----------------------------------------------------------------------
def test_the_store_file_is_a_valid_geopackage(plan, tmp_path, seed_register):
    path = tmp_path / "planner.gpkg"
    store = open_store(path, plan)
    store.save(with_park(seed_register, new_park(plan, "gp1")), user=PLANNER, comment="c", expected_version=1)
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    layers = dict(pyogrio.list_layers(path).tolist())
    assert layers["parks"] is not None and {"allocations", "versions", "audit"} <= set(layers)
    gdf = pyogrio.read_dataframe(path, layer="parks")
    assert gdf.crs.equals(WGS84)
    # the row history: version 2 is every row with v_from <= 2 < v_to (v_to missing: current)
    latest = gdf[(gdf["scenario"] == MAIN) & (gdf["v_from"] <= 2) & ~(gdf["v_to"] <= 2)]
    assert len(latest) == len(seed_register.parks) + 1
    ours = store.load()[0].parks.set_index("id")
    theirs = latest.set_index("id")
    located = ours.geometry.notna()
    assert np.all(
        shapely.equals_exact(ours.geometry[located].values, theirs.geometry[located.index[located]].values, 0)
    )
    current = pyogrio.read_dataframe(path, layer="parks_latest")  # the view for QGIS
    assert set(current["version"]) == {2} and len(current) == len(seed_register.parks) + 1
    assert current.crs.equals(WGS84)
    info = pyogrio.read_info(path, layer="parks")
    assert info["crs"] == "EPSG:4326"
    versions = pyogrio.read_dataframe(path, layer="versions", read_geometry=False)
    assert versions["author"].tolist() == ["system", "alice"]


# ---- comparing scenarios -----------------------------------------------------------------------
def test_compare_two_registers(plan, seed_register):
    pid = park_in(plan, seed_register, "440305")
    alloc = seed_register.allocations.copy()
    row = alloc.index[alloc["park_id"] == "tencent_penguin"][0]
    alloc.loc[row, "area_m2"] += 100_000.0
    gone = seed_register.parks["id"].iloc[-1]
    parks = edited(seed_register, pid, name_en="renamed").parks
    parks = parks[parks["id"] != gone]
    b = with_park(
        Register(parks, alloc[alloc["park_id"] != gone], seed_register.quotas), new_park(plan, "cmp_new")
    )
    cmp = compare(plan, seed_register, b)
    counted = cmp.totals.set_index("metric").loc["counted"]
    assert counted["delta"] == pytest.approx(counted["b"] - counted["a"])
    assert set(cmp.totals["metric"]) == {"counted", "secured", "planned_only", "gap"}
    assert cmp.totals.set_index("metric").loc["gap", "delta"] == pytest.approx(
        -counted["delta"], abs=1e-6
    ) or (cmp.totals.set_index("metric").loc["gap", "b"] == 0)
    ns = cmp.by_district.set_index("district").loc["440305"]
    assert ns["delta_m2"] == pytest.approx(ns["b_m2"] - ns["a_m2"])
    assert cmp.by_district["delta_m2"].abs().sum() > 0
    assert cmp.parks_added["id"].tolist() == ["cmp_new"]
    assert cmp.parks_removed["id"].tolist() == [gone]
    assert pid in cmp.parks_changed["id"].tolist()
    assert cmp.changed_columns[pid] == ["name_en"]
    assert cmp.parks_added.crs.equals(WGS84)
    assert "tencent_penguin-a1" in cmp.changes.allocations.changed
    out = cmp.to_dict()
    assert out["parks_added"] == ["cmp_new"] and out["parks_changed"][pid] == ["name_en"]


def test_saving_many_parks_is_practical(store, plan, seed_register):
    """10,000 extra parks save and load in one piece (bench/store.py prints the times for 100,000)."""
    n = 10_000
    rng = np.random.default_rng(0)
    extra = gpd.GeoDataFrame(
        {"id": [f"m{i}" for i in range(n)], "name_zh": "批量园区", "new_gfa_m2": rng.random(n) * 1e4},
        geometry=gpd.points_from_xy(113.93 + rng.random(n) * 0.02, 22.52 + rng.random(n) * 0.02),
        crs=WGS84,
    )
    from planner.core.register import conform_parks

    big = Register(
        conform_parks(pd.concat([seed_register.parks, extra], ignore_index=True)),
        seed_register.allocations,
        seed_register.quotas,
    )
    saved = store.save(big, user=PLANNER, comment="bulk", expected_version=1)
    loaded, version = store.load()
    assert version.version == saved.version == 2
    assert version.n_parks == len(loaded.parks) == len(seed_register.parks) + n
    assert_same(loaded, big)


def test_postgis_tests_skip_locally_but_fail_under_ci(monkeypatch):
    from tests.conftest import postgis_url

    monkeypatch.delenv("PLANNER_TEST_PG", raising=False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(RuntimeError, match=r"run\.sh must start PostGIS"):
        postgis_url()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no PostGIS server"):
        postgis_url()


# ---- wrong store locations: refused untouched, with a bilingual message ---------------------------
def test_wrong_gpkg_locations_are_refused_and_left_untouched(plan, tmp_path, capsys):
    from planner.cli import main as cli
    from planner.errors import InputError

    tmp_path = tmp_path / "here"  # (the test's own $PLANNER_DB lives in tmp_path)
    tmp_path.mkdir()

    with pytest.raises(InputError, match="is a folder") as err:
        open_store(tmp_path, plan)
    assert "文件夹" in str(err.value) and str(tmp_path) in str(err.value)
    text = tmp_path / "notes.gpkg"
    text.write_text("这不是数据库 not a database\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a planner store") as err:
        open_store(text, plan)
    assert "不是" in str(err.value) and "notes.gpkg" in str(err.value)
    assert text.read_text(encoding="utf-8") == "这不是数据库 not a database\n"
    # a GeoPackage the planner exported is another program's file: refused, never modified
    exported = tmp_path / "parks_export.gpkg"
    assert cli.main(["export", "--layer", "parks", "--format", "gpkg", "--out", str(exported)]) == 0
    capsys.readouterr()
    before = exported.read_bytes()
    with pytest.raises(InputError, match="not a planner store") as err:
        open_store(exported, plan)
    assert "parks" in str(err.value)
    assert exported.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.gpkg", "parks_export.gpkg"]
    # a folder that does not exist is not created
    deep = tmp_path / "no" / "such" / "store.gpkg"
    with pytest.raises(InputError, match="does not exist") as err:
        open_store(deep, plan)
    assert "不存在" in str(err.value)
    assert not (tmp_path / "no").exists()
    # an empty file is adopted as a new store
    empty = tmp_path / "empty.gpkg"
    empty.touch()
    adopted = open_store(empty, plan)
    assert adopted.load()[1].version == 1
    adopted.close()


@pytest.mark.parametrize("url", ["sqlite:///x.db", "mysql://u@localhost/planner", "file:///tmp/x.gpkg"])
def test_unknown_url_schemes_are_refused(plan, url, tmp_path, monkeypatch):
    from planner.errors import InputError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="unsupported store location") as err:
        open_store(url, plan)
    assert "不支持" in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_foreign_parks_table_in_the_postgis_schema_is_refused(plan, pg_schema_url):
    import sqlalchemy as sa

    from planner.errors import InputError

    engine = sa.create_engine(pg_schema_url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as con:
        con.execute(sa.text("CREATE TABLE parks (name text, area real)"))
        con.execute(sa.text("INSERT INTO parks VALUES ('别人的园区', 1.5)"))
    with pytest.raises(InputError, match="parks") as err:
        open_store(pg_schema_url, plan)
    assert "不是规划库" in str(err.value) and "not a planner store" in str(err.value)
    with engine.connect() as con:
        tables = con.execute(
            sa.text("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        ).scalars()
        assert sorted(tables) == ["parks"]  # nothing left behind
        assert con.execute(sa.text("SELECT name FROM parks")).scalars().all() == ["别人的园区"]
    engine.dispose()


def test_a_database_failing_later_is_a_bilingual_planner_error(store, store_db, plan):
    from pathlib import Path

    import sqlalchemy as sa

    if store_db.startswith("postgresql"):  # the server is gone
        store.backend.engine.dispose()
        store.backend.engine = sa.create_engine("postgresql+psycopg2://nobody@127.0.0.1:1/gone")
    else:  # the file was overwritten by something else
        Path(store_db).write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    for call in (store.load, store.scenarios, lambda: store.audit_log(5)):
        with pytest.raises(StoreUnavailable) as err:
            call()
        assert "数据库出错" in str(err.value) and "failed; nothing was written" in str(err.value)
        assert err.value.__cause__ is None and err.value.__suppress_context__


def test_a_deleted_store_file_is_an_error_not_a_new_empty_store(plan, tmp_path):

    path = tmp_path / "gone.gpkg"
    store = open_store(path, plan)
    path.unlink()
    with pytest.raises(StoreUnavailable, match="failed; nothing was written"):
        store.load()
    with pytest.raises(StoreUnavailable):
        store.audit_log()
    assert not path.exists()


# ---- who may create a scenario ------------------------------------------------------------------
def own_parks_only(plan, register: Register, code: str) -> Register:
    """The parks (and their allocations) of one district, no quotas: what its staff may write."""
    codes = park_districts(register.parks, plan)
    ids = set(codes[codes == code].index)
    parks = register.parks[register.parks["id"].isin(ids)].reset_index(drop=True)
    allocations = register.allocations[register.allocations["park_id"].isin(ids)].reset_index(drop=True)
    return Register(parks, allocations, conform_quotas(pd.DataFrame(columns=["district_code"])))


def test_only_a_city_planner_creates_or_revives_a_scenario(store, plan, seed_register):
    mine = own_parks_only(plan, seed_register, "440305")
    assert len(mine.parks) > 0
    with pytest.raises(AccessDenied, match="only a city planner may create a scenario") as err:
        store.save(mine, user=NANSHAN, comment="我的场景", scenario="mine", expected_version=None)
    assert "只有市级规划人员" in str(err.value)
    assert not store.exists("mine")
    top = store.audit_log(limit=1).iloc[0]
    assert (top["user"], top["action"], top["scenario"], top["outcome"]) == (
        "ns_staff",
        "save",
        "mine",
        "denied",
    )
    # a deleted scenario: district staff can neither save into it nor restore it
    store.save(mine, user=PLANNER, comment="南山方案", scenario="ns_plan", expected_version=None)
    store.delete("ns_plan", user=PLANNER, confirm="ns_plan")
    with pytest.raises(AccessDenied):
        store.save(mine, user=NANSHAN, comment="复活", scenario="ns_plan", expected_version=None)
    with pytest.raises(AccessDenied):
        store.restore("ns_plan", 1, user=NANSHAN)
    assert not store.exists("ns_plan")
    assert store.history("ns_plan")["action"].tolist() == ["delete", "save"]
    log = store.audit_log(limit=2)
    assert log["outcome"].tolist() == ["denied", "denied"]
    assert log["action"].tolist() == ["restore", "save"]
    # the city planner may; and staff then edit their own district in it
    back = store.restore("ns_plan", 1, user=PLANNER)
    assert back.version == 3
    pid = mine.parks["id"].iloc[0]
    v = store.save(
        edited(mine, pid, name_en="ours"),
        user=NANSHAN,
        comment="本区",
        scenario="ns_plan",
        expected_version=3,
    )
    assert v.version == 4


# ---- scenario names ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a@b", "main@2", "", " x", "x ", "a/b", "tab\there"])
def test_bad_scenario_names_are_refused(store, seed_register, name):
    from planner.errors import InputError

    with pytest.raises(InputError, match="invalid scenario name") as err:
        store.save(seed_register, user=PLANNER, comment="", scenario=name, expected_version=None)
    assert "场景名无效" in str(err.value)
    assert store.scenarios()["scenario"].tolist() == [MAIN]


# ---- saves that change nothing write nothing --------------------------------------------------
def test_a_save_or_restore_that_changes_nothing_writes_nothing(store, plan, seed_register):
    same, v1 = store.load()
    n_log = len(store.audit_log())
    got = store.save(same, user=PLANNER, comment="没改", expected_version=1)
    assert got == v1
    assert store.history()["version"].tolist() == [1]
    assert len(store.audit_log()) == n_log
    assert store.restore(MAIN, 1, user=PLANNER) == v1  # restoring the content it already has
    assert store.history()["version"].tolist() == [1]
    pid = park_in(plan, seed_register, "440305")
    store.save(edited(seed_register, pid, name_en="x"), user=PLANNER, comment="改", expected_version=1)
    v3 = store.restore(MAIN, 1, user=PLANNER)
    assert (v3.version, v3.action) == (3, "restore")
    assert store.restore(MAIN, 1, user=PLANNER) == v3
    # an unchanged save from an old version is still a conflict, not "no change"
    with pytest.raises(ConflictError):
        store.save(same, user=PLANNER, comment="旧", expected_version=2)
    # a copy is a new scenario: written even though its content equals the source's
    assert store.copy(MAIN, "b", user=PLANNER).version == 1
    assert store.history()["version"].tolist() == [3, 2, 1]
