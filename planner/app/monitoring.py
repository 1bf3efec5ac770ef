"""Streamlit-free helpers for the monitoring pages: the session's as-of date, the monitor of the
working register with its saved history, the report download, recording indicator values and
starting a successor plan as the signed-in user."""

from __future__ import annotations

import datetime as dt
from collections.abc import MutableMapping
from typing import Any

import pandas as pd

from planner.app.session import acting_user, state_store
from planner.core.history import Figures, Recorded, row_history, trend_frame, versions_of
from planner.core.indicators import INDICATOR_COLUMNS, read_indicator_csv, target_status
from planner.core.monitor import Monitor, monitor, today
from planner.core.plan import Plan, load_plan
from planner.core.successor import TargetInput, successor_folder, successor_toml, write_successor
from planner.io.export import register_file_bytes
from planner.io.report import report_bytes, report_file_name
from planner.settings import stale_months
from planner.store import MAIN

AS_OF = "as_of"


def as_of(state: MutableMapping[str, Any]) -> dt.date:
    """The session's as-of date (today until the user picks another)."""
    value = state.get(AS_OF)
    return value if isinstance(value, dt.date) else today()


def session_history(state: MutableMapping[str, Any], plan: Plan) -> list[tuple[Recorded, Figures | None]]:
    """The session scenario's saved versions, oldest first, each computed once per process
    (``planner.core.history.versions_of``: a page load reads only versions saved since)."""
    return versions_of(state_store(state), state.get("scenario", MAIN), plan)


def session_monitor(state: MutableMapping[str, Any], plan: Plan, register) -> Monitor:
    """The working register's monitor as of the session's date: statuses as recorded then and
    staleness from the saved history (the store's row history: one query per table)."""
    return monitor(
        plan,
        register,
        as_of(state),
        history=row_history(state_store(state), state.get("scenario", MAIN)),
        stale_months=stale_months(),
    )


def session_trend(state: MutableMapping[str, Any], plan: Plan) -> pd.DataFrame:
    """Counted, secured and delivered at each saved version of the session's scenario."""
    return trend_frame(session_history(state, plan))


def session_targets(state: MutableMapping[str, Any], plan: Plan, register) -> pd.DataFrame:
    """Every target with its latest recorded value (``planner.core.indicators.target_status``)."""
    return target_status(plan, state_store(state).indicators(), register, as_of(state))


def session_report(
    state: MutableMapping[str, Any], plan: Plan, register, fmt: str = "docx"
) -> tuple[str, bytes]:
    """The evaluation report of the working register as of the session's date: (file name, bytes),
    Word or (``fmt="pdf"``) PDF."""
    mon = session_monitor(state, plan, register)
    v = state.get("version")
    line = f"数据: 场景 {state.get('scenario', MAIN)} v{v.version}。" if v is not None else ""
    data = report_bytes(plan, register, mon, state_store(state).indicators(), scenario_line=line, fmt=fmt)
    return report_file_name(plan, mon.as_of, mon, fmt), data


def record_indicator_file(state: MutableMapping[str, Any], plan: Plan, data: bytes, name: str) -> int:
    """Store the values of an uploaded CSV as the signed-in user (ValidationError names each bad
    row and field; AccessDenied unless a city planner; both recorded, nothing stored)."""
    rows = read_indicator_csv(data, plan, name=name)
    return state_store(state).record_indicators(rows, user=acting_user(state, "indicators"), comment=name)


def record_indicator_rows(state: MutableMapping[str, Any], rows: pd.DataFrame) -> int:
    """Store values entered on the page (columns ``INDICATOR_COLUMNS``) as the signed-in user."""
    frame = rows.reindex(columns=INDICATOR_COLUMNS)
    frame = frame[frame["indicator"].notna() & (frame["indicator"].astype(str) != "")]
    return state_store(state).record_indicators(
        frame, user=acting_user(state, "indicators"), comment="页面录入 page"
    )


def start_successor(
    state: MutableMapping[str, Any],
    plan: Plan,
    register,
    *,
    folder_name: str,
    period: tuple[int, int],
    plan_id: str,
    title_zh: str,
    targets: list[TargetInput],
    source_title: str = "",
) -> Plan:
    """Write a successor plan folder ``folder_name`` in the plans directory (``settings.plans_dir()``:
    the sidebar's plan choice offers it, ``--plan NAME`` loads it) as the signed-in city planner;
    recorded in the audit log. Returns the loaded successor."""
    user = acting_user(state, "plan_successor")
    store = state_store(state)
    store.require_recorded(user, "successor", f"plan {plan.id}", "plan_successor")
    content = successor_toml(
        plan, period=period, plan_id=plan_id, title_zh=title_zh, targets=targets, source_title=source_title
    )
    out = write_successor(plan, register_file_bytes(register, None), successor_folder(folder_name), content)
    successor = load_plan(out)
    store.record_event(
        user=user.name,
        role=user.role,
        action="plan_successor",
        outcome="ok",
        detail=f"{successor.id} -> {out}",
    )
    return successor
