"""The frame every page of the app shares (Streamlit does not list ``__init__.py`` as a page).

``frame()`` sets the page up, fills the session (the plan is loaded once per server with
``st.cache_resource``; the store is opened once per process and location by
``planner.app.session.shared_store``, the one store cache, which CLI and tests share), handles an identity provider's return, and draws the sidebar: language,
navigation, who is signed in, which scenario version is being edited. Each page, the entry script
included, starts with ``plan, register, lang = frame()`` and so works on its own (a deep link).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import streamlit as st

from planner.app.monitoring import AS_OF
from planner.app.session import (
    LANGS,
    LOAD_LATEST,
    PAGES,
    REAPPLY,
    SESSION_COOKIE,
    app_title,
    choose_plan,
    cookie_script,
    current_user,
    ensure_state,
    identity_sign_in_once,
    load_latest,
    pending_change,
    plan_choices,
    problems_frame,
    reapply_pending,
    refusal_message,
    scenario_line,
    session_plan_name,
    shared_store,
    shown_location,
    sign_in_from_token,
    sign_out,
    user_line,
)
from planner.app.text import md
from planner.core.plan import Plan, load_plan
from planner.core.register import Register
from planner.errors import PlannerError, ValidationError
from planner.store import ConflictError


@st.cache_resource
def cached_plan(name: str) -> Plan:
    """The plan, loaded once per server (immutable)."""
    return load_plan(name)


def store_unavailable(location: str, err: PlannerError) -> None:
    """The store cannot be opened: say where, why and what to do, and stop the page."""
    st.error(
        f"无法打开数据存储 {md(location)}: 请检查环境变量 PLANNER_DB (或命令行 --db) 是否指向可写的 "
        f"GeoPackage 文件或可连接的 PostGIS 数据库, 然后刷新页面。\n\n"
        f"Cannot open the store {md(location)}: check that PLANNER_DB (or --db) names a writable "
        f"GeoPackage file or a reachable PostGIS database, then reload the page.\n\n{md(err)}"
    )
    st.stop()


def _identity_return() -> None:
    """After an identity provider's sign-in (OIDC, ``st.login``), map its e-mail to an account."""
    try:
        oidc = "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml: accounts file only
        oidc = False
    if oidc and st.user.is_logged_in:
        try:
            identity_sign_in_once(st.session_state, st.user.get("email"))
        except PlannerError as err:  # a broken accounts file or account: the app stays read-only
            st.error(md(err))


def _keep_sign_in() -> None:
    """A reload keeps the sign-in: a new session signs in from the browser's signed, expiring
    cookie (``sign_in_from_token``); the cookie is set after a sign-in and deleted after a
    sign-out by ``cookie_script``."""
    try:
        sign_in_from_token(st.session_state, st.context.cookies.get(SESSION_COOKIE))
    except PlannerError as err:  # a broken accounts file: stay signed out, say why
        st.error(md(err))
    script = cookie_script(st.session_state)
    if script:
        st.html(script, unsafe_allow_javascript=True)


def _plan_chosen() -> None:
    """The sidebar's plan choice changed: the session switches plan (its own store, register)."""
    choose_plan(st.session_state, st.session_state.plan_choice)


def _plan_picker(lang: str) -> None:
    """A choice of plan in the sidebar when several are offered (bundled, or ``$PLANNER_PLAN``)."""
    choices = plan_choices()
    if len(choices) < 2:
        return
    current = session_plan_name(st.session_state)
    st.session_state.plan_choice = current
    st.selectbox(
        "规划 / Plan",
        choices,
        format_func=lambda name: (lambda p: f"{p.city_zh} · {p.title_zh if lang == 'zh' else p.title_en}")(
            cached_plan(name)
        ),
        key="plan_choice",
        on_change=_plan_chosen,
    )


def frame() -> tuple[Plan, Register, str]:
    """Set up the page and draw the shared sidebar; the session's plan, working register, language.

    The plan is the sidebar's choice, else ``$PLANNER_PLAN`` (a bundled name or a folder), else shenzhen.
    """
    name = session_plan_name(st.session_state)
    if "plan" not in st.session_state:
        st.session_state.plan = cached_plan(name)
    st.set_page_config(page_title=app_title(st.session_state.plan), layout="wide")
    try:
        if "store" not in st.session_state:
            st.session_state.store = shared_store(st.session_state.plan)
        plan, register, lang = ensure_state(st.session_state)
    except PlannerError as err:
        store_unavailable(shown_location(plan=name), err)
    _identity_return()
    _keep_sign_in()
    if "notice" in st.session_state:  # e.g. load_latest fell back to main: the scenario was deleted
        st.warning(md(st.session_state.pop("notice")))
    with st.sidebar:
        lang = st.session_state.lang = st.radio(
            "语言 / Language",
            list(LANGS),
            index=LANGS.index(lang),
            format_func=lambda k: "中文" if k == "zh" else "English",
            horizontal=True,
        )
        _plan_picker(lang)
        for path, title_zh, title_en, icon in PAGES:
            st.page_link(path, label=title_zh if lang == "zh" else title_en, icon=icon)
        st.caption(f":material/person: {md(user_line(st.session_state, lang))}")
        st.caption(f":material/history: {md(scenario_line(st.session_state, lang))}")
        if current_user(st.session_state):
            st.button(
                "退出登录" if lang == "zh" else "Sign out",
                key="sign_out",
                on_click=sign_out,
                args=(st.session_state,),
            )
    return plan, register, lang


def show_refusal(err: PlannerError, lang: str, *, key: str, forget: Sequence[str] = ()) -> None:
    """A refused write, the same on every page: the one bilingual message (a conflict, a refusal of
    rights naming every item, an invalid register), the problems table for an invalid one, and
    after a conflict the button that loads the latest version (dropping ``forget``: the page's
    unsaved editor state, which the message says is lost)."""
    st.error(md(refusal_message(err, lang)))
    if isinstance(err, ValidationError):
        st.dataframe(
            problems_frame(err.problems, lang), hide_index=True, placeholder="—", key=f"{key}_problems"
        )
    if isinstance(err, ConflictError):
        if err.rows and pending_change(st.session_state):  # the refused change is kept: re-apply it
            st.button(
                REAPPLY[0] if lang == "zh" else REAPPLY[1],
                key="reapply_pending",
                type="primary",
                on_click=reapply_pending,
                args=(st.session_state, list(forget)),
            )
        st.button(
            LOAD_LATEST[0] if lang == "zh" else LOAD_LATEST[1],
            key="load_latest",
            on_click=load_latest,
            args=(st.session_state, list(forget)),
        )


def as_of_picker(lang: str) -> dt.date:
    """The sidebar's as-of date (基准日): every monitoring figure is computed as of it; today by default."""
    with st.sidebar:
        return st.date_input(
            "基准日 (截至)" if lang == "zh" else "As of (date)",
            value=st.session_state.get(AS_OF, dt.date.today()),
            min_value=dt.date(2000, 1, 1),
            max_value=dt.date(2100, 12, 31),
            key=AS_OF,
            help="所有监测数字按此日期计算 / every monitoring figure is computed as of this date",
        )
