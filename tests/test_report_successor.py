"""The evaluation report (python-docx reads it back: the target, the nine districts, the figures
``check --json --as-of`` gives) and the successor plan (counted apart from its predecessor)."""

from __future__ import annotations

import json
import os
import shutil

import docx
import pandas as pd
import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest

from planner.cli.main import main
from planner.core import plan as plan_module
from planner.core.access import User
from planner.core.accounts import set_account
from planner.core.capacity import capacity_report
from planner.core.geo import fmt_m2
from planner.core.plan import load_plan
from planner.core.register import Register, load_register, validate_register
from planner.core.successor import DRAFT_SOURCE, is_draft
from planner.io.report import cjk_font
from planner.store import open_store

PASSWORD = "correct-horse-1"


@pytest.fixture
def accounts(monkeypatch) -> None:
    set_account("alice", "planner", PASSWORD)
    set_account("vic", "viewer", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)


def doc_text(path) -> str:
    d = docx.Document(str(path))
    cells = [c.text for t in d.tables for row in t.rows for c in row.cells]
    return "\n".join([p.text for p in d.paragraphs] + cells)


def test_final_report_holds_the_target_districts_and_the_check_figures(plan, tmp_path, capsys, accounts):
    csv = tmp_path / "v.csv"
    csv.write_text(
        "indicator,year,district_code,value,source,confidence,note\n"
        "value_added,2025,,4350,深圳市统计局公报,confirmed,\n",
        encoding="utf-8",
    )
    assert main(["indicators", "import", str(csv), "--user", "alice"]) == 0
    out = tmp_path / "report.docx"
    assert main(["report", "--as-of", "2026-11-29", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["check", "--as-of", "2026-11-29", "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    mon = check["monitor"]
    text = doc_text(out)
    assert "终期评估报告" in text and "规划期已结束" in text
    assert fmt_m2(check["target_m2"]) in text and "新增产业空间不低于300万平方米" in text
    for d in plan.districts:
        assert d.name_zh in text, d.name_zh
    for value in (check["counted_m2"], check["secured_m2"], mon["result_delivered_m2"], mon["slipped_m2"]):
        assert fmt_m2(value) in text, value
    for s in mon["slipped"]:
        assert s["allocation_id"] in text and str(s["days_late"]) in text
    for w in mon["warnings"]:
        assert w["code"] in text
    assert "4,350 亿元" in text and "深圳市统计局公报" in text  # the other targets, with the source
    assert "基线规则" in text and "计入: 分配的交付年份在 2022-2025 年内" in text  # the method
    assert len(docx.Document(str(out)).inline_shapes) == 4  # map, districts, years, specialisations


def test_mid_term_report_before_the_deadline(tmp_path):
    out = tmp_path / "mid.docx"
    assert main(["report", "--as-of", "2024-06-30", "--out", str(out)]) == 0
    text = doc_text(out)
    assert "中期评估报告" in text and "规划期内" in text and "终期" not in text


def test_a_cjk_font_is_found_for_the_drawings():
    font = cjk_font()
    if font is None:
        pytest.skip("no CJK font installed (bash run.sh test installs fonts-noto-cjk); drawings use English")
    assert font.lower().endswith((".ttc", ".ttf", ".otf"))


def test_successor_plan_counts_its_own_period(plan, tmp_path, accounts, monkeypatch, capsys):
    out = tmp_path / "geodata" / "shenzhen-2026-2030"
    args = ["plan", "successor", "--from", "shenzhen", "--period", "2026-2030", "--out", str(out)]
    targets = ["--target", "new_space=2000000", "--target", "value_added=6000"]
    assert main([*args, *targets, "--user", "vic"]) == 4  # city planners only
    assert not out.exists()
    assert main([*args, *targets, "--user", "alice"]) == 0
    assert main([*args, *targets, "--user", "alice"]) == 2  # an existing plan is never overwritten
    nxt = load_plan(out)
    assert (nxt.period_start, nxt.deadline.isoformat()) == (2026, "2030-12-31")
    assert nxt.new_space.value == 2_000_000 and is_draft(nxt, nxt.new_space)
    assert [(t.key, t.value, t.source) for t in nxt.targets] == [("value_added", 6000, DRAFT_SOURCE)]
    assert [r.key for r in nxt.roles] == [r.key for r in plan.roles]
    assert [s.key for s in nxt.specialisations] == [s.key for s in plan.specialisations]
    assert [(d.code, d.role, d.specialisations) for d in nxt.districts] == [
        (d.code, d.role, d.specialisations) for d in plan.districts
    ]
    carried = load_register(nxt)
    assert len(carried.parks) == len(load_register(plan).parks)
    assert open_store(None, plan).audit_log(1)["action"].tolist() == ["plan_successor"]

    # a 2027 delivery: the successor's, not the predecessor's; 2023/2024 stay the predecessor's
    allocs = carried.allocations.copy()
    allocs.loc[allocs["allocation_id"] == "sz_bay_super_hq-a1", "delivery_year"] = 2027
    both = Register(carried.parks, allocs, carried.quotas)
    old, new = capacity_report(plan, both), capacity_report(nxt, both)
    assert new.counted_m2 == 37_600 and new.by_year.set_index("year").loc[2027, "added_m2"] == 37_600
    assert old.counted_m2 == 526_000  # 400,000 (2024) + 126,000 (2023): unchanged by the 2027 row
    assert new.target_m2 == 2_000_000 and old.target_m2 == 3_000_000

    # one store serves both plans; the successor saves the 2027 delivery
    store = open_store(None, nxt)
    v = store.save(
        both, user=User("alice", "planner"), comment="2027", expected_version=store.version().version
    )
    problems = validate_register(both, plan)  # a predecessor that does not know its successor refuses
    assert [(p.field, "2027" in p.message_en) for p in problems] == [("delivery_year", True)]
    # ... but a successor under geodata/ is part of the lineage: the predecessor accepts its years
    shutil.copytree(plan.folder, tmp_path / "geodata" / "shenzhen")
    monkeypatch.setattr(plan_module, "GEODATA", tmp_path / "geodata")
    assert load_plan("shenzhen-2026-2030").id == nxt.id  # loadable by name
    assert validate_register(both, load_plan("shenzhen")) == []
    assert v.version == 2
    capsys.readouterr()
    assert main(["check", "--plan", str(out), "--json", "--as-of", "2026-11-29"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["counted_m2"] == 37_600 and got["monitor"]["phase"] == "in_period"


def test_successor_targets_with_a_named_source_are_not_drafts(plan, tmp_path, accounts):
    out = tmp_path / "next"
    source = ["--source-title", "深圳市软件产业集群行动计划(2026-2030年)"]
    target = ["--target", "new_space=2500000@二(四)"]
    rc = main(
        ["plan", "successor", "--period", "2026-2030", "--out", str(out), *target, *source, "--user", "alice"]
    )
    assert rc == 0
    nxt = load_plan(out)
    assert not is_draft(nxt, nxt.new_space) and nxt.new_space.section == "二(四)"
    assert nxt.sources[nxt.new_space.source]["title_zh"].startswith("深圳市软件产业集群")
    assert pd.Series([nxt.id]).str.contains("2026-2030").all()


def test_a_successor_made_on_the_command_line_lands_in_the_plans_directory(plan, tmp_path, accounts, capsys):
    args = ["plan", "successor", "--period", "2026-2030", "--target", "new_space=2000000", "--user", "alice"]
    assert main(args) == 0
    assert (tmp_path / "plans" / "shenzhen-2026-2030" / "plan.toml").is_file()  # $PLANNER_PLANS_DIR
    assert plan_module.available_plans() == ["shenzhen", "shenzhen-2026-2030"]
    capsys.readouterr()
    assert main(["check", "--plan", "shenzhen-2026-2030", "--as-of", "2027-06-30", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got["target_m2"] == 2_000_000 and got["counted_m2"] == 0  # nothing due in 2026-2030 yet
    assert got["monitor"]["phase"] == "in_period"
    assert main(args) == 2  # the same name again: refused, nothing overwritten
    assert "already exists" in capsys.readouterr().err


def _flat(text: str) -> str:
    return "".join(text.split())


def test_the_pdf_report_holds_the_word_reports_content(plan, tmp_path, capsys):
    if cjk_font() is None and not os.environ.get("CI"):
        pytest.skip("no CJK font installed (bash run.sh installs fonts-noto-cjk): no PDF")
    pdf_path, docx_path = tmp_path / "report.pdf", tmp_path / "report.docx"
    assert main(["report", "--as-of", "2026-11-29", "--out", str(pdf_path)]) == 0
    assert main(["report", "--as-of", "2026-11-29", "--out", str(docx_path)]) == 0
    capsys.readouterr()
    assert main(["check", "--as-of", "2026-11-29", "--json"]) == 0
    check = json.loads(capsys.readouterr().out)
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    pages = [pdf[i] for i in range(len(pdf))]
    text = _flat("\n".join(page.get_textpage().get_text_range() for page in pages))
    assert "终期评估报告" in text and _flat(fmt_m2(check["target_m2"])) in text
    for d in plan.districts:
        assert d.name_zh in text, d.name_zh
    for value in (check["counted_m2"], check["secured_m2"], check["monitor"]["slipped_m2"]):
        assert _flat(fmt_m2(value)) in text, value
    word = docx.Document(str(docx_path))
    for paragraph in word.paragraphs:  # every paragraph of the Word report, in the PDF too
        assert _flat(paragraph.text) in text, paragraph.text
    for table in word.tables:
        for row in table.rows:
            assert _flat("".join(c.text for c in row.cells)) in text
    images = sum(len(list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)))) for page in pages)
    assert images == len(docx.Document(str(docx_path)).inline_shapes) == 4  # map and three charts
