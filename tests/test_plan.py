"""The plan file: its figures equal the plans' text, and bad plan files are refused with their place."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from planner.core.plan import available_plans, load_plan
from planner.errors import PlanError
from tests.conftest import DATA, shared_file

SEEDS = ("seeds",)


def _text(file: str) -> str:
    return re.sub(r"\s+", "", shared_file(*SEEDS, file).read_text(encoding="utf-8"))


UNIT_WORDS = {"m2": "平方米", "亿元": "亿元", "人": "人", "家": "家", "个": "个"}


def _figure(quote: str, unit: str) -> float:
    """The figure a quote gives in the target's unit, 万 applied: '不低于300万平方米' -> 3,000,000."""
    m = re.search(r"(\d[\d,]*(?:\.\d+)?)\s*(万)?\s*(?:余)?" + UNIT_WORDS[unit], quote)
    assert m, (quote, unit)
    value = float(m.group(1).replace(",", ""))
    return value * 10_000 if m.group(2) else value


def test_new_space_target_is_the_plans_300_wan_m2(plan):
    target = plan.new_space
    assert target.value == _figure(target.quote, target.unit) == 3_000_000
    assert target.unit == "m2" and target.comparison == ">="
    assert str(target.deadline) == "2025-12-31" == str(plan.deadline)
    source = plan.sources[target.source]["file"]
    assert re.sub(r"\s+", "", target.quote) in _text(source)
    assert target.section == "二(四)"


def test_every_target_quote_is_in_its_source_and_matches_its_value(plan):
    for target in plan.targets:
        text = _text(plan.sources[target.source]["file"])
        assert re.sub(r"\s+", "", target.quote) in text, target.key
        assert _figure(target.quote, target.unit) == target.value, target.key


def test_roles_and_specialisations_follow_the_action_plan_layout(plan):
    text = _text(plan.sources["action_plan"]["file"])
    layout = text[text.index("(二)产业布局优化工程") :][:400]
    assert plan.district("440305").role == "core"
    assert "支持南山打造核心集聚区" in layout
    centres = [d for d in plan.districts if d.role == "centre"]
    assert sorted(d.short_zh for d in centres) == sorted(["福田", "宝安", "龙岗", "罗湖"])
    for d in centres:
        clause = layout[layout.index(d.short_zh + "打造") :].split("、" + "支持")[0]
        for key in d.specialisations:
            assert plan.label("specialisations", key) in clause, (d.name_zh, key)
    others = [d for d in plan.districts if d.role == "other"]
    assert sorted(d.short_zh for d in others) == sorted(["龙华", "坪山", "光明", "盐田"])
    assert all(not d.specialisations for d in others)
    assert "支持各区结合自身特点发展" in layout


def test_the_twelve_fields_are_the_2021_plans_key_fields(plan):
    text = _text(plan.sources["digital_2021"]["file"])
    assert len(plan.fields) == 12
    for f in plan.fields:
        assert f"{f.label_zh}产业。" in text, f.label_zh


def test_official_land_areas_come_from_district_facts(plan):
    import csv

    with shared_file("data", "district_facts.csv").open(encoding="utf-8") as fh:
        facts = {
            row["adcode"]: float(row["official_land_km2"]) for row in csv.DictReader(fh) if row["adcode"]
        }
    for d in plan.districts:
        assert d.official_land_km2 == facts[d.code], d.name_zh


def test_plot_ratio_limits_are_marked_unconfirmed(plan):
    assert plan.plot_ratio_confirmed is False
    assert plan.plot_ratio_confidence == "low"
    assert plan.max_plot_ratio("M0", 1) == 4.0
    assert plan.max_plot_ratio("M1", 5) == 1.5
    assert plan.max_plot_ratio(None, 3) == 3.5


def test_plot_ratio_table_is_keyed_by_land_use_class_and_density_zone(plan):
    """The table equals the one in shared/data/README.md, cell by cell, for the plan's own classes."""
    text = shared_file("data", "README.md").read_text(encoding="utf-8")
    zones = {"一区": 1, "二区": 2, "三区": 3, "四区": 4, "五区": 5}
    rows = re.findall(r"^\| (.区) \| ([\d.]+) \| ([\d.]+) \|$", text, flags=re.M)
    expected = {}
    for zone, m0, m1 in rows:
        expected[("M0", zones[zone])] = float(m0)
        expected[("M1", zones[zone])] = float(m1)
    assert len(expected) == 10 and plan.plot_ratios == expected
    assert plan.land_use_keys() == ("M0", "M1")
    assert plan.label("land_use_classes", "M0") == "新型产业用地 (M0)"


def test_a_plan_without_a_plot_ratio_table_sets_no_limit():
    zj = load_plan(DATA / "zhejiang")
    assert zj.plot_ratios == {} and zj.max_plot_ratio("M0", 1) == float("inf")


def test_resolve_district_accepts_the_usual_spellings(plan):
    assert plan.resolve_district("南山") == ("440305", "")
    assert plan.resolve_district("南山区") == ("440305", "")
    assert plan.resolve_district("Bao'an") == ("440306", "")
    assert plan.resolve_district("大鹏新区") == ("440307", "dapeng")
    assert plan.resolve_district("深汕特别合作区") == ("", "shenshan")
    assert plan.resolve_district("南山/宝安") == ("", "")


@pytest.fixture()
def plan_copy(tmp_path: Path, plan) -> Path:
    dest = tmp_path / "plan"
    shutil.copytree(plan.folder, dest)
    return dest


def _edit(folder: Path, old: str, new: str) -> None:
    path = folder / "plan.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_typo_in_a_specialisation_is_reported_with_its_district(plan_copy):
    _edit(plan_copy, 'specialisations = ["industrial_software"]', 'specialisations = ["industral_software"]')
    with pytest.raises(PlanError, match=r"\[\[districts\]\] #4 \(龙岗区\).*industral_software") as info:
        load_plan(plan_copy)
    assert [p.field for p in info.value.problems] == ["specialisations"]


def test_a_negative_target_is_reported_with_its_place(plan_copy):
    _edit(plan_copy, "value = 3000000", "value = -3000000")
    with pytest.raises(PlanError, match=r"\[new_space_target\] \[value\].*negative"):
        load_plan(plan_copy)


def test_every_problem_is_reported_at_once(plan_copy):
    _edit(plan_copy, 'role = "core"\nspecialisations', 'role = "kore"\nspecialisations')
    _edit(plan_copy, "official_land_km2 = 78.66", "official_land_km2 = -1")
    _edit(
        plan_copy, 'source = "action_plan"\nsection = "二(一)"', 'source = "acton_plan"\nsection = "二(一)"'
    )
    with pytest.raises(PlanError) as info:
        load_plan(plan_copy)
    fields = sorted(p.field for p in info.value.problems)
    assert fields == ["official_land_km2", "role", "source"]


def test_broken_toml_and_missing_polygons_are_refused(plan_copy):
    (plan_copy / "districts.geojson").unlink()
    with pytest.raises(PlanError, match="district polygons file missing"):
        load_plan(plan_copy)
    (plan_copy / "plan.toml").write_text("[plan\nid = 1", encoding="utf-8")
    with pytest.raises(PlanError, match="TOML syntax error"):
        load_plan(plan_copy)


def test_an_unknown_plan_name_lists_the_bundled_ones():
    assert "shenzhen" in available_plans()
    with pytest.raises(PlanError, match="bundled plans: shenzhen"):
        load_plan("shenzen")


def test_a_second_plan_loads_from_another_folder():
    zj = load_plan(DATA / "zhejiang")
    assert zj.id == "zhejiang-digital-economy-2020" and zj.new_space is None
    assert len(zj.districts) == 11 and zj.resolve_district("杭州") == ("330100", "")
    text = _text("zhejiang-digital-economy-2020-work-points.txt")
    for target in zj.targets:
        assert re.sub(r"\s+", "", target.quote) in text
        assert _figure(target.quote, target.unit) == target.value
    hangzhou = zj.district_polygons.set_index("code").loc["330100", "computed_land_km2"]
    assert 16_000 < hangzhou < 17_500  # Hangzhou covers about 16,850 km²


@pytest.mark.parametrize(
    ("table", "number", "anchor", "copy_of"),
    [
        ("fields", 2, '[[fields]]\nkey = "ai"', '[[fields]]\nkey = "high_end_software"'),
        (
            "namepark_levels",
            2,
            '[[namepark_levels]]\nkey = "provincial"',
            '[[namepark_levels]]\nkey = "national"',
        ),
        ("park_types", 2, '[[park_types]]\nkey = "digital_park"', '[[park_types]]\nkey = "industrial_park"'),
        ("roles", 2, '[[roles]]\nkey = "centre"', '[[roles]]\nkey = "core"'),
        (
            "specialisations",
            2,
            '[[specialisations]]\nkey = "fintech"',
            '[[specialisations]]\nkey = "core_cluster"',
        ),
        ("land_use_classes", 2, '[[land_use_classes]]\nkey = "M1"', '[[land_use_classes]]\nkey = "M0"'),
        (
            "functional_areas",
            2,
            '[[functional_areas]]\nkey = "shenshan"',
            '[[functional_areas]]\nkey = "dapeng"',
        ),
        ("targets", 3, 'key = "new_employees"', 'key = "value_added"'),
        ("districts", 2, 'code = "440304"', 'code = "440305"'),
    ],
)
def test_a_duplicate_key_in_any_table_is_refused_with_its_place(plan_copy, table, number, anchor, copy_of):
    """Two entries with the same key: the second is named by table and position, the plan is not loaded.

    (Entries that referred to the lost key are reported too, e.g. districts whose role is now unknown.)
    """
    _edit(plan_copy, anchor, copy_of)
    with pytest.raises(PlanError, match=r"duplicate") as info:
        load_plan(plan_copy)
    duplicates = [p for p in info.value.problems if "duplicate" in p.message_en]
    assert len(duplicates) == 1
    assert (
        duplicates[0].place.endswith(f"[[{table}]] #{number}")
        or f"[[{table}]] #{number} (" in duplicates[0].place
    )
    assert "重复" in duplicates[0].message_zh


def test_a_duplicate_target_key_names_the_target(plan_copy):
    _edit(plan_copy, 'key = "new_employees"', 'key = "value_added"')
    with pytest.raises(PlanError, match=r"\[\[targets\]\] #3.*duplicate target key 'value_added'"):
        load_plan(plan_copy)


def test_a_duplicate_density_zone_or_unknown_class_in_the_plot_ratio_table_is_refused(plan_copy):
    _edit(plan_copy, "zone = 2\n", "zone = 1\n")
    _edit(plan_copy, "M1 = 2.5", "M9 = 2.5")
    with pytest.raises(PlanError) as info:
        load_plan(plan_copy)
    problems = {(p.place.split("plan.toml ")[-1], p.field) for p in info.value.problems}
    assert problems == {("[[plot_ratio.limits]] #2", "zone"), ("[[plot_ratio.limits]] #4", "M9")}


@pytest.mark.parametrize(
    ("new", "field", "message"),
    [
        ("", "metric_crs", "metric CRS missing"),
        ('metric_crs = "EPSG:4326"', "metric_crs", "not a projected CRS in metres"),
        ('metric_crs = "EPSG:99999"', "metric_crs", "unknown CRS"),
    ],
)
def test_the_metric_crs_must_be_a_projected_crs_in_metres(plan_copy, new, field, message):
    _edit(plan_copy, 'metric_crs = "EPSG:4547"', new)
    with pytest.raises(PlanError, match=message) as info:
        load_plan(plan_copy)
    assert [(p.place.split("plan.toml ")[-1], p.field) for p in info.value.problems] == [("[plan]", field)]
    assert "EPSG:4547" in info.value.problems[0].message_zh  # the fix names the usual choice


@pytest.mark.parametrize(
    ("old", "new", "place", "field"),
    [
        ("buffer_m = 1000", "buffer_m = -5", "[extent]", "buffer_m"),
        ("centre = [22.62, 114.12]", "centre = [114.12]", "[map]", "centre"),
        ("zoom = 10", "zoom = 30", "[map]", "zoom"),
        (
            "bbox = [114.85, 22.65, 115.45, 23.05]",
            "bbox = [115.45, 22.65, 114.85, 23.05]",
            "[[functional_areas]] #2",
            "bbox",
        ),
    ],
)
def test_a_bad_extent_or_map_view_is_refused_with_its_place(plan_copy, old, new, place, field):
    _edit(plan_copy, old, new)
    with pytest.raises(PlanError) as info:
        load_plan(plan_copy)
    assert [(p.place.split("plan.toml ")[-1], p.field) for p in info.value.problems] == [(place, field)]


def test_the_city_facts_come_from_the_plan_file(plan):
    assert plan.metric_crs == "EPSG:4547" and plan.extent_buffer_m == 1000
    assert plan.map_centre == (22.62, 114.12) and plan.map_zoom == 10
    assert plan.name == "shenzhen" and plan.city == "深圳市 Shenzhen"
