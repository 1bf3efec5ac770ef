"""Park names that look like formulas stay text in every spreadsheet export (issue 12, item 4)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

from planner.app.downloads import annex_bytes, layer_bytes
from planner.core.register import Register
from planner.io.export import annex_table, build_layer, write_annex_excel, write_layer

EVIL = [
    '=HYPERLINK("http://evil.example/x","点我")',
    "=cmd|' /C calc'!A0",
    "+1+2",
    "-2+3",
    "@SUM(A1:A2)",
    "\t=1+1",
]


@pytest.fixture
def evil_register(seed_register: Register) -> Register:
    parks = seed_register.parks.copy()
    parks.loc[parks.index[: len(EVIL)], "name_zh"] = EVIL
    parks.loc[parks.index[0], "source"] = "=1+1"
    return Register(parks, seed_register.allocations, seed_register.quotas)


def _cells(data: bytes, sheet: str | None = None) -> list[openpyxl.cell.cell.Cell]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb[sheet] if sheet else wb.worksheets[0]
    return [c for row in ws.iter_rows() for c in row if c.value is not None]


def _assert_text_not_formula(data: bytes, sheet: str | None = None) -> None:
    cells = _cells(data, sheet)
    assert all(c.data_type != "f" for c in cells), [c.value for c in cells if c.data_type == "f"]
    by_value = {c.value: c for c in cells}
    for name in EVIL:
        assert name in by_value, name  # the exact text survives
        assert by_value[name].data_type == "s" and by_value[name].quotePrefix


def test_parks_and_allocations_excel_keep_formula_text_as_text(plan, evil_register, tmp_path: Path) -> None:
    path = write_layer(
        build_layer("parks", plan, evil_register), "xlsx", tmp_path / "parks.xlsx", layer="parks"
    )
    _assert_text_not_formula(path.read_bytes())
    alloc = build_layer("allocations", plan, evil_register)
    if alloc["name_zh"].isin(EVIL).any():
        data = layer_bytes(alloc, "xlsx", layer="allocations")  # the app's download button
        assert all(c.data_type != "f" for c in _cells(data))


def test_annex_excel_keeps_formula_text_as_text(plan, evil_register, tmp_path: Path) -> None:
    assert set(EVIL) <= set(annex_table(plan, evil_register)["园区名称"])
    path = write_annex_excel(plan, evil_register, tmp_path / "annex.xlsx")
    _assert_text_not_formula(path.read_bytes(), "一览表")
    _assert_text_not_formula(annex_bytes(plan, evil_register), "一览表")  # the app's download


def test_csv_prefixes_formula_text_with_a_quote(plan, evil_register) -> None:
    data = layer_bytes(build_layer("parks", plan, evil_register), "csv", layer="parks")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    names = [r["name_zh"] for r in rows]
    for name in EVIL:
        assert "'" + name in names and name not in names
    assert rows[0]["source"] == "'=1+1"
    assert not any(n.startswith(("=", "+", "-", "@", "\t")) for r in rows for n in r.values())
    normal = [n for n in names if not n.startswith("'")]
    assert len(normal) == len(rows) - len(EVIL)  # other names unchanged
    assert float(rows[-1]["lon"]) > 0  # numbers stay numbers


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_exported_files_honour_the_umask(plan, seed_register, tmp_path: Path, umask: int) -> None:
    import os

    old = os.umask(umask)
    try:
        for fmt in ("geojson", "csv", "xlsx", "gpkg", "kml"):
            path = write_layer(build_layer("parks", plan, seed_register), fmt, tmp_path / f"p.{fmt}")
            assert path.stat().st_mode & 0o777 == 0o666 & ~umask, fmt
        annex = write_annex_excel(plan, seed_register, tmp_path / "annex.xlsx")
        assert annex.stat().st_mode & 0o777 == 0o666 & ~umask
    finally:
        os.umask(old)
