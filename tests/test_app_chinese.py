"""Every page in Chinese, read as a planner reads it: no internal code shown as text.

``shown_texts`` collects what a page puts in front of a user (titles, text, alerts, metrics, widget
labels, options and placeholders, visible table headers and cells, editor cells by their option
labels), leaving out what is shown as code on purpose (``st.code``: a command to type) and the map
component (its HTML is tested in ``test_mapview``). The walk covers every page, anonymous, as a
signed-in city planner and as district staff, the three views of the Scenarios page and the
Import page with a file; it fails on the planner's own codes (statuses, roles, bases, severities,
finding codes, column names, district codes) and on "None", "empty", "nan".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
import shapely
import shapely.geometry
from streamlit.testing.v1 import AppTest

from planner.app.session import PAGES
from planner.core.access import ROLES, User
from planner.core.findings import SEVERITIES
from planner.core.plan import Plan
from planner.core.register import ALLOCATION_COLUMNS, BASES, PARK_COLUMNS, QUOTA_COLUMNS, STATUSES
from planner.i18n import FINDING_LABELS
from tests.conftest import as_account
from tests.test_app import _fake_st_folium
from tests.test_uploads import broken_geojson, good_geojson

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60
BAOAN = "440306"
PLANNER = User("wang", "planner", display_name="王工")
BAOAN_STAFF = User("li", "district", BAOAN, display_name="李科长")
PAGE_FILES = [p for p, *_ in PAGES if p != "app.py"]
# what a table or a widget shows for "no value" when nobody told it otherwise
NOTHING = ("None", "none", "empty", "nan", "NaN", "NaT", "<NA>", "null")
# proto fields that hold no text for a person (ids, links, data)
_NOT_TEXT = {
    "id",
    "form_id",
    "url",
    "page",
    "icon",
    "type",
    "key",
    "data",
    "columns",
    "styler",
    "spec",
    "datasets",
}
# a file path or a URL, and a plan file's [section], are shown as they are (a source to check)
_CJK = re.compile(r"[\u4e00-\u9fff]")
# a column that quotes the user's own file as it is (its headers), not the planner's words
QUOTED = {"文件列"}
_PATH = re.compile(r"\S*[/\\]\S*|\[[\w.]+\]|python -m planner[^。;\n]*")  # a command to type, too


def internal_codes(plan: Plan) -> set[str]:
    """The planner's own codes a Chinese page must never show as text."""
    codes = {*STATUSES, *ROLES, *BASES, *SEVERITIES, *FINDING_LABELS, *NOTHING}
    codes |= {*PARK_COLUMNS, *ALLOCATION_COLUMNS, *QUOTA_COLUMNS, "message_zh", "message_en"}
    codes |= set(plan.district_codes())
    for kind in ("specialisations", "park_types", "fields", "roles"):
        codes |= {item.key for item in getattr(plan, kind)}
    return codes


def _frame_texts(node) -> Iterator[str]:
    """What a table shows: the visible columns' headers (their configured labels) and cells
    (an editor's choice cells by their option labels)."""
    value = node.value
    if isinstance(value, pd.Series):
        value = value.to_frame()
    try:
        config = json.loads(node.proto.columns or "{}")
    except (AttributeError, ValueError):
        config = {}
    for col in value.columns:
        conf = config.get(str(col), {})
        if conf.get("hidden") or col in QUOTED:
            continue
        yield str(conf.get("label") or col)
        shown = value[col]
        options = conf.get("type_config", {}).get("options")
        if options:
            names = {o["value"]: o.get("label", o["value"]) for o in options if isinstance(o, dict)}
            shown = shown.map(lambda v, names=names: names.get(v, v))
        # a missing cell is drawn as the table's placeholder, or as "None" when it has none
        missing = shown.isna()
        if missing.any():
            yield getattr(node.proto, "placeholder", "") or "None"
        yield from (str(v) for v in shown[~missing])
    if not isinstance(value.index, pd.RangeIndex):  # a table whose index is shown (st.table)
        yield from (str(i) for i in value.index)


def _proto_texts(proto) -> Iterator[str]:
    for field, value in proto.ListFields():
        if field.name in _NOT_TEXT:
            continue
        if isinstance(value, str):
            yield value
        elif isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
            yield from value


def shown_texts(at: AppTest) -> list[str]:
    """Every text the page shows a user (see the module's docstring)."""
    out: list[str] = []

    def visit(node) -> None:
        kind = getattr(node, "type", "")
        if kind in ("code", "component_instance", "event"):
            return
        if kind in ("dataframe", "table", "arrow_data_frame"):
            out.extend(_frame_texts(node))
        elif getattr(node, "proto", None) is not None:
            out.extend(_proto_texts(node.proto))
        for child in (getattr(node, "children", None) or {}).values():
            visit(child)

    visit(at._tree)
    return out


def codes_shown(at: AppTest, plan: Plan) -> list[tuple[str, str]]:
    """(code, the text it was found in) for every internal code shown."""
    pattern = re.compile(
        r"(?<![\w.-])("
        + "|".join(map(re.escape, sorted(internal_codes(plan), key=len, reverse=True)))
        + r")(?![\w-])"
    )
    found = []
    for text in shown_texts(at):
        for hit in pattern.finditer(_PATH.sub(" ", text)):
            found.append((hit.group(1), text[:160]))
    return found


def _run(user: User | None, page: str | None = None, lang: str = "zh") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if user is not None:
        at.session_state["user"] = as_account(user)
    at.run()
    if lang != "zh":
        at.radio[0].set_value(lang).run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _views(at: AppTest, page: str | None) -> Iterator[tuple[str, AppTest]]:
    """The page as it first shows, and its further views (each view of the Scenarios page, the
    Import page with a good and a broken file, the District page on another district)."""
    yield "", at
    if page == "pages/map.py":  # a park selected: its figures and allocations
        at.session_state["selected_park"] = "tencent_penguin"
        at.run()
        yield "tencent_penguin", at
    if page == "pages/scenario.py":
        for view in ("compare", "history"):
            at.radio(key="scenario_view").set_value(view).run()
            assert not at.exception, [e.message for e in at.exception]
            yield view, at
    if page == "pages/district.py":
        at.selectbox(key="district_code").set_value(BAOAN).run()
        yield BAOAN, at
    if page == "pages/import.py":
        plan = at.session_state.plan
        for name, data in (("good.geojson", good_geojson(plan)), ("broken.geojson", broken_geojson(plan))):
            at.file_uploader[0].set_value((name, data, "application/geo+json")).run()
            assert not at.exception, [e.message for e in at.exception]
            yield name, at


USERS = {"anonymous": None, "planner": PLANNER, "district": BAOAN_STAFF}


@pytest.mark.parametrize("who", list(USERS))
@pytest.mark.parametrize("page", [None, *PAGE_FILES])
def test_every_page_in_chinese_shows_no_internal_code(page: str | None, who: str, plan: Plan) -> None:
    at = _run(USERS[who], page)
    for view, shown in _views(at, page):
        assert not shown.exception, [e.message for e in shown.exception]
        assert codes_shown(shown, plan) == [], f"{page or 'app.py'} {view} as {who}"
        # a multiselect says in Chinese what to choose (Streamlit's own is "Choose an option")
        assert all(_CJK.search(m.proto.placeholder) for m in shown.multiselect), page


def test_the_walk_finds_a_code_when_one_is_shown(plan: Plan) -> None:
    """The check itself can fail: a page that shows a status code and a column name is caught."""
    at = _run(None, "pages/map.py")
    at.session_state["flash"] = "under_construction new_gfa_m2 None"  # shown once by the page
    at.run()
    found = {code for code, _ in codes_shown(at, plan)}
    assert {"under_construction", "new_gfa_m2", "None"} <= found


_BILINGUAL = ("语言 / Language", "中文", "万㎡")  # the switch itself, and the unit shown in both


def _data_names(text: str, plan: Plan, register) -> bool:
    """Whether the Chinese in ``text`` is only names the data holds (a park's, a district's, a
    person's), the language switch or the unit 万㎡."""
    names = [*_BILINGUAL, *(d.name_zh for d in plan.districts), *register.parks["name_zh"]]
    names += [u.display_name for u in USERS.values() if u is not None]
    for name in sorted(names, key=len, reverse=True):
        text = text.replace(name, "")
    return not _CJK.search(text)


@pytest.mark.parametrize("page", [None, *PAGE_FILES])
def test_the_english_switch_shows_english(page: str | None, plan: Plan) -> None:
    """In English the page's own words are English: every label, title, heading and alert.
    (Names the data holds in Chinese, a park's or a district's, may stay as they are.)"""
    at = _run(PLANNER, page, lang="en")
    labels = [
        w.label
        for kind in ("button", "selectbox", "multiselect", "text_input", "radio")
        for w in at.get(kind)
    ]
    labels += [e.value for e in (*at.title, *at.subheader, *at.info, *at.success, *at.warning, *at.error)]
    labels += [m.label for m in at.metric]
    chinese = [x for x in labels if _CJK.search(x) and not _data_names(x, plan, at.session_state.register)]
    assert chinese == [], page


def test_the_drawing_form_in_chinese_shows_no_internal_code(plan: Plan) -> None:
    """The form a drawing opens (st_folium faked as in test_app): labels, choices and placeholders."""
    square = shapely.geometry.mapping(shapely.box(113.93, 22.53, 113.935, 22.535))
    drawing = {"type": "Feature", "properties": {}, "geometry": square}
    with mock.patch("streamlit_folium.st_folium", _fake_st_folium(drawing)):
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.session_state["user"] = as_account(PLANNER)
        at.switch_page("pages/map.py").run()
        assert not at.exception, [e.message for e in at.exception]
        assert any("测得占地面积" in m.value for m in at.markdown)  # the form is there
        assert codes_shown(at, plan) == []
        assert all(m.proto.placeholder and "Choose" not in m.proto.placeholder for m in at.multiselect)
