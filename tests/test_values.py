"""Issue 12.2, 12.6, 12.9: numbers finite and plausible, booleans strict, text without control
characters: at the import, ``scenario save --from-files``, the app's edits and the store's save
(both backends), with the field and row named; refused writes recorded."""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from planner.cli import main as cli
from planner.core.access import User
from planner.core.accounts import set_account
from planner.core.editing import apply_district_allocations, district_allocations
from planner.core.geo import M2_PER_KM2
from planner.core.plan import GEODATA, Plan
from planner.core.register import (
    ALLOCATIONS_FILE,
    PARKS_FILE,
    Register,
    load_register,
    validate_register,
)
from planner.core.values import city_area_m2, parse_bools, shown_text
from planner.errors import PlannerError, ValidationError
from planner.i18n import field_label
from planner.io import jsontext
from planner.io.ingest import preview_import
from planner.store import open_store
from tests.test_ingest import NANSHAN

PASSWORD = "values-pass-123"
PLANNER = User("alice", "planner")
NANSHAN_STAFF = User("ns", "district", "440305")


@pytest.fixture
def accounts(monkeypatch: pytest.MonkeyPatch) -> None:
    set_account("alice", "planner", PASSWORD)
    set_account("ns", "district", PASSWORD, district_code="440305")
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)


def register_folder(tmp_path: Path, *, park: dict | None = None, allocation: dict | None = None) -> Path:
    """The seed register's files with one park's / one allocation's fields overwritten."""
    folder = tmp_path / "files"
    shutil.copytree(GEODATA / "shenzhen", folder)
    if park:
        doc = json.loads((folder / PARKS_FILE).read_text(encoding="utf-8"))
        doc["features"][0]["properties"].update(park)
        (folder / PARKS_FILE).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    if allocation:
        frame = pd.read_csv(folder / ALLOCATIONS_FILE, dtype=str, keep_default_na=False)
        for k, v in allocation.items():
            frame.loc[0, k] = v
        frame.to_csv(folder / ALLOCATIONS_FILE, index=False)
    return folder


def save_from_files(capsys: pytest.CaptureFixture, db: str, folder: Path) -> tuple[int, dict]:
    rc = cli.main(
        ["scenario", "save", "main", "--from-files", str(folder), "--expected-version", "1",
         "--user", "alice", "--db", db, "--json"]
    )  # fmt: skip
    return rc, json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- 12.2 numbers


def test_the_city_area_comes_from_the_plans_districts(plan: Plan) -> None:
    polygons = plan.district_polygons["computed_land_km2"].sum()
    shenshan = next(a for a in plan.functional_areas if a.key == "shenshan").official_land_km2
    assert city_area_m2(plan) == pytest.approx((polygons + shenshan) * M2_PER_KM2)
    assert 2_000 * M2_PER_KM2 < city_area_m2(plan) < 3_000 * M2_PER_KM2


def test_an_import_refuses_infinite_absurd_and_nan_areas_with_row_and_field(
    plan: Plan, seed_register: Register
) -> None:
    csv = (
        "名称,经度,纬度,占地面积,新增建筑面积\n"
        f"A,{NANSHAN[0]},{NANSHAN[1]},1e400,\n"
        f"B,{NANSHAN[0] + 0.01},{NANSHAN[1]},1e300万㎡,\n"
        f"C,{NANSHAN[0] + 0.02},{NANSHAN[1]},inf,nan\n"
        f"D,{NANSHAN[0] + 0.03},{NANSHAN[1]},3万㎡,\n"
    )
    preview = preview_import(csv.encode(), "areas.csv", plan, seed_register)
    found = {(i.code, i.place.split(" (")[0], i.field) for i in preview.problems}
    assert found == {
        ("implausible_number", "areas.csv row 2", "占地面积"),
        ("implausible_number", "areas.csv row 3", "占地面积"),
        ("bad_number", "areas.csv row 4", "占地面积"),
        ("bad_number", "areas.csv row 4", "新增建筑面积"),
    }
    absurd = next(i for i in preview.problems if i.code == "implausible_number")
    assert "全市面积" in absurd.message_zh and "whole city" in absurd.message_en


def test_an_import_refuses_infinite_coordinates(plan: Plan, seed_register: Register) -> None:
    csv = f"名称,经度,纬度\nA,1e400,{NANSHAN[1]}\nB,{NANSHAN[0]},-inf\n"
    preview = preview_import(csv.encode(), "xy.csv", plan, seed_register)
    assert [(i.code, i.field) for i in preview.problems] == [
        ("bad_coordinate", "经度"),
        ("bad_coordinate", "纬度"),
    ]


@pytest.mark.parametrize(
    ("park", "allocation", "field"),
    [
        ({}, {"area_m2": "1e400"}, "area_m2"),
        ({}, {"area_m2": "-inf"}, "area_m2"),
        ({"land_area_m2": 1e13}, {}, "land_area_m2"),
        ({"gfa_m2": "Infinity"}, {}, "gfa_m2"),
        ({"plot_ratio": 1e6}, {}, "plot_ratio"),
    ],
)
def test_save_from_files_refuses_infinite_and_absurd_numbers(
    capsys, accounts, store_db: str, tmp_path: Path, park: dict, allocation: dict, field: str
) -> None:
    rc, out = save_from_files(capsys, store_db, register_folder(tmp_path, park=park, allocation=allocation))
    assert rc != 0 and out["outcome"] != "saved"
    text = json.dumps(out, ensure_ascii=False)
    assert f"[{field}]" in text and " row 1 (" in text
    store = open_store(store_db)
    assert store.history()["version"].tolist() == [1]
    store.close()


def test_the_store_refuses_an_infinite_allocation_and_records_it(
    store, seed_register: Register, plan: Plan
) -> None:
    allocations = seed_register.allocations.copy()
    allocations.loc[0, "area_m2"] = float("inf")
    bad = Register(seed_register.parks, allocations, seed_register.quotas)
    with pytest.raises(ValidationError, match=r"area_m2.*finite"):
        store.save(bad, user=PLANNER, comment="inf", expected_version=1)
    assert store.history()["version"].tolist() == [1]
    assert store.audit_log(1)["outcome"].iloc[0] == "invalid"


def test_an_app_edit_with_an_absurd_area_is_refused(plan: Plan, seed_register: Register) -> None:
    table = district_allocations(seed_register, plan, "440305")
    table.loc[0, "area_m2"] = 1e300
    with pytest.raises(ValidationError) as err:
        apply_district_allocations(seed_register, table, "440305", plan)
    assert [p.field for p in err.value.problems] == ["area_m2"]
    assert "row 1" in err.value.problems[0].place


def test_json_is_written_without_nan_or_infinity() -> None:
    assert jsontext.dumps({"a": float("nan"), "b": [1.5, float("nan")]}) == '{"a": null, "b": [1.5, null]}'
    with pytest.raises(PlannerError, match=r"\$\.x\[1\].*infinite"):
        jsontext.dumps({"x": [1.0, float("inf")]})


def test_check_json_is_strict_json(capsys) -> None:
    def refuse(token: str) -> None:
        raise AssertionError(f"{token} is not JSON")

    assert cli.main(["check", "--json"]) == 0
    report = json.loads(capsys.readouterr().out, parse_constant=refuse)
    assert report["counted_m2"] > 0


# ---------------------------------------------------------------- 12.6 booleans


@pytest.mark.parametrize(
    ("text", "expected"), [("false", False), ("FALSE", False), ("否", False), ("0", False), ("true", True),
                           ("Yes", True), ("是", True), ("1", True)],
)  # fmt: skip
def test_booleans_are_parsed_strictly(text: str, expected: bool) -> None:
    parsed, bad = parse_bools(pd.Series([text]))
    assert parsed.iloc[0] is expected or parsed.iloc[0] == expected
    assert not bad.iloc[0]


def test_false_in_a_register_file_is_false(tmp_path: Path, plan: Plan) -> None:
    folder = register_folder(tmp_path, park={"figures_verified": "false"})
    parks = load_register(plan, folder).parks
    assert not parks["figures_verified"].iloc[0]


def test_save_from_files_stores_false_as_false_and_refuses_other_text(
    capsys, accounts, store_db: str, tmp_path: Path
) -> None:
    rc, out = save_from_files(capsys, store_db, register_folder(tmp_path, park={"figures_verified": "false"}))
    assert rc == 0, out
    store = open_store(store_db)
    register, _ = store.load()
    assert not register.parks.set_index("id").loc["szsib", "figures_verified"]
    store.close()
    shutil.rmtree(tmp_path / "files")
    rc, out = save_from_files(capsys, store_db, register_folder(tmp_path, park={"figures_verified": "nope"}))
    assert rc != 0
    text = json.dumps(out, ensure_ascii=False)
    assert "[figures_verified]" in text and "row 1 (szsib)" in text and "nope" in text


def test_an_import_refuses_a_yes_no_value_it_cannot_read(plan: Plan, seed_register: Register) -> None:
    csv = (
        "名称,经度,纬度,数据已核实\n"
        f"A,{NANSHAN[0]},{NANSHAN[1]},否\nB,{NANSHAN[0] + 0.01},{NANSHAN[1]},maybe\n"
    )
    preview = preview_import(csv.encode(), "flags.csv", plan, seed_register)
    assert [(i.code, i.field) for i in preview.problems] == [("bad_value", "数据已核实")]
    assert "row 3" in preview.problems[0].place
    assert preview.parks["figures_verified"].tolist() == [False, False]


# ---------------------------------------------------------------- 12.9 control characters


@pytest.mark.parametrize(
    ("table", "column"),
    [("parks", "id"), ("parks", "name_zh"), ("parks", "namepark_note"), ("allocations", "note"),
     ("allocations", "allocation_id")],
)  # fmt: skip
def test_the_store_refuses_nul_in_any_text_field_and_records_it(
    store, seed_register: Register, table: str, column: str
) -> None:
    parks, allocations = seed_register.parks.copy(), seed_register.allocations.copy()
    frame = parks if table == "parks" else allocations
    frame.loc[0, column] = "bad\x00value"
    with pytest.raises(ValidationError) as err:
        store.save(Register(parks, allocations, seed_register.quotas), user=PLANNER, comment="x",
                   expected_version=1)  # fmt: skip
    assert column in [p.field for p in err.value.problems]
    assert store.history()["version"].tolist() == [1]
    row = store.audit_log(1).iloc[0]
    assert row["outcome"] == "invalid" and "bad\\x00value" in row["detail"] and "\x00" not in row["detail"]


def test_the_store_refuses_control_characters_in_a_comment_but_keeps_newlines(
    store, seed_register: Register
) -> None:
    parks = seed_register.parks.copy()
    parks.loc[0, "name_en"] = "renamed"
    edited = Register(parks, seed_register.allocations, seed_register.quotas)
    with pytest.raises(ValidationError) as err:
        store.save(edited, user=PLANNER, comment="why\x00", expected_version=1)
    assert [p.field for p in err.value.problems] == ["comment"]
    v = store.save(edited, user=PLANNER, comment="line one\nline two\twith a tab", expected_version=1)
    assert v.version == 2 and store.history()["comment"].iloc[0] == "line one\nline two\twith a tab"


def test_a_refused_district_import_with_a_nul_id_is_recorded(
    store, seed_register: Register, plan: Plan
) -> None:
    csv = f"id,名称,经度,纬度\nx\x00y,外区园,{NANSHAN[0]},{NANSHAN[1]}\n"
    preview = preview_import(csv.encode(), "nul.csv", plan, seed_register)
    assert [(i.code, i.field) for i in preview.problems] == [("control_character", "id")]
    parks = pd.concat([seed_register.parks, preview.parks], ignore_index=True)
    with pytest.raises(ValidationError):
        store.save(Register(parks, seed_register.allocations, seed_register.quotas), user=NANSHAN_STAFF,
                   comment="import nul.csv", expected_version=1)  # fmt: skip
    row = store.audit_log(1).iloc[0]
    assert (row["user"], row["outcome"]) == ("ns", "invalid") and "x\\x00y" in row["detail"]


def test_an_event_with_a_nul_user_name_is_recorded_escaped(store) -> None:
    store.record_event(user="ev\x00il", role="", action="sign_in", outcome="denied", detail="a\x00b")
    row = store.audit_log(1).iloc[0]
    assert (row["user"], row["detail"]) == ("ev\\x00il", "a\\x00b")
    log = store.audit_log()
    assert ((log["user"] == "ev\\x00il") & (log["action"] == "sign_in")).sum() == 1  # one row, escaped


def test_the_cli_import_names_the_nul_field(tmp_path: Path, capsys) -> None:
    path = tmp_path / "nul.csv"
    path.write_text(f"id,名称,经度,纬度\nok1,园\x01区,{NANSHAN[0]},{NANSHAN[1]}\n", encoding="utf-8")
    assert cli.main(["import", str(path), "--dry-run", "--json"]) == cli.EXIT_REFUSED
    out = json.loads(capsys.readouterr().out)
    assert [(p["code"], p["field"]) for p in out["problems"]] == [("control_character", "名称")]


def test_shown_text_escapes_what_a_log_cannot_hold() -> None:
    assert shown_text("a\x00b\ud800c\nd") == "a\\x00b\\ud800c\nd"


def test_the_seed_register_passes_the_value_rules(plan: Plan, seed_register: Register) -> None:
    assert validate_register(seed_register, plan) == []


def test_an_account_name_with_a_control_character_is_refused() -> None:
    with pytest.raises(PlannerError, match=r"account \[name\].*NUL"):
        set_account("bad\x00name", "viewer", PASSWORD)
    with pytest.raises(PlannerError, match=r"display_name"):
        set_account("fine", "viewer", PASSWORD, display_name="王\x1b[31m")


# ---------------------------------------------------------------- the app (AppTest)


def _problems_shown(at) -> pd.DataFrame:
    """The table of problems a refused save shows (place, field, problem)."""
    return next(d.value for d in at.dataframe if "字段" in d.value.columns)


def test_the_app_refuses_an_absurd_allocation_and_an_infinite_quota() -> None:
    from tests.test_app import app_as
    from tests.test_app_store import _edit_allocation

    at = _edit_allocation(app_as(PLANNER), "440305", 0, 1e300)
    assert not at.exception, [e.message for e in at.exception]
    assert any("未通过校验" in e.value for e in at.error)
    problems = _problems_shown(at)
    assert list(problems["字段"]) == [field_label("area_m2", "zh")] and "全市面积" in problems["问题"].iloc[0]
    at.switch_page("pages/capacity.py").run()
    codes = list(at.data_editor(key="quota_editor").value["district_code"])
    at.session_state["quota_editor"] = {
        "edited_rows": {codes.index("440306"): {"quota_m2": float("inf")}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="apply_quotas").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert list(_problems_shown(at)["字段"]) == [field_label("quota_m2", "zh")]
    assert at.session_state.store.history()["version"].tolist() == [1]


def test_the_app_refuses_a_nul_in_a_comment_and_records_it() -> None:
    from tests.test_app import app_as

    at = app_as(PLANNER, "pages/scenario.py")
    at.text_input(key="save_as_name_main").set_value("方案B")
    at.text_input(key="save_as_comment_main").set_value("注释\x00").run()
    at.button(key="save_as").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert list(_problems_shown(at)["字段"]) == ["comment"]
    store = at.session_state.store
    assert not store.exists("方案B")
    assert store.audit_log(1)["outcome"].iloc[0] == "invalid"


def test_a_geojson_property_with_an_escaped_nul_is_refused_not_cut(
    plan: Plan, seed_register: Register
) -> None:
    doc = (
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"id":"x\\u0000y",'
        f'"name":"园","note":"line\\nbreak \\ud83d\\ude00"}},"geometry":{{"type":"Point","coordinates":[{NANSHAN[0]},{NANSHAN[1]}]}}}}]}}'
    )
    preview = preview_import(doc.encode(), "nul.geojson", plan, seed_register)
    assert [(i.code, i.place, i.field) for i in preview.problems] == [
        ("control_character", "nul.geojson feature 1", "id")
    ]


def test_save_from_files_refuses_an_escaped_nul_in_the_parks_file(
    capsys, accounts, store_db: str, tmp_path: Path
) -> None:
    folder = register_folder(tmp_path, park={"name_zh": "软件\u0000基地"})
    assert "\\u0000" in (folder / PARKS_FILE).read_text(encoding="utf-8")
    rc, out = save_from_files(capsys, store_db, folder)
    assert rc != 0
    text = json.dumps(out, ensure_ascii=False)
    assert "feature 1 [name_zh]" in text and "NUL" in text
    store = open_store(store_db)
    assert store.history()["version"].tolist() == [1]
    store.close()


def _parks_frame(names: list[str]):
    """Two parks in Nanshan, one a name each: the geometry is real, the names are crafted later."""
    import geopandas as gpd
    import shapely

    return gpd.GeoDataFrame(
        {"id": [f"p{i + 1}" for i in range(len(names))], "名称": names},
        geometry=[shapely.Point(*NANSHAN)] * len(names),
        crs="EPSG:4326",
    )


def _gpkg_with_nul(path: Path) -> Path:
    """A GeoPackage whose second park's name holds a NUL (SQLite keeps it; GDAL reads "坏")."""
    import sqlite3

    _parks_frame(["好园", "坏园X"]).to_file(path, driver="GPKG", layer="parks")
    with sqlite3.connect(path) as con:  # GDAL's triggers call spatial functions sqlite3 lacks
        for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            con.create_function(name, 1, lambda _blob: 0)
        con.execute("UPDATE parks SET 名称 = ? WHERE id = 'p2'", ("坏\x00园尾",))
    return path


def _shapefile_with_nul(folder: Path) -> Path:
    """A shapefile whose second park's name holds a NUL in the DBF (GDAL reads "bad")."""
    folder.mkdir()
    shp = folder / "parks.shp"
    _parks_frame(["goodpark", "badXpark"]).rename(columns={"名称": "name"}).to_file(shp, encoding="utf-8")
    dbf = folder / "parks.dbf"
    raw = dbf.read_bytes()
    dbf.write_bytes(raw.replace(b"badXpark", b"bad\x00park"))
    return shp


def test_gdal_cuts_text_at_a_nul_in_geopackage_and_shapefile(tmp_path: Path) -> None:
    """Why the import looks at the files itself: GDAL reads such a name cut short, without a word."""
    import pyogrio

    gpkg = _gpkg_with_nul(tmp_path / "nul.gpkg")
    for arrow in (False, True):  # the import reads a GeoPackage through Arrow
        assert list(pyogrio.read_dataframe(gpkg, use_arrow=arrow)["名称"]) == ["好园", "坏"]
    shp = _shapefile_with_nul(tmp_path / "shp")
    assert list(pyogrio.read_dataframe(shp)["name"]) == ["goodpark", "bad"]


def test_a_nul_in_a_geopackage_attribute_is_refused_not_cut(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    preview = preview_import(_gpkg_with_nul(tmp_path / "nul.gpkg"), None, plan, seed_register)
    assert [(i.code, i.place, i.field) for i in preview.problems] == [
        ("control_character", "nul.gpkg feature 2", "名称")
    ]
    (issue,) = preview.problems
    assert "坏\\x00园尾" in issue.message_en and "控制字符" in issue.message_zh


def test_a_nul_in_a_shapefile_attribute_is_refused_not_cut(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    shp = _shapefile_with_nul(tmp_path / "shp")
    preview = preview_import(shp, None, plan, seed_register)
    assert [(i.code, i.place, i.field) for i in preview.problems] == [
        ("control_character", "parks.shp feature 2", "name")
    ]
    assert "bad\\x00park" in preview.problems[0].message_en
    # zipped, as the app receives it: the same problem, the same place
    archive = tmp_path / "parks.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in shp.parent.iterdir():
            zf.write(f, f.name)
    zipped = preview_import(archive, None, plan, seed_register)
    assert [(i.code, i.field) for i in zipped.problems] == [("control_character", "name")]


def test_nul_padding_in_a_shapefile_is_not_a_problem(
    plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    """Some writers pad DBF text with NULs instead of spaces: nothing follows them, nothing is cut."""
    shp = _shapefile_with_nul(tmp_path / "shp")
    dbf = shp.with_suffix(".dbf")
    dbf.write_bytes(
        dbf.read_bytes().replace(b"bad\x00park", b"badpark\x00").replace(b"goodpark", b"good\x00\x00\x00\x00")
    )
    preview = preview_import(shp, None, plan, seed_register)
    assert preview.problems == [] and sorted(preview.parks["name_zh"]) == ["badpark", "good"]


@pytest.mark.parametrize("text", ["坏\x00园", "坏&#0;园", "坏\x01园", "坏&#1;园"])
def test_a_control_character_in_a_kml_is_refused_with_its_line(
    plan: Plan, seed_register: Register, tmp_path: Path, text: str
) -> None:
    """XML allows no NUL (nor most control characters), raw or as a character reference: GDAL refuses
    the whole file, and the import says where."""
    good = tmp_path / "good.kml"
    _parks_frame(["好园", "坏园X"]).to_file(good, driver="KML")
    bad = tmp_path / "bad.kml"
    bad.write_text(good.read_text(encoding="utf-8").replace("坏园X", text), encoding="utf-8")
    preview = preview_import(bad, None, plan, seed_register)
    (issue,) = preview.problems
    assert (issue.code, issue.place) == ("unreadable", "bad.kml")
    assert re.search(r"on line \d+ at offset \d+", issue.message_en) and "无法读取" in issue.message_zh
