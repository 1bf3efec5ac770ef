"""What every app page needs in its session state, as pure data (no streamlit here).

The page frame (``pages.frame``) fills the state: the plan from its ``st.cache_resource`` loader,
the store from :func:`shared_store` (the one store cache, per process); a page opened on its own (a deep link, or
AppTest running one page) fills it here, so no page depends on another having run first.

The working register comes from the store (``planner.store.service``: ``$PLANNER_DB``, default
``data/planner.gpkg``, seeded on first use): ``state["store"]``, ``state["scenario"]`` (default
``main``) and ``state["version"]`` (the :class:`~planner.store.service.Version` the working register was
loaded from). Every change is saved as a new version through :func:`commit_register`; the
store's audit log is the one trail of changes, refusals, conflicts and sign-ins.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, MutableMapping
from datetime import datetime
from typing import Any

import pandas as pd

from planner.app.registers import remember, shared_register
from planner.core.access import ANONYMOUS, User, may, may_edit_district, rows
from planner.core.accounts import (
    LOCKED_DETAIL,
    TOKEN_HOURS,
    SignInFailed,
    SignInLocked,
    accounts_path,
    authenticate,
    issue_token,
    load_accounts,
    refuse_if_locked,
    revoke_tokens,
    user_for_identity,
    user_for_token,
)
from planner.core.changes import RegisterChanges, apply_delta, register_changes, register_delta
from planner.core.geo import m2_to_wan
from planner.core.plan import Plan, available_plans, load_plan
from planner.core.register import Register
from planner.errors import AccessDenied, NotFound, PlannerError, Problem, ValidationError
from planner.i18n import LANGS, ROLE_LABELS, field_label, place_label
from planner.settings import plan_name as env_plan_name
from planner.store import MAIN, ConflictError, Store, Version, db_location, open_store

_STORES: dict[tuple[str, str], Store] = {}
_STORES_LOCK = threading.Lock()


def shared_store(plan: Plan, db: str | None = None) -> Store:
    """The store at ``db`` / ``$PLANNER_DB`` / the default file for this plan, opened once per
    process: the app's one store cache (``pages.frame`` uses it too; every session of a server
    shares the store; each call of a backend opens its own connection or takes one from its
    pool, so sessions in threads are safe). A store that cannot be opened raises PlannerError
    naming its location (nothing is cached; the next call tries again)."""
    key = (db_location(db, plan.name), plan.id)
    with _STORES_LOCK:
        if key not in _STORES:
            try:
                _STORES[key] = open_store(key[0], plan)
            except (OSError, sqlite3.Error) as exc:  # a directory, not a GeoPackage, unreadable
                raise PlannerError(
                    f"{shown_location(key[0])}: 无法打开存储 / cannot open the store: {exc}"
                ) from exc
        return _STORES[key]


def shown_location(db: str | None = None, plan: str | None = None) -> str:
    """The store's location (of the plan named ``plan``) as shown to users (a URL without its password)."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", db_location(db, plan))


# What stays in a session when it switches to another plan: the language, who is signed in, the
# as-of date (two plans compared at the same date).
KEPT_ON_PLAN_CHANGE = ("lang", "user", "identity_seen", "plan_name", "plan_choice", "as_of")


def plan_choices() -> list[str]:
    """The plans the app offers: the bundled ones, and ``$PLANNER_PLAN`` when it names another folder."""
    names = available_plans()
    chosen = env_plan_name()
    return names if chosen in names else [chosen, *names]


def session_plan_name(state: MutableMapping[str, Any]) -> str:
    """The session's plan: the one chosen in the sidebar, else ``$PLANNER_PLAN``, else shenzhen."""
    return str(state.get("plan_name") or env_plan_name())


def choose_plan(state: MutableMapping[str, Any], name: str) -> bool:
    """Switch the session to the plan ``name`` (True when it changed): everything of the old plan
    (its store, working register, version, scenario, page state) is dropped, the language and the
    signed-in user stay. Each plan keeps its own store (``settings.db_location``)."""
    if name == session_plan_name(state) and "plan" in state:
        return False
    load_plan(name)  # a broken plan folder raises here, leaving the session as it was
    for key in [k for k in list(state.keys()) if k not in KEPT_ON_PLAN_CHANGE]:
        del state[key]
    state["plan_name"] = name
    return True


def state_store(state: MutableMapping[str, Any]) -> Store:
    """The session's store (``state["store"]``), the process's shared one when none was set."""
    if "store" not in state:
        if "plan" not in state:
            state["plan"] = load_plan(session_plan_name(state))
        state["store"] = shared_store(state["plan"])
    return state["store"]


def load_scenario(
    state: MutableMapping[str, Any], scenario: str = MAIN, version: int | None = None
) -> Version:
    """Make a scenario's version (the latest when ``version`` is None) the working register.

    Raises NotFound when there is no such scenario or version (the state is then unchanged). The
    register is the process's shared copy of that version (:func:`planner.app.registers.shared_register`).
    """
    register, v = shared_register(state_store(state), scenario, version)
    state["register"] = register
    state["version"] = v
    state["scenario"] = scenario
    return v


def ensure_state(state: MutableMapping[str, Any], plan_name: str | None = None) -> tuple[Plan, Register, str]:
    """The session's plan, working register and language, loading what is missing.

    The working register is the session's scenario (``main`` at first) as stored, at the
    version it was loaded; edits are saved as new versions by :func:`commit_register`. A
    scenario someone deleted since falls back to ``main``. The plan is ``plan_name``, else the
    session's choice (:func:`session_plan_name`: the sidebar's, else ``$PLANNER_PLAN``).
    """
    if "plan" not in state:
        state["plan"] = load_plan(plan_name or session_plan_name(state))
    state_store(state)
    if "register" not in state or "version" not in state:
        try:
            load_scenario(state, state.get("scenario", MAIN))
        except NotFound:  # deleted meanwhile; a failing store is not hidden behind main
            load_scenario(state, MAIN)
    if state.get("lang") not in LANGS:
        state["lang"] = LANGS[0]
    return state["plan"], state["register"], state["lang"]


def current_user(state: MutableMapping[str, Any]) -> User | None:
    """The signed-in user, or None (then the app is read-only)."""
    user = state.get("user")
    return user if isinstance(user, User) else None


ACCOUNT_DISABLED = "账户已停用 account disabled"


def acting_user(state: MutableMapping[str, Any], action: str = "save") -> User:
    """The user the app acts as for a write (``action``: save, copy, delete, restore), re-read
    from the accounts file at that moment: ``ANONYMOUS`` (a viewer) when nobody signed in.

    A signed-in session keeps no rights of its own: an account disabled or removed since sign-in
    (password or identity provider alike) is refused with AccessDenied, recorded in the store's
    audit log, and the session is signed out; a changed role or district is used at once (and
    becomes ``state["user"]``). A broken accounts file raises PlannerError (nothing is written).
    """
    user = current_user(state)
    if user is None:
        return ANONYMOUS
    account = load_accounts().get(user.name)
    if account is None or account.disabled:
        sign_out(state)
        state_store(state).record_event(
            user=user.name,
            role=user.role,
            action=action,
            outcome="denied",
            detail=f"{ACCOUNT_DISABLED}: {'已删除 removed' if account is None else '已停用 disabled'}",
            scenario=state.get("scenario", MAIN),
        )
        raise AccessDenied(
            [
                Problem(
                    user.name,
                    "account",
                    "账户已停用 (或已删除), 已退出登录",
                    "account disabled (or removed); you are signed out",
                )
            ],
            user=user,
        )
    fresh = account.user()
    if fresh != user:
        state["user"] = fresh
    return fresh


PENDING = "pending_change"  # state key: the change a conflict refused, kept to re-apply


def commit_register(
    state: MutableMapping[str, Any], new_register: Register, *, comment: str = ""
) -> RegisterChanges:
    """The app's one write path: save ``new_register`` as a new version of the session's
    scenario, by the signed-in user, after the version the working register was loaded from.

    The change is computed once here and handed to the store with the working register as its
    base: the store checks the user's rights on the touched rows (AccessDenied names every park,
    allocation or quota refused), validates them (ValidationError) and applies the change onto
    a newer version someone else saved meanwhile unless they changed the same rows
    (ConflictError names those rows and who changed them). Each refusal is recorded in the
    store's audit log and leaves the store and the working register exactly as they were; after
    a conflict the change is kept (``state[PENDING]``) for :func:`reapply_pending`. On success
    the new register and its Version are installed. No change: nothing is saved.
    """
    base = state["register"]
    changes = register_changes(base, new_register)
    if not changes:
        return changes
    store = state_store(state)
    scenario = state.get("scenario", MAIN)
    try:
        version = store.save(
            new_register,
            user=acting_user(state),
            comment=comment,
            scenario=scenario,
            expected_version=state["version"].version,
            base=base,
            changes=changes,
        )
    except ConflictError:
        state[PENDING] = {"delta": register_delta(base, new_register, changes), "comment": comment}
        raise
    state.pop(PENDING, None)
    # merged onto a newer version: the working register is that version, others' changes included;
    # otherwise it is the register just saved, shared with the next viewer of that version
    state["register"] = (
        remember(store, scenario, version, new_register)
        if version.merged_onto is None
        else shared_register(store, scenario, version.version)[0]
    )
    state["version"] = version
    return changes


def pending_change(state: MutableMapping[str, Any]) -> RegisterChanges | None:
    """The change a conflict refused, kept for re-applying (None: there is none)."""
    pending = state.get(PENDING)
    return pending["delta"].changes if pending else None


def reapply_pending(state: MutableMapping[str, Any], forget: Iterable[str] = ()) -> RegisterChanges | None:
    """After a conflict: load the scenario's latest version, apply the kept change onto it and save
    (the rows it changes take the values of the kept change; ``forget`` names the page's editor
    state to drop). Safe in an on_click callback: a refusal is not raised but put in
    ``state["notice"]`` (the page frame shows it) and the change stays kept. None: nothing saved."""
    pending = state.get(PENDING)
    if not pending:
        return None
    for key in forget:
        state.pop(key, None)
    try:
        load_scenario(state, state.get("scenario", MAIN))
        return commit_register(
            state, apply_delta(state["register"], pending["delta"]), comment=pending["comment"]
        )
    except PlannerError as err:
        state[PENDING] = pending
        state["notice"] = refusal_message(err, "zh") + "\n\n" + refusal_message(err, "en")
        return None


def commit_edit(
    state: MutableMapping[str, Any], edit: Callable[[], Register], *, comment: str = "", action: str = "save"
) -> RegisterChanges:
    """The app's one write path for an edit: ``edit()`` builds the new register with the library's
    editing or validation functions (``apply_district_allocations``, ``add_drawn_park``,
    ``set_quotas``, ``confirm_import``), which raise when they refuse it; then
    :func:`commit_register` saves it. A refusal raised by ``edit`` (ValidationError,
    AccessDenied) is recorded in the store's audit log like the store's own refusals (user,
    action, every refused row with its reason), and the working register stays as it was."""
    try:
        new_register = edit()
    except (ValidationError, AccessDenied) as err:
        version: Version | None = state.get("version")
        state_store(state).record_refusal(
            err,
            user=current_user(state) or ANONYMOUS,
            action=action,
            scenario=state.get("scenario", MAIN),
            expected_version=version.version if version is not None else None,
        )
        raise
    return commit_register(state, new_register, comment=comment)


def load_latest(state: MutableMapping[str, Any], forget: Iterable[str] = ()) -> Version:
    """After a conflict: load the scenario's latest version (the session's unsaved edits are
    dropped; ``forget`` names state keys to drop with them, e.g. an editor's widget; a change kept
    by a row conflict stays kept for :func:`reapply_pending`).

    A scenario deleted meanwhile has no latest version: ``main`` is loaded instead and
    ``state["notice"]`` says so (the page frame shows it once). Safe in an on_click callback.
    """
    for key in forget:
        state.pop(key, None)
    scenario = state.get("scenario", MAIN)
    try:
        return load_scenario(state, scenario)
    except NotFound:
        tomb = deleted_version(state, scenario)
        v = load_scenario(state, MAIN)
        by = f" ({tomb.author}, {_when(tomb.created_at)} UTC)" if tomb is not None else ""
        state["notice"] = (
            f"方案 {scenario} 已被删除{by}, 已改为载入主方案 {MAIN} v{v.version}; 其历史版本仍可在「方案与历史」查看。"
            f" / Scenario {scenario} was deleted{by}; loaded {MAIN} v{v.version} instead; its versions can "
            "still be viewed on Scenarios & history."
        )
        return v


def _when(text: str) -> str:
    """'2026-11-25 21:40' from an ISO time (UTC)."""
    return str(text)[:16].replace("T", " ")


def deleted_version(state: MutableMapping[str, Any], scenario: str | None = None) -> Version | None:
    """The deletion (a tombstone Version, ``action='delete'``) when the session's scenario (or
    ``scenario``) was deleted and not restored since; None otherwise."""
    name = scenario or state.get("scenario", MAIN)
    try:
        history = state_store(state).history(name)
    except NotFound:
        return None
    if history.empty or history.iloc[0]["action"] != "delete":
        return None
    row = history.iloc[0]
    return Version(
        scenario=name,
        version=int(row["version"]),
        author=str(row["author"]),
        role=str(row["role"]),
        created_at=str(row["created_at"]),
        comment=str(row["comment"] or ""),
        action="delete",
    )


def newer_version(state: MutableMapping[str, Any]) -> Version | None:
    """The scenario's latest version when someone saved after the working register was loaded
    (its tombstone, ``action='delete'``, when someone deleted the scenario)."""
    try:
        latest = state_store(state).version(state.get("scenario", MAIN))
    except NotFound:
        return deleted_version(state)
    loaded: Version | None = state.get("version")
    return latest if loaded is not None and latest.version > loaded.version else None


def scenario_line(state: MutableMapping[str, Any], lang: str = "zh") -> str:
    """The sidebar's what-am-I-editing line: 'scenario main · v3 (wang, 2026-11-25 21:40)', and a
    note when a newer version was saved since, or the scenario was deleted."""
    v: Version | None = state.get("version")
    if v is None:
        return ""
    zh = lang == "zh"
    text = (
        f"{'方案' if zh else 'Scenario'} {v.scenario} · v{v.version} ({v.author}, {_when(v.created_at)} UTC)"
    )
    newer = newer_version(state)
    if newer is not None and newer.action == "delete":
        text += (
            f" · 已被删除 ({newer.author}, {_when(newer.created_at)} UTC)"
            if zh
            else f" · deleted by {newer.author} ({_when(newer.created_at)} UTC)"
        )
    elif newer is not None:
        text += (
            f" · 已有新版本 v{newer.version} ({newer.author})"
            if zh
            else f" · newer version v{newer.version} ({newer.author}) saved"
        )
    return text


def _sign_in_event(state: MutableMapping[str, Any], user: str, role: str, ok: bool, detail: str) -> None:
    """A sign-in (or a failed one) in the store's audit log (never the password)."""
    state_store(state).record_event(
        user=user, role=role, action="sign_in", outcome="ok" if ok else "denied", detail=detail
    )


def has_accounts() -> bool:
    """Whether any account exists (else the sign-in page explains how to create the first)."""
    return bool(load_accounts())


FIRST_ACCOUNT_COMMAND = "python -m planner account add NAME --role planner"


def accounts_file() -> str:
    """Where accounts are read from (for the sign-in page's first-run note)."""
    return str(accounts_path())


def sign_in(
    state: MutableMapping[str, Any], name: str, password: str, *, now: datetime | None = None
) -> User:
    """Check name and password against the accounts file; on success the session's user, and
    ``state["token"]`` the signed sign-in token the page keeps in a cookie (``SESSION_COOKIE``).

    Raises SignInFailed (one message for unknown, wrong and disabled); after too many failures
    for the name (``planner.core.accounts.authenticate``: counted and checked in one locked step
    beside the accounts file) SignInLocked without checking the password. Every failure is
    recorded in the store's audit log. ``now``: for tests.
    """
    name = name.strip()
    try:
        user = authenticate(name, password, now=now)
    except SignInLocked as exc:
        _sign_in_event(state, name, "", False, f"{LOCKED_DETAIL}: {exc}")
        raise
    except SignInFailed:
        _sign_in_event(state, name, "", False, "用户名或密码错误 wrong user name or password")
        raise
    _refuse_unknown_district(state, user, "password")
    state["user"] = user
    state["token"] = issue_token(user)
    _sign_in_event(state, user.name, user.role, True, "password")
    return user


SESSION_COOKIE = "planner_sign_in"


def sign_in_from_token(state: MutableMapping[str, Any], token: str | None) -> User | None:
    """After a page reload: the user a sign-in cookie stands for (``user_for_token``: signed,
    not expired, not revoked by a sign-out, the account neither disabled nor locked), checked
    once per session; None (and nobody signed in) otherwise."""
    if current_user(state) is not None or state.get("token_seen") or not token:
        return current_user(state)
    state["token_seen"] = True
    user = user_for_token(token)
    if user is None:
        state["token_refused"] = True  # the page drops the cookie
        return None
    plan: Plan | None = state.get("plan")
    if (
        user.district_code is not None
        and plan is not None
        and user.district_code not in plan.district_codes()
    ):
        return None
    state["user"] = user
    state["token"] = state["cookie_set"] = token  # the browser has it already
    _sign_in_event(state, user.name, user.role, True, "cookie")
    return user


def cookie_script(state: MutableMapping[str, Any]) -> str | None:
    """The script the page runs to keep the browser's sign-in cookie in step with the session:
    set it after a sign-in (the token of :func:`sign_in`, for ``TOKEN_HOURS``, this site only),
    delete it after a sign-out or when the cookie was refused; None when nothing changes.
    Streamlit reads cookies (``st.context.cookies``) but sets none, hence a script."""
    token = state.get("token") if current_user(state) is not None else None
    if token and state.get("cookie_set") != token:
        state["cookie_set"] = token
        value, age = token, TOKEN_HOURS * 3600
    elif not token and (state.pop("cookie_set", None) or state.pop("token_refused", None)):
        value, age = "", 0
    else:
        return None
    return (
        f"<script>document.cookie = {json.dumps(f'{SESSION_COOKIE}={value}; Path=/; Max-Age={age}; SameSite=Strict')}"
        ' + (location.protocol === "https:" ? "; Secure" : "");</script>'
    )


def _refuse_unknown_district(state: MutableMapping[str, Any], user: User, how: str) -> None:
    """An account whose district is not one of the plan's (a hand-edited accounts file) may not
    sign in: SignInFailed saying what to fix (told only after the password was right)."""
    plan: Plan | None = state.get("plan")
    if user.district_code is None or plan is None or user.district_code in plan.district_codes():
        return
    message = (
        f"账户 {user.name} 的区代码 {user.district_code} 不是本规划的区; 请市级规划人员用 "
        f"python -m planner account add {user.name} --role {user.role} --district 正确代码 修正 / account "
        f"{user.name} has district code {user.district_code}, which is not a district of this plan; "
        "a city planner must fix it with python -m planner account add"
    )
    _sign_in_event(state, user.name, user.role, False, f"{how}: {message}")
    raise SignInFailed(message)


def sign_in_identity(state: MutableMapping[str, Any], email: str | None) -> User | None:
    """After an identity provider's sign-in (OIDC, ``st.login``): the account with this e-mail
    becomes the session's user; None (and nobody signed in) when no account has it. An account
    locked by failed password sign-ins is refused (SignInLocked, recorded) while the lock lasts."""
    user = user_for_identity(email) if email else None
    if user is None:
        if email:
            _sign_in_event(state, "", "", False, f"oidc {email}: 没有对应的账户 no account")
        return None
    try:
        refuse_if_locked(user.name)
    except SignInLocked as exc:
        _sign_in_event(state, user.name, user.role, False, f"{LOCKED_DETAIL} oidc {email}: {exc}")
        raise
    _refuse_unknown_district(state, user, f"oidc {email}")
    state["user"] = user
    state["token"] = issue_token(user)
    _sign_in_event(state, user.name, user.role, True, f"oidc {email}")
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
    """Forget the session's user (the app becomes read-only; the working register stays) and
    revoke the account's sign-in cookies, so a reload does not sign it in again."""
    user = state.pop("user", None)
    if state.pop("token", None) is not None and isinstance(user, User):
        revoke_tokens(user.name)


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
        d = plan.district(user.district_code) if known and plan is not None else None
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
    if not may(user, "save"):
        return "只读 read-only: 此账户只能查看 this account may only read"
    if district_code is None or may_edit_district(user, district_code):
        return None
    own = _district_name(plan, user.district_code, lang)
    here = _district_name(plan, district_code, lang)
    if lang == "zh":
        return f"只读: 您只能编辑本区 ({own}) 的园区与分配, {here} 由该区或市级规划人员维护。"
    return f"Read-only: you may edit only your own district ({own}); {here} is kept by its staff or a city planner."


def rights_text(user: User, plan: Plan, lang: str = "zh") -> str:
    """What this user may do, in one sentence (the sign-in page shows it), as the policy says."""
    if rows(user, "save") == "all":
        return (
            "可编辑全部园区、分配与各区指标。"
            if lang == "zh"
            else "May change every park and allocation, and the district quotas."
        )
    if rows(user, "save") == "own":
        own = _district_name(plan, user.district_code, lang)
        return (
            f"可编辑本区 ({own}) 的园区与分配; 其他区只读; 指标由市级规划人员设定。"
            if lang == "zh"
            else f"May change the parks and allocations of {own}; other districts are read-only; "
            "quotas are set by city planners."
        )
    return "只能查看, 不能修改。" if lang == "zh" else "May read everything and change nothing."


def problems_frame(problems: list[Problem], lang: str = "zh") -> pd.DataFrame:
    """Refused items as a table: place, field (its label, not the column's code), the problem in
    the page's language."""
    zh = lang == "zh"
    return pd.DataFrame(
        {
            "位置" if zh else "Place": [place_label(p.place, lang) for p in problems],
            "字段" if zh else "Field": [field_label(p.field, lang) for p in problems],
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


LOAD_LATEST = ("载入最新版本", "Load the latest version")
REAPPLY = ("在最新版本上重新应用我的修改", "Re-apply my change onto the latest version")


def conflict_message(err: ConflictError, lang: str = "zh") -> str:
    """A save conflict for the page: who saved which versions since you loaded, what they
    changed (every park, allocation and quota, by id), and what loading the latest does; or,
    when the scenario was deleted meanwhile, who deleted it and when."""
    zh = lang == "zh"
    exp = "—" if err.expected_version is None else f"v{err.expected_version}"
    cur = "—" if err.current_version is None else f"v{err.current_version}"
    tomb = err.versions[-1] if err.versions and err.versions[-1].action == "delete" else None
    if tomb is not None and err.current_version is None:
        when = _when(tomb.created_at)
        head = (
            f"保存冲突: 方案 {err.scenario} 在你载入 {exp} 之后已被 {tomb.author} 于 {when} UTC 删除; "
            "你的修改未保存, 已记录。"
            if zh
            else f"Conflict: scenario {err.scenario} was deleted by {tomb.author} at {when} UTC after you "
            f"loaded {exp}; your change was not saved; the attempt is recorded."
        )
        cur = (
            f"主方案 {MAIN} 的最新版本" if zh else f"the latest version of {MAIN} (this scenario is deleted)"
        )
    elif err.rows:
        head = (
            f"保存冲突: 方案 {err.scenario} 中你修改的行在你载入 {exp} 之后也被他人修改 (现为 {cur}); "
            "你的修改未保存, 已记录, 并已保留。"
            if zh
            else f"Conflict: in scenario {err.scenario}, rows you changed were also changed by someone else "
            f"after you loaded {exp} (now {cur}); your change was not saved; the attempt is recorded and "
            "your change is kept."
        )
    else:
        head = (
            f"保存冲突: 方案 {err.scenario} 在你载入 {exp} 之后已被他人保存 (现为 {cur}); 你的修改未保存, 已记录。"
            if zh
            else f"Conflict: scenario {err.scenario} was saved by someone else after you loaded {exp} "
            f"(now {cur}); your change was not saved; the attempt is recorded."
        )
    lines = [head]
    if err.rows:
        lines += ["", "双方都修改了:" if zh else "Changed by both:"]
        kinds = {
            "parks": ("园区", "park"),
            "allocations": ("分配", "allocation"),
            "quotas": ("指标", "quota"),
        }
        for table, rows in err.rows.items():
            for key, v in rows:
                role = ROLE_LABELS.get(v.role, (v.role, v.role))[0 if zh else 1]
                what = kinds[table][0 if zh else 1]
                lines.append(
                    f"- {what} {key}: {v.author} ({role}) 于 v{v.version} 修改"
                    if zh
                    else f"- {what} {key}: changed by {v.author} ({role}) in v{v.version}"
                )
    lines += ["", "期间保存的版本:" if zh else "Saved since:"]
    for v in err.versions:
        role = ROLE_LABELS.get(v.role, (v.role, v.role))[0 if zh else 1]
        when = v.created_at[:19].replace("T", " ")
        action = ("  [删除]" if zh else "  [deleted]") if v.action == "delete" else ""
        lines.append(f"- v{v.version} · {v.author} ({role}) · {when} UTC · {v.comment or '—'}{action}")
    if err.changes:
        lines += ["", "他们改动了:" if zh else "What they changed:"]
        for what_zh, what_en, ch in (
            ("园区", "parks", err.changes.parks),
            ("分配", "allocations", err.changes.allocations),
            ("指标", "quotas", err.changes.quotas),
        ):
            for kind_zh, kind_en, ids in (
                ("新增", "added", ch.added),
                ("删除", "removed", ch.removed),
                ("修改", "changed", ch.changed),
            ):
                if ids:
                    shown = ", ".join(ids[:20]) + (f" … (+{len(ids) - 20})" if len(ids) > 20 else "")
                    label = f"{what_zh}{kind_zh}" if zh else f"{what_en} {kind_en}"
                    lines.append(f"- {label}: {shown}")
    if err.rows:
        lines += [
            "",
            f"你的修改已保留: 点击「{REAPPLY[0]}」把它应用到 {cur} 上并保存 (上面这些行取你的值); "
            f"或点击「{LOAD_LATEST[0]}」载入 {cur} 后重新修改。"
            if zh
            else f"Your change is kept: '{REAPPLY[1]}' applies it onto {cur} and saves (the rows above take "
            f"your values); or '{LOAD_LATEST[1]}' loads {cur} to edit again.",
        ]
    else:
        lines += [
            "",
            f"点击「{LOAD_LATEST[0]}」载入 {cur}: 你在此页未保存的修改将丢失, 请在新版本上重新修改后保存。"
            if zh
            else f"'{LOAD_LATEST[1]}' loads {cur}: your unsaved edits on this page are dropped; "
            "reapply them to the new version and save again.",
        ]
    return "\n".join(lines)


def refusal_message(err: PlannerError, lang: str = "zh") -> str:
    """One message for any refused write: a conflict, a refusal of rights (every item), an
    invalid register (the count; ``problems_frame`` gives the table) or another error."""
    if isinstance(err, ConflictError):
        return conflict_message(err, lang)
    if isinstance(err, AccessDenied):
        return denied_message(err, lang)
    if isinstance(err, ValidationError):
        n = len(err.problems)
        return (
            f"未保存: 数据未通过校验, 共 {n} 个问题:" if lang == "zh" else f"Not saved: {n} problem(s) found:"
        )
    return str(err)


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
    ("pages/monitor.py", "监测评估", "Monitoring & evaluation", ":material/monitoring:"),
    ("pages/district.py", "区级分配", "District allocations", ":material/apartment:"),
    ("pages/export.py", "导出", "Export", ":material/download:"),
    ("pages/import.py", "导入", "Import", ":material/upload:"),
    ("pages/scenario.py", "方案与历史", "Scenarios & history", ":material/history:"),
    ("pages/proposals.py", "方案生成", "Proposals", ":material/auto_awesome:"),
    ("pages/signin.py", "登录", "Sign in", ":material/login:"),
)


def targets_frame(table: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """The plan's targets (``capacity.target_table``) as the app shows them: label, target with unit,
    year, what the register shows and whether it is met, and the source, in the chosen language."""
    zh = lang == "zh"
    counted = table["counted"].map(lambda v: "—" if pd.isna(v) else f"{v:,.0f}")
    met = table["met"].map(
        lambda m: (
            ("达标" if zh else "met")
            if m is True
            else ("未达标" if zh else "not met")
            if m is False
            else ("登记册无法核算" if zh else "not counted from the register")
        )
    )
    return pd.DataFrame(
        {
            ("指标" if zh else "Target"): table["label_zh" if zh else "label_en"],
            ("目标值" if zh else "Value"): table["comparison"]
            + " "
            + table["value"].map("{:,.0f}".format)
            + " "
            + table["unit"].replace("m2", "m²"),
            ("年份" if zh else "Year"): table["year"].map(lambda y: "—" if pd.isna(y) else str(int(y))),
            ("登记册" if zh else "Register"): counted,
            ("是否达标" if zh else "Met"): met,
            ("来源" if zh else "Source"): table["source"] + " " + table["section"],
        }
    )


def app_title(plan: Plan) -> str:
    """The browser tab's title, from the plan's city: '深圳市产业园区规划 Shenzhen Park Planner'."""
    return f"{plan.city_zh}产业园区规划 {plan.city_en} Park Planner"


def fmt_wan(value: float | None) -> str:
    """A short figure for a metric tile: '52.6 万㎡' ('—' for missing); ``fmt_m2`` gives the long form."""
    if value is None or value != value:
        return "—"
    return f"{m2_to_wan(value):,.1f} 万㎡"
