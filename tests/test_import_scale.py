"""Importing into a larger register (a few thousand parcels, both backends): the import reads only
the stored rows near the incoming parks and those with their ids, still refuses a duplicate id,
a near-identical neighbour and another district's park (each recorded), and writes only the new rows."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.cli.main import main
from planner.cli.store import EXIT_DENIED
from planner.core.access import User
from planner.core.accounts import set_account
from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.register import Register, conform_parks, rows_near
from planner.io.checks import near_boxes
from planner.store import open_store
from planner.store.gpkg import GeoPackageBackend
from planner.store.postgis import PostgisBackend
from tests.conftest import METRIC, inside, square

BAOAN, NANSHAN = "440306", "440305"
PASSWORD = "correct-horse-1"
PITCH_M, SIDE_M = 120.0, 80.0  # grid parcels 80 m wide, 40 m apart


def _grid(plan: Plan, code: str, n_side: int = 60) -> gpd.GeoDataFrame:
    """Up to ``n_side``² square parcels on a grid around a point of the district, those wholly inside it."""
    c = gpd.GeoSeries([inside(plan, code)], crs=WGS84).to_crs(METRIC).iloc[0]
    offsets = (np.arange(n_side) - n_side / 2) * PITCH_M
    xs, ys = np.meshgrid(c.x + offsets, c.y + offsets)
    x, y = xs.ravel(), ys.ravel()
    boxes = shapely.box(x - SIDE_M / 2, y - SIDE_M / 2, x + SIDE_M / 2, y + SIDE_M / 2)
    district = plan.district_polygons.set_index("code").to_crs(METRIC).geometry[code]
    boxes = boxes[shapely.contains(district, boxes)]
    ids = [f"g{i}" for i in range(len(boxes))]
    return conform_parks(
        gpd.GeoDataFrame(
            {
                "id": ids,
                "name_zh": ids,
                "district_code": code,
                "land_area_m2": SIDE_M**2,
                "status": "planned",
            },
            geometry=gpd.GeoSeries(boxes, crs=METRIC).to_crs(WGS84).values,
            crs=WGS84,
        )
    )


@pytest.fixture
def big(store_db: str, plan: Plan, monkeypatch: pytest.MonkeyPatch) -> tuple[str, gpd.GeoDataFrame]:
    """A store whose main scenario holds the seed plus a few thousand grid parcels in Bao'an."""
    store = open_store(store_db, plan)
    seed, v = store.load()
    grid = _grid(plan, BAOAN)
    assert len(grid) > 2000
    parks = gpd.GeoDataFrame(pd.concat([seed.parks, grid], ignore_index=True), geometry="geometry", crs=WGS84)
    store.save(
        Register(parks, seed.allocations, seed.quotas),
        user=User("city", "planner"),
        comment="grid",
        expected_version=v.version,
    )
    set_account("li", "district", PASSWORD, district_code=BAOAN)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    return store_db, grid


def _file(tmp_path: Path, features: list[tuple[str, shapely.Geometry]]) -> Path:
    path = tmp_path / "incoming.geojson"
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": shapely.geometry.mapping(g),
                "properties": {"id": pid, "名称": f"新园 {pid}", "占地面积": 3600},
            }
            for pid, g in features
        ],
    }
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.fixture
def no_whole_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading a whole version fails the test: the import must not need it."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("the import read the whole register")

    monkeypatch.setattr(GeoPackageBackend, "read", refuse)
    monkeypatch.setattr(PostgisBackend, "read", refuse)


def _in_gap(grid: gpd.GeoDataFrame, k: int) -> shapely.Geometry:
    """A 30 m square in the 40 m gap east of grid parcel ``k``: touching no parcel."""
    c = gpd.GeoSeries([grid.geometry.iloc[k]], crs=WGS84).to_crs(METRIC).iloc[0].centroid
    east = shapely.Point(c.x + PITCH_M / 2, c.y)
    return gpd.GeoSeries([east], crs=METRIC).to_crs(WGS84).iloc[0]


def _refusals(db: str):
    log = open_store(db).audit_log()
    return log[log["outcome"].isin(["invalid", "denied"])]


def test_an_import_writes_only_its_new_rows(big, plan: Plan, tmp_path: Path, no_whole_read) -> None:
    db, grid = big
    store = open_store(db, plan)
    before = store.version("main")
    size = Path(db).stat().st_size if not db.startswith("postgresql") else None
    path = _file(tmp_path, [("new1", square(_in_gap(grid, 100), 30))])
    assert main(["import", str(path), "--user", "li", "--db", db]) == 0
    after = store.version("main")
    assert after.version == before.version + 1 and after.n_parks == before.n_parks + 1
    touched = store.backend.touched_since("main", before.version, after.version)
    assert touched["parks"]["key"].tolist() == ["new1"]  # one row written, no other row touched
    assert touched["allocations"].empty and touched["quotas"].empty
    if size is not None:  # the GeoPackage grows by kilobytes, not by a copy of the register
        assert Path(db).stat().st_size - size < 100_000
    new = store.park_history("new1")
    assert len(new) == 1 and new["district_code"].iloc[0] == BAOAN


def test_a_duplicate_id_is_refused_and_recorded(
    big, plan: Plan, tmp_path: Path, capsys, no_whole_read
) -> None:
    db, grid = big
    before = open_store(db, plan).version("main")
    far = square(_in_gap(grid, 1000), 30)  # nowhere near g7: found by its id alone
    path = _file(tmp_path, [("g7", far)])
    assert main(["import", str(path), "--user", "li", "--db", db]) == 1
    assert "[existing_id]" in capsys.readouterr().out
    (row,) = _refusals(db).to_dict("records")
    assert (row["user"], row["action"], row["outcome"]) == ("li", "import", "invalid")
    assert "g7" in row["detail"] and "incoming.geojson" in row["detail"]
    assert open_store(db, plan).version("main") == before


def test_a_near_identical_neighbour_is_refused_naming_it(
    big, plan: Plan, tmp_path: Path, capsys, no_whole_read
) -> None:
    db, grid = big
    before = open_store(db, plan).version("main")
    k = 321
    shifted = gpd.GeoSeries([grid.geometry.iloc[k]], crs=WGS84).to_crs(METRIC).translate(1.0, 0.0)
    ok = square(_in_gap(grid, 5), 30)  # a good park in the same file: the whole file is refused
    path = _file(tmp_path, [("fresh", ok), ("copy", shifted.to_crs(WGS84).iloc[0])])
    assert main(["import", str(path), "--user", "li", "--db", db]) == 1
    out = capsys.readouterr().out
    assert "[existing_footprint]" in out and f"g{k}" in out and "feature 2" in out
    (row,) = _refusals(db).to_dict("records")
    assert row["outcome"] == "invalid" and f"g{k}" in row["detail"]
    assert open_store(db, plan).version("main") == before


def test_another_districts_park_is_denied_and_recorded(
    big, plan: Plan, tmp_path: Path, capsys, no_whole_read
) -> None:
    db, _ = big
    before = open_store(db, plan).version("main")
    path = _file(tmp_path, [("nanshan1", square(inside(plan, NANSHAN), 60))])
    assert main(["import", str(path), "--user", "li", "--db", db]) == EXIT_DENIED
    printed = capsys.readouterr()
    assert "nanshan1" in printed.out + printed.err
    (row,) = _refusals(db).to_dict("records")
    assert (row["user"], row["action"], row["outcome"]) == ("li", "save", "denied")
    assert "nanshan1" in row["detail"]
    assert open_store(db, plan).version("main") == before


def test_the_store_and_a_register_in_memory_find_the_same_neighbours(big, plan: Plan) -> None:
    db, grid = big
    store = open_store(db, plan)
    register, v = store.load()
    probe = gpd.GeoSeries(
        [square(_in_gap(grid, 40), 34), grid.geometry.iloc[900].buffer(0), shapely.Point(0, 0)], crs=WGS84
    )
    boxes = near_boxes(probe, plan)
    ids = ["g3", "szsib", "nope"]
    mine = rows_near(register, boxes, ids, ["nope"])
    theirs = store.near("main", v.version, boxes, ids, ["nope"])
    assert sorted(mine.parks["id"]) == sorted(theirs.parks["id"])
    # the gap's square meets the envelopes of the two parcels beside it; g900 its own; ids by id
    assert {"g3", "szsib", "g40", "g900"} <= set(theirs.parks["id"]) and len(theirs.parks) < 20
    assert theirs.allocations.empty and theirs.quotas.empty


def test_a_geopackage_store_without_the_spatial_index_gets_it_on_open(plan: Plan, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "older.gpkg"
    store = open_store(str(db), plan)
    register, v = store.load()
    with sqlite3.connect(db) as con:  # as a store written before the index was
        con.execute("DROP TABLE parks_bounds")
    reopened = open_store(str(db), plan)
    with sqlite3.connect(db) as con:
        indexed = con.execute("SELECT count(*) FROM parks_bounds").fetchone()[0]
        rows = con.execute("SELECT count(*) FROM parks WHERE geom IS NOT NULL").fetchone()[0]
    assert indexed == rows > 0
    shape = register.parks.geometry.iloc[0]
    near = reopened.near("main", v.version, near_boxes(gpd.GeoSeries([shape], crs=WGS84), plan))
    assert register.parks["id"].iloc[0] in set(near.parks["id"])
    assert len(near.parks) < len(register.parks)


def test_the_app_and_the_cli_previews_find_the_same_problems(big, plan: Plan, tmp_path: Path) -> None:
    """The app previews against the register it holds (rows_near), the CLI against the store
    (Store.near): the same rule, the same problems."""
    from functools import partial

    from planner.io.ingest import preview_import

    db, grid = big
    store = open_store(db, plan)
    register, v = store.load()
    k = 77
    copy = gpd.GeoSeries([grid.geometry.iloc[k]], crs=WGS84).to_crs(METRIC).translate(0.5, 0.5)
    path = _file(tmp_path, [("g9", square(_in_gap(grid, 500), 30)), ("c", copy.to_crs(WGS84).iloc[0])])
    in_memory = preview_import(path, None, plan, register)
    from_store = preview_import(path, None, plan, partial(store.near, "main", v.version))
    found = [(p.code, p.place) for p in in_memory.problems]
    assert found == [(p.code, p.place) for p in from_store.problems]
    assert ("existing_id", "incoming.geojson feature 1 (g9)") in found
    assert ("existing_footprint", "incoming.geojson feature 2 (c)") in found
