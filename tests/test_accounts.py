"""Intranet accounts (planner.core.accounts): argon2id hashes in a TOML file, one answer for every failed
sign-in, no account shipped, and the e-mail mapping for an identity provider (OIDC)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from planner.core.access import User
from planner.core.accounts import (
    LOCKOUT_MINUTES,
    MAX_FAILED_SIGN_INS,
    SignInFailed,
    SignInLocked,
    accounts_path,
    authenticate,
    disable_account,
    load_accounts,
    lockout_minutes,
    set_account,
    user_for_identity,
)
from planner.errors import PlannerError
from planner.settings import DEFAULT_ACCOUNTS
from tests.conftest import ROOT

PASSWORD = "correct horse 7"


@pytest.fixture
def accounts(tmp_path: Path) -> Path:
    """A file with a city planner (Chinese name), a Bao'an district user and a viewer."""
    path = tmp_path / "accounts.toml"
    set_account(
        "王工", "planner", PASSWORD, display_name='王工程师 "总规"', email="Wang@Plan.SZ.gov.cn", path=path
    )
    set_account("li", "district", PASSWORD, district_code="440306", path=path)
    set_account("zhao", "viewer", PASSWORD, path=path)
    return path


def test_the_file_holds_argon2id_hashes_never_passwords(accounts: Path) -> None:
    text = accounts.read_text(encoding="utf-8")
    assert PASSWORD not in text
    data = tomllib.loads(text)  # valid TOML
    hashes = [row["password_hash"] for row in data["accounts"].values()]
    assert len(hashes) == 3 and all(h.startswith("$argon2id$") for h in hashes)
    assert len(set(hashes)) == 3  # salted: the same password hashes differently
    assert PasswordHasher().verify(hashes[0], PASSWORD)
    assert accounts.stat().st_mode & 0o077 == 0  # readable by its owner only


def test_chinese_names_and_quotes_survive_a_round_trip(accounts: Path) -> None:
    acc = load_accounts(accounts)["王工"]
    assert acc.display_name == '王工程师 "总规"' and acc.role == "planner"
    assert authenticate("王工", PASSWORD, accounts) == User("王工", "planner", None, '王工程师 "总规"')


def test_a_correct_password_signs_in_with_the_accounts_role(accounts: Path) -> None:
    assert authenticate("li", PASSWORD, accounts) == User("li", "district", "440306")
    assert authenticate("zhao", PASSWORD, accounts).role == "viewer"


@pytest.mark.parametrize(
    ("name", "password"),
    [("li", "wrong password 1"), ("nobody", PASSWORD), ("li", ""), ("", "")],
    ids=["wrong-password", "unknown", "empty-password", "empty"],
)
def test_every_failed_sign_in_gives_the_same_answer(accounts: Path, name: str, password: str) -> None:
    with pytest.raises(SignInFailed) as info:
        authenticate(name, password, accounts)
    assert str(info.value) == "用户名或密码错误 / wrong user name or password"


def test_a_disabled_account_cannot_sign_in_and_says_nothing_more(accounts: Path) -> None:
    disable_account("li", accounts)
    with pytest.raises(SignInFailed, match=r"^用户名或密码错误 / wrong user name or password$"):
        authenticate("li", PASSWORD, accounts)
    assert load_accounts(accounts)["li"].disabled  # kept, for the audit trail
    assert authenticate("zhao", PASSWORD, accounts).name == "zhao"  # others untouched
    with pytest.raises(PlannerError, match="no account"):
        disable_account("nobody", accounts)


def test_a_short_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    with pytest.raises(PlannerError, match="at least 10 characters"):
        set_account("wang", "planner", "short", path=path)
    assert not path.exists()


@pytest.mark.parametrize(
    ("role", "district", "match"),
    [("admin", None, "unknown role"), ("district", None, "needs a district code")],
)
def test_a_bad_role_or_missing_district_is_refused(tmp_path: Path, role: str, district, match: str) -> None:
    path = tmp_path / "a.toml"
    with pytest.raises(PlannerError, match=match):
        set_account("x", role, PASSWORD, district_code=district, path=path)
    assert load_accounts(path) == {}


def test_replacing_an_account_changes_its_password(accounts: Path) -> None:
    set_account("li", "district", "a new password 2", district_code="440306", path=accounts)
    with pytest.raises(SignInFailed):
        authenticate("li", PASSWORD, accounts)
    assert authenticate("li", "a new password 2", accounts).district_code == "440306"
    assert set(load_accounts(accounts)) == {"王工", "li", "zhao"}


def test_a_broken_file_is_reported_not_ignored(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[accounts.x]\nrole = "district"\n', encoding="utf-8")  # no district
    with pytest.raises(PlannerError, match=r"accounts\.x"):
        load_accounts(bad)
    bad.write_text("[accounts\n", encoding="utf-8")
    with pytest.raises(PlannerError, match="unreadable"):
        load_accounts(bad)


def test_no_accounts_file_means_no_accounts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANNER_ACCOUNTS", str(tmp_path / "none.toml"))
    assert accounts_path() == tmp_path / "none.toml"
    assert load_accounts() == {}
    with pytest.raises(SignInFailed):
        authenticate("admin", "admin")
    monkeypatch.delenv("PLANNER_ACCOUNTS")
    assert accounts_path() == DEFAULT_ACCOUNTS


def test_no_accounts_file_ships_in_the_repository() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "data", "*.toml"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "data/accounts.toml" not in tracked
    assert not [f for f in tracked if "account" in f.lower()]
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/accounts.toml"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "data/accounts.toml must be git-ignored"


def test_an_identity_providers_email_maps_to_an_account(accounts: Path) -> None:
    assert user_for_identity("wang@plan.sz.gov.cn ", accounts) == User(
        "王工", "planner", None, '王工程师 "总规"'
    )  # case and spaces do not matter
    assert user_for_identity("someone@else.cn", accounts) is None
    assert user_for_identity("", accounts) is None  # an account without e-mail matches nothing
    set_account("li", "district", PASSWORD, district_code="440306", email="li@sz.cn", path=accounts)
    assert user_for_identity("li@sz.cn", accounts).district_code == "440306"
    disable_account("li", accounts)
    assert user_for_identity("li@sz.cn", accounts) is None


@pytest.mark.parametrize(
    ("text", "place"),
    [
        ("accounts = 1\n", "[accounts]"),
        ('[accounts]\nwang = "x"\n', "[accounts.wang]"),
        ('[accounts.wang]\nrole = 1\npassword_hash = "x"\n', "[accounts.wang]"),
        ('[accounts.wang]\nrole = "planner"\npassword_hash = ["x"]\n', "[accounts.wang]"),
        ('[accounts.wang]\nrole = "planner"\ndisplay_name = 3\n', "[accounts.wang]"),
        ('[accounts.wang]\nrole = "planner"\ndisabled = "no"\n', "[accounts.wang]"),
        ('[accounts.li]\npassword_hash = "x"\n', "[accounts.li]"),
        ('[accounts.li]\nrole = "district"\ndistrict_code = 440306\n', "[accounts.li]"),
    ],
)
def test_a_file_of_the_wrong_structure_is_a_planner_error_naming_the_place(
    tmp_path: Path, text: str, place: str
) -> None:
    path = tmp_path / "accounts.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(PlannerError, match=re.escape(place)):
        load_accounts(path)


# ---- lockout after repeated failed sign-ins ---------------------------------------------------
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _minutes(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in offsets]


def test_lockout_minutes_counts_failures_within_the_window() -> None:
    assert MAX_FAILED_SIGN_INS == 5 and LOCKOUT_MINUTES == 15
    four = _minutes(0, 1, 2, 3)
    assert lockout_minutes(four, T0 + timedelta(minutes=4)) == 0
    five = _minutes(0, 1, 2, 3, 4)
    assert lockout_minutes(five, T0 + timedelta(minutes=4)) == 15  # 15 minutes from the last failure
    assert lockout_minutes(five, T0 + timedelta(minutes=10, seconds=30)) == 9  # rounded up
    assert lockout_minutes(five, T0 + timedelta(minutes=19)) == 0  # the lock is over
    spread = _minutes(0, 5, 10, 15, 20)  # never five within 15 minutes
    assert lockout_minutes(spread, T0 + timedelta(minutes=21)) == 0
    assert lockout_minutes([], T0) == 0


def test_five_failed_sign_ins_lock_the_account_name(store, plan) -> None:
    from planner.app.session import sign_in

    set_account("li", "district", PASSWORD, district_code="440306")
    set_account("wang", "planner", PASSWORD)
    state = {"plan": plan, "store": store}
    for _ in range(MAX_FAILED_SIGN_INS):
        with pytest.raises(SignInFailed, match="wrong user name or password"):
            sign_in(state, "li", "wrong password")
    with pytest.raises(SignInLocked, match="try again in 15 minutes") as exc:
        sign_in(state, "li", PASSWORD)  # the right password, not even checked
    assert "尝试次数过多, 请 15 分钟后再试" in str(exc.value) and "user" not in state
    top = store.audit_log().iloc[0]
    assert (top["user"], top["action"], top["outcome"]) == ("li", "sign_in", "denied")
    assert top["detail"].startswith("locked")
    log = store.audit_log()
    assert len(log[(log["user"] == "li") & (log["outcome"] == "denied")]) == 6  # 5 failures + the refusal
    assert sign_in(state, "wang", PASSWORD).name == "wang"  # another account is unaffected
    later = datetime.now(UTC) + timedelta(minutes=LOCKOUT_MINUTES, seconds=1)
    assert sign_in(state, "li", PASSWORD, now=later).name == "li"  # after the window it works again
