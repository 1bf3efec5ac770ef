"""Command line for monitoring and evaluation: ``check --as-of/--trend``, ``report``,
``indicators list|import`` and ``plan successor``."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from planner.cli.store import (
    _records,
    add_store_arguments,
    cli_store,
    run_guarded,
    signed_in,
    stored_register,
)
from planner.core.geo import fmt_m2
from planner.core.history import row_history, trend_frame, versions_of
from planner.core.indicators import INDICATOR_COLUMNS, met_text, read_indicator_csv, target_status
from planner.core.monitor import Monitor, monitor, parse_date
from planner.core.plan import Plan, load_plan
from planner.core.successor import (
    parse_period,
    parse_target,
    successor_folder,
    successor_toml,
    write_successor,
)
from planner.io import jsontext
from planner.io.export import register_file_bytes
from planner.io.report import report_kind, write_report
from planner.settings import stale_months
from planner.store import MAIN, Store

EXIT_OK = 0


def _date(text: str) -> dt.date:
    try:
        return parse_date(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def add_as_of_arguments(parser: argparse.ArgumentParser, *, trend_flag: bool = True) -> None:
    """``--as-of YYYY-MM-DD`` (default today), ``--stale-months N`` and ``--trend``."""
    parser.add_argument(
        "--as-of", type=_date, default=None, help="figures as of this date (default today) / 基准日"
    )
    parser.add_argument(
        "--stale-months",
        type=int,
        default=None,
        help="months without a change before a park is stale (default $PLANNER_STALE_MONTHS, else 12)",
    )
    if trend_flag:
        parser.add_argument(
            "--trend", action="store_true", help="counted/secured/delivered at each saved version"
        )


def monitor_of(
    args: argparse.Namespace, plan: Plan, store: Store, register, result: Any = None, first: int | None = None
) -> tuple[Monitor, pd.DataFrame]:
    """The monitor as of ``--as-of`` for the scenario's register, with its saved history (the
    store's row history: one query per table, ``planner.core.history.row_history``), and with
    ``--trend`` the trend (each version's figures, computed once per process). ``result``: the
    check of ``register`` (``planner.core.checking.CheckResult``) whose report and allocation table
    the monitor reuses. ``first``: the warnings table keeps the first rows of each code
    (``planner.core.monitor.monitor``)."""
    scenario = getattr(args, "scenario", MAIN)
    mon = monitor(
        plan,
        register,
        args.as_of,
        history=row_history(store, scenario),
        stale_months=stale_months(args.stale_months),
        report=None if result is None else result.report,
        table=None if result is None else result.alloc_table,
        first=first,
    )
    if not getattr(args, "trend", False):
        return mon, trend_frame([])
    return mon, trend_frame(versions_of(store, scenario, plan))


def monitor_json(
    args: argparse.Namespace,
    plan: Plan,
    store: Store,
    register,
    first: int | None = None,
    result: Any = None,
) -> dict[str, Any]:
    """The keys ``check --json`` adds: ``monitor``, and ``trend`` with ``--trend``. ``first``: the
    monitor's per-allocation lists cut to their first rows (warnings: the first of each code), with
    ``warnings_total``, ``warnings_by_code`` and ``slipped_total``. ``result``: as :func:`monitor_of`."""
    mon, trend = monitor_of(args, plan, store, register, result, first)  # texts of the first rows only
    counts: dict[str, Any] = {}
    if first is not None:
        counts = {
            "warnings_total": mon.warnings_total,
            "warnings_by_code": mon.warnings_by_code,
            "slipped_total": mon.slipped_count,
        }
    out: dict[str, Any] = {"as_of": mon.as_of.isoformat(), "monitor": mon.to_dict() | counts}
    if args.trend:
        out["trend"] = {
            "versions": _records(trend),
            "delivered_by_year": _records(mon.delivered_by_year),
        }
    return out


def print_monitor(args: argparse.Namespace, plan: Plan, store: Store, register, result: Any = None) -> None:
    """The as-of lines of ``check`` (text); ``result``: as :func:`monitor_of`."""
    mon, trend = monitor_of(args, plan, store, register, result)
    print(f"\n截至 As of {mon.as_of}: {mon.phase_text('zh')} / {mon.phase_text('en')}")
    if mon.phase == "ended":
        verdict = "达成 met" if mon.result_met else "未达成 not met"
        print(
            f"  结果 Result: 截至 {plan.deadline} 已交付 delivered {fmt_m2(mon.result_delivered_m2)} / "
            f"目标 target {fmt_m2(mon.target_m2)}: {verdict}"
        )
    else:
        print(
            f"  进度 Progress: 计入 counted {mon.progress:.1%}, 规划期已过 period elapsed {mon.elapsed_share:.0%}"
        )
    print(f"  已交付 Delivered so far: {fmt_m2(mon.delivered_m2)}")
    print(f"  逾期 Slipped (due in the period, not delivered): {fmt_m2(mon.slipped_m2)}")
    for r in mon.slipped.to_dict("records"):
        print(
            f"    {r['allocation_id']} {r['park_name']}: {fmt_m2(r['area_m2'])}, 应交付 due {r['delivery_year']}, "
            f"逾期 {r['days_late']} 天 days late"
        )
    w = mon.warnings_table
    print(f"预警 Warnings ({len(w)}):")
    for sev, code, i, zh, en in zip(
        w["severity"], w["code"], w["id"], w["message_zh"], w["message_en"], strict=True
    ):
        print(f"  [{sev}] {code} {i}: {zh} / {en}")
    if args.trend:
        print("趋势 Trend (按版本 by saved version):")
        for r in trend.to_dict("records"):
            print(
                f"  v{r['version']} {r['created_at']}: 计入 {fmt_m2(r['counted_m2'])}, 已落实 {fmt_m2(r['secured_m2'])}, "
                f"已交付 {fmt_m2(r['delivered_m2'])}"
            )


# ---- report ------------------------------------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> int:
    """Write the evaluation report (.docx, or .pdf by the name of ``--out``) as of ``--as-of``."""
    plan = load_plan(args.plan)
    store, register, version = stored_register(args, plan)
    mon, _ = monitor_of(args, plan, store, register)
    line = f"数据: 场景 {version.scenario} v{version.version} ({version.created_at})。"
    path = write_report(plan, register, mon, store.indicators(), Path(args.out), scenario_line=line)
    kind_zh, kind_en = report_kind(mon)
    print(f"已写出 wrote {kind_zh} {kind_en} report as of {mon.as_of} -> {path}")
    return EXIT_OK


# ---- indicators --------------------------------------------------------------------------------
def cmd_indicators_list(args: argparse.Namespace) -> int:
    """Every target with its latest value, source, confidence and whether it was met."""
    plan = load_plan(args.plan)
    store, register, _ = stored_register(args, plan)
    status = target_status(plan, store.indicators(), register, args.as_of)
    if args.json:
        jsontext.dump(_records(status), sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
        return EXIT_OK
    for r in status.to_dict("records"):
        official = (
            "—"
            if r["official_value"] is None or r["official_value"] != r["official_value"]
            else f"{r['official_value']:,.0f}"
        )
        extra = (
            ""
            if r["unconfirmed_value"] is None or r["unconfirmed_value"] != r["unconfirmed_value"]
            else f"  (未核实 unconfirmed: {r['unconfirmed_value']:,.0f}, 非官方 not official)"
        )
        print(
            f"  {r['label_zh']} {r['label_en']}: 官方值 official {official} {r['unit']}{extra}; "
            f"来源 source {r['source'] or '—'}; {met_text(r)} / {met_text(r, 'en')}"
        )
    return EXIT_OK


def cmd_indicators_import(args: argparse.Namespace) -> int:
    """Store the values of a CSV (city planners); a bad row refuses the whole file (exit 1)."""
    plan = load_plan(args.plan)
    store = cli_store(args, plan)
    user = signed_in(args, store)
    rows = read_indicator_csv(Path(args.file), plan, name=Path(args.file).name)
    n = store.record_indicators(
        rows, user=user, comment=args.comment or f"导入 import {Path(args.file).name}"
    )
    print(f"已录入 recorded {n} 条指标实际值 indicator values from {args.file} ({user.name})")
    return EXIT_OK


# ---- successor plan ------------------------------------------------------------------------------
def cmd_successor(args: argparse.Namespace) -> int:
    """Start a successor plan folder from ``--from`` (city planners)."""
    plan = load_plan(args.source)
    store = cli_store(args, plan)
    user = signed_in(args, store)
    store.require_recorded(user, "successor", f"plan {plan.id}", "plan_successor")
    start, end = parse_period(args.period)
    targets = [parse_target(t) for t in args.target]
    content = successor_toml(
        plan,
        period=(start, end),
        plan_id=args.id or f"{plan.id.rsplit('-', 2)[0]}-{start}-{end}",
        title_zh=args.title_zh or f"{plan.title_zh.split('(')[0]} ({start}-{end}年)",
        title_en=args.title_en or "",
        targets=targets,
        source_title=args.source_title or "",
    )
    register, version = store.load(args.scenario)
    folder = Path(args.out) if args.out else successor_folder(f"{plan.name}-{start}-{end}")
    out = write_successor(plan, register_file_bytes(register, None), folder, content)
    successor = load_plan(out)  # validates what was written
    store.record_event(
        user=user.name,
        role=user.role,
        action="plan_successor",
        outcome="ok",
        detail=f"{successor.id} {start}-{end} -> {out} (register {version.scenario} v{version.version})",
    )
    drafts = (
        "草案 draft (未注明来源 no source named)"
        if not args.source_title
        else f"来源 source: {args.source_title}"
    )
    print(
        f"已新建后续规划 started successor plan {successor.id} ({start}-{end}) -> {out}; 目标 targets: {drafts}"
    )
    return EXIT_OK


def add_monitor_commands(sub: argparse._SubParsersAction) -> None:
    """``report``, ``indicators list|import`` and ``plan successor``."""
    rep = sub.add_parser("report", help="evaluation report (.docx or .pdf) / 评估报告")
    rep.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
    add_store_arguments(rep)
    add_as_of_arguments(rep, trend_flag=False)
    rep.add_argument(
        "--out", required=True, help="output file: .docx (Word), or .pdf (the same content as PDF)"
    )
    rep.set_defaults(func=lambda args: run_guarded(cmd_report, args))

    ind = sub.add_parser("indicators", help="the other targets' actual values / 其他目标实际值")
    isub = ind.add_subparsers(dest="indicators_command", required=True, parser_class=type(ind))
    lst = isub.add_parser("list", help="every target with its latest value / 列出")
    lst.add_argument("--plan", default=None)
    add_store_arguments(lst)
    lst.add_argument("--as-of", type=_date, default=None, help="as of this date (default today)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=lambda args: run_guarded(cmd_indicators_list, args))
    imp = isub.add_parser("import", help=f"record values from a CSV ({', '.join(INDICATOR_COLUMNS)})")
    imp.add_argument("file")
    imp.add_argument("--plan", default=None)
    add_store_arguments(imp, scenario=False)
    imp.add_argument("--user", required=True, help="a city planner's account name")
    imp.add_argument("--comment", default="")
    imp.set_defaults(func=lambda args: run_guarded(cmd_indicators_import, args, writes=True))

    pl = sub.add_parser("plan", help="plans: start a successor / 规划")
    psub = pl.add_subparsers(dest="plan_command", required=True, parser_class=type(pl))
    suc = psub.add_parser("successor", help="start the next plan from this one / 新建后续规划")
    suc.add_argument("--from", dest="source", default=None, help="the current plan (default: shenzhen)")
    suc.add_argument("--period", required=True, help="e.g. 2026-2030")
    suc.add_argument(
        "--out",
        default=None,
        help="the new plan folder (default: NAME-START-END in $PLANNER_PLANS_DIR, else data/plans/, "
        "where --plan NAME and the app's plan choice find it)",
    )
    suc.add_argument("--id", default=None, help="plan id (default from the current one and the period)")
    suc.add_argument("--title-zh", default=None)
    suc.add_argument("--title-en", default=None)
    suc.add_argument(
        "--target",
        action="append",
        default=[],
        help="KEY=VALUE[@SECTION], e.g. new_space=2000000 (repeatable)",
    )
    suc.add_argument("--source-title", default=None, help="the document the targets come from (else: draft)")
    add_store_arguments(suc)
    suc.add_argument("--user", required=True, help="a city planner's account name")
    suc.set_defaults(func=lambda args: run_guarded(cmd_successor, args, writes=True))
