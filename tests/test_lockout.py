"""The sign-in lockout holds under parallel attempts and across stores (issue 12, item 3).

Failures are counted and checked in one step under a file lock beside the accounts file, so
threads cannot walk past the limit and a locked name stays locked whatever store a command opens.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from planner.app.session import sign_in, sign_in_identity
from planner.cli.main import main
from planner.core.accounts import (
    LOCKOUT_MINUTES,
    MAX_FAILED_SIGN_INS,
    SignInFailed,
    SignInLocked,
    set_account,
    sign_in_state_path,
)
from planner.store import open_store

PASSWORD = "correct-horse-1"


def _in_threads(n: int, attempt) -> list[BaseException | object]:
    """Run ``attempt(i)`` in ``n`` real threads released at once; each one's result or exception."""
    barrier = threading.Barrier(n)
    results: list[BaseException | object] = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = attempt(i)
        except BaseException as exc:  # the test inspects what each thread got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _denied(store, name: str) -> int:
    log = store.audit_log()
    return int(((log["user"] == name) & (log["action"] == "sign_in") & (log["outcome"] == "denied")).sum())


def test_twenty_parallel_wrong_passwords_check_only_five(store, plan) -> None:
    set_account("li", "district", PASSWORD, district_code="440306")
    results = _in_threads(20, lambda i: sign_in({"plan": plan, "store": store}, "li", f"wrong-{i}-xxxx"))
    locked = [r for r in results if isinstance(r, SignInLocked)]
    wrong = [r for r in results if isinstance(r, SignInFailed) and not isinstance(r, SignInLocked)]
    assert len(wrong) == MAX_FAILED_SIGN_INS and len(locked) == 20 - MAX_FAILED_SIGN_INS
    assert _denied(store, "li") == 20  # every attempt is in the store's audit log
    with pytest.raises(SignInLocked, match="try again in 15 minutes"):
        sign_in({"plan": plan, "store": store}, "li", PASSWORD)


def test_fifteen_parallel_wrong_then_the_right_one_is_refused(store, plan) -> None:
    set_account("li", "district", PASSWORD, district_code="440306")
    _in_threads(15, lambda i: sign_in({"plan": plan, "store": store}, "li", "wrong-password"))
    state = {"plan": plan, "store": store}
    with pytest.raises(SignInLocked):
        sign_in(state, "li", PASSWORD)
    assert "user" not in state
    later = datetime.now(UTC) + timedelta(minutes=LOCKOUT_MINUTES, seconds=1)
    assert sign_in(state, "li", PASSWORD, now=later).name == "li"  # the lock expires


def test_a_success_clears_the_count_and_unknown_names_lock_too(store, plan) -> None:
    set_account("li", "district", PASSWORD, district_code="440306")
    state = {"plan": plan, "store": store}
    for _ in range(MAX_FAILED_SIGN_INS - 1):
        with pytest.raises(SignInFailed):
            sign_in(state, "li", "wrong-password")
    assert sign_in(state, "li", PASSWORD).name == "li"
    with pytest.raises(SignInFailed) as exc:
        sign_in(state, "li", "wrong-password")
    assert not isinstance(exc.value, SignInLocked)  # counting started again
    for _ in range(MAX_FAILED_SIGN_INS):  # a name with no account behaves the same (no enumeration)
        with pytest.raises(SignInFailed):
            sign_in(state, "nobody", "wrong-password")
    with pytest.raises(SignInLocked):
        sign_in(state, "nobody", "wrong-password")
    assert sign_in_state_path().stat().st_mode & 0o777 == 0o600


def test_a_locked_name_stays_locked_on_another_store(capsys, monkeypatch, tmp_path, store_db) -> None:
    set_account("alice", "planner", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", "guessed-pw-77")
    for _ in range(MAX_FAILED_SIGN_INS):
        assert main(["scenario", "copy", "main", "b", "--user", "alice", "--db", store_db]) == 4
    monkeypatch.setenv("PLANNER_PASSWORD", PASSWORD)
    other = str(tmp_path / "other.gpkg")
    capsys.readouterr()
    assert main(["scenario", "copy", "main", "b", "--user", "alice", "--db", other]) == 4
    err = capsys.readouterr().err
    assert "too many failed attempts" in err and "尝试次数过多" in err
    assert not open_store(other).exists("b")
    assert _denied(open_store(other), "alice") == 1  # the refusal is recorded where it happened
    assert _denied(open_store(store_db), "alice") == MAX_FAILED_SIGN_INS


def test_parallel_cli_attempts_are_counted_once_each(monkeypatch, store_db) -> None:
    set_account("alice", "planner", PASSWORD)
    monkeypatch.setenv("PLANNER_PASSWORD", "guessed-pw-77")
    codes = _in_threads(
        12, lambda i: main(["scenario", "copy", "main", f"b{i}", "--user", "alice", "--db", store_db])
    )
    assert codes == [4] * 12
    store = open_store(store_db)
    log = store.audit_log()
    details = log[(log["user"] == "alice") & (log["action"] == "sign_in")]["detail"]
    assert len(details) == 12 and int(details.str.startswith("locked").sum()) == 12 - MAX_FAILED_SIGN_INS


def test_a_locked_account_cannot_sign_in_through_the_identity_provider(store, plan) -> None:
    set_account("li", "district", PASSWORD, district_code="440306", email="li@sz.gov.cn")
    state = {"plan": plan, "store": store}
    for _ in range(MAX_FAILED_SIGN_INS):
        with pytest.raises(SignInFailed):
            sign_in(state, "li", "wrong-password")
    with pytest.raises(SignInLocked):
        sign_in_identity(state, "li@sz.gov.cn")
    assert "user" not in state
    top = store.audit_log().iloc[0]
    assert (top["user"], top["outcome"]) == ("li", "denied") and top["detail"].startswith("locked oidc")
