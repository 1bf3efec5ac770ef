"""The import's shortcuts at scale give what the plain way gives: geometry facts asked once and
shared by the checks (also after accepted repairs), Z/M dropped only where a shape has them, and
NUL-cut GeoPackage texts numbered in GDAL's reading order when the table's fids have gaps."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely

from planner.core.geo import WGS84
from planner.core.plan import Plan
from planner.core.register import Register
from planner.io.allocations import fill_footprint_areas
from planner.io.checks import ShapeFacts, _check_geometry, _check_register, _locate
from planner.io.ingest import _place_fn, preview_import
from planner.io.issues import _Collector
from tests.conftest import METRIC, inside, square

LUOHU, FUTIAN, NANSHAN, BAOAN = "440303", "440304", "440305", "440306"


def _metric(geom: shapely.Geometry) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=WGS84).to_crs(METRIC).iloc[0]


def _wgs(geom: shapely.Geometry) -> shapely.Geometry:
    return gpd.GeoSeries([geom], crs=METRIC).to_crs(WGS84).iloc[0]


def _mixed(plan: Plan) -> gpd.GeoDataFrame:
    """Parcels of every kind the checks tell apart: valid, invalid (a bow-tie), multi, holed,
    outside the city, a point with its axes swapped, a plain point; no land area given, so the
    footprints are measured."""
    c = _metric(inside(plan, BAOAN))
    bowtie = _wgs(shapely.Polygon([(c.x, c.y), (c.x + 300, c.y + 300), (c.x + 300, c.y), (c.x, c.y + 300)]))
    f = _metric(inside(plan, FUTIAN))
    holed = _wgs(
        shapely.box(f.x, f.y, f.x + 400, f.y + 400).difference(
            shapely.box(f.x + 100, f.y + 100, f.x + 200, f.y + 200)
        )
    )
    multi = shapely.union_all(
        [square(inside(plan, NANSHAN), 150), square(inside(plan, NANSHAN, 600, 0), 150)]
    )
    p = inside(plan, LUOHU)
    geoms = [
        square(inside(plan, NANSHAN, 0, 900), 200),
        bowtie,
        multi,
        holed,
        square(shapely.Point(120.15, 30.27), 200),  # Hangzhou: outside the city
        shapely.Point(p.y, p.x),  # lat, lon
        inside(plan, BAOAN, 900, 900),
    ]
    n = len(geoms)
    return gpd.GeoDataFrame(
        {"id": [f"m{i}" for i in range(n)], "名称": [f"园{i}" for i in range(n)], "状态": "规划"},
        geometry=geoms,
        crs=WGS84,
    )


def _write(frame: gpd.GeoDataFrame, path: Path) -> Path:
    frame.to_file(path, driver="GPKG", engine="pyogrio")
    return path


def _empty(seed: Register) -> Register:
    return Register(seed.parks.iloc[:0], seed.allocations.iloc[:0], seed.quotas)


def test_the_mixed_file_gives_each_problem_at_its_feature(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    preview = preview_import(_write(_mixed(plan), tmp_path / "mixed.gpkg"), None, plan, _empty(seed_register))
    assert sorted((i.code, i.place) for i in preview.problems) == [
        ("invalid_geometry", "mixed.gpkg feature 2 (m1)"),
        ("outside_extent", "mixed.gpkg feature 5 (m4)"),
        ("swapped_axes", "mixed.gpkg feature 6 (m5)"),
    ]
    parks = preview.parks.set_index("id")
    assert parks.loc[["m0", "m2", "m3", "m6"], "district_code"].tolist() == [NANSHAN, NANSHAN, FUTIAN, BAOAN]
    assert parks.loc["m3", "land_area_m2"] == pytest.approx(
        400 * 400 - 100 * 100, rel=1e-3
    )  # the hole left out
    assert pd.isna(parks.loc["m1", "land_area_m2"])  # an invalid shape is not measured


def test_facts_asked_once_give_what_each_check_asks_itself(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    """The checks given the shared facts and the same checks asking each geometry themselves:
    the same problems, warnings, repairs, districts, areas and duplicates of the register."""
    frame = _mixed(plan)
    near = seed_register.parks.iloc[:3]  # three seed parks as the incoming file's last rows: duplicates
    frame = gpd.GeoDataFrame(
        pd.concat(
            [
                frame,
                gpd.GeoDataFrame(
                    {"id": ["d0", "d1", "d2"], "名称": list(near["name_zh"]), "状态": "规划"},
                    geometry=near.geometry.values,
                    crs=WGS84,
                ),
            ],
            ignore_index=True,
        ),
        geometry="geometry",
        crs=WGS84,
    )
    parks = preview_import(_write(frame, tmp_path / "mixed.gpkg"), None, plan, _empty(seed_register)).parks
    parks["district_code"] = ""  # as _locate finds them before it fills them
    parks["land_area_m2"] = np.nan
    place = _place_fn("mixed.gpkg", False)
    results = []
    for shared in (True, False):
        c = _Collector("mixed.gpkg")
        p = parks.copy()
        shapes = ShapeFacts.of(p.geometry, plan) if shared else None
        repairs = _check_geometry(p, plan, place, c, False, False, {}, shapes=shapes)
        _locate(p, plan, place, c, shapes=shapes)
        p = fill_footprint_areas(p, plan, place, c, valid=shapes.valid if shapes else None)
        _check_register(p, plan, seed_register, place, c, valid=shapes.valid if shapes else None)
        results.append((p, repairs, [i.to_dict() for i in c.problems], [i.to_dict() for i in c.warnings]))
    (p1, r1, e1, w1), (p2, r2, e2, w2) = results
    pd.testing.assert_frame_equal(
        pd.DataFrame(p1.drop(columns="geometry")), pd.DataFrame(p2.drop(columns="geometry"))
    )
    assert r1 is not None and r2 is not None and r1.geom_equals(r2).sum() == r1.notna().sum() == 1
    assert e1 == e2 and w1 == w2
    codes = {e["code"] for e in e1}
    assert {"invalid_geometry", "outside_extent", "swapped_axes", "existing_footprint"} <= codes
    located = p1["district_code"].ne("").to_numpy()  # not the bow-tie, the one outside, the swapped point
    assert list(located) == [True, False, True, True, False, False, True, True, True, True]
    assert {w["code"] for w in w1} >= {"land_area_from_footprint"}


def test_accepted_repairs_are_checked_as_the_repaired_shapes_are(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    """The facts of a repaired shape are asked again: accepting the repair gives the parks a file
    holding the repaired shape gives (district found, footprint measured)."""
    frame = (
        _mixed(plan).iloc[[0, 1, 2, 3, 6]].reset_index(drop=True)
    )  # in the city: only the bow-tie is wrong
    empty = _empty(seed_register)
    offered = preview_import(_write(frame, tmp_path / "a.gpkg"), None, plan, empty)
    assert offered.codes() == {"invalid_geometry"}
    accepted = preview_import(tmp_path / "a.gpkg", None, plan, empty, accept_repairs=True)
    assert accepted.ok
    repaired = frame.copy()
    repaired.loc[1, "geometry"] = offered.repairs.iloc[1]
    direct = preview_import(_write(repaired, tmp_path / "b.gpkg"), None, plan, empty)
    assert direct.ok
    cols = ["id", "district_code", "land_area_m2", "status"]
    pd.testing.assert_frame_equal(pd.DataFrame(accepted.parks[cols]), pd.DataFrame(direct.parks[cols]))
    assert accepted.parks.loc[1, "district_code"] == BAOAN and accepted.parks.loc[1, "land_area_m2"] > 0
    assert shapely.equals_exact(accepted.parks.geometry.values, direct.parks.geometry.values, 1e-9).all()


def test_z_and_m_are_dropped_only_where_a_shape_has_them(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    flat = _mixed(plan).iloc[[0, 2, 3, 6]].reset_index(drop=True)
    deep = flat.copy()
    deep.loc[[0, 2], "geometry"] = shapely.force_3d(flat.geometry.values[[0, 2]], 12.5)
    assert list(shapely.has_z(deep.geometry.values)) == [True, False, True, False]
    empty = _empty(seed_register)
    a = preview_import(_write(deep, tmp_path / "deep.gpkg"), None, plan, empty)
    b = preview_import(_write(flat, tmp_path / "flat.gpkg"), None, plan, empty)
    assert a.ok and b.ok
    assert not shapely.has_z(a.parks.geometry.values).any()
    assert shapely.equals_exact(a.parks.geometry.values, b.parks.geometry.values, 0).all()
    pd.testing.assert_frame_equal(
        pd.DataFrame(a.parks.drop(columns=["geometry", "source"])),
        pd.DataFrame(b.parks.drop(columns=["geometry", "source"])),
    )


def _gpkg_sql(path: Path, *statements: tuple[str, tuple]) -> None:
    with sqlite3.connect(path) as con:  # GDAL's triggers call spatial functions sqlite3 lacks
        for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            con.create_function(name, 1, lambda _blob: 0)
        for sql, args in statements:
            con.execute(sql, args)


def test_nul_cut_texts_are_numbered_as_gdal_reads_the_features(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    """Fids with gaps (rows deleted) and several NULs: each refused at the feature GDAL reads it as."""
    frame = _mixed(plan).iloc[[0, 2, 3, 6, 0, 2]].reset_index(drop=True)
    frame["id"] = [f"n{i}" for i in range(len(frame))]
    path = _write(frame, tmp_path / "nul.gpkg")
    _gpkg_sql(
        path,
        ("DELETE FROM nul WHERE id IN ('n0', 'n2')", ()),
        ("UPDATE nul SET 名称 = ?, 状态 = ? WHERE id = 'n3'", ("园\x00三", "规\x00划")),
        ("UPDATE nul SET 名称 = ? WHERE id = 'n5'", ("园五\x00",)),
    )
    read = pyogrio.read_dataframe(path, use_arrow=True)
    assert list(read["id"]) == ["n1", "n3", "n4", "n5"]
    assert list(read["名称"]) == ["园2", "园", "园0", "园五"]  # GDAL cuts them, without a word
    preview = preview_import(path, None, plan, _empty(seed_register))
    assert sorted((i.code, i.place, i.field) for i in preview.problems) == [
        ("control_character", "nul.gpkg feature 2", "名称"),
        ("control_character", "nul.gpkg feature 2", "状态"),
        ("control_character", "nul.gpkg feature 4", "名称"),
    ]
    assert any("园\\x00三" in i.message_en for i in preview.problems)


def test_texts_read_once_each_give_every_row_its_own_value() -> None:
    """parse_area reads each distinct text once and spreads the values back: every row gets what
    reading that cell alone gives (index kept, blanks and non-numbers NaN)."""
    from planner.io.units import parse_area

    pool = ["15万㎡", "3 公顷", "３００亩", "1,200", "", None, "x", "2 km²", "1.5e3m2", "-5"]
    rng = np.random.default_rng(3)
    cells = pd.Series([pool[i] for i in rng.integers(0, len(pool), 500)], index=np.arange(500)[::-1] * 7)
    whole = parse_area(cells, 10_000.0)
    alone = [parse_area(pd.Series([v], dtype=object), 10_000.0).iloc[0] for v in cells]
    assert list(whole.index) == list(cells.index)
    np.testing.assert_array_equal(whole.to_numpy(), np.array(alone, dtype=float))
    assert whole.iloc[list(cells).index("15万㎡")] == 150_000.0  # the cell's unit wins over the header's
    assert np.isnan(whole.iloc[list(cells).index("")])  # a blank cell: no number


def test_text_years_read_once_each_land_on_their_rows(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    frame = _mixed(plan).iloc[[0, 2, 3, 6]].reset_index(drop=True)
    frame["交付年份"] = ["2024年", "", "2026年底", "2024年"]
    preview = preview_import(_write(frame, tmp_path / "years.gpkg"), None, plan, _empty(seed_register))
    assert preview.ok
    assert preview.parks["delivery_year"].astype("Float64").tolist()[::2] == [2024, 2026]
    assert pd.isna(preview.parks["delivery_year"].iloc[1]) and preview.parks["delivery_year"].iloc[3] == 2024
    assert preview.parks["year_src"].tolist() == ["2024年", "", "2026年底", "2024年"]
