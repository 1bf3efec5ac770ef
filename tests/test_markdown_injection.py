"""User text is shown as text, never as Markdown (issue 12, item 5): an image link in a version
comment or a park name must not become an image every viewer's browser fetches."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from planner.app.text import md
from planner.core.access import User
from planner.core.register import Register
from planner.store import open_store
from tests.conftest import as_account
from tests.test_app import APP, app_as

EVIL = "![x](http://evil/x.png)"
EVIL_EN = "[click](http://evil/) <img src=http://evil/y.png> :red[alarm] $x^2$ **bold**"
PLANNER = User("wang", "planner", display_name="王工")
# an image or a link in Markdown: "![...](" or "[...](" not preceded by a backslash escape
ACTIVE = re.compile(r"(?<!\\)\[[^\]]*(?<!\\)\]\(")


def _rendered(at: AppTest) -> list[str]:
    """Every Markdown-rendered text of the page and its sidebar."""
    out: list[str] = []
    for kind in (
        "markdown",
        "caption",
        "subheader",
        "title",
        "header",
        "success",
        "info",
        "warning",
        "error",
    ):
        out += [str(e.value) for e in getattr(at, kind)]
    out += [str(e.label) for e in at.text_input] + [str(e.label) for e in at.button]
    return out


@pytest.fixture
def evil_store(plan) -> str:
    """The store with a version by ``wang`` whose comment and first park's names are hostile."""
    store = open_store(None, plan)
    register, v = store.load("main")
    parks = register.parks.copy()
    parks.loc[parks.index[0], ["name_zh", "name_en"]] = [EVIL, EVIL_EN]
    store.save(
        Register(parks, register.allocations, register.quotas),
        user=as_account(PLANNER),
        comment=EVIL,
        expected_version=v.version,
    )
    return str(parks.loc[parks.index[0], "id"])


def test_md_escapes_links_images_html_and_streamlit_syntax() -> None:
    assert md(EVIL) == r"!\[x\](http://evil/x.png)"
    assert not ACTIVE.search(md(EVIL_EN))
    assert md("<img src=x>") == r"\<img src=x\>"
    assert md("# heading\n- item\n12. item") == "\\# heading  \n\\- item  \n12\\. item"
    assert md(None) == "—" and md("南山 (440305), 21:40 a@b.cn") == "南山 (440305), 21:40 a@b.cn"


def test_version_comment_is_shown_as_text_on_the_scenarios_page(evil_store) -> None:
    at = app_as(None, "pages/scenario.py")
    texts = _rendered(at)
    assert any(md(EVIL) in t for t in texts)  # the comment is there, as text
    at.radio(key="scenario_view").set_value("history").run()
    assert not at.exception
    texts = _rendered(at)
    assert any(md(EVIL) in t for t in texts)
    assert not [t for t in texts if ACTIVE.search(t)], [t for t in texts if ACTIVE.search(t)]


def test_park_name_is_shown_as_text_on_the_map_page(evil_store) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["selected_park"] = evil_store
    at.run()
    at.switch_page("pages/map.py").run()
    assert not at.exception
    texts = _rendered(at)
    assert any(md(EVIL) in t and md(EVIL_EN) in t for t in texts)
    assert not [t for t in texts if ACTIVE.search(t) or re.search(r"(?<!\\)<img", t)]
