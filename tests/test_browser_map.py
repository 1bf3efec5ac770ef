"""The Map page on a city register (10,000 parcels) in a real browser, outside requests refused.

The server's store holds 10,000 synthetic parcels inside the real Shenzhen districts (``bench/map.py``).
Zoomed out the map shows aggregate cells with their counts; zoomed to street level it draws the
parcels in view; a click selects the parcel under the mouse (its figures and allocations shown);
a polygon drawn with the mouse becomes a park, drawn on the map. Screenshots go to
``artifacts/screenshots/map_city_*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import shapely

from tests.browser_util import (
    CHROMIUM,
    MAP_FRAME,
    N_DISTRICTS,
    app_context,
    launch_chromium,
    running_app,
)
from tests.test_browser import (
    HAS_PARK,
    PASSWORD,
    SHOTS,
    _accounts_env,
    _assert_no_error,
    _draw_square,
    _settled,
    _sign_in,
)

pytestmark = pytest.mark.browser
N_PARCELS = 10_000


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """A server whose store's ``main`` holds N_PARCELS synthetic parcels; yields its URL and register."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (bash run.sh test installs Debian's chromium)")
    from bench.map import make_store
    from planner.core.plan import load_plan
    from planner.store import open_store

    tmp = tmp_path_factory.mktemp("city")
    env = _accounts_env(tmp)
    make_store(Path(env["PLANNER_DB"]), N_PARCELS)
    register, _ = open_store(env["PLANNER_DB"], load_plan()).load()
    with running_app(tmp, env) as (_, base):
        yield base, register


@pytest.fixture(scope="module")
def city_page(city):
    """A signed-in browser tab on the Map page of the city register, requests to other hosts refused."""
    from playwright.sync_api import sync_playwright

    base, register = city
    blocked: list[str] = []
    errors: list[str] = []
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        context = app_context(browser, base, blocked)
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.set_default_timeout(60_000)
        _sign_in(page, base, PASSWORD)
        page.get_by_text("已登录").wait_for()
        page.get_by_test_id("stSidebar").get_by_role("link", name="地图", exact=True).click()
        page.get_by_text("点击园区查看其数据与分配").first.wait_for()
        yield page, register, blocked, errors
        context.close()
        browser.close()


def _leaflet(page):
    """The map's frame (to run script in it: ``window.map`` is the Leaflet map)."""
    return page.locator(MAP_FRAME).first.element_handle().content_frame()


def test_zoomed_out_the_map_shows_aggregates_with_counts(city_page) -> None:
    page, _, blocked, errors = city_page
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator("path.leaflet-interactive").nth(N_DISTRICTS).wait_for(state="attached")
    frame.locator(".planner-count").first.wait_for()
    frame.locator(".planner-district-label").nth(N_DISTRICTS - 1).wait_for()
    _settled(page)
    page.screenshot(path=SHOTS / "map_city_zoomed_out.png", full_page=True)
    counts = [int(t.replace(",", "")) for t in frame.locator(".planner-count").all_inner_texts()]
    assert 0 < sum(counts) <= N_PARCELS and max(counts) > 1  # cells, not parcels
    assert blocked == [] and errors == []


def test_at_street_level_a_click_selects_the_parcel_under_the_mouse(city_page) -> None:
    page, register, blocked, errors = city_page
    target = register.parks.iloc[0]
    point = target.geometry.representative_point()
    leaflet = _leaflet(page)
    leaflet.wait_for_function("() => !!window.map")  # built (this test may be the module's first)
    leaflet.evaluate("([lat, lon]) => window.map.setView([lat, lon], 17)", [point.y, point.x])
    leaflet.wait_for_function(HAS_PARK, arg=target["id"])  # the parcels in view are drawn
    _settled(page)
    page.screenshot(path=SHOTS / "map_city_street.png", full_page=True)
    box = page.locator(MAP_FRAME).first.bounding_box()
    assert box is not None
    centre = leaflet.evaluate(
        "() => { const r = window.map.getContainer().getBoundingClientRect();"
        " return [r.left + r.width / 2, r.top + r.height / 2]; }"
    )
    page.mouse.click(box["x"] + centre[0], box["y"] + centre[1])
    page.get_by_text(re.compile(r"^分配 \(\d+ 条\)$")).wait_for()  # its figures and allocations
    title = page.get_by_role("heading").filter(has_text=re.compile(r"^p\d+ ")).first.inner_text()
    chosen = register.parks.loc[register.parks["id"] == title.split(" / ")[0]].geometry.iloc[0]
    assert shapely.Point(point).within(chosen.buffer(0.0002)), "not the parcel under the mouse"
    _assert_no_error(page, "parcel selected")
    assert blocked == [] and errors == []


def test_a_polygon_drawn_on_the_city_map_becomes_a_park(city_page) -> None:
    page, _, blocked, errors = city_page
    frame = page.frame_locator(MAP_FRAME).first
    box = page.locator(MAP_FRAME).first.bounding_box()
    assert box is not None
    first = _draw_square(page, frame, box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2, 60)
    page.mouse.click(*first)  # closing the ring finishes the polygon
    page.get_by_label("名称", exact=True).fill("城市尺度测试园区")
    page.get_by_role("button", name="加入登记册").click()
    page.get_by_text("已加入园区 drawn-001").wait_for()
    _settled(page)  # the page was rerun: the map is a new one, around the new park
    _leaflet(page).wait_for_function(HAS_PARK, arg="drawn-001")  # drawn as a park of the register
    _assert_no_error(page, "park drawn")
    _settled(page)
    page.screenshot(path=SHOTS / "map_city_drawn.png", full_page=True)
    assert blocked == [], f"requests to outside hosts: {blocked}"
    assert errors == [], f"JavaScript errors: {errors}"
