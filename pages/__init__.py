"""The frame every page of the app shares (Streamlit does not list ``__init__.py`` as a page).

``frame()`` sets the page up, fills the session from cached loaders (the plan and the store are
opened once per server), handles an identity provider's return, and draws the sidebar: language,
navigation, who is signed in, which scenario version is being edited. Each page, the entry script
included, starts with ``plan, register, lang = frame()`` and so works on its own (a deep link).
"""

from __future__ import annotations

import streamlit as st

from planner.plan import DEFAULT_PLAN, Plan, load_plan
from planner.register import Register
from planner.session import (
    APP_TITLE,
    LANGS,
    PAGES,
    current_user,
    ensure_state,
    identity_sign_in_once,
    scenario_line,
    sign_out,
    user_line,
)
from planner.store import Store, db_location, open_store


@st.cache_resource
def cached_plan(name: str) -> Plan:
    """The plan, loaded once per server (immutable)."""
    return load_plan(name)


@st.cache_resource
def cached_store(location: str, plan_name: str) -> Store:
    """The store (``$PLANNER_DB``, default data/planner.gpkg, seeded on first use), opened once
    per server and location; every session reads and saves its scenarios there."""
    return open_store(location, cached_plan(plan_name))


def _identity_return() -> None:
    """After an identity provider's sign-in (OIDC, ``st.login``), map its e-mail to an account."""
    try:
        oidc = "auth" in st.secrets
    except FileNotFoundError:  # no secrets.toml: accounts file only
        oidc = False
    if oidc and st.user.is_logged_in:
        identity_sign_in_once(st.session_state, st.user.get("email"))


def frame(plan_name: str = DEFAULT_PLAN) -> tuple[Plan, Register, str]:
    """Set up the page and draw the shared sidebar; the session's plan, working register, language."""
    st.set_page_config(page_title=APP_TITLE, layout="wide")
    if "store" not in st.session_state:
        st.session_state.plan = cached_plan(plan_name)
        st.session_state.store = cached_store(db_location(), plan_name)
    plan, register, lang = ensure_state(st.session_state)
    _identity_return()
    with st.sidebar:
        lang = st.session_state.lang = st.radio(
            "语言 / Language",
            list(LANGS),
            index=LANGS.index(lang),
            format_func=lambda k: "中文" if k == "zh" else "English",
            horizontal=True,
        )
        for path, title_zh, title_en, icon in PAGES:
            st.page_link(path, label=title_zh if lang == "zh" else title_en, icon=icon)
        st.caption(f":material/person: {user_line(st.session_state, lang)}")
        st.caption(f":material/history: {scenario_line(st.session_state, lang)}")
        if current_user(st.session_state):
            st.button(
                "退出登录" if lang == "zh" else "Sign out",
                key="sign_out",
                on_click=sign_out,
                args=(st.session_state,),
            )
    return plan, register, lang
