"""Benchmark: the Map and Overview pages in headless Chromium for 1,000 / 10,000 / 100,000 parcels.

    python bench/map.py [N ...]          # default: 1000 10000 100000

For each N: synthetic parcels (``bench/checks.py``: squares on a grid inside the real districts, one
allocation each) are saved as the only version of ``main`` in a fresh GeoPackage store, the app is
started on it (``streamlit run app.py``, its own accounts file), and Debian's chromium (Playwright,
``executable_path=/usr/bin/chromium``, every request not to the app refused) opens each page. Printed:
bytes the browser received (HTTP bodies and websocket messages), seconds from navigation until the
map has drawn the parcels or aggregates (SVG paths beyond the districts' own), the server's RSS with
one viewer, and with three viewers of the Map page at once. Asserts nothing (see the team's rules).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from checks import synthetic  # noqa: E402  (bench/checks.py: the same synthetic parcels)

from planner.core.access import User  # noqa: E402
from planner.core.plan import load_plan  # noqa: E402
from planner.store import open_store  # noqa: E402
from tests.browser_util import MAP_FRAME, N_DISTRICTS, app_context, launch_chromium, running_app  # noqa: E402


def make_store(path: Path, n: int) -> None:
    """A store whose ``main`` holds ``n`` synthetic parcels (its only saved version after the seed)."""
    plan = load_plan()
    store = open_store(str(path), plan)
    _, v = store.load()
    reg = synthetic(n)
    late = reg.allocations["delivery_year"] > plan.deadline_year  # the store refuses years past the plan
    reg.allocations["delivery_year"] = reg.allocations["delivery_year"].where(~late)  # not counted
    store.save(reg, user=User("bench", "planner"), comment=f"bench {n}", expected_version=v.version)
    store.close()


def rss_mb(pid: int) -> float:
    """The process's resident set size in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def new_page(browser, base: str):
    """A browser tab whose requests other than to the app are refused; counts the bytes it receives."""
    context = app_context(browser, base)
    page = context.new_page()
    page.received = 0  # type: ignore[attr-defined]

    def on_response(resp) -> None:
        with contextlib.suppress(Exception):  # a redirect or an aborted request has no body
            page.received += len(resp.body())  # type: ignore[attr-defined]

    def on_ws(ws) -> None:
        def add(payload) -> None:
            page.received += len(payload)  # type: ignore[attr-defined]

        ws.on("framereceived", add)

    page.on("response", on_response)
    page.on("websocket", on_ws)
    page.set_default_timeout(180_000)
    return context, page


def drawn(page) -> None:
    """Wait until the map shows more SVG paths than the districts: parcels or aggregate cells."""
    frame = page.frame_locator(MAP_FRAME).first
    frame.locator("path.leaflet-interactive").nth(N_DISTRICTS).wait_for(state="attached")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pid: int, timeout: float = 600.0) -> None:
    """Wait until the server has finished the work of earlier viewers (its CPU time stops growing),
    so one page's figures do not include another page's script still running."""
    deadline = time.monotonic() + timeout
    last = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(1.0)  # sampling interval, not a wait for the app
        now = cpu_seconds(pid)
        if now - last < 0.05:
            return
        last = now


def view(browser, base: str, pid: int, label: str, path: str) -> None:
    """Open one page in a fresh tab; print the time until the map drew and the bytes received."""
    context, page = new_page(browser, base)
    t0 = time.perf_counter()
    page.goto(f"{base}/{path}")
    page.locator('[data-testid="stApp"]').wait_for()
    up = time.perf_counter() - t0  # Streamlit's own page (its scripts and styles) is up
    drawn(page)
    seconds = time.perf_counter() - t0
    page.wait_for_timeout(1500)  # late messages (the rest of the page) still count as sent
    print(
        f"  {label:<26} drawn after {seconds:5.1f} s (Streamlit's page up after {up:4.1f} s), "
        f"{page.received / 1e6:6.2f} MB received"
    )
    context.close()
    wait_idle(pid)


def measure(browser, base: str, pid: int) -> None:
    view(browser, base, pid, "Map (first viewer, cold)", "map")
    view(browser, base, pid, "Map (next viewer)", "map")
    view(browser, base, pid, "Overview", "")
    print(f"  server RSS, 1 viewer at a time: {rss_mb(pid):6.0f} MB")
    tabs = [new_page(browser, base) for _ in range(3)]
    for _, page in tabs:
        page.goto(f"{base}/map")
    for _, page in tabs:
        drawn(page)
    print(f"  server RSS, 3 viewers of the Map page at once: {rss_mb(pid):6.0f} MB")
    for context, _ in tabs:
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    with sync_playwright() as pw:
        browser = launch_chromium(pw)
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                folder = Path(tmp)
                db = folder / "bench.gpkg"
                t0 = time.perf_counter()
                make_store(db, n)
                print(f"{n:,} parcels (store written in {time.perf_counter() - t0:.0f} s)")
                env = {"PLANNER_DB": str(db), "PLANNER_ACCOUNTS": str(folder / "accounts.toml")}
                with running_app(folder, env) as (proc, base):
                    print(f"  server RSS before any viewer: {rss_mb(proc.pid):6.0f} MB")
                    measure(browser, base, proc.pid)
        browser.close()


if __name__ == "__main__":
    main()
