"""``python -m planner account add|list|disable``: passwords by prompt (twice) or $PLANNER_PASSWORD,
never printed, hashes never listed, districts checked against the plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from planner.cli import accounts as _cli_accounts
from planner.cli.main import main
from planner.core.accounts import authenticate, load_accounts
from planner.errors import PlannerError
from tests.conftest import ROOT

PASSWORD = "a long password 9"


@pytest.fixture
def file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    return tmp_path / "accounts.toml"


def test_add_a_planner_and_district_staff(file: Path, capsys: pytest.CaptureFixture) -> None:
    assert (
        main(
            ["account", "add", "王工", "--role", "planner", "--display-name", "王工程师", "--file", str(file)]
        )
        == 0
    )
    assert main(["account", "add", "li", "--role", "district", "--district", "440306",
                 "--email", "li@sz.cn", "--file", str(file)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "已创建 created 王工" in out and "440306" in out and PASSWORD not in out
    assert authenticate("li", PASSWORD, file).district_code == "440306"
    assert load_accounts(file)["li"].email == "li@sz.cn"
    assert main(["account", "add", "li", "--role", "viewer", "--file", str(file)]) == 0
    assert "已更新 updated li" in capsys.readouterr().out
    assert authenticate("li", PASSWORD, file).role == "viewer"


def test_the_accounts_file_comes_from_the_environment(file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_ACCOUNTS", str(file))
    assert main(["account", "add", "wang", "--role", "planner"]) == 0
    assert set(load_accounts(file)) == {"wang"}


def test_list_shows_no_hashes(file: Path, capsys: pytest.CaptureFixture) -> None:
    main(["account", "add", "wang", "--role", "planner", "--file", str(file)])
    main(["account", "add", "li", "--role", "district", "--district", "440306", "--file", str(file)])
    capsys.readouterr()
    assert main(["account", "list", "--file", str(file)]) == 0
    text = capsys.readouterr().out
    assert "2 个账户" in text and "wang" in text and "区级工作人员" in text
    assert "argon2" not in text and "$" not in text
    assert main(["account", "list", "--json", "--file", str(file)]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == ["wang", "li"]
    assert all("password_hash" not in r for r in rows)


def test_disable(file: Path, capsys: pytest.CaptureFixture) -> None:
    main(["account", "add", "li", "--role", "viewer", "--file", str(file)])
    assert main(["account", "disable", "li", "--file", str(file)]) == 0
    assert main(["account", "list", "--file", str(file)]) == 0
    assert "已停用 disabled" in capsys.readouterr().out
    assert main(["account", "disable", "nobody", "--file", str(file)]) == 2
    assert "no account 'nobody'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "district"], "needs a district code"),
        (["--role", "district", "--district", "999999"], "unknown district code '999999'"),
        (["--role", "planner", "--district", "440306"], "--district is for --role district only"),
    ],
)
def test_bad_district_arguments_are_refused(file: Path, capsys, args: list[str], message: str) -> None:
    assert main(["account", "add", "x", *args, "--file", str(file)]) == 2
    assert message in capsys.readouterr().err
    assert not file.exists()


def test_an_unknown_role_is_an_argument_error(file: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["account", "add", "x", "--role", "admin", "--file", str(file)])
    assert info.value.code == 2 and "参数错误" in capsys.readouterr().err


def test_a_short_password_is_refused(file: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PLANNER_PASSWORD", "short")
    assert main(["account", "add", "x", "--role", "viewer", "--file", str(file)]) == 2
    assert "at least 10 characters" in capsys.readouterr().err and not file.exists()


def _prompt(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    monkeypatch.delenv("PLANNER_PASSWORD", raising=False)
    monkeypatch.setattr(_cli_accounts.sys.stdin, "isatty", lambda: True)
    asked: list[str] = []

    def getpass(prompt: str) -> str:
        asked.append(prompt)
        return answers[len(asked) - 1]

    monkeypatch.setattr(_cli_accounts.getpass, "getpass", getpass)
    return asked


def test_the_password_is_asked_twice(file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _prompt(monkeypatch, [PASSWORD, PASSWORD])
    assert main(["account", "add", "wang", "--role", "planner", "--file", str(file)]) == 0
    assert len(asked) == 2 and authenticate("wang", PASSWORD, file).role == "planner"


def test_two_different_passwords_are_refused(file: Path, monkeypatch, capsys) -> None:
    _prompt(monkeypatch, [PASSWORD, PASSWORD + "x"])
    assert main(["account", "add", "wang", "--role", "planner", "--file", str(file)]) == 2
    assert "the two passwords differ" in capsys.readouterr().err and not file.exists()


def test_without_a_terminal_or_env_it_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANNER_PASSWORD", raising=False)
    monkeypatch.setattr(_cli_accounts.sys.stdin, "isatty", lambda: False)
    with pytest.raises(PlannerError, match=r"\$PLANNER_PASSWORD"):
        _cli_accounts._password()


def test_the_real_command_line(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "PLANNER_ACCOUNTS": str(tmp_path / "a.toml"),
        "PLANNER_PASSWORD": PASSWORD,
    }
    run = [sys.executable, "-m", "planner", "account"]
    listed = subprocess.run([*run, "list"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "account add NAME --role planner" in listed.stdout
    added = subprocess.run([*run, "add", "wang", "--role", "planner"], cwd=ROOT, env=env,
                           capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert authenticate("wang", PASSWORD, tmp_path / "a.toml").role == "planner"
