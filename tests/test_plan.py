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
    assert plan.max_plot_ratio("M0", 1) == 4.0
    assert plan.max_plot_ratio("M1", 5) == 1.5
    assert plan.max_plot_ratio(None, 3) == 3.5


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
