"""What every app page needs in its session state, as pure data (no streamlit here).

The entry script fills the state from cached loaders; a page opened on its own (a deep link, or
AppTest running one page) fills it here, so no page depends on another having run first.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import pandas as pd

from planner import audit
from planner.access import ANONYMOUS, ROLE_LABELS, User, check_change
from planner.accounts import SignInFailed, accounts_path, authenticate, load_accounts, user_for_identity
from planner.changes import RegisterChanges
from planner.errors import AccessDenied
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


def acting_user(state: MutableMapping[str, Any]) -> User:
    """The signed-in user, or ``ANONYMOUS`` (a viewer) when nobody signed in."""
    return current_user(state) or ANONYMOUS


def _record(state: MutableMapping[str, Any], event: dict[str, Any]) -> None:
    """Keep an audit event in the session (``state["audit"]``) and append it to the audit file."""
    row = audit.record(event)
    state.setdefault("audit", []).append(row)


def commit_register(
    state: MutableMapping[str, Any], new_register: Register, *, comment: str = ""
) -> RegisterChanges:
    """The app's one write path: the signed-in user's rights are checked (AccessDenied names
    every park or allocation refused), then ``new_register`` becomes the working register.

    Both outcomes are recorded (``planner.audit`` and ``state["audit"]``): a change with its
    summary, a refusal with every problem; a refused change leaves the register as it was.
    Pages never assign ``state["register"]`` themselves; the store integration saves here.
    """
    user = acting_user(state)
    try:
        changes = check_change(user, state["register"], new_register, state["plan"])
    except AccessDenied as err:
        _record(
            state,
            {
                "event": "refused",
                "user": user.name,
                "role": user.role,
                "district_code": user.district_code,
                "comment": comment,
                "problems": [p.to_dict() for p in err.problems],
            },
        )
        raise
    if changes:
        _record(
            state,
            {
                "event": "change",
                "user": user.name,
                "role": user.role,
                "district_code": user.district_code,
                "comment": comment,
                "summary": changes.summary(),
                "parks": changes.parks.touched,
                "allocations": changes.allocations.touched,
                "quotas": changes.quotas.touched,
            },
        )
    state["register"] = new_register
    return changes


def has_accounts() -> bool:
    """Whether any account exists (else the sign-in page explains how to create the first)."""
    return bool(load_accounts())


FIRST_ACCOUNT_COMMAND = "python -m planner account add NAME --role planner"


def accounts_file() -> str:
    """Where accounts are read from (for the sign-in page's first-run note)."""
    return str(accounts_path())


def sign_in(state: MutableMapping[str, Any], name: str, password: str) -> User:
    """Check name and password against the accounts file; on success the session's user.

    Raises SignInFailed (one message for unknown, wrong and disabled); the failure is recorded.
    """
    try:
        user = authenticate(name.strip(), password)
    except SignInFailed:
        _record(state, {"event": "sign_in_failed", "user": name.strip()})
        raise
    state["user"] = user
    _record(state, {"event": "sign_in", "user": user.name, "role": user.role})
    return user


def sign_in_identity(state: MutableMapping[str, Any], email: str | None) -> User | None:
    """After an identity provider's sign-in (OIDC, ``st.login``): the account with this e-mail
    becomes the session's user; None (and nobody signed in) when no account has it."""
    user = user_for_identity(email) if email else None
    if user is None:
        if email:
            _record(state, {"event": "sign_in_failed", "user": "", "email": email, "via": "oidc"})
        return None
    state["user"] = user
    _record(state, {"event": "sign_in", "user": user.name, "role": user.role, "via": "oidc"})
    return user


def sign_out(state: MutableMapping[str, Any]) -> None:
    """Forget the session's user (the app becomes read-only); the working register stays."""
    state.pop("user", None)


def user_line(state: MutableMapping[str, Any], lang: str = "zh") -> str:
    """The sidebar's who-am-I line: '👤 name · role district', or 'not signed in · read-only'."""
    user = current_user(state)
    if user is None:
        return "未登录 · 只读" if lang == "zh" else "Not signed in · read-only"
    role = ROLE_LABELS[user.role][0 if lang == "zh" else 1]
    where = ""
    if user.district_code:
        plan: Plan | None = state.get("plan")
        known = plan is not None and user.district_code in plan.district_codes()
        d = plan.district(user.district_code) if known else None
        name = (d.name_zh if lang == "zh" else d.name_en) if d else user.district_code
        where = f" · {name}"
    return f"👤 {user.display_name or user.name} · {role}{where}"


def quota_table(plan: Plan, register: Register) -> pd.DataFrame:
    """Every district with its quota in m² (NaN where none is set): the quota editor's table."""
    codes = plan.district_codes()
    quotas = register.quotas.set_index("district_code")["quota_m2"]
    return pd.DataFrame(
        {
            "district_code": codes,
            "name_zh": [plan.district(c).name_zh for c in codes],
            "name_en": [plan.district(c).name_en for c in codes],
            "quota_m2": pd.Series(codes, dtype=object).map(quotas).astype(float).to_numpy(),
        }
    )


def quotas_from_table(table: pd.DataFrame) -> pd.DataFrame:
    """The quota editor's table back as register quotas (districts left blank have none)."""
    rows = table[table["quota_m2"].notna()]
    return pd.DataFrame(
        {"district_code": rows["district_code"].astype(str), "quota_m2": rows["quota_m2"].astype(float)}
    ).reset_index(drop=True)


# The app's pages (path relative to app.py, Chinese and English titles, Material icon), in the
# order the sidebar lists them. Each page draws this navigation itself, so a deep link works.
PAGES: tuple[tuple[str, str, str, str], ...] = (
    ("app.py", "概览", "Overview", ":material/home:"),
    ("pages/map.py", "地图", "Map", ":material/map:"),
    ("pages/capacity.py", "容量", "Capacity", ":material/bar_chart:"),
    ("pages/district.py", "区级分配", "District allocations", ":material/apartment:"),
    ("pages/export.py", "导出", "Export", ":material/download:"),
    ("pages/signin.py", "登录", "Sign in", ":material/login:"),
)
APP_TITLE = "深圳软件园区规划 Shenzhen Park Planner"


def fmt_wan(value: float | None) -> str:
    """A short figure for a metric tile: '52.6 万㎡' ('—' for missing); ``fmt_m2`` gives the long form."""
    if value is None or value != value:
        return "—"
    return f"{m2_to_wan(value):,.1f} 万㎡"
