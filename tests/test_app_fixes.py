"""The app when things go wrong around it (AppTest): a store that cannot be opened, a broken
accounts file, an account disabled or changed while signed in, a scenario deleted while edited,
and tables that show missing values as blanks, not the text "None"."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from planner.app.session import load_scenario
from planner.core.access import User
from planner.core.accounts import accounts_path, disable_account, set_account
from tests.conftest import as_account
from tests.test_app import APP, PAGES, TIMEOUT
from tests.test_session_auth import PASSWORD, events

BAOAN = "440306"
BAOAN_STAFF = User("li", "district", BAOAN)
CHEN = User("chen", "planner")


@pytest.mark.parametrize("page", [None, *PAGES])
def test_a_store_that_cannot_be_opened_is_an_error_not_an_exception(
    page: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLANNER_DB", str(tmp_path))  # a directory, not a GeoPackage
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    errors = "\n".join(e.value for e in at.error)
    assert str(tmp_path) in errors
    assert "PLANNER_DB" in errors and "无法打开数据存储" in errors


def _signin_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    return at.switch_page("pages/signin.py").run()


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="signin_name").set_value(name)
    at.text_input(key="signin_password").set_value(password)
    return next(b for b in at.button if b.label == "登录").click().run()


@pytest.mark.parametrize("text", ["accounts = 1\n", '[accounts]\nwang = "x"\n', "[accounts\n"])
def test_a_broken_accounts_file_is_an_error_on_the_sign_in_page(text: str) -> None:
    accounts_path().write_text(text, encoding="utf-8")
    at = _signin_page()
    assert not at.exception, [e.message for e in at.exception]
    assert at.error and "账户文件有误" in at.error[0].value and str(accounts_path()) in at.error[0].value
    assert not at.text_input  # no sign-in form that cannot work


def test_an_account_with_an_unknown_district_cannot_sign_in() -> None:
    set_account("li", "district", PASSWORD, district_code="999999")  # hand-edited, not a district
    at = _sign_in(_signin_page(), "li", PASSWORD)
    assert not at.exception, [e.message for e in at.exception]
    assert "user" not in at.session_state
    assert "999999" in at.error[0].value and "account add" in at.error[0].value
    log = events(at.session_state.store)
    assert [(e["action"], e["outcome"], e["user"]) for e in log] == [("sign_in", "denied", "li")]


def test_the_scenario_page_acts_as_the_account_as_it_is_now() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["user"] = as_account(User("wang", "planner"))
    at.run().switch_page("pages/scenario.py").run()
    disable_account("wang")  # by another planner, while wang is signed in
    at.text_input(key="save_as_name_main").set_value("方案B").run()
    at.button(key="save_as").click().run()
    assert not at.exception, [e.message for e in at.exception]
    assert "账户已停用" in at.error[0].value
    assert "user" not in at.session_state
    store = at.session_state.store
    assert list(store.scenarios()["scenario"]) == ["main"]  # nothing copied
    last = events(store)[-1]
    assert (last["action"], last["outcome"], last["user"]) == ("copy", "denied", "wang")


def test_a_scenario_deleted_while_edited_in_the_app() -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["user"] = as_account(BAOAN_STAFF)
    at.run()
    store = at.session_state.store
    store.copy("main", "方案B", user=CHEN)
    load_scenario(at.session_state, "方案B")
    at.switch_page("pages/district.py").run()
    store.delete("方案B", user=CHEN, confirm="方案B")  # by another planner, meanwhile
    at.run()
    assert "已被删除 (chen, " in "\n".join(c.value for c in at.sidebar.caption)
    at.selectbox(key="district_code").set_value(BAOAN).run()
    at.session_state[f"alloc_editor_{BAOAN}"] = {
        "edited_rows": {0: {"area_m2": 450_000}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.button(key="apply_allocations").click().run()
    assert not at.exception, [e.message for e in at.exception]
    (error,) = [e.value for e in at.error]
    assert "方案 方案B 在你载入 v1 之后已被 chen 于 " in error and "删除" in error and "他人保存" not in error
    at.button(key="load_latest").click().run()  # an on_click callback: no traceback
    assert not at.exception, [e.message for e in at.exception]
    assert at.session_state.scenario == "main" and not at.error
    assert any("方案B 已被删除" in w.value for w in at.warning)


@pytest.mark.parametrize("page", ["app.py", "pages/district.py", "pages/capacity.py", "pages/scenario.py"])
def test_tables_show_missing_values_as_a_dash_not_none(page: str) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    if page != "app.py":
        at.switch_page(page).run()
    if page == "pages/district.py":
        at.selectbox(key="district_code").set_value("440305").run()  # parks without a year or an area
        parks = at.dataframe[0].value
        assert parks["delivery_year"].isna().any() and str(parks["delivery_year"].dtype) == "Int64"  # kept
    assert at.dataframe
    assert [d.proto.placeholder for d in at.dataframe] == ["—"] * len(at.dataframe)
