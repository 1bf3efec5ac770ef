"""Issue 12.1: what an import may expand to (zip bombs, KMZ, Excel, oversized uploads).

The bombs are real archives built here: a highly compressible member (a few KB on disk) whose
expanded size is just over a limit made small for the test through the administrator's variables.
"""

from __future__ import annotations

import io
import json
import tomllib
import tracemalloc
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from planner.cli import main as cli
from planner.core.plan import Plan
from planner.core.register import Register
from planner.io.ingest import preview_import
from planner.settings import MB, import_limits, max_upload_mb
from tests.conftest import as_account
from tests.test_ingest import NANSHAN
from tests.test_uploads import good_geojson

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def bomb(name: str, size: int, *, members: int = 1, filler: bytes = b" ") -> bytes:
    """A zip whose ``members`` members each expand to ``size`` bytes of ``filler``."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for k in range(members):
            stem, _, suffix = name.rpartition(".")
            zf.writestr(f"{stem}{k or ''}.{suffix}", filler * size)
    return buf.getvalue()


def lying_bomb(name: str, size: int, claimed: int) -> bytes:
    """A zip whose directory claims its one member expands to ``claimed`` bytes; it expands to ``size``."""
    data = bytearray(bomb(name, size))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = claimed.to_bytes(4, "little")
    data[central + 24 : central + 28] = claimed.to_bytes(4, "little")
    return bytes(data)


def preview_peak(data: bytes, name: str, plan: Plan, register: Register):
    """The preview of an upload and the peak of Python memory while it is read (bytes)."""
    tracemalloc.start()
    try:
        preview = preview_import(data, name, plan, register)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return preview, peak


@pytest.fixture
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """An administrator's limits of 2 MB a member, 3 MB in all, 20 members."""
    monkeypatch.setenv("PLANNER_MAX_MEMBER_MB", "2")
    monkeypatch.setenv("PLANNER_MAX_EXPAND_MB", "3")
    monkeypatch.setenv("PLANNER_MAX_MEMBERS", "20")


@pytest.fixture
def default_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """No administrator's setting: the defaults of planner/settings.py."""
    for name in ("UPLOAD", "EXPAND", "MEMBER"):
        monkeypatch.delenv(f"PLANNER_MAX_{name}_MB", raising=False)
    monkeypatch.delenv("PLANNER_MAX_MEMBERS", raising=False)


def test_the_limits_are_the_administrators_variables(
    default_limits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = import_limits()
    assert (limits.upload_bytes, limits.expand_bytes, limits.member_bytes, limits.members) == (
        50 * MB, 500 * MB, 500 * MB, 1000,
    )  # fmt: skip
    monkeypatch.setenv("PLANNER_MAX_EXPAND_MB", "7")
    assert import_limits().expand_bytes == 7 * MB
    monkeypatch.setenv("PLANNER_MAX_EXPAND_MB", "lots")
    with pytest.raises(ValueError, match="PLANNER_MAX_EXPAND_MB"):
        import_limits()


def test_streamlit_caps_uploads_at_the_planners_limit(default_limits: None) -> None:
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == max_upload_mb() == 50


@pytest.mark.parametrize("name", ["bomb.zip", "bomb.kmz"])
def test_a_member_that_expands_past_the_limit_is_refused_before_it_is_read(
    small_limits: None, plan: Plan, seed_register: Register, name: str
) -> None:
    data = bomb("parks.kml" if name.endswith("kmz") else "parks.geojson", 2 * MB + 1)
    assert len(data) < 20_000
    preview, peak = preview_peak(data, name, plan, seed_register)
    assert preview.codes() == {"too_large"}
    message = str(preview.problems[0])
    assert "PLANNER_MAX_MEMBER_MB" in message and "2 MB" in message and "调高" in message
    assert peak < 1 * MB  # nothing was expanded


def test_members_that_together_expand_past_the_limit_are_refused(
    small_limits: None, plan: Plan, seed_register: Register
) -> None:
    preview = preview_import(bomb("p.geojson", 1 * MB, members=4), "many.zip", plan, seed_register)
    assert preview.codes() == {"too_large"}
    assert "PLANNER_MAX_EXPAND_MB" in str(preview.problems[0])


def test_too_many_members_are_refused(small_limits: None, plan: Plan, seed_register: Register) -> None:
    preview = preview_import(bomb("p.txt", 10, members=21), "crowd.zip", plan, seed_register)
    assert preview.codes() == {"too_large"}
    assert "21" in str(preview.problems[0]) and "PLANNER_MAX_MEMBERS" in str(preview.problems[0])


def test_a_directory_that_lies_about_sizes_does_not_expand_the_member(
    small_limits: None, plan: Plan, seed_register: Register
) -> None:
    data = lying_bomb("parks.geojson", 20 * MB, claimed=1000)
    preview, peak = preview_peak(data, "liar.zip", plan, seed_register)
    assert not preview.ok and preview.codes() <= {"unreadable", "too_large"}
    assert peak < 4 * MB  # read in 1 MB chunks and stopped: never 20 MB


def test_an_excel_bomb_is_refused_by_the_same_rule(
    small_limits: None, plan: Plan, seed_register: Register, tmp_path: Path
) -> None:
    frame = pd.DataFrame({"名称": ["A"], "经度": [NANSHAN[0]], "纬度": [NANSHAN[1]]})
    frame.to_excel(tmp_path / "ok.xlsx", index=False)
    buf = io.BytesIO()
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as src, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info, src.read(info))
        out.writestr("xl/padding.xml", b" " * (4 * MB))
    assert preview_import((tmp_path / "ok.xlsx").read_bytes(), "ok.xlsx", plan, seed_register).ok
    preview = preview_import(buf.getvalue(), "bomb.xlsx", plan, seed_register)
    assert preview.codes() == {"too_large"}


def test_an_archive_inside_an_archive_is_not_opened(plan: Plan, seed_register: Register) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("inner.zip", bomb("parks.geojson", 1000))
    preview = preview_import(buf.getvalue(), "outer.zip", plan, seed_register)
    assert preview.codes() == {"unreadable"}
    assert "nested_archive" in {w.code for w in preview.warnings}


def test_an_upload_over_the_limit_is_refused_unread(
    monkeypatch: pytest.MonkeyPatch, plan: Plan, seed_register: Register
) -> None:
    data = good_geojson(plan)
    assert preview_import(data, "good.geojson", plan, seed_register).ok
    monkeypatch.setenv("PLANNER_MAX_UPLOAD_MB", "1")
    preview = preview_import(data + b" " * MB, "good.geojson", plan, seed_register)
    assert preview.codes() == {"too_large"} and "PLANNER_MAX_UPLOAD_MB" in str(preview.problems[0])


def test_the_cli_refuses_a_bomb_and_says_which_limit(
    small_limits: None, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    path = tmp_path / "bomb.zip"
    path.write_bytes(bomb("parks.geojson", 3 * MB))
    assert cli.main(["import", str(path), "--dry-run", "--json"]) == cli.EXIT_REFUSED
    out = json.loads(capsys.readouterr().out)
    assert [p["code"] for p in out["problems"]] == ["too_large"]
    assert "PLANNER_MAX_MEMBER_MB" in out["problems"][0]["message_en"]


def test_the_import_page_refuses_a_bomb_anonymously(small_limits: None) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/import.py").run()
    assert at.file_uploader[0].proto.max_upload_size_mb == 50
    at.file_uploader[0].set_value(("bomb.zip", bomb("parks.geojson", 3 * MB), "application/zip")).run()
    assert not at.exception, [e.message for e in at.exception]
    assert any("不能导入" in e.value for e in at.error)
    issues = next(d.value for d in at.dataframe if "代码" in d.value.columns)
    assert "PLANNER_MAX_MEMBER_MB" in " ".join(issues.astype(str).to_numpy().ravel())


def test_a_signed_in_import_of_a_bomb_changes_nothing(small_limits: None) -> None:
    from planner.core.access import User

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["user"] = as_account(User("t", "planner"))
    at.run()
    at.switch_page("pages/import.py").run()
    before = at.session_state.register.parks.copy()
    at.file_uploader[0].set_value(("bomb.kmz", bomb("doc.kml", 3 * MB), "application/zip")).run()
    assert at.button(key="import_confirm").disabled
    assert at.session_state.register.parks.equals(before)
