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
from planner.errors import AccessDenied, Problem
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


def identity_sign_in_once(state: MutableMapping[str, Any], email: str | None) -> User | None:
    """``sign_in_identity`` once per session and e-mail: after the identity provider sends the
    browser back, the home page maps the e-mail to an account; a later sign-out in the app
    is not undone on the next rerun."""
    if not email or state.get("identity_seen") == email or current_user(state) is not None:
        return current_user(state)
    state["identity_seen"] = email
    return sign_in_identity(state, email)


def sign_out(state: MutableMapping[str, Any]) -> None:
    """Forget the session's user (the app becomes read-only); the working register stays."""
    state.pop("user", None)


def user_line(state: MutableMapping[str, Any], lang: str = "zh") -> str:
    """The sidebar's who-am-I line: 'name · role · district', or 'not signed in · read-only'."""
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
    return f"{user.display_name or user.name} · {role}{where}"


READ_ONLY_NOTE = "只读 read-only: 请登录 sign in to edit"


def _district_name(plan: Plan, code: str | None, lang: str) -> str:
    if code and code in plan.district_codes():
        d = plan.district(code)
        return d.name_zh if lang == "zh" else d.name_en
    return code or "—"


def read_only_note(
    user: User | None, plan: Plan, lang: str = "zh", district_code: str | None = None
) -> str | None:
    """Why this user may not edit here (None when they may): the note a page shows instead of
    its editing controls. ``district_code`` is the district the page shows, if any."""
    if user is None:
        return READ_ONLY_NOTE
    if user.role == "viewer":
        return "只读 read-only: 此账户只能查看 this account may only read"
    if district_code is None or user.can_edit_district(district_code):
        return None
    own = _district_name(plan, user.district_code, lang)
    here = _district_name(plan, district_code, lang)
    if lang == "zh":
        return f"只读: 您只能编辑本区 ({own}) 的园区与分配, {here} 由该区或市级规划人员维护。"
    return f"Read-only: you may edit only your own district ({own}); {here} is kept by its staff or a city planner."


def rights_text(user: User, plan: Plan, lang: str = "zh") -> str:
    """What this user may do, in one sentence (the sign-in page shows it)."""
    if user.role == "planner":
        return (
            "可编辑全部园区、分配与各区指标。"
            if lang == "zh"
            else "May change every park and allocation, and the district quotas."
        )
    if user.role == "district":
        own = _district_name(plan, user.district_code, lang)
        return (
            f"可编辑本区 ({own}) 的园区与分配; 其他区只读; 指标由市级规划人员设定。"
            if lang == "zh"
            else f"May change the parks and allocations of {own}; other districts are read-only; "
            "quotas are set by city planners."
        )
    return "只能查看, 不能修改。" if lang == "zh" else "May read everything and change nothing."


def problems_frame(problems: list[Problem], lang: str = "zh") -> pd.DataFrame:
    """Refused items as a table: place, field, the problem in the page's language."""
    zh = lang == "zh"
    return pd.DataFrame(
        {
            "位置" if zh else "Place": [p.place for p in problems],
            "字段" if zh else "Field": [p.field for p in problems],
            "问题" if zh else "Problem": [p.message_zh if zh else p.message_en for p in problems],
        }
    )


def denied_message(err: AccessDenied, lang: str = "zh") -> str:
    """A refusal for the page: a heading, then every item refused, Chinese first, then English."""
    head = (
        f"无权修改, 共 {len(err.problems)} 项; 未作任何修改, 已记录。"
        if lang == "zh"
        else f"Not allowed: {len(err.problems)} item(s); nothing was changed; the attempt is recorded."
    )
    return "\n".join([head, "", *(f"- {p.message_zh} / {p.message_en}" for p in err.problems)])


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
    ("pages/import.py", "导入", "Import", ":material/upload:"),
    ("pages/signin.py", "登录", "Sign in", ":material/login:"),
)
APP_TITLE = "深圳软件园区规划 Shenzhen Park Planner"


def fmt_wan(value: float | None) -> str:
    """A short figure for a metric tile: '52.6 万㎡' ('—' for missing); ``fmt_m2`` gives the long form."""
    if value is None or value != value:
        return "—"
    return f"{m2_to_wan(value):,.1f} 万㎡"
