"""The app in a real browser, with every request that is not to the app refused (an intranet).

Starts ``streamlit run app.py`` on a free port, waits for ``/_stcore/health``, drives Debian's
chromium through Playwright (``playwright install`` cannot work offline), opens every page,
checks that no error is shown and that the Leaflet map renders the districts from the app's own
assets, signs in through the form (an account in the server's own accounts file), draws a polygon
with the mouse and sees the new park appear, saves the register as a new scenario on the Scenarios
page and sees it listed. The server has its own store (``PLANNER_DB`` in its tmp folder), so a test
run never touches ``data/``. Screenshots of every page go
to ``artifacts/screenshots/`` (git-ignored) for a developer to look at.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.browser_util import (
    CHROMIUM,
    MAP_FRAME,
    N_DISTRICTS,
    ROOT,
    app_context,
    launch_chromium,
    running_app,
)

pytestmark = pytest.mark.browser

SHOTS = ROOT / "artifacts" / "screenshots"
PAGES = {
    "overview": "",
    "map": "map",
    "capacity": "capacity",
    "monitor": "monitor",
    "district": "district",
    "export": "export",
    "import": "import",
    "scenario": "scenario",
    "proposals": "proposals",
}
# the last thing each page draws: once it is there, the script has run to its end
LAST = {
    "overview": "主要问题",
    "map": "点击园区查看其数据与分配",
    "capacity": "检查结果",
    "monitor": "市级规划人员登录后可录入实际值和新建后续规划",
    "district": "下载本区数据",
    "export": "分配 (",
    "import": "请选择要导入的文件",
    "scenario": "只有市级规划人员可以另存为新方案或删除方案",
    "proposals": "下载场地容量 GeoJSON",
}
# script run in the map's frame: a park with this id is drawn as a park (interactive), not only as the
# selection outline (``window.map`` is the Leaflet map streamlit-folium builds)
HAS_PARK = """(id) => {
    if (!window.map) { return false; }  // the map is being (re)built
    let found = false;
    window.map.eachLayer(l => {
        if (l.feature && l.feature.properties && l.feature.properties.id === id
            && l.options.interactive !== false) { found = true; }
    });
    return found;
}"""
SERVER_LOGS: dict[str, Path] = {}  # the server's address -> its log (stdout and stderr)
ACCOUNT, PASSWORD = "browser-planner", "a browser test password"


def _accounts_env(folder: Path) -> dict[str, str]:
    """The server's own accounts file (one city planner; editing needs a sign-in) and its own
    store (seeded on first use), both in its tmp folder: a test run never touches data/."""
    from planner.core.accounts import set_account

    accounts = folder / "accounts.toml"
    set_account(ACCOUNT, "planner", PASSWORD, display_name="浏览器测试", path=accounts)
    return {"PLANNER_ACCOUNTS": str(accounts), "PLANNER_DB": str(folder / "planner.gpkg")}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app, one server for the module (each test opens its pages in a new session)."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not installed (bash run.sh test installs Debian's chromium)")
    tmp = tmp_path_factory.mktemp("streamlit")
    with running_app(tmp, _accounts_env(tmp)) as (_, base):
        SERVER_LOGS[base] = tmp / "server.log"
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator:
    """Playwright and one chromium for the module (each test gets contexts of its own)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch_chromium(pw)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def browser_page(server: str, browser):
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    blocked: list[str] = []
    errors: list[str] = []
    sent: list[bytes] = []  # messages the browser sent to the app (reruns among them)
    context = app_context(browser, server, blocked)
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: sent.append(payload)))
    page.set_default_timeout(30_000)
    page.sent = sent
    yield page, server, blocked, errors
    context.close()


def _open(page, base: str, name: str) -> None:
    page.goto(f"{base}/{PAGES[name]}")
    page.locator('[data-testid="stApp"]').wait_for()
    page.get_by_text(LAST[name]).first.wait_for()
    _settled(page)


def _settled(page) -> None:
    """The script run has finished (elements of the previous view are gone) and lazily loaded
    elements (tables, metrics, buttons) have replaced their skeletons."""
    page.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid=stApp]');
            const state = app && app.getAttribute('data-test-script-state');
            return state && !['running', 'rerunRequested'].includes(state)
                && !document.querySelector('[data-testid=stSkeleton], [data-testid=stSkeletonElement]');
        }"""
    )


def _assert_no_error(page, name: str) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0, f"{name}: exception shown"
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"{name}: error shown"


def _map_frame(page):
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator(".leaflet-container").wait_for()
    # the districts and parks (or aggregate cells) are SVG paths once Leaflet has drawn them; a
    # park far smaller than a pixel at city scale is an empty path: attached, not visible
    frame.locator("path.leaflet-interactive").nth(N_DISTRICTS - 1).wait_for()
    frame.locator("path.leaflet-interactive").nth(N_DISTRICTS).wait_for(state="attached")
    return frame


def test_every_page_renders_offline(browser_page) -> None:
    page, base, blocked, errors = browser_page
    for name in PAGES:
        _open(page, base, name)
        if name in ("overview", "map", "proposals"):
            frame = _map_frame(page)
            assert frame.locator("path.leaflet-interactive").count() >= N_DISTRICTS
            assert frame.locator(".planner-legend").count() == 1
        if name == "capacity":  # cumulative by year, by status, by specialisation
            page.locator('[data-testid="stVegaLiteChart"]').nth(2).wait_for()
        if name in ("overview", "capacity"):
            page.get_by_text("300.0万㎡ (3,000,000 m²)").first.wait_for()
        _assert_no_error(page, name)
        page.screenshot(path=SHOTS / f"{name}.png", full_page=True)
    assets = [u for u in blocked if urlparse(u).path.endswith((".js", ".css", ".png", ".svg", ".woff2"))]
    assert assets == [], f"assets requested from outside the app: {assets}"
    assert blocked == [], f"requests to outside hosts: {blocked}"
    assert errors == [], f"JavaScript errors: {errors}"


def test_export_downloads_a_geojson_file(browser_page) -> None:
    page, base, blocked, errors = browser_page
    _open(page, base, "export")
    with page.expect_download() as info:
        page.get_by_role("button", name="GeoJSON (RFC 7946)").first.click()
    data = json.loads(Path(info.value.path()).read_text(encoding="utf-8"))
    assert info.value.suggested_filename.endswith("_districts.geojson")
    assert data["type"] == "FeatureCollection" and len(data["features"]) == N_DISTRICTS
    assert blocked == [] and errors == []


def _reruns(frames: list) -> list[str]:
    """The reruns the browser asked for: '' for the whole script, else the fragment's id."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    out = []
    for frame in frames:
        msg = BackMsg()
        msg.ParseFromString(frame if isinstance(frame, bytes) else frame.encode())
        if msg.WhichOneof("type") == "rerun_script":
            out.append(msg.rerun_script.fragment_id)
    return out


def test_panning_and_a_click_rerun_only_the_map(browser_page) -> None:
    """Panning and zooming rerun the map fragment (it draws what is in view), never the page;
    a click too."""
    page, base, blocked, errors = browser_page
    _open(page, base, "map")
    frame = _map_frame(page)
    start = len(page.sent)
    box = page.locator(MAP_FRAME).first.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.15
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 120, y + 40, steps=10)
    page.mouse.up()
    frame.locator(".leaflet-control-zoom-in").click()
    frame.locator(".leaflet-control-zoom-out").click()
    _settled(page)  # the viewport layer swapped in after the zoom, before a park is clicked
    # clicking a park is the next thing that may rerun anything; it must rerun the map fragment only
    frame.locator("path.leaflet-interactive").nth(N_DISTRICTS).click(force=True)
    page.get_by_text(re.compile(r"^分配 \(\d+ 条\)$")).wait_for()
    reruns = _reruns(page.sent[start:])
    assert reruns, "the click asked for no rerun"
    assert "" not in reruns, "a pan, zoom or click reran the whole script, not only the map fragment"
    assert page.get_by_text("新园区 (已绘制)").count() == 0, "a clicked park was taken for a drawing"
    _assert_no_error(page, "map after a click")
    _settled(page)
    page.screenshot(path=SHOTS / "map_park_selected.png", full_page=True)
    assert blocked == [] and errors == []


def _sign_in(page, base: str, password: str) -> None:
    """Sign in through the form on the sign-in page (a fresh session: page.goto starts one; the
    browser's sign-in cookie is dropped first, else the new session is signed in already)."""
    page.context.clear_cookies()
    page.goto(f"{base}/signin")
    page.get_by_label("用户名", exact=True).fill(ACCOUNT)
    page.get_by_label("密码", exact=True).fill(password)
    page.get_by_role("button", name="登录", exact=True).click()


def test_sign_in_through_the_form(browser_page) -> None:
    page, base, blocked, errors = browser_page
    _sign_in(page, base, "not the password")
    page.get_by_text("用户名或密码错误").wait_for()
    _settled(page)
    page.screenshot(path=SHOTS / "signin_refused.png", full_page=True)
    _sign_in(page, base, PASSWORD)
    page.get_by_text("已登录").wait_for()
    page.get_by_text("已登录: 浏览器测试 · 市级规划人员").wait_for()  # the sidebar says it too
    _assert_no_error(page, "signed in")
    _settled(page)
    page.screenshot(path=SHOTS / "signin.png", full_page=True)
    assert blocked == [] and errors == []


def test_a_reload_keeps_the_sign_in_until_sign_out(browser_page) -> None:
    page, base, blocked, errors = browser_page
    _sign_in(page, base, PASSWORD)
    page.get_by_text("已登录").wait_for()
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("浏览器测试 · 市级规划人员").wait_for()
    page.wait_for_function("() => document.cookie.includes('planner_sign_in=')")
    cookie = next(c for c in page.context.cookies() if c["name"] == "planner_sign_in")
    assert cookie["sameSite"] == "Strict" and cookie["expires"] > time.time() + 3600
    page.reload()  # F5: a new session
    sidebar.get_by_text("浏览器测试 · 市级规划人员").wait_for()
    _settled(page)
    page.goto(f"{base}/district")  # a typed address: a new session too
    sidebar.get_by_text("浏览器测试 · 市级规划人员").wait_for()
    sidebar.get_by_role("button", name="退出登录").click()
    sidebar.get_by_text("未登录 · 只读").wait_for()
    page.wait_for_function("() => !document.cookie.includes('planner_sign_in=')")
    page.reload()
    sidebar.get_by_text("未登录 · 只读").wait_for()
    _settled(page)
    assert not [c for c in page.context.cookies() if c["name"] == "planner_sign_in"]
    assert blocked == [] and errors == []


# Chrome (Blink's ``LocalFrame::ShouldThrottleDownload``: ``kBurstDownloadLimit = 10``, counted
# afresh 1 s after a burst's first download) starts at most 10 downloads a second from one page and
# drops further ones without a word, on either side, whatever the site or its settings. Streamlit's
# frontend starts each download by clicking a link once the server has written the file, so 16 clicks
# about 70 ms apart (Playwright's quickest) give 10 to 13 files. A person cannot click 11 buttons within a second.
BURST_LIMIT, BURST_SECONDS = 10, 1.2  # Blink's 1 s, and a margin


def _downloading_page(browser, server: str) -> tuple:
    """A new context that accepts downloads, its tab, and the lists of blocked requests and
    JavaScript errors it collects."""
    blocked: list[str] = []
    errors: list[str] = []
    context = app_context(browser, server, blocked, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return context, page, blocked, errors


def _quick_clicks(page, server: str, *, as_chrome_allows: bool) -> tuple[list, dict[str, int]]:
    """Open the Export page (a new session) and click its 16 download buttons one after the other,
    never waiting for the previous file. ``as_chrome_allows``: a click waits, if need be, until
    Chrome would start its download (fewer than ``BURST_LIMIT`` downloads started within
    ``BURST_SECONDS`` or still to start; see above); then waits until every download has started.
    Else as quickly as Playwright can click, and waits until the server has sent each file.
    Returns the browser's downloads and each file the server sent (name -> HTTP status)."""
    _open(page, server, "export")
    buttons = page.locator('[data-testid="stDownloadButton"] button')
    n = buttons.count()
    assert n == 16  # 3 layers x 5 formats, and the annex
    got: list = []
    started: list[float] = []  # when each download was seen to start
    served: dict[str, int] = {}

    def keep(download) -> None:
        got.append(download)
        started.append(time.monotonic())

    def sent(response) -> None:  # the frontend fetches each file it is given, then opens it
        name = re.search(r'filename="([^"]+)"', response.headers.get("content-disposition", ""))
        if "/media/" in response.url and name:
            served[name.group(1)] = response.status

    def chrome_would_drop(clicked: int) -> bool:  # downloads of the last burst and still to start
        recent = sum(time.monotonic() - t < BURST_SECONDS for t in started)
        return recent + clicked - len(started) >= BURST_LIMIT

    page.on("download", keep)
    page.on("response", sent)
    deadline = time.monotonic() + 120
    for i in range(n):
        while as_chrome_allows and chrome_would_drop(i):
            assert time.monotonic() < deadline, f"{i - len(started)} of {i} clicks started no download"
            page.wait_for_timeout(20)  # polling interval, not a wait for the app
        buttons.nth(i).click()
    while (len(served) < n or (as_chrome_allows and len(got) < n)) and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # polling interval, not a wait for the app
    page.remove_listener("download", keep)
    page.remove_listener("response", sent)
    assert page.locator('[data-testid="stDownloadButtonError"]').count() == 0
    return got, served


def test_quick_clicks_on_every_download_button_each_get_their_file_from_the_server(
    server: str, browser
) -> None:
    """Issue 12.12: 16 clicks as quick as Playwright's, in three rounds (each a new session): the
    server writes and sends each click's file (16 names, HTTP 200) and never loses a deferred file
    (``MediaFileStorageError: Deferred file ... not found``: a rerun would drop them)."""
    context, page, blocked, errors = _downloading_page(browser, server)
    for _ in range(3):
        _, served = _quick_clicks(page, server, as_chrome_allows=False)
        assert len(served) == 16 and set(served.values()) == {200}, served
    context.close()
    assert blocked == [] and errors == []
    assert "MediaFileStorageError" not in SERVER_LOGS[server].read_text(encoding="utf-8")


def test_quick_clicks_on_every_download_button_each_give_a_file(server: str, browser) -> None:
    """Issue 12.12 in the browser: 16 quick clicks (the next before the previous file has come,
    as many at once as Chrome starts downloads, see BURST_LIMIT) and the browser saves each of the
    16 files, none empty, none twice."""
    context, page, blocked, errors = _downloading_page(browser, server)
    try:
        got, served = _quick_clicks(page, server, as_chrome_allows=True)
        names = sorted(d.suggested_filename for d in got)
        assert len(names) == 16 and len(set(names)) == 16, names
        assert set(names) == set(served), (names, served)  # the files the server sent for the clicks
        for d in got:
            assert d.failure() is None and Path(d.path()).stat().st_size > 0, d.suggested_filename
    finally:
        context.close()
    assert blocked == [] and errors == []
    assert "MediaFileStorageError" not in SERVER_LOGS[server].read_text(encoding="utf-8")


def _draw_square(page, frame, x: float, y: float, side: float) -> tuple[float, float]:
    """Take Leaflet.draw's polygon tool in the map's ``frame`` and click the corners of a square
    ``side`` pixels wide from page position (x, y), moving like a hand (so that no two clicks are
    read as a double click); ends over the first corner, where a click closes the ring."""
    frame.locator(".leaflet-draw-draw-polygon").click()
    corners = [(x, y), (x + side, y), (x + side, y + side), (x, y + side)]
    vertices = frame.locator(".leaflet-editing-icon")
    for i, (cx, cy) in enumerate(corners):
        page.mouse.move(cx, cy, steps=25)
        page.mouse.click(cx, cy)
        vertices.nth(i).wait_for()  # Leaflet.draw placed the vertex
    page.mouse.move(x, y, steps=25)
    return x, y


def test_draw_a_park_with_the_mouse(browser_page) -> None:
    page, base, blocked, errors = browser_page
    _sign_in(page, base, PASSWORD)
    page.get_by_text("已登录").wait_for()
    # the sidebar's link keeps the session (and its sign-in); a new URL would start a new one
    page.get_by_test_id("stSidebar").get_by_role("link", name="地图", exact=True).click()
    page.get_by_text(LAST["map"]).first.wait_for()
    _settled(page)
    frame = _map_frame(page)
    box = page.locator(MAP_FRAME).first.bounding_box()
    assert box is not None
    # a small square left of the map's centre (inside Shenzhen's districts)
    first = _draw_square(page, frame, box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.45, 40)
    page.screenshot(path=SHOTS / "map_drawing.png")
    start = len(page.sent)
    page.mouse.click(*first)  # closing the ring finishes the polygon
    name = page.get_by_label("名称", exact=True)
    name.wait_for()
    reruns = _reruns(page.sent[start:])
    assert len(reruns) == 1 and reruns[0] != "", f"a drawing must rerun only the map fragment: {reruns}"
    name.fill("浏览器测试园区")
    page.get_by_role("button", name="加入登记册").click()
    page.get_by_text("已加入园区 drawn-001").wait_for()
    page.get_by_text("浏览器测试园区").first.wait_for()
    _settled(page)  # the page was rerun: a new map, its view around the new park
    # the new park is drawn as a park of the register, with a button back to the whole city
    page.locator(MAP_FRAME).first.element_handle().content_frame().wait_for_function(
        HAS_PARK, arg="drawn-001"
    )
    page.get_by_role("button", name="显示全市").wait_for()
    _assert_no_error(page, "map after drawing")
    _settled(page)
    page.screenshot(path=SHOTS / "map_after_drawing.png", full_page=True)
    page.get_by_role("button", name="显示全市").click()
    _map_frame(page)  # the whole city again: every district drawn
    assert blocked == [], f"requests to outside hosts: {blocked}"
    assert errors == [], f"JavaScript errors: {errors}"


def test_import_a_geojson_file(browser_page, plan, tmp_path: Path) -> None:
    """Upload through the real file chooser, see the preview (table and map), confirm.

    Signed in as a city planner, the confirm adds both parks: the Export page, reached through
    the sidebar in the same session, counts two more. A broken file then lists every problem and
    cannot be confirmed.
    """
    from tests.test_uploads import broken_geojson, good_geojson

    page, base, blocked, errors = browser_page
    _sign_in(page, base, PASSWORD)
    page.get_by_text("已登录").wait_for()
    page.get_by_test_id("stSidebar").get_by_role("link", name="导出", exact=True).click()
    page.get_by_text(LAST["export"]).first.wait_for()
    n_before = int(page.get_by_text(re.compile(r"^园区 \((\d+)\)$")).first.inner_text()[4:-1])
    page.get_by_role("link", name="导入").click()
    page.get_by_text(LAST["import"]).first.wait_for()
    path = tmp_path / "浏览器上传.geojson"
    path.write_bytes(good_geojson(plan))
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(path)
    page.get_by_text("2 个园区可以导入").first.wait_for()
    page.get_by_text("上传测试园").first.wait_for(state="attached")  # a cell of the (canvas) table
    frame = _map_frame(page)
    # beyond the districts: the incoming parks (the register is shown as district figures, not
    # parks); a small polygon is a speck at city scale, so "attached", and its dashed circle is seen
    frame.locator('path.leaflet-interactive[stroke="#c2185b"]').nth(2).wait_for(state="attached")
    frame.locator('path.leaflet-interactive[stroke="#c2185b"][stroke-dasharray="6 4"]').last.wait_for()
    _assert_no_error(page, "import preview")
    _settled(page)
    page.screenshot(path=SHOTS / "import_preview.png", full_page=True)
    page.get_by_role("button", name="确认导入 2 个园区").click()
    page.get_by_text(re.compile(r"已导入 .* 中的 2 个园区")).first.wait_for()
    _settled(page)
    page.screenshot(path=SHOTS / "import_done.png", full_page=True)
    # a broken file: every problem listed, the confirm button disabled
    bad = tmp_path / "broken.geojson"
    bad.write_bytes(broken_geojson(plan))
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(bad)
    page.get_by_text("发现 3 个问题, 不能导入").first.wait_for()
    page.get_by_test_id("stCheckbox").get_by_text("采用修复后的形状").wait_for()
    assert page.get_by_role("button", name="确认导入 3 个园区").is_disabled()
    _map_frame(page)
    _settled(page)
    page.screenshot(path=SHOTS / "import_problems.png", full_page=True)
    page.get_by_role("link", name="导出").click()
    page.get_by_text(f"园区 ({n_before + 2})").first.wait_for()
    assert blocked == [], f"requests to outside hosts: {blocked}"
    assert errors == [], f"JavaScript errors: {errors}"


def test_save_as_a_new_scenario(browser_page) -> None:
    """Signed in as a city planner: the Scenarios page saves the register as a new scenario,
    opens it and lists it; the sidebar names it; the history tab shows its version 1."""
    page, base, blocked, errors = browser_page
    _sign_in(page, base, PASSWORD)
    page.get_by_text("已登录").wait_for()
    page.get_by_test_id("stSidebar").get_by_role("link", name="方案与历史", exact=True).click()
    page.get_by_text("另存为新方案").first.wait_for()
    _settled(page)
    page.get_by_label("新方案名称", exact=True).fill("浏览器方案")
    page.get_by_label("说明", exact=True).first.fill("浏览器测试另存")
    page.get_by_label("说明", exact=True).first.press("Enter")
    page.get_by_role("button", name="另存为", exact=True).click()
    page.get_by_text("已另存为方案 浏览器方案 (v1) 并打开。").wait_for()
    page.get_by_test_id("stSidebar").get_by_text(
        re.compile(r"方案 浏览器方案 · v1 \(browser-planner")
    ).wait_for()
    page.get_by_text("浏览器测试另存").first.wait_for(state="attached")  # a cell of the (canvas) table
    _assert_no_error(page, "scenario saved as")
    _settled(page)
    page.screenshot(path=SHOTS / "scenario_saved_as.png", full_page=True)
    page.get_by_test_id("stRadio").get_by_text("方案对比", exact=True).click()
    frame = page.frame_locator(MAP_FRAME).first  # the comparison map: the districts, three layers
    frame.locator("path.leaflet-interactive").nth(N_DISTRICTS - 1).wait_for()
    frame.get_by_text("新增园区 (0)").first.wait_for(state="attached")  # in the folded layer control
    page.get_by_text("A 为基准, B 与之对比").wait_for()
    _settled(page)
    page.screenshot(path=SHOTS / "scenario_compare.png", full_page=True)
    page.locator(MAP_FRAME).first.scroll_into_view_if_needed()
    page.locator(MAP_FRAME).first.screenshot(path=SHOTS / "scenario_compare_map.png")
    page.get_by_test_id("stRadio").get_by_text("历史版本", exact=True).click()
    page.get_by_text("方案 浏览器方案 的每次修改都是一个新版本").wait_for()
    _settled(page)
    page.screenshot(path=SHOTS / "scenario_history.png", full_page=True)
    assert blocked == [], f"requests to outside hosts: {blocked}"
    assert errors == [], f"JavaScript errors: {errors}"
