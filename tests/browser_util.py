"""Starting the app and a browser for the browser tests and ``bench/map.py`` (one place for both).

``streamlit run app.py`` on a free port with its own environment (store, accounts file), its
output in ``server.log`` of its folder, ready once ``/_stcore/health`` answers; Debian's chromium
through Playwright (``playwright install`` cannot work offline); a route handler that refuses
every request not to the app (an intranet).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("PLANNER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
MAP_FRAME = 'iframe[title="streamlit_folium.st_folium"]'
N_DISTRICTS = 9


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    """Poll the health endpoint until it answers ok (no fixed sleep); fail if the server died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # polling interval, not a wait for the app
    raise TimeoutError(f"{url} not healthy after {timeout}s")


@contextmanager
def running_app(folder: Path, env: Mapping[str, str]) -> Iterator[tuple[subprocess.Popen, str]]:
    """``streamlit run app.py`` with ``env`` added to this process's environment (``PLANNER_DB``,
    ``PLANNER_ACCOUNTS``, ...), its output in ``folder/server.log``; yields the process and its
    address once healthy, and stops it on exit."""
    port = free_port()
    full = {**os.environ, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false", **env}
    with (folder / "server.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--server.address", "127.0.0.1"],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=full,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_healthy(f"{base}/_stcore/health", proc)
            yield proc, base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def launch_chromium(pw: Any) -> Any:
    """Debian's chromium, headless, through Playwright's ``pw`` (``sync_playwright()``)."""
    return pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def only_the_app(base: str, blocked: list[str] | None = None) -> Callable[[Any, Any], None]:
    """A route handler letting through requests to the app at ``base`` (and ``data:``/``blob:``
    URLs, which never leave the browser) and refusing every other, noted in ``blocked``."""
    host = urlparse(base).netloc

    def handler(route: Any, request: Any) -> None:
        if urlparse(request.url).netloc == host or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            if blocked is not None:
                blocked.append(request.url)
            route.abort()

    return handler


def app_context(browser: Any, base: str, blocked: list[str] | None = None, **options: Any) -> Any:
    """A new browser context (1400 x 1000, zh-CN) in which only the app at ``base`` is reachable."""
    context = browser.new_context(
        **{"viewport": {"width": 1400, "height": 1000}, "locale": "zh-CN", **options}
    )
    context.route("**/*", only_the_app(base, blocked))
    return context
