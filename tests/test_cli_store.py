"""The store's command line: scenario list|show|history|save|diff|restore|copy|delete|audit, --db."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import main as cli
from planner.core.accounts import set_account
from planner.core.plan import GEODATA
from planner.core.register import PARKS_FILE
from planner.store import open_store
from tests.conftest import ROOT

PASSWORD = "correct-horse-1"


@pytest.fixture
def accounts(monkeypatch) -> None:
    set_account("alice", "planner", PASSWORD)
    set_account("ns", "district", PASSWORD, district_code="440305")
    set_account("vic", "viewer", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)


def run(capsys, *args: str) -> tuple[int, str, str]:
    rc = cli.main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def run_json(capsys, *args: str) -> tuple[int, dict]:
    rc, out, _ = run(capsys, *args, "--json")
    return rc, json.loads(out)


@pytest.fixture
def edited_files(tmp_path: Path) -> Path:
    """A register folder: the seed with one Futian park renamed."""
    folder = tmp_path / "edited"
    shutil.copytree(GEODATA / "shenzhen", folder)
    data = json.loads((folder / PARKS_FILE).read_text(encoding="utf-8"))
    for f in data["features"]:
        if f["properties"]["id"] == "futian_bonded":
            f["properties"]["name_en"] = "Renamed by the CLI test"
    (folder / PARKS_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def test_list_show_history_on_a_fresh_store(capsys, tmp_path):
    db = str(tmp_path / "fresh.gpkg")
    rc, out = run_json(capsys, "scenario", "list", "--db", db)
    assert rc == 0 and [s["scenario"] for s in out["scenarios"]] == ["main"]
    assert out["store"] == db and Path(db).exists()
    rc, out = run_json(capsys, "scenario", "show", "main", "--db", db)
    assert rc == 0 and out["version"] == 1 and out["parks"] == 32 and out["counted_m2"] > 0
    rc, text, _ = run(capsys, "scenario", "history", "main", "--db", db)
    assert rc == 0 and "种子登记册 seed register" in text


def test_save_from_files_then_diff_restore_copy_delete(capsys, accounts, edited_files):
    rc, out = run_json(
        capsys,
        "scenario",
        "save",
        "main",
        "--from-files",
        str(edited_files),
        "--expected-version",
        "1",
        "--user",
        "alice",
        "--comment",
        "改名",
    )
    assert rc == 0 and out["version"] == 2 and out["author"] == "alice" and "~1" in out["changes"]
    rc, out = run_json(capsys, "scenario", "diff", "main@1", "main")
    assert rc == 0 and (out["a"], out["b"]) == ("main@1", "main@2")
    assert out["parks_changed"] == {"futian_bonded": ["name_en"]}
    assert {t["metric"] for t in out["totals"]} == {"counted", "secured", "planned_only", "gap"}
    rc, text, _ = run(capsys, "scenario", "diff", "main@1", "main@2")
    assert rc == 0 and "futian_bonded: name_en" in text and "合计 Totals" in text
    rc, out = run_json(capsys, "scenario", "restore", "main", "--version", "1", "--user", "alice")
    assert rc == 0 and out["version"] == 3 and out["restored_from"] == 1
    rc, out = run_json(capsys, "scenario", "copy", "main", "plan_b", "--user", "alice")
    assert rc == 0 and out["scenario"] == "plan_b"
    rc, out = run_json(capsys, "scenario", "delete", "plan_b", "--user", "alice")
    assert rc == 1 and "confirm" in out["message"]
    rc, out = run_json(capsys, "scenario", "delete", "plan_b", "--yes-delete", "plan_b", "--user", "alice")
    assert rc == 0 and out["deleted"] == "plan_b"
    rc, out = run_json(capsys, "scenario", "list")
    assert [s["scenario"] for s in out["scenarios"]] == ["main"]
    rc, out = run_json(capsys, "scenario", "history", "plan_b")
    assert [v["action"] for v in out["versions"]] == ["delete", "copy"]
    rc, out = run_json(capsys, "scenario", "history", "main")
    assert [v["version"] for v in out["versions"]] == [3, 2, 1]


def test_check_and_export_read_the_chosen_scenario(capsys, accounts, edited_files, tmp_path):
    run(capsys, "scenario", "save", "alt", "--from-files", str(edited_files), "--user", "alice")
    out = tmp_path / "parks.geojson"
    rc, _, _ = run(
        capsys, "export", "--layer", "parks", "--format", "geojson", "--out", str(out), "--scenario", "alt"
    )
    assert rc == 0
    names = {
        f["properties"]["id"]: f["properties"]["name_en"] for f in json.loads(out.read_text())["features"]
    }
    assert names["futian_bonded"] == "Renamed by the CLI test"
    rc, _, _ = run(capsys, "export", "--layer", "parks", "--format", "geojson", "--out", str(out))
    names = {
        f["properties"]["id"]: f["properties"]["name_en"] for f in json.loads(out.read_text())["features"]
    }
    assert names["futian_bonded"] != "Renamed by the CLI test"
    rc, report = run_json(capsys, "check", "--scenario", "alt")
    assert rc == 0 and report["counted_m2"] > 0
    rc, _, err = run(capsys, "check", "--scenario", "nowhere")
    assert rc == 2 and "no scenario named 'nowhere'" in err


def test_conflict_exits_3_and_names_the_other_save(capsys, accounts, edited_files):
    run(
        capsys,
        "scenario",
        "save",
        "main",
        "--from-files",
        str(edited_files),
        "--expected-version",
        "1",
        "--user",
        "alice",
        "--comment",
        "Alice 改名",
    )
    before = {p.name: p.read_bytes() for p in edited_files.iterdir()}
    rc, out = run_json(  # the same park changed again from version 1: a conflict on that row
        capsys, "scenario", "save", "main", "--from-files", str(edited_files),
        "--expected-version", "1", "--user", "alice",
    )  # fmt: skip
    assert rc == 3 and out["outcome"] == "conflict"
    assert (out["expected_version"], out["current_version"]) == (1, 2)
    assert out["versions"][0]["comment"] == "Alice 改名"
    assert out["rows"] == [{"table": "parks", "key": "futian_bonded", "version": 2, "author": "alice"}]
    assert "futian_bonded" in out["message"] and "alice" in out["message"]
    # the input is untouched and the message says how to retry
    assert {p.name: p.read_bytes() for p in edited_files.iterdir()} == before
    assert "--expected-version 2" in out["message"] and "未改动" in out["message"]


def test_district_staff_refused_elsewhere_exit_4_and_recorded(capsys, accounts, edited_files):
    rc, out = run_json(
        capsys, "scenario", "save", "main", "--from-files", str(edited_files), "--expected-version", "1",
        "--user", "ns",
    )  # fmt: skip
    assert rc == 4 and out["outcome"] == "denied"
    assert any("futian_bonded" in p["place"] for p in out["problems"])
    rc, out = run_json(capsys, "scenario", "audit", "--limit", "1")
    assert out["audit"][0]["user"] == "ns" and out["audit"][0]["outcome"] == "denied"
    rc, out = run_json(capsys, "scenario", "copy", "main", "mine", "--user", "vic")
    assert rc == 4
    assert open_store().history()["version"].tolist() == [1]


def test_wrong_password_and_bad_arguments(capsys, accounts, monkeypatch):
    monkeypatch.setenv("PLANNER_PASSWORD", "not-the-password")
    rc, _, err = run(capsys, "scenario", "restore", "main", "--version", "1", "--user", "alice")
    assert rc == 4 and "wrong user name or password" in err
    with pytest.raises(SystemExit) as exc:
        cli.main(["scenario", "restore", "main", "--user", "alice"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["scenario", "save", "x", "--user", "alice"])  # no source
    assert exc.value.code == 2
    capsys.readouterr()
    rc, _, err = run(capsys, "scenario", "show", "main", "--version", "9")
    assert rc == 2 and "no version 9" in err


def test_no_password_and_no_terminal_is_refused_not_hung(accounts, tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k != "PLANNER_PASSWORD"}
    proc = subprocess.run(
        [sys.executable, "-m", "planner", "scenario", "copy", "main", "b", "--user", "alice"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 4 and "PLANNER_PASSWORD" in proc.stderr


def test_db_option_and_environment_pick_a_postgis_store(capsys, pg_schema_url, monkeypatch):
    rc, out = run_json(capsys, "scenario", "list", "--db", pg_schema_url)
    assert (
        rc == 0 and out["store"].startswith("postgresql+psycopg2://") and out["scenarios"][0]["version"] == 1
    )
    monkeypatch.setenv("PLANNER_DB", pg_schema_url)
    rc, report = run_json(capsys, "check")
    assert rc == 0 and report["counted_m2"] > 0


def test_save_from_files_refuses_a_missing_folder_or_register_file(capsys, accounts, edited_files, tmp_path):
    missing = tmp_path / "no_such_folder"
    rc, _, err = run(
        capsys, "scenario", "save", "main", "--from-files", str(missing), "--expected-version", "1",
        "--user", "alice",
    )  # fmt: skip
    assert rc == 2 and "no such folder" in err and "找不到文件夹" in err and str(missing) in err
    assert "Traceback" not in err
    for name in ("parks.geojson", "allocations.csv", "quotas.csv"):
        folder = tmp_path / f"without_{name}"
        shutil.copytree(edited_files, folder)
        (folder / name).unlink()
        rc, out = run_json(
            capsys, "scenario", "save", "main", "--from-files", str(folder), "--expected-version", "1",
            "--user", "alice",
        )  # fmt: skip
        assert rc == 2 and out["outcome"] == "usage"
        assert name in out["message"] and "缺少登记册文件" in out["message"]
    assert open_store().history()["version"].tolist() == [1]
    assert len(open_store().load()[0].parks) == 32  # never wiped


def test_save_into_an_existing_scenario_needs_the_expected_version(capsys, accounts, edited_files):
    rc, out = run_json(
        capsys, "scenario", "save", "main", "--from-files", str(edited_files), "--user", "alice"
    )
    assert rc == 2 and "--expected-version" in out["message"]
    assert (
        "latest v1" in out["message"] and "saved by system" in out["message"] and "最新 v1" in out["message"]
    )
    assert open_store().history()["version"].tolist() == [1]
    # a new scenario needs none
    rc, out = run_json(
        capsys, "scenario", "save", "alt", "--from-files", str(edited_files), "--user", "alice"
    )
    assert rc == 0 and (out["scenario"], out["version"]) == ("alt", 1)


def test_a_save_that_changes_nothing_writes_nothing(capsys, accounts):
    rc, text, _ = run(
        capsys,
        "scenario",
        "save",
        "main",
        "--from-scenario",
        "main",
        "--expected-version",
        "1",
        "--user",
        "alice",
    )
    assert rc == 0 and "无变化" in text and "no change, nothing saved" in text
    rc, out = run_json(capsys, "scenario", "restore", "main", "--version", "1", "--user", "alice")
    assert rc == 0 and out["outcome"] == "unchanged" and out["version"] == 1
    assert open_store().history()["version"].tolist() == [1]


def test_diff_with_a_malformed_version_exits_2(capsys):
    for bad in ("main@abc", "main@", "@2"):
        rc, _, err = run(capsys, "scenario", "diff", "main", bad)
        assert rc == 2 and "NAME@VERSION" in err and "场景名@版本号" in err and bad in err


def test_a_failed_sign_in_is_recorded_without_the_password(capsys, accounts, monkeypatch):
    monkeypatch.setenv("PLANNER_PASSWORD", "guessed-pw-77")
    rc, _, err = run(capsys, "scenario", "copy", "main", "b", "--user", "alice")
    assert rc == 4 and "wrong user name or password" in err
    log = open_store().audit_log()
    top = log.iloc[0]
    assert (top["user"], top["action"], top["outcome"]) == ("alice", "sign_in", "denied")
    assert not log.astype(str).apply(lambda c: c.str.contains("guessed-pw-77")).any().any()
    assert not open_store().exists("b")


def test_five_wrong_passwords_lock_the_account_name(capsys, accounts, monkeypatch):
    monkeypatch.setenv("PLANNER_PASSWORD", "guessed-pw-77")
    for _ in range(5):
        rc, _, err = run(capsys, "scenario", "copy", "main", "b", "--user", "alice")
        assert rc == 4 and "wrong user name or password" in err
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    rc, _, err = run(capsys, "scenario", "copy", "main", "b", "--user", "alice")
    assert rc == 4 and "too many failed attempts, try again in 15 minutes" in err and "尝试次数过多" in err
    assert not open_store().exists("b")
    top = open_store().audit_log().iloc[0]
    assert (top["user"], top["outcome"]) == ("alice", "denied") and top["detail"].startswith("locked")
    rc, _, err = run(capsys, "scenario", "copy", "main", "b", "--user", "ns")  # another account: signed in,
    assert "too many failed attempts" not in err and "wrong user name" not in err  # refused as district staff


def test_a_wrong_store_location_exits_2_with_the_message(capsys, accounts, tmp_path):
    rc, _, err = run(capsys, "scenario", "list", "--db", str(tmp_path))
    assert rc == 2 and "is a folder" in err and "Traceback" not in err
    rc, out = run_json(capsys, "scenario", "copy", "main", "b", "--user", "alice", "--db", "sqlite:///x.db")
    assert rc == 2 and "unsupported store location sqlite://" in out["message"]
    rc, _, err = run(capsys, "scenario", "list", "--db", str(tmp_path / "missing" / "s.gpkg"))
    assert rc == 2 and "does not exist" in err and not (tmp_path / "missing").exists()


def test_scenario_export_round_trips_into_another_store(capsys, accounts, edited_files, tmp_path, store_db):
    from planner.core.register import load_register
    from tests.test_store import assert_same

    source = str(tmp_path / "source.gpkg")
    rc, _ = run_json(
        capsys, "scenario", "save", "main", "--from-files", str(edited_files), "--expected-version", "1",
        "--user", "alice", "--db", source,
    )  # fmt: skip
    assert rc == 0
    folder = tmp_path / "exported"
    rc, out = run_json(capsys, "scenario", "export", "main", "--to", str(folder), "--db", source)
    assert rc == 0 and out["version"] == 2
    assert sorted(out["written"]) == ["allocations.csv", "parks.geojson", "quotas.csv"]
    expected = open_store(source).load()[0]
    assert_same(load_register(open_store(source).plan, folder, require_files=True), expected)
    rc, out = run_json(
        capsys, "scenario", "save", "main", "--from-files", str(folder), "--expected-version", "1",
        "--user", "alice", "--db", store_db,
    )  # fmt: skip
    assert rc == 0 and out["version"] == 2
    assert_same(open_store(store_db).load()[0], expected)
    rc, out = run_json(
        capsys, "scenario", "export", "main", "--version", "1", "--to", str(folder), "--db", source
    )
    assert rc == 0 and out["version"] == 1 and out["written"] == ["parks.geojson"]


def test_an_interrupted_export_leaves_the_old_files_and_no_temp_file(edited_files, monkeypatch):
    from planner.io.export import write_register_files

    before = {p.name: p.read_bytes() for p in edited_files.iterdir()}
    register = open_store().load()[0]  # the seed: differs from the edited folder's parks file

    def boom(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("planner.io.export.os.fsync", boom)
    with pytest.raises(KeyboardInterrupt):
        write_register_files(register, edited_files)
    assert {p.name: p.read_bytes() for p in edited_files.iterdir()} == before
