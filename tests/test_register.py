"""The seed register and its validation: every problem named with row, id and field; nothing changed."""

from __future__ import annotations

import csv

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from planner.core.geo import WGS84
from planner.core.plan import load_plan
from planner.core.register import (
    STATUSES,
    add_parks,
    conform_parks,
    normalise_status,
    normalise_year,
    replace_allocations,
    set_quotas,
    validate_parks,
)
from planner.errors import ValidationError
from tests.conftest import DATA, inside, make_register, shared_file, square


def test_seed_register_keeps_every_seed_row_source_and_confidence(plan, seed_register):
    with shared_file("data", "parks_seed.csv").open(encoding="utf-8") as fh:
        seed = list(csv.DictReader(fh))
    parks = seed_register.parks.set_index("id")
    assert sorted(parks.index) == sorted(r["id"] for r in seed)
    for row in seed:
        p = parks.loc[row["id"]]
        assert (p["name_zh"], p["source"], p["figures_conf"], p["coord_conf"]) == (
            row["name_zh"], row["source"], row["figures_conf"], row["coord_conf"],
        )  # fmt: skip
        assert p["status_src"] == row["status"] and p["year_src"] == row["year"]
        assert p["status"] in STATUSES
        assert p["namepark_level"] == "unknown" and p["namepark_note"] == row["namepark_level"]
        if row["lat"]:
            assert (p.geometry.x, p.geometry.y) == (float(row["lon"]), float(row["lat"]))
        else:
            assert p.geometry is None


def test_baseline_allocations_follow_the_documented_rule(plan, seed_register):
    parks = seed_register.parks.set_index("id")
    allocs = seed_register.allocations
    assert set(allocs["basis"]) == {"baseline"}
    with_new = parks.index[parks["new_gfa_m2"].notna()]
    assert sorted(allocs["park_id"]) == sorted(with_new)
    for a in allocs.itertuples():
        park = parks.loc[a.park_id]
        assert a.area_m2 == round(park["new_gfa_m2"] * plan.baseline_share)
        in_plan = (
            pd.notna(park["delivery_year"])
            and plan.period_start <= park["delivery_year"] <= plan.deadline_year
        )
        assert (a.delivery_year == park["delivery_year"]) if in_plan else pd.isna(a.delivery_year)
        assert a.status == park["status"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("operating", "delivered"),
        ("operating/expanding", "delivered"),
        ("under construction (topping-out 2023)", "under_construction"),
        ("phase1 due end-2024; phase2 Nov-2026", "under_construction"),
        ("planning/renewal (2022-)", "planned"),
        ("land assembly/planning", "planned"),
        ("在建", "under_construction"),
        ("已建成运营", "delivered"),
        ("unknown", "unknown"),
        ("", "unknown"),
    ],
)
def test_status_normalisation(text, expected):
    assert normalise_status(text) == expected


def test_delivery_year_rule():
    assert normalise_year("phase1 due end-2024; phase2 Nov-2026", "2024", "under_construction") == 2024
    assert normalise_year("operating", "2008", "delivered") == 2008
    assert normalise_year("planning/renewal (2022-)", "2022", "planned") is None
    assert normalise_year("phase1 batch1 opened 2025-12-22", "2025", "delivered") == 2025


def _park(plan, **overrides) -> gpd.GeoDataFrame:
    row = {
        "id": "p1",
        "name_zh": "测试园",
        "district_code": "440305",
        "status": "planned",
        "land_area_m2": 10_000.0,
    }
    row.update({k: v for k, v in overrides.items() if k != "geometry"})
    geom = overrides.get("geometry", square(inside(plan, "440305"), 100))
    return conform_parks(gpd.GeoDataFrame([row], geometry=[geom], crs=WGS84))


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"land_area_m2": -5.0}, "land_area_m2", "negative"),
        ({"status": "done"}, "status", "unknown status"),
        ({"name_zh": ""}, "name_zh", "name is missing"),
        ({"namepark_level": "global"}, "namepark_level", "unknown name-park level"),
        ({"fields": "ai;quantum"}, "fields", "unknown field"),
        ({"district_code": "440399"}, "district_code", "unknown district code"),
        ({"geometry": shapely.Point(116.4, 39.9)}, "_b", "outside Shenzhen"),
        ({"geometry": shapely.LineString([(113.9, 22.5), (113.95, 22.55)])}, "_t", "point or polygon"),
        (
            {
                "geometry": shapely.Polygon(
                    [(113.90, 22.50), (113.92, 22.52), (113.92, 22.50), (113.90, 22.52)]
                )
            },
            "_r",
            "Self-intersection",
        ),
    ],
)
def test_a_bad_park_is_refused_naming_row_id_and_field(plan, seed_register, overrides, field, words):
    bad = _park(plan, **overrides)
    problems = validate_parks(bad, plan, place="upload.geojson")
    assert [p.field for p in problems] == [field]
    assert problems[0].place.startswith("upload.geojson row 1") and words in problems[0].message_en
    before = seed_register.parks.copy()
    with pytest.raises(ValidationError):
        add_parks(seed_register, bad, plan)
    pd.testing.assert_frame_equal(seed_register.parks, before)


def test_every_problem_is_reported_at_once(plan):
    bad = pd.concat([_park(plan, land_area_m2=-1.0), _park(plan, status="x")], ignore_index=True)
    problems = validate_parks(gpd.GeoDataFrame(bad, crs=WGS84), plan)
    assert {p.field for p in problems} == {"land_area_m2", "status", "id"}  # the second row repeats id p1


def test_a_valid_park_is_added_to_a_new_register(plan, seed_register):
    new = add_parks(seed_register, _park(plan, id="new_one"), plan)
    assert len(new.parks) == len(seed_register.parks) + 1 and "new_one" not in set(seed_register.parks["id"])
    with pytest.raises(ValidationError, match="already in the register"):
        add_parks(new, _park(plan, id="new_one"), plan)


def test_allocation_and_quota_edits_are_validated(plan, seed_register):
    bad = seed_register.allocations.copy()
    bad.loc[0, "area_m2"] = -10
    bad.loc[1, "delivery_year"] = 2031
    bad.loc[2, "park_id"] = "nope"
    with pytest.raises(ValidationError) as info:
        replace_allocations(seed_register, bad, plan)
    fields = sorted(p.field for p in info.value.problems)
    assert fields == ["area_m2", "delivery_year", "park_id"]
    assert "row 2" in info.value.problems[[p.field for p in info.value.problems].index("delivery_year")].place
    with pytest.raises(ValidationError, match="non-negative"):
        set_quotas(seed_register, pd.DataFrame({"district_code": ["440305"], "quota_m2": [-1]}), plan)
    ok = set_quotas(seed_register, pd.DataFrame({"district_code": ["440305"], "quota_m2": [500_000]}), plan)
    assert ok.quota("440305") == 500_000 and seed_register.quota("440305") is None


@pytest.fixture()
def register_copy(tmp_path, plan):
    import shutil

    dest = tmp_path / "reg"
    shutil.copytree(plan.folder, dest)
    return dest


def test_broken_register_files_are_refused_with_their_place(plan, register_copy):
    from planner.core.register import load_register

    allocs = register_copy / "allocations.csv"
    text = allocs.read_text(encoding="utf-8").replace(",400000,2024,", ",four hundred thousand,2024,")
    allocs.write_text(text, encoding="utf-8")
    (register_copy / "parks.geojson").write_text(
        '{"type": "FeatureCollection", "features": [', encoding="utf-8"
    )
    with pytest.raises(ValidationError) as info:
        load_register(plan, register_copy)
    problems = info.value.problems
    assert any(p.place.endswith("parks.geojson") and "cannot read" in p.message_en for p in problems)
    (bad,) = [p for p in problems if p.field == "area_m2" and "four hundred" in p.message_en]
    assert "allocations.csv row 2 (tencent_penguin-a1)" in bad.place and "not a number" in bad.message_en


def test_a_park_on_nanshans_southern_edge_is_valid_and_one_in_another_province_is_not(plan):
    """The extent is the plan's districts (with their tolerance), not a fixed box that stopped at 22.40°N."""
    from tests.test_geo import _southern_tip

    tip = _southern_tip(plan)
    edge = make_register(
        [{"id": "edge", "name_zh": "内伶仃岛地块", "district_code": "440305", "geometry": tip}]
    )
    assert validate_parks(edge.parks, plan) == []
    zj_point = shapely.Point(120.098, 30.135)  # 云栖小镇, Hangzhou: inside Zhejiang's plan, not Shenzhen's
    far = make_register([{"id": "hz", "name_zh": "云栖小镇", "geometry": zj_point}])
    assert [p.message_en for p in validate_parks(far.parks, plan)] == [
        "coordinates outside Shenzhen: [120.098, 30.135, 120.098, 30.135]"
    ]
    assert validate_parks(far.parks, load_plan(DATA / "zhejiang")) == []
