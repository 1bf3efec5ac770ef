"""The app when things go wrong around it (AppTest): a store that cannot be opened, a broken
accounts file, an account disabled or changed while signed in, a scenario deleted while edited,
and tables that show missing values as blanks, not the text "None"."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import APP, PAGES, TIMEOUT


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
