"""Checks built for a city's register, on the real Shenzhen district polygons: the bulk district
assignment and overlap pairs against a brute-force shapely computation, the summary finding, the
findings table in ``check --json`` and ``--findings-out``, and a re-check equal to a full check."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from bench.checks import synthetic
from planner.cli.main import main
from planner.core.access import User
from planner.core.assign import STRADDLE_SHARE, assign_districts
from planner.core.changes import register_changes
from planner.core.checking import check, recheck
from planner.core.findings import OVERLAP_SHARE, check_findings, overlap_pairs, polygons_only
from planner.core.geo import WGS84
from planner.core.register import Register, conform_parks
from planner.store import open_store
from tests.conftest import METRIC, make_register, square

PAIRS = [("440305", "440304"), ("440304", "440303"), ("440306", "440305"), ("440307", "440308")]


def _border_squares(plan, n_per_pair: int = 12) -> gpd.GeoDataFrame:
    """Squares (200-900 m) centred on points of the shared boundary of neighbouring districts,
    moved a little either way, so each crosses the boundary by a different share."""
    d = plan.district_polygons.set_index("code").to_crs(METRIC)
    rng = np.random.default_rng(3)
    geoms = []
    for a, b in PAIRS:
        line = d.loc[a, "geometry"].boundary.intersection(d.loc[b, "geometry"].boundary)
        for f in np.linspace(0.1, 0.9, n_per_pair):
            p = line.interpolate(f, normalized=True)
            side = rng.uniform(200, 900)
            dx, dy = rng.uniform(-side / 2, side / 2, 2)
            geoms.append(
                shapely.box(
                    p.x + dx - side / 2, p.y + dy - side / 2, p.x + dx + side / 2, p.y + dy + side / 2
                )
            )
    parks = gpd.GeoDataFrame(
        {"id": [f"b{i}" for i in range(len(geoms))], "name_zh": "界", "district_code": ""},
        geometry=gpd.GeoSeries(geoms, crs=METRIC).to_crs(WGS84).values,
        crs=WGS84,
    )
    return conform_parks(parks)


def test_boundary_crossing_parcels_are_assigned_as_brute_force_shares_say(plan):
    parks = _border_squares(plan)
    where = assign_districts(parks, plan)
    metric = parks.to_crs(METRIC).geometry.values
    districts = plan.district_polygons.to_crs(METRIC)
    shares = np.array(
        [[shapely.intersection(p, g).area / p.area for g in districts.geometry.values] for p in metric]
    )
    best = districts["code"].to_numpy()[shares.argmax(axis=1)]
    assert (where["geo_district_code"].to_numpy() == best).all()
    assert np.allclose(where["geo_share"].to_numpy(), shares.max(axis=1), atol=1e-9)
    assert (where["n_districts"].to_numpy() == (shares >= STRADDLE_SHARE).sum(axis=1)).all()
    assert (where["n_districts"] > 1).sum() > len(parks) // 2  # the fixture really straddles


def test_overlap_pairs_and_areas_equal_a_brute_force_computation(plan):
    rng = np.random.default_rng(5)
    c = (
        plan.district_polygons.set_index("code")
        .to_crs(METRIC)
        .loc["440305", "geometry"]
        .representative_point()
    )
    x = c.x + rng.uniform(-1500, 1500, 250)
    y = c.y + rng.uniform(-1500, 1500, 250)
    half = rng.uniform(20, 120, 250)
    poly = shapely.box(x - half, y - half, x + half, y + half)
    poly[7] = None  # a park without a geometry takes part in nothing
    got = overlap_pairs(polygons_only(poly))
    i, j = np.triu_indices(len(poly), k=1)
    ok = (i != 7) & (j != 7)
    i, j = i[ok], j[ok]
    inter = shapely.area(shapely.intersection(poly[i], poly[j]))
    share = inter / np.minimum(shapely.area(poly[i]), shapely.area(poly[j]))
    hit = share >= OVERLAP_SHARE
    expected = pd.DataFrame({"i": i[hit], "j": j[hit], "overlap_m2": inter[hit]})
    got = got.sort_values(["i", "j"]).reset_index(drop=True)
    assert len(expected) > 20  # the fixture has overlaps to find
    assert got[["i", "j"]].to_numpy().tolist() == expected[["i", "j"]].to_numpy().tolist()
    assert np.allclose(got["overlap_m2"], expected["overlap_m2"])


def _park(plan, pid: str, dx: float, conf: str) -> dict:
    from tests.conftest import inside

    return {
        "id": pid, "name_zh": pid, "district_code": "440305", "status": "planned", "land_area_m2": 50_000.0,
        "gfa_m2": 100_000.0, "new_gfa_m2": 80_000.0, "figures_conf": conf,
        "geometry": square(inside(plan, "440305", dx_m=dx), 150),
    }  # fmt: skip


def test_a_finding_on_every_park_is_one_summary_row_with_its_count(plan):
    parks = [_park(plan, f"u{i}", 400.0 * i, "estimate") for i in range(6)]
    found = check_findings(plan, make_register(parks))
    rows = found[found["code"] == "FIGURES_UNCONFIRMED"]
    assert len(rows) == 1
    row = rows.iloc[0]
    assert (
        row["id"] == plan.id and row["count"] == 6 and "6" in row["message_zh"] and "6" in row["message_en"]
    )
    # one park verified: the finding no longer applies to every park, so each is listed
    parks[0]["figures_conf"] = "verified"
    found = check_findings(plan, make_register(parks))
    rows = found[found["code"] == "FIGURES_UNCONFIRMED"]
    assert sorted(rows["id"]) == [f"u{i}" for i in range(1, 6)] and (rows["count"] == 1).all()


@pytest.fixture(scope="module")
def small_city(plan_module):
    return synthetic(600, seed=11, overlap=0.05)


@pytest.fixture(scope="module")
def plan_module():
    from planner.core.plan import load_plan

    return load_plan()


def test_recheck_equals_a_full_check_after_edits(plan_module, small_city):
    plan, reg = plan_module, small_city
    first = check(plan, reg)
    pd.testing.assert_frame_equal(first.findings, check_findings(plan, reg))
    parks = reg.parks.copy()
    geoms = parks.geometry.values.copy()
    geoms[5] = geoms[6]  # moved onto a neighbour: a new overlap
    parks["geometry"] = geoms
    parks.loc[7, "gfa_m2"] = 1e9  # plot ratio exceeded
    parks = parks.drop(index=8)  # removed: its allocation names no park now
    added = parks.iloc[[0]].assign(id="new1", geometry=[reg.parks.geometry.values[9]])
    parks = pd.concat([parks, added], ignore_index=True)
    allocs = reg.allocations.copy()
    allocs.loc[3, "area_m2"] = 5e8  # more than the park's new floor area
    edited = Register(gpd.GeoDataFrame(parks, crs=reg.parks.crs), allocs, reg.quotas)
    again = recheck(first, edited, register_changes(reg, edited))
    full = check(plan, edited)
    pd.testing.assert_frame_equal(again.findings, full.findings)
    codes = set(again.findings["code"])
    assert {"PARKS_OVERLAP", "PLOT_RATIO_EXCEEDED", "ALLOC_UNKNOWN_PARK", "ALLOC_EXCEEDS_NEW_SPACE"} <= codes
    assert again.report.counted_m2 == pytest.approx(full.report.counted_m2)
    a, b = again.report.by_district, full.report.by_district
    assert np.allclose(a["counted_m2"], b["counted_m2"]) and list(a["key"]) == list(b["key"])
    # and a second edit on top of the re-check (the index now has a stale entry)
    parks2 = edited.parks.copy()
    g2 = parks2.geometry.values.copy()
    g2[6] = reg.parks.geometry.values[5]  # park 6 moves to where park 5 was
    parks2["geometry"] = g2
    edited2 = Register(gpd.GeoDataFrame(parks2, crs=reg.parks.crs), edited.allocations, edited.quotas)
    third = recheck(again, edited2)
    pd.testing.assert_frame_equal(third.findings, check(plan, edited2).findings)


def _equals_a_full_check(plan, result, register) -> None:
    """``result`` (a re-check) is what a full check of ``register`` gives: the same findings table,
    capacity figures (to rounding) and allocation table rows."""
    full = check(plan, register)
    pd.testing.assert_frame_equal(result.findings, full.findings)
    for name in ("by_district", "by_year", "by_status", "by_specialisation", "namepark_counts"):
        pd.testing.assert_frame_equal(getattr(result.report, name), getattr(full.report, name))
    assert result.report.counted_m2 == pytest.approx(full.report.counted_m2)
    assert result.report.counted_by_basis == pytest.approx(full.report.counted_by_basis)

    def rows(t: pd.DataFrame) -> pd.DataFrame:
        return t.astype({"aligned": object}).sort_values("allocation_id").reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(result.alloc_table), rows(full.alloc_table), check_dtype=False)


def _moved(reg: Register, parks: pd.DataFrame | None = None, allocs: pd.DataFrame | None = None) -> Register:
    parks = reg.parks if parks is None else parks
    return Register(
        gpd.GeoDataFrame(parks, crs=reg.parks.crs), reg.allocations if allocs is None else allocs, reg.quotas
    )


def _rechecked(plan, result, register):
    """The re-check of ``register`` on top of ``result``, shown equal to a full check."""
    again = recheck(result, register)
    _equals_a_full_check(plan, again, register)
    return again


def _overlaps_of(result, pid: str) -> set[str]:
    f = result.findings[result.findings["code"] == "PARKS_OVERLAP"]
    return set(f.loc[f["id"] == pid, "other_id"]) | set(f.loc[f["other_id"] == pid, "id"])


@pytest.mark.parametrize("text", ["arrow", "objects"])
def test_a_chain_of_rechecks_equals_full_checks(plan_module, small_city, text, monkeypatch):
    """Re-checks on top of re-checks (each from the previous result, the change computed) equal a full
    check after each edit: an overlap made, then undone; a location removed; allocations moved, changed, removed and
    added; parks' declared districts changed in one run and in many; a park removed and one added;
    an allocation-only edit; with the edited text columns and the allocation table's replaced rows
    joined into one again on the way. Arrow text columns (a loaded register) and
    Python objects (a register built in code) alike."""
    import planner.core.checking as checking

    plan = plan_module
    reg = small_city
    if text == "objects":
        reg = _moved(reg, _as_objects(reg.parks), _as_objects(reg.allocations))
    monkeypatch.setattr(checking, "MAX_CHUNKS", 3)  # the edited text columns are joined on the way
    result = check(plan, reg)
    far = shapely.affinity.translate(reg.parks.geometry.values[5], xoff=0.2)  # 20 km east, alone

    # 1. park 5 moved onto park 6: an overlap made
    parks = reg.parks.copy()
    g = parks.geometry.values.copy()
    g[5] = g[6]
    g[8] = None  # and park 8 loses its location: it is the district's it declares
    parks["geometry"] = g
    step = _moved(reg, parks)
    result = _rechecked(plan, result, step)
    assert "p6" in _overlaps_of(result, "p5")
    assert result.where["effective_district_code"].iloc[8] == step.parks["district_code"].iloc[8] != ""

    # 2. park 5 moved far away (its overlaps undone); allocations: one moved to another park, one's
    # area raised above its park's new floor area
    parks = step.parks.copy()
    g = parks.geometry.values.copy()
    g[5] = far
    parks["geometry"] = g
    declared = parks["district_code"].to_numpy(dtype=object)
    parks["district_code"] = np.where(parks["id"] == "p100", "440311", declared)  # a second run of rows
    other = next(lv.key for lv in plan.namepark_levels if lv.key != parks.loc[100, "namepark_level"])
    parks.loc[100, "namepark_level"] = other  # the parks by level change too
    allocs = step.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "p10-a1", "park_id"] = "p11"
    allocs.loc[allocs["allocation_id"] == "p20-a1", "area_m2"] = 9e9
    before = result
    step = _moved(step, parks, allocs)
    result = _rechecked(plan, result, step)
    assert _overlaps_of(before, "p5") and not _overlaps_of(result, "p5")
    assert not before.report.namepark_counts.equals(result.report.namepark_counts)
    exceeds = result.findings[result.findings["code"] == "ALLOC_EXCEEDS_NEW_SPACE"]
    assert "p20" in set(exceeds["id"])
    table = result.alloc_table.set_index("allocation_id")
    assert table.loc["p10-a1", "park_id"] == "p11" and table.loc["p20-a1", "area_m2"] == 9e9

    # 2b. twenty parks apart declare another district (more runs of edited rows than are cut around)
    parks = step.parks.copy()
    apart = parks.index % 25 == 3
    parks["district_code"] = np.where(apart, "440303", parks["district_code"].to_numpy(dtype=object))
    step = _moved(step, parks)
    result = _rechecked(plan, result, step)

    # 3. a park removed (its allocation names no park now), a park added on top of park 30, an
    # allocation removed and one added for the new park
    parks = step.parks[step.parks["id"] != "p40"]
    added = parks.iloc[[0]].assign(id="new1", geometry=[parks.geometry.values[30]])
    parks = pd.concat([parks, added], ignore_index=True)
    allocs = step.allocations[step.allocations["allocation_id"] != "p50-a1"]
    allocs = pd.concat(
        [allocs, allocs.iloc[[0]].assign(allocation_id="new1-a1", park_id="new1")], ignore_index=True
    )
    step = _moved(step, parks, allocs)
    result = _rechecked(plan, result, step)
    assert "p40-a1" in set(result.findings.loc[result.findings["code"] == "ALLOC_UNKNOWN_PARK", "id"])
    assert "p30" in _overlaps_of(result, "new1")

    # 4. an allocation-only edit, with the replaced rows folded into one table after it
    monkeypatch.setattr(checking, "COMPACT_AFTER", 2)
    allocs = step.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "p20-a1", "area_m2"] = 1.0  # no longer exceeds
    step = _moved(step, allocs=allocs)
    result = recheck(result, step)
    assert result.alloc_dead is None and result.alloc_extra is None  # one table again
    _equals_a_full_check(plan, result, step)
    assert "p20" not in set(result.findings.loc[result.findings["code"] == "ALLOC_EXCEEDS_NEW_SPACE", "id"])


def test_check_json_counts_findings_by_code_and_writes_every_row(tmp_path, plan_module, small_city, capsys):
    db = tmp_path / "city.gpkg"
    store = open_store(str(db), plan_module)
    _, v = store.load()
    store.save(small_city, user=User("t", "planner"), comment="city", expected_version=v.version)
    store.close()
    assert main(["check", "--json", "--db", str(db), "--findings-out", str(tmp_path / "f.csv")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["parks"] == 600 and out["findings_total"] == sum(
        c["rows"] for c in out["findings_by_code"].values()
    )
    for key in ("counted_m2", "by_district", "by_year", "by_status", "by_specialisation"):
        assert key in out
    by_code = pd.Series([f["code"] for f in out["findings"]]).value_counts()
    for code, c in out["findings_by_code"].items():
        assert by_code[code] == min(c["rows"], 5)
    assert out["findings_by_code"]["PARKS_OVERLAP"]["rows"] > 5  # so the first rows are fewer than all
    assert set(out["findings"][0]) >= {"severity", "code", "id", "other_id", "district_code", "message"}
    csv = pd.read_csv(tmp_path / "f.csv", encoding="utf-8-sig", dtype=str, keep_default_na=False)
    assert len(csv) == out["findings_total"] and list(csv.columns[:3]) == ["severity", "code", "id"]

    assert (
        main(
            [
                "check",
                "--json",
                "--db",
                str(db),
                "--findings",
                "all",
                "--findings-out",
                str(tmp_path / "f.geojson"),
            ]
        )
        == 0
    )
    every = json.loads(capsys.readouterr().out)
    assert len(every["findings"]) == every["findings_total"] == out["findings_total"]
    doc = json.loads((tmp_path / "f.geojson").read_text(encoding="utf-8"))
    assert len(doc["features"]) == out["findings_total"]
    overlap = next(f for f in doc["features"] if f["properties"]["code"] == "PARKS_OVERLAP")
    assert overlap["geometry"]["type"] == "Polygon" and overlap["properties"]["other_id"]
    assert main(["check", "--db", str(db), "--findings-out", str(tmp_path / "f.txt")]) == 2
    assert ".csv" in capsys.readouterr().err


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its text columns as Python objects (a register built in code) instead of the
    Arrow strings a loaded register has."""
    text = [c for c in frame.columns if c != "geometry" and pd.api.types.is_string_dtype(frame[c])]
    return frame.astype({c: object for c in text})


def test_the_check_is_the_same_for_arrow_and_object_text_columns(plan_module, small_city):
    """The allocation table takes the parks' text columns in their own arrays (no object round
    trip): findings, the capacity report and the allocation table's values are the same either way."""
    plan, reg = plan_module, small_city
    objects = Register(
        gpd.GeoDataFrame(_as_objects(reg.parks), crs=reg.parks.crs), _as_objects(reg.allocations), reg.quotas
    )
    assert (reg.parks["id"].dtype == object) != (objects.parks["id"].dtype == object)
    a, b = check(plan, reg), check(plan, objects)
    pd.testing.assert_frame_equal(a.findings, b.findings, check_dtype=False)
    assert len(a.findings) > 0 and {"PARKS_OVERLAP", "PLOT_RATIO_EXCEEDED"} <= set(a.findings["code"])
    assert a.report.counted_m2 == pytest.approx(b.report.counted_m2)
    assert a.report.secured_m2 == pytest.approx(b.report.secured_m2)
    assert a.report.counted_by_basis == pytest.approx(b.report.counted_by_basis)
    pd.testing.assert_frame_equal(a.report.by_district, b.report.by_district, check_dtype=False)
    pd.testing.assert_frame_equal(a.alloc_table, b.alloc_table, check_dtype=False)


def test_findings_sort_by_severity_code_id_and_other_id_keeping_ties_in_order(plan_module, small_city):
    """sort_findings (one Arrow sort) orders as Python sorts the same keys: severity error, warning,
    info; then code, id, other id by code point; rows alike in all four keep their order."""
    from planner.core.findings import sort_findings
    from planner.errors import SEVERITIES

    found = check(plan_module, small_city).findings
    shuffled = found.sample(frac=1, random_state=4).reset_index(drop=True)
    tie = shuffled.iloc[[0, 0]].assign(message_en=["second", "first"])  # alike but for the message
    shuffled = pd.concat([shuffled, tie.assign(id="Ünïcode"), tie.assign(id="Z")], ignore_index=True)
    got = sort_findings(shuffled)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    keys = [(rank[r.severity], r.code, r.id, r.other_id) for r in shuffled.itertuples()]
    expected = sorted(range(len(shuffled)), key=keys.__getitem__)  # Python's sort is stable
    pd.testing.assert_frame_equal(got, shuffled.iloc[expected].reset_index(drop=True))
    assert len(set(got["code"])) > 3 and list(got.loc[got["id"] == "Z", "message_en"]) == ["second", "first"]


def test_a_cube_updated_by_a_few_rows_equals_the_cube_of_the_edited_table(plan_module, small_city):
    """update_cube (a re-check's: the old rows taken off, the new ones added, without regrouping)
    gives the cube capacity_cube sums from the edited allocation table: combinations changed, new
    ones appended, emptied ones dropped; its keys are the result's."""
    from planner.core.capacity import allocation_table, capacity_cube, cube_keys, cube_rows, update_cube

    table = allocation_table(plan_module, small_city)
    cube = capacity_cube(table)
    old = table.iloc[:3]
    new = old.assign(delivery_year=pd.array([2019, 2024, pd.NA], dtype="Int64"), area_m2=[1.0, 2.0, np.nan])
    delta = pd.concat([cube_rows(old, -1.0), cube_rows(new)], ignore_index=True)
    got, keys = update_cube(cube, cube_keys(cube), delta)
    want = capacity_cube(pd.concat([table.iloc[3:], new], ignore_index=True))
    assert keys == cube_keys(got) and len(set(keys)) == len(keys)
    assert len(got) == len(want) and set(keys) == set(cube_keys(want))
    expected = dict(zip(cube_keys(want), zip(want["area_m2"], want["n"], strict=True), strict=True))
    for k, area, n in zip(keys, got["area_m2"], got["n"], strict=True):
        assert area == pytest.approx(expected[k][0]) and n == expected[k][1]
    assert set(cube_keys(cube)) - set(keys)  # a combination emptied and dropped
    assert set(keys) - set(cube_keys(cube))  # a new one appended


def _random_edit(plan, reg: Register, rng: np.random.Generator, step: int) -> Register:
    """One of seven edits of one to three random parks or allocations."""
    parks, allocs = reg.parks.copy(), reg.allocations.copy()
    kind, k = int(rng.integers(0, 7)), int(rng.integers(1, 4))
    pos = rng.choice(len(parks), size=k, replace=False)
    g = parks.geometry.values.copy()
    if kind == 0:  # moved onto other parks
        g[pos] = g[rng.choice(len(parks), size=k)]
    elif kind == 1:  # locations removed
        g[pos] = None
    elif kind == 2:
        parks.iloc[pos, parks.columns.get_loc("gfa_m2")] = 1e9
    elif kind == 3:  # parks removed
        parks = parks.drop(index=parks.index[pos]).reset_index(drop=True)
        g = parks.geometry.values.copy()
    elif kind == 4:  # copies added, each with an allocation
        add = parks.iloc[pos].assign(id=[f"n{step}_{i}" for i in range(k)])
        parks = pd.concat([parks, add], ignore_index=True)
        g = parks.geometry.values.copy()
        new = allocs.iloc[:k].assign(
            allocation_id=[f"n{step}_{i}-a" for i in range(k)], park_id=list(add["id"])
        )
        allocs = pd.concat([allocs, new], ignore_index=True)
    elif kind == 5:  # allocations moved to other parks, their areas changed
        at = rng.choice(len(allocs), size=k, replace=False)
        allocs.iloc[at, allocs.columns.get_loc("park_id")] = parks["id"].to_numpy()[rng.choice(len(parks), k)]
        allocs.iloc[at, allocs.columns.get_loc("area_m2")] = rng.uniform(1, 1e7, k)
    else:  # declared district and name-park level changed
        levels = [lv.key for lv in plan.namepark_levels]
        parks.iloc[pos, parks.columns.get_loc("namepark_level")] = rng.choice(levels, size=k)
        parks.iloc[pos, parks.columns.get_loc("district_code")] = "440303"
    parks["geometry"] = g
    return _moved(reg, parks, allocs)


def test_random_edits_rechecked_in_a_chain_equal_full_checks(plan_module, small_city):
    """Twenty random edits (seeded), each re-checked on top of the previous re-check: every result
    equals a full check of the edited register."""
    rng = np.random.default_rng(7)
    reg, result = small_city, check(plan_module, small_city)
    for step in range(20):
        reg = _random_edit(plan_module, reg, rng, step)
        result = _rechecked(plan_module, result, reg)
    assert len(result.findings) > 0
