"""Validity, written once (planner.core.rules): one test per rule, and the register, the app's edits
and the import applying the same rule with the same code."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.core import rules
from planner.core.editing import apply_district_allocations, district_allocations
from planner.core.geo import WGS84
from planner.core.register import conform_parks, validate_allocations, validate_parks, validate_quotas
from planner.errors import ValidationError
from planner.io.ingest import preview_import
from tests.conftest import METRIC, inside, square


def _park(plan, **overrides) -> gpd.GeoDataFrame:
    row = {
        "id": "p1",
        "name_zh": "测试园",
        "district_code": "440305",
        "status": "planned",
        "land_area_m2": 1e4,
    }
    row.update({k: v for k, v in overrides.items() if k != "geometry"})
    geom = overrides.get("geometry", square(inside(plan, "440305"), 100))
    return conform_parks(gpd.GeoDataFrame([row], geometry=[geom], crs=WGS84))


def _codes(problems) -> set[tuple[str, str]]:
    return {(p.code, p.field) for p in problems}


@pytest.mark.parametrize(
    ("overrides", "code", "field"),
    [
        ({"id": ""}, "missing_id", "id"),
        ({"name_zh": " "}, "missing_name", "name_zh"),
        ({"gfa_m2": -1.0}, "negative_area", "gfa_m2"),
        ({"new_gfa_m2": np.inf}, "implausible_number", "new_gfa_m2"),
        ({"plot_ratio": 0.0}, "bad_number", "plot_ratio"),
        ({"delivery_year": 1900}, "bad_year", "delivery_year"),
        ({"land_use_class": "M9"}, "unknown_value", "land_use_class"),
        ({"district_code": "440399"}, "unknown_value", "district_code"),
        ({"status": "done"}, "unknown_value", "status"),
        ({"namepark_level": "global"}, "unknown_value", "namepark_level"),
        ({"park_type": "castle"}, "unknown_value", "park_type"),
        ({"fields": "ai;quantum"}, "unknown_value", "fields"),
        (
            {"geometry": shapely.LineString([(113.9, 22.5), (113.95, 22.55)])},
            "wrong_geometry_type",
            "geometry",
        ),
        ({"geometry": shapely.Point(116.4, 39.9)}, "outside_extent", "geometry"),
        (
            {
                "geometry": shapely.Polygon(
                    [(113.90, 22.50), (113.92, 22.52), (113.92, 22.50), (113.90, 22.52)]
                )
            },
            "invalid_geometry",
            "geometry",
        ),
    ],
)
def test_each_park_rule(plan, overrides, code, field):
    problems = validate_parks(_park(plan, **overrides), plan, place="t")
    assert _codes(problems) == {(code, field)}
    assert problems[0].place.startswith("t row 1") and problems[0].severity == "error"
    assert problems[0].message_zh and problems[0].message_en


def test_a_valid_park_breaks_no_rule(plan):
    assert validate_parks(_park(plan, delivery_year=2024, land_use_class="M0", plot_ratio=4.0), plan) == []


def test_duplicate_ids_name_the_second_row(plan):
    two = conform_parks(pd.concat([_park(plan), _park(plan, name_zh="乙")], ignore_index=True))
    (dup,) = validate_parks(two, plan)
    assert (dup.code, dup.place) == ("duplicate_id", "parks row 2 (p1)")


def test_a_partner_park_outside_the_city_is_allowed(plan):
    far = _park(plan, district="outside Shenzhen (partner park)", geometry=shapely.Point(116.4, 39.9))
    assert validate_parks(far, plan) == []


def test_parks_in_another_crs_are_refused(plan):
    problems = validate_parks(_park(plan).to_crs(METRIC), plan, place="t")
    assert ("wrong_crs", "geometry") in _codes(problems)


def test_the_messages_say_what_is_allowed(plan):
    (p,) = validate_parks(_park(plan, land_use_class="M9"), plan)
    assert "M0" in p.message_en and "M1" in p.message_en and "M9" in p.message_zh


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"allocation_id": ""}, "missing_id", "allocation_id"),
        ({"area_m2": np.nan}, "missing_number", "area_m2"),
        ({"area_m2": 0.0}, "not_positive", "area_m2"),
        ({"area_m2": np.inf}, "implausible_number", "area_m2"),
        ({"delivery_year": 2031}, "bad_year", "delivery_year"),
        ({"specialisation": "magic"}, "unknown_value", "specialisation"),
        ({"status": "done"}, "unknown_value", "status"),
        ({"basis": "rumour"}, "unknown_value", "basis"),
        ({"park_id": "nope"}, "unknown_park", "park_id"),
    ],
)
def test_each_allocation_rule(plan, seed_register, change, code, field):
    a = seed_register.allocations.copy()
    for k, v in change.items():
        a.loc[0, k] = v
    problems = validate_allocations(a, seed_register.parks, plan)
    assert _codes(problems) == {(code, field)}
    assert problems[0].place.startswith("allocations row 1")


def test_allocation_year_message_names_the_plan_period(plan, seed_register):
    a = seed_register.allocations.copy()
    a.loc[0, "delivery_year"] = 2031
    (p,) = validate_allocations(a, seed_register.parks, plan)
    assert f"{plan.period_start}-{plan.deadline_year}" in p.message_en


def test_duplicate_allocation_id(plan, seed_register):
    a = pd.concat([seed_register.allocations, seed_register.allocations.iloc[[0]]], ignore_index=True)
    (p,) = validate_allocations(a, seed_register.parks, plan)
    assert (p.code, p.place.split(" (")[0]) == ("duplicate_id", f"allocations row {len(a)}")


@pytest.mark.parametrize(
    ("codes", "quotas", "expected"),
    [
        (["440399"], [1.0], {("unknown_value", "district_code")}),
        (["440305"], [-1.0], {("negative", "quota_m2")}),
        (["440305"], [np.inf], {("implausible_number", "quota_m2")}),
        (["440305", "440305"], [1.0, 2.0], {("duplicate_id", "district_code")}),
    ],
)
def test_each_quota_rule(plan, codes, quotas, expected):
    frame = pd.DataFrame({"district_code": codes, "quota_m2": quotas})
    assert _codes(validate_quotas(frame, plan)) == expected


def test_app_allocation_edits_apply_the_same_rules(plan, seed_register):
    edited = district_allocations(seed_register, plan, "440305")
    edited.loc[0, "area_m2"] = -3.0
    with pytest.raises(ValidationError) as err:
        apply_district_allocations(seed_register, edited, "440305", plan)
    assert ("not_positive", "area_m2") in _codes(err.value.problems)


def test_import_applies_the_same_field_rules(plan, seed_register, tmp_path):
    """A file breaking a rule is refused by the import with the rule's code, as the register would."""
    point = shapely.Point(113.9517, 22.5412)
    feats = [
        {"id": "a", "名称": "甲", "用地类别": "M9", "交付年份": "1900", "容积率": "0"},
        {"id": "a", "名称": "乙", "建筑面积": "-5"},
    ]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": f, "geometry": shapely.geometry.mapping(point)} for f in feats
        ],
    }
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    preview = preview_import(path, None, plan, seed_register)
    got = {(p.code, p.field) for p in preview.problems}
    assert got == {
        ("unknown_value", "用地类别"),
        ("bad_year", "交付年份"),
        ("bad_number", "容积率"),
        ("negative_area", "建筑面积"),
        ("duplicate_id", "id"),
    }
    # the register, given the same values, says the same (by its own column names)
    same = validate_parks(preview.parks, plan)
    assert {p.code for p in same} == {code for code, _ in got}


def test_vectorised_tests():
    assert rules.year_out_of_range(pd.Series([1978, 1979, 2100, 2101, None], dtype="Int64")).tolist() == [
        True, False, False, True, False,
    ]  # fmt: skip
    assert rules.duplicated(pd.Series(["a", "", "a", ""])).tolist() == [False, False, True, False]
    assert rules.blank(pd.Series(["x", " ", ""])).tolist() == [False, True, True]
    geoms = np.array([shapely.Point(0, 0), None, shapely.LineString([(0, 0), (1, 1)])], dtype=object)
    assert rules.has_geometry(geoms).tolist() == [True, False, True]
    assert rules.allowed_type(geoms).tolist() == [True, False, False]
