"""A reload keeps the sign-in through a signed, expiring, revocable cookie (issue 12, item 13).

The token rules on real accounts files; ``tests/test_browser.py`` reloads a real browser page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from planner.app.session import (
    SESSION_COOKIE,
    acting_user,
    cookie_script,
    sign_in,
    sign_in_from_token,
    sign_out,
)
from planner.core.accounts import (
    MAX_FAILED_SIGN_INS,
    TOKEN_HOURS,
    SignInFailed,
    disable_account,
    issue_token,
    secret_path,
    set_account,
    user_for_token,
)
from planner.errors import AccessDenied

PASSWORD = "correct-horse-1"


@pytest.fixture
def li(plan):
    return set_account("li", "district", PASSWORD, district_code="440306").user()


def test_a_token_signs_in_until_it_expires(li) -> None:
    token = issue_token(li)
    assert user_for_token(token) == li
    assert secret_path().stat().st_mode & 0o777 == 0o600  # generated per installation, private
    later = datetime.now(UTC) + timedelta(hours=TOKEN_HOURS, minutes=1)
    assert user_for_token(token, now=later) is None


def test_a_forged_or_foreign_token_is_refused(li, tmp_path) -> None:
    token = issue_token(li)
    payload, sig = token.rsplit(".", 1)
    assert user_for_token(payload + "." + sig[::-1]) is None
    assert user_for_token("li") is None and user_for_token("") is None
    other = tmp_path / "other" / "accounts.toml"  # another installation has another secret
    set_account("li", "district", PASSWORD, district_code="440306", path=other)
    assert user_for_token(token, path=other) is None


def test_sign_out_disable_and_a_new_password_revoke_it(li, plan, store) -> None:
    state = {"plan": plan, "store": store}
    sign_in(state, "li", PASSWORD)
    token = state["token"]
    assert user_for_token(token) == li
    sign_out(state)
    assert user_for_token(token) is None  # this and every other cookie of li

    sign_in(state, "li", PASSWORD)
    token = state["token"]
    set_account("li", "district", "another-password-2", district_code="440306")
    assert user_for_token(token) is None

    sign_in(state, "li", "another-password-2")
    token = state["token"]
    disable_account("li")
    assert user_for_token(token) is None
    with pytest.raises(AccessDenied):
        acting_user(state)  # and the open session is refused at its next write, as before


def test_a_locked_account_is_not_signed_in_by_its_cookie(li, plan, store) -> None:
    token = issue_token(li)
    state = {"plan": plan, "store": store}
    for _ in range(MAX_FAILED_SIGN_INS):
        with pytest.raises(SignInFailed):
            sign_in(state, "li", "wrong-password")
    assert user_for_token(token) is None


def test_a_new_session_signs_in_from_the_cookie_once(li, plan, store) -> None:
    first = {"plan": plan, "store": store}
    sign_in(first, "li", PASSWORD)
    script = cookie_script(first)
    assert script and f"{SESSION_COOKIE}={first['token']}; Path=/; Max-Age={TOKEN_HOURS * 3600}" in script
    assert "SameSite=Strict" in script and cookie_script(first) is None  # set once

    reloaded = {"plan": plan, "store": store}  # F5: a new session, the cookie comes with it
    assert sign_in_from_token(reloaded, first["token"]) == li
    assert cookie_script(reloaded) is None  # the browser has it already
    top = store.audit_log().iloc[0]
    assert (top["user"], top["action"], top["outcome"], top["detail"]) == ("li", "sign_in", "ok", "cookie")

    sign_out(reloaded)
    script = cookie_script(reloaded)
    assert script and f"{SESSION_COOKIE}=; Path=/; Max-Age=0" in script  # deleted in the browser
    again = {"plan": plan, "store": store}
    assert sign_in_from_token(again, first["token"]) is None and "user" not in again
    assert f"{SESSION_COOKIE}=; Path=/; Max-Age=0" in (cookie_script(again) or "")
