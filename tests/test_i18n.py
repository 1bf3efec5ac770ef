"""The one label table (planner.i18n) and what the app makes of it (planner.app.labels, charts,
the map's drawing texts, the import preview's rights), on the real Shenzhen plan and seed register."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from planner import i18n
from planner.app import uploads
from planner.app.charts import CUMULATIVE_SERIES, cumulative_chart
from planner.app.labels import (
    changes_text,
    choice_labels,
    counted_source,
    district_area_note,
    findings_table,
    item_names,
    land_area_text,
)
from planner.app.mapview import build_map, district_layer_frame, view_around
from planner.core.access import ROLES, User
from planner.core.capacity import capacity_report
from planner.core.changes import register_changes
from planner.core.findings import SEVERITIES, findings_frame, run_checks
from planner.core.plan import Plan
from planner.core.register import ALLOCATION_COLUMNS, BASES, PARK_COLUMNS, STATUSES, Register, set_quotas
from tests.conftest import as_account
from tests.test_uploads import good_geojson

LONGGANG, BAOAN = "440307", "440306"
FINDINGS_MODULE = Path(__file__).resolve().parents[1] / "planner" / "core" / "findings.py"


@pytest.mark.parametrize(
    ("kind", "codes"),
    [("status", STATUSES), ("basis", BASES), ("severity", SEVERITIES), ("role", ROLES)],
)
def test_every_code_of_the_library_has_both_labels(kind: str, codes: tuple[str, ...]) -> None:
    for code in codes:
        zh, en = i18n.label(kind, code, "zh"), i18n.label(kind, code, "en")
        assert re.search(r"[\u4e00-\u9fff]", zh) and zh != code, (kind, code)
        assert en and en != code and not re.search(r"[\u4e00-\u9fff]", en), (kind, code)


def test_every_finding_code_the_checks_emit_has_a_label() -> None:
    emitted = set(re.findall(r'"([A-Z][A-Z_]{5,})"', FINDINGS_MODULE.read_text(encoding="utf-8")))
    assert emitted and emitted <= set(i18n.FINDING_LABELS), emitted - set(i18n.FINDING_LABELS)


def test_every_register_column_has_a_field_label() -> None:
    for col in [*PARK_COLUMNS, *ALLOCATION_COLUMNS, "quota_m2"]:
        assert i18n.field_label(col, "zh") != col and i18n.field_label(col, "en") != col, col
    assert i18n.field_label("new_gfa_m2") == "新增建筑面积(m²)"
    assert i18n.field_label("a header of the file") == "a header of the file"  # shown as the file has it


def test_missing_values_are_a_dash_never_none_or_nan() -> None:
    shown = i18n.labels("status", pd.Series(["planned", None, float("nan"), pd.NA, ""], dtype=object))
    assert list(shown) == ["规划", "—", "—", "—", "—"]
    assert i18n.field_label(None) == i18n.place_label(None) == "—"


def test_places_read_in_chinese_and_stay_as_they_are_in_english() -> None:
    assert i18n.place_label("broken.geojson feature 2", "zh") == "broken.geojson 第 2 个要素"
    assert i18n.place_label("分配表 row 3 (x-a1)", "zh") == "分配表 第 3 行 (x-a1)"
    assert i18n.place_label("park p", "zh") == "园区 p"
    assert i18n.place_label("broken.geojson feature 2", "en") == "broken.geojson feature 2"


def test_plan_labels_come_from_the_plan(plan: Plan) -> None:
    assert (
        i18n.plan_label(plan, "specialisations", "fintech;ecommerce_logistics")
        == "金融科技软件、电商物流软件"
    )
    assert i18n.plan_label(plan, "specialisations", "") == "—"
    options = i18n.plan_options(plan, "park_types", "en")
    assert list(options) == [p.key for p in plan.park_types] and all(options.values())
    with pytest.raises(KeyError, match="unknown plan label kind"):
        i18n.plan_label(plan, "status", "planned")


def test_findings_table_names_items_and_kinds(plan: Plan, seed_register: Register) -> None:
    findings = findings_frame(run_checks(plan, seed_register))
    table = findings_table(plan, seed_register, findings, "zh")
    assert list(table.columns) == ["级别", "对象", "类别", "说明"] and len(table) == len(findings)
    assert set(table["级别"]) <= {"错误", "警告", "提示"}
    assert not set(table["类别"]) & set(findings["code"])  # labels, not codes
    gap = findings.index[findings["code"] == "TARGET_GAP"][0]
    assert table.loc[gap, "对象"] == "全市 (深圳市)"  # the plan's id is never shown
    en = findings_table(plan, seed_register, findings, "en")
    assert list(en.columns) == ["Severity", "Item", "Kind", "Message"]


def test_item_names_put_names_beside_ids(plan: Plan, seed_register: Register) -> None:
    ids = pd.Series(["tencent_penguin", "tencent_penguin-a1", LONGGANG, "no-such-thing"])
    names = list(item_names(plan, seed_register, ids, "zh"))
    assert names[0] == "腾讯“互联网+”未来科技城(企鹅岛) (tencent_penguin)"
    assert names[1].startswith(names[0]) and names[1].endswith("分配 tencent_penguin-a1")
    assert names[2] == "龙岗区" and names[3] == "no-such-thing"


def test_counted_figures_say_they_are_the_baseline_estimate(plan: Plan, seed_register: Register) -> None:
    report = capacity_report(plan, seed_register)
    text = counted_source(plan, report, "zh")
    assert plan.raw["baseline"]["label_zh"] in text  # the plan's own words: not official figures
    assert f"× {plan.baseline_share:g}" in text and "plan.toml [baseline]" in text
    assert i18n.label("basis", "baseline", "en") not in text
    en = counted_source(plan, report, "en")
    assert plan.raw["baseline"]["label_en"] in en and f"x {plan.baseline_share:g}" in en


def test_longgangs_note_comes_from_the_plan(plan: Plan) -> None:
    dapeng = next(a for a in plan.functional_areas if a.parent == LONGGANG)
    note = district_area_note(plan, LONGGANG, "zh")
    assert dapeng.name_zh in note and dapeng.note_zh in note and "388.22" in note and "778.75" in note
    assert dapeng.name_en in district_area_note(plan, LONGGANG, "en")
    assert district_area_note(plan, BAOAN) is None


def test_the_maps_district_tooltip_says_it_too(plan: Plan, seed_register: Register) -> None:
    dapeng = next(a for a in plan.functional_areas if a.parent == LONGGANG)
    tips = district_layer_frame(plan, lang="zh").set_index("code")["_tip"]
    assert dapeng.note_zh in tips[LONGGANG] and "大鹏" not in tips[BAOAN]


def test_allocation_editor_choices_show_names_and_labels(plan: Plan, seed_register: Register) -> None:
    choices = choice_labels(plan, seed_register, "zh")
    assert choices["park_id"]("tencent_penguin") == "腾讯“互联网+”未来科技城(企鹅岛) (tencent_penguin)"
    assert choices["specialisation"]("fintech") == "金融科技软件"
    assert choices["status"]("under_construction") == "在建"
    assert choices["basis"]("baseline") == i18n.label("basis", "baseline")


def test_changes_text_counts_what_a_save_changed(plan: Plan, seed_register: Register) -> None:
    quotas = pd.DataFrame({"district_code": [BAOAN], "quota_m2": [1.0]})
    changes = register_changes(seed_register, set_quotas(seed_register, quotas, plan))
    assert changes_text(changes, "zh") == "指标: 新增 1。"
    assert changes_text(changes, "en") == "Quotas: 1 added."
    assert changes_text(register_changes(seed_register, seed_register)) == ""


def test_land_area_in_mu_and_wan() -> None:
    assert land_area_text(2_000_000) == "200.0万㎡ (2,000,000 m²) · 3,000.0 亩 · 2.00 km²"
    assert land_area_text(666.67, "en").endswith("1.0 mu")


def test_the_counted_line_stays_visible_over_the_secured_line(plan: Plan, seed_register: Register) -> None:
    report = capacity_report(plan, seed_register)
    spec = cumulative_chart(report, "zh").to_dict()
    layers = spec["layer"]
    for layer, (_, zh, *_) in zip(layers, CUMULATIVE_SERIES, strict=True):
        assert f"'{zh}'" in layer["transform"][0]["filter"]
    counted, secured = layers[1], layers[2]  # the secured line is drawn over the counted one
    assert counted["mark"]["strokeWidth"] >= 3 * secured["mark"]["strokeWidth"]  # a band around it
    assert counted["mark"]["opacity"] < 1 and secured["mark"]["opacity"] == 1  # seen through
    assert counted["mark"]["point"] and secured["mark"]["point"]  # markers on both
    dashes = spec["layer"][0]["encoding"]["strokeDash"]["scale"]["range"]
    assert len({tuple(d) for d in dashes}) == len(CUMULATIVE_SERIES)  # each line its own pattern
    data = pd.DataFrame(next(iter(spec["datasets"].values())))
    assert set(data["系列"]) == {"目标", "累计已落实", "累计计入"}


def test_the_drawing_tools_speak_chinese_offline(plan: Plan, seed_register: Register) -> None:
    html = build_map(plan, seed_register, draw=True).get_root().render()
    assert html.index("L.drawLocal") < html.index("L.Control.Draw")  # texts set before the tools
    assert json.dumps(i18n.LEAFLET_DRAW_ZH["draw"]["toolbar"]["buttons"]["polygon"])[1:-1] in html
    assert "https://" not in html.split("L.drawLocal")[1][:4000]  # inline: nothing to fetch
    english = build_map(plan, seed_register, draw=True, lang="en").get_root().render()
    assert "L.drawLocal" not in english  # Leaflet.draw's own English


def test_view_around_a_drawing_keeps_it_in_sight() -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[114.0, 22.5], [114.02, 22.5], [114.02, 22.52], [114.0, 22.5]]],
    }
    minx, miny, maxx, maxy = view_around(square)
    assert (minx, miny, maxx, maxy) == (113.98, 22.48, 114.04, 22.54)


def test_the_import_preview_asks_the_rights_check(plan: Plan, seed_register: Register) -> None:
    preview = uploads.preview_import(good_geojson(plan), "good.geojson", plan, seed_register)
    assert preview.ok
    state = {"plan": plan, "register": seed_register}
    assert uploads.preview_denied(state | {"user": as_account(User("w", "planner"))}, preview) is None
    denied = uploads.preview_denied(state | {"user": as_account(User("li", "district", BAOAN))}, preview)
    assert denied is not None and len(denied.problems) == 2  # a Longgang and a Luohu park
    assert "龙岗区" in denied.problems[0].message_zh + denied.problems[1].message_zh
    own = uploads.preview_denied(state | {"user": as_account(User("k", "district", LONGGANG))}, preview)
    assert own is not None and len(own.problems) == 1  # its own Longgang park is allowed, Luohu's not
    assert uploads.preview_denied(state, preview) is not None  # nobody signed in: a viewer
