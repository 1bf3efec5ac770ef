"""What every app page needs in its session state, as pure data (no streamlit here).

The entry script fills the state from cached loaders; a page opened on its own (a deep link, or
AppTest running one page) fills it here, so no page depends on another having run first.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from planner.access import User, check_change
from planner.changes import RegisterChanges
from planner.geo import m2_to_wan
from planner.plan import DEFAULT_PLAN, Plan, load_plan
from planner.register import Register, load_register

LANGS = ("zh", "en")


def ensure_state(
    state: MutableMapping[str, Any], plan_name: str = DEFAULT_PLAN
) -> tuple[Plan, Register, str]:
    """The session's plan, working register and language, loading what is missing.

    The working register starts as the plan's seed register; edits replace it with the new
    Register that the library's validating functions return.
    """
    if "plan" not in state:
        state["plan"] = load_plan(plan_name)
    if "register" not in state:
        state["register"] = load_register(state["plan"])
    if state.get("lang") not in LANGS:
        state["lang"] = LANGS[0]
    return state["plan"], state["register"], state["lang"]


def current_user(state: MutableMapping[str, Any]) -> User | None:
    """The signed-in user, or None (then the app is read-only)."""
    user = state.get("user")
    return user if isinstance(user, User) else None


def commit_register(
    state: MutableMapping[str, Any], new_register: Register, *, comment: str = ""
) -> RegisterChanges:
    """The app's one write path: the signed-in user's rights are checked (AccessDenied names
    every park or allocation refused), then ``new_register`` becomes the working register.

    Pages never assign ``state["register"]`` themselves; the store integration saves here.
    """
    user = current_user(state)
    plan = state["plan"]
    if user is None:
        user = User("anonymous", "viewer", display_name="未登录 not signed in")
    changes = check_change(user, state["register"], new_register, plan)
    state["register"] = new_register
    return changes


# The app's pages (path relative to app.py, Chinese and English titles, Material icon), in the
# order the sidebar lists them. Each page draws this navigation itself, so a deep link works.
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("app.py", "概览", "Overview", ":material/home:"),
    ("pages/map.py", "地图", "Map", ":material/map:"),
    ("pages/capacity.py", "容量", "Capacity", ":material/bar_chart:"),
    ("pages/district.py", "区级分配", "District allocations", ":material/apartment:"),
    ("pages/export.py", "导出", "Export", ":material/download:"),
    ("pages/import.py", "导入", "Import", ":material/upload:"),
)
APP_TITLE = "深圳软件园区规划 Shenzhen Park Planner"


def fmt_wan(value: float | None) -> str:
    """A short figure for a metric tile: '52.6 万㎡' ('—' for missing); ``fmt_m2`` gives the long form."""
    if value is None or value != value:
        return "—"
    return f"{m2_to_wan(value):,.1f} 万㎡"
