"""Smaller hardening (issue 12, item 13): a closed pipe, look-alike scenario names."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli.main import main
from planner.core.accounts import set_account
from planner.store import open_store
from tests.conftest import ROOT

PASSWORD = "correct-horse-1"
CYRILLIC_MAIN = "m\u0430in"  # 'а' U+0430 CYRILLIC SMALL LETTER A


@pytest.mark.parametrize("args", [["check"], ["check", "--json"], ["scenario", "history", "main"]])
def test_a_reader_that_stops_early_gets_a_quiet_exit(tmp_path: Path, args: list[str]) -> None:
    env = {**os.environ, "PLANNER_DB": str(tmp_path / "s.gpkg")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "planner", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    proc.stdout.close()  # like `| head -0`: the reader is gone before the first line
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0 and err == "", err


def test_a_look_alike_scenario_name_is_refused(capsys, monkeypatch, store_db: str) -> None:
    set_account("alice", "planner", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    code = main(["scenario", "copy", "main", CYRILLIC_MAIN, "--user", "alice", "--db", store_db])
    err = capsys.readouterr().err
    assert code == 2 and "looks like the existing 'main'" in err and "字形相同" in err
    assert "U+0430 CYRILLIC SMALL LETTER A" in err
    store = open_store(store_db)
    assert list(store.scenarios()["scenario"]) == ["main"]
    top = store.audit_log().iloc[0]
    assert (top["user"], top["outcome"], top["scenario"]) == ("alice", "invalid", CYRILLIC_MAIN)

    assert main(["scenario", "copy", "main", "方案B", "--user", "alice", "--db", store_db]) == 0
    code = main(["scenario", "copy", "main", "方案\u0412", "--user", "alice", "--db", store_db])  # Cyrillic В
    assert code == 2 and "looks like the existing '方案B'" in capsys.readouterr().err
    # full-width letters are the same name once normalised (NFKC): stored as plain "plan2"
    assert main(["scenario", "copy", "main", "ｐｌａｎ２", "--user", "alice", "--db", store_db]) == 0
    assert "plan2" in set(open_store(store_db).scenarios()["scenario"])
