"""Command line for proposals: ``python -m planner propose ...`` and ``python -m planner sites ...``.

``propose`` solves :func:`planner.core.propose.propose` on a scenario of the store and prints the
result (``--json``: one object with ``target_m2``, ``proposed_m2``, ``shortfall_m2``, ``feasible``,
``binding``, ``allocations`` [site, district, specialisation, m2, year]); ``--save-as NAME --user U``
saves it as a NEW scenario through ``Store.save`` (the source scenario is never touched). ``sites``
prints or writes the site capacity table. Exit codes as everywhere: 0 ran (also when the target is
out of reach: the result says so), 1 refused or invalid, 2 bad arguments, 3 conflict, 4 denied.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from planner.cli.store import (
    EXIT_OK,
    EXIT_USAGE,
    add_store_arguments,
    run_guarded,
    signed_in,
    stored_register,
)
from planner.core.geo import fmt_m2
from planner.core.plan import Plan, load_plan
from planner.errors import InputError, PlannerError
from planner.io import jsontext
from planner.io.export import FORMATS, write_layer

if TYPE_CHECKING:  # the solver's modules are imported by its commands only (not by check, import...)
    from planner.core.propose import Params, Proposal


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"不是日期 (YYYY-MM-DD) / not a date (YYYY-MM-DD): {text!r}"
        ) from exc


def _weight(text: str) -> tuple[str, float]:
    key, _, value = text.partition("=")
    try:
        return key.strip(), float(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(
            f"权重格式为 名称=数值 / a weight is NAME=NUMBER (unsecured, misaligned, later): {text!r}"
        ) from exc


def read_quota_file(path: str | Path, plan: Plan):
    """Quotas from a CSV or Excel file (district, min_m2, max_m2; see ``quotas_from_frame``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"找不到指标文件 {path} / no such quota file: {path}")
    try:
        if path.suffix.lower() in (".xlsx", ".xls"):
            frame = pd.read_excel(path, dtype=str)
        else:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(
            f"无法读取指标文件 {path}: {exc} / cannot read the quota file {path}: {exc}"
        ) from exc
    from planner.core.propose import quotas_from_frame

    return quotas_from_frame(frame, plan, place=str(path))


def _params(args: argparse.Namespace, plan: Plan) -> Params:
    from planner.core.propose import Params, weights_from

    return Params(
        target_m2=args.target,
        deadline=args.deadline,
        as_of=args.as_of,
        quotas=read_quota_file(args.quota_file, plan) if args.quota_file else None,
        weights=weights_from(dict(args.weight or [])),
        min_allocation_m2=args.min_size,
        core_share=args.core_share,
        aligned_only=args.aligned_only,
    )


def _print(result: Proposal) -> None:
    p = result.params
    print(
        f"方案生成 Proposal: 目标 target {fmt_m2(result.target_m2)}, 截止 deadline {p.deadline}, "
        f"评估年份 as-of {p.as_of}"
    )
    print(f"  已计入 counted:   {fmt_m2(result.counted_m2)}")
    print(f"  尚需 needed:      {fmt_m2(result.needed_m2)}")
    print(f"  建议新增 proposed: {fmt_m2(result.proposed_m2)} ({len(result.allocations)} 处 sites)")
    print(f"  缺口 shortfall:    {fmt_m2(result.shortfall_m2)}")
    print(
        "  " + ("可以达标 the target can be met" if result.feasible else "无法达标 the target cannot be met")
    )
    for b in result.binding:
        items = f" [{', '.join(b.items)}]" if b.items else ""
        print(f"  - 约束 binding {b.kind}: {b.message_zh} / {b.message_en}{items}")
    if len(result.allocations):
        print("建议分配 Allocations (场地 site, 区 district, 专业方向 specialisation, m², 年份 year):")
        for r in result.allocations.to_dict("records"):
            print(f"  {r['site_id']}  {r['name_zh']}  {r['district_name']}  {r['specialisation']}  "
                  f"{r['m2']:,.0f} m²  {r['year']}")  # fmt: skip


def cmd_propose(args: argparse.Namespace) -> int:
    """Solve a proposal on a scenario; print it; with --save-as, save it as a new scenario."""
    from planner.core.propose import proposal_comment, proposal_register, propose

    plan = load_plan(args.plan)
    store, register, version = stored_register(args, plan)
    user = signed_in(args, store) if args.save_as else None
    if args.save_as and store.exists(args.save_as):
        raise PlannerError(
            f"方案 {args.save_as} 已存在, 请换一个名称 / scenario {args.save_as!r} already exists: choose another name"
        )
    result = propose(plan, register, _params(args, plan))
    saved = None
    if args.save_as and user is not None:
        new_register = proposal_register(plan, register, result)
        saved = store.save(
            new_register,
            user=user,
            comment=proposal_comment(result, args.scenario, version.version),
            scenario=args.save_as,
            expected_version=None,
        )
    if args.json:
        out = result.to_dict() | {
            "scenario": args.scenario,
            "version": version.version,
            "saved_as": saved.scenario if saved else None,
            "saved_version": saved.version if saved else None,
        }
        jsontext.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
    else:
        _print(result)
        if saved is not None:
            print(f"已保存为新方案 saved as scenario {saved.scenario} v{saved.version} ({saved.author})")
    return EXIT_OK


def cmd_sites(args: argparse.Namespace) -> int:
    """Print the site capacity table, or write it (--out PATH, --format)."""
    from planner.core.sites import SITE_COLUMNS, site_capacity

    plan = load_plan(args.plan)
    _, register, _ = stored_register(args, plan)
    table = site_capacity(plan, register, as_of=args.as_of)
    if args.out:
        write_layer(table, args.format, args.out, layer="sites")
        usable = table[table["usable"]]
        print(
            f"已写出 wrote {args.out}: {len(table)} 处场地 sites, {len(usable)} 处可用 usable, "
            f"剩余容量 capacity {fmt_m2(float(usable['capacity_m2'].sum()))}"
        )
        return EXIT_OK
    frame = pd.DataFrame(table[SITE_COLUMNS])
    if args.json:
        frame = frame.astype(object).where(frame.notna(), None)
        jsontext.dump(frame.to_dict("records"), sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
    else:
        cols = ["site_id", "name_zh", "district_name", "status", "capacity_m2", "earliest_year", "reason_zh"]
        print(frame[cols].to_string(index=False))
    return EXIT_OK


def add_propose_command(sub: argparse._SubParsersAction) -> None:
    """``propose`` and ``sites``."""
    prop = sub.add_parser("propose", help="propose allocations that close the gap / 方案生成")
    prop.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
    add_store_arguments(prop)
    prop.add_argument("--target", type=float, default=None, help="target m² (default: the plan's)")
    prop.add_argument("--deadline", type=_date, default=None, help="YYYY-MM-DD (default: the plan's)")
    prop.add_argument(
        "--as-of", type=int, default=None, help="the year 'now' stands for (default: this year)"
    )
    prop.add_argument(
        "--quota-file", default=None, help="CSV/Excel: district, min_m2, max_m2 (区, 下限, 上限)"
    )
    prop.add_argument(
        "--min-size", type=float, default=None, help="minimum allocation m² (default: the plan's)"
    )
    prop.add_argument("--core-share", type=float, default=None, help="share kept for the core, 0-1")
    prop.add_argument("--aligned-only", action="store_true", help="only sites aligned with their district")
    prop.add_argument(
        "--weight", type=_weight, action="append", help="NAME=VALUE: unsecured, misaligned, later"
    )
    prop.add_argument("--save-as", default=None, help="save the proposal as this NEW scenario")
    prop.add_argument("--user", default=None, help="account name (needed with --save-as)")
    prop.add_argument("--json", action="store_true", help="one JSON object")
    prop.set_defaults(func=_run_propose)

    sites = sub.add_parser("sites", help="site capacity table / 场地容量")
    sites.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
    add_store_arguments(sites)
    sites.add_argument(
        "--as-of", type=int, default=None, help="the year 'now' stands for (default: this year)"
    )
    sites.add_argument("--format", choices=FORMATS, default="csv", help="with --out (default csv)")
    sites.add_argument("--out", default=None, help="write the table (with geometry) to this file")
    sites.add_argument("--json", action="store_true", help="print the table as JSON")
    sites.set_defaults(func=cmd_sites)


def _run_propose(args: argparse.Namespace) -> int:
    if args.save_as and not args.user:
        print(
            "参数错误 / bad arguments: --save-as 需要 --user / --save-as needs --user NAME", file=sys.stderr
        )
        return EXIT_USAGE
    return run_guarded(cmd_propose, args, writes=bool(args.save_as))
