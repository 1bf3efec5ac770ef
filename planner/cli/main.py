"""Command line: ``python -m planner check|export|import|scenario|account|report|indicators|plan ...``.

Every command reads the register from the store (``--db PATH_OR_URL``, else ``$PLANNER_DB``, else
``data/planner.gpkg``; ``--scenario``, default main). Exit codes: 0 when the command ran; 2 on bad
arguments or unreadable input (with a message naming the problem). ``import`` exits 1 when the
file was refused (every problem printed). Writes: 3 on a conflict, 4 when access is denied.
Subcommands of other modules register themselves through ``SUBCOMMANDS``.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd

from planner.cli.accounts import add_account_command
from planner.cli.monitor import add_as_of_arguments, add_monitor_commands, monitor_json, print_monitor
from planner.cli.propose import add_propose_command
from planner.cli.store import (
    add_scenario_command,
    add_store_arguments,
    add_store_command,
    cli_store,
    run_guarded,
    signed_in,
    stored_register,
)
from planner.core.capacity import CapacityReport, target_table
from planner.core.geo import WGS84, fmt_m2
from planner.core.plan import Plan, load_plan
from planner.core.register import Register
from planner.errors import NotFound, PlannerError, ValidationError
from planner.i18n import STATUS_LABELS
from planner.io import jsontext
from planner.io.export import (
    ANNEX_TITLE,
    FORMATS,
    LAYERS,
    build_layer,
    districts_layer,
    write_annex_excel,
    write_layer,
)
from planner.io.ingest import (
    ImportPreview,
    ImportRefused,
    import_delta,
    parse_crs_option,
    preview_import,
)

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2
ANNEX_LAYER = "annex"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # argparse exits 2 too; keep the message bilingual
        self.print_usage(sys.stderr)
        print(f"参数错误 / bad arguments: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _print_areas(plan: Plan) -> None:
    print("\n区 Districts: 角色 role, 官方面积 official vs 按边界计算 computed land area (km²):")
    for r in districts_layer(plan).to_dict("records"):
        note = f"  {r['note']}" if r["note"] else ""
        print(
            f"  {r['name_zh']} {r['name_en']:<10} {r['role_zh']:<8} official {_km2(r['official_land_km2'])}"
            f"  computed {r['computed_land_km2']:>7.2f}{note}"
        )
    for a in plan.functional_areas:
        print(f"  {a.name_zh} {a.name_en}: official {a.official_land_km2} km²; {a.note_zh} / {a.note_en}")


def _km2(value: float | None) -> str:
    """'  187.53' or '      —' (the plan gives no official area)."""
    return "      —" if value is None or value != value else f"{value:>7.2f}"


def _print_targets(targets: pd.DataFrame) -> None:
    """The plan's targets, each with what the register shows (a count of parks) where it can tell."""
    print("\n规划指标 Targets:")
    for r in targets.to_dict("records"):
        shown = "—" if r["counted"] != r["counted"] else f"{r['counted']:,.0f}"
        met = {True: "达标 met", False: "未达标 not met"}.get(
            r["met"], "登记册无法核算 not counted from the register"
        )
        year = f" ({r['year']})" if r["year"] else ""
        print(
            f"  {r['label_zh']} {r['label_en']}{year}: {r['comparison']} {r['value']:,.0f} {r['unit']};"
            f" 登记册 register {shown}: {met}  [{r['source']} {r['section']}]"
        )


def _print_report(
    report: CapacityReport, findings: pd.DataFrame, shown: pd.DataFrame, plan_title: str
) -> None:
    print(f"{plan_title}")
    if not report.has_target:
        print(
            "目标 Target: 本规划未设新增空间目标 / this plan sets no new-space target (see the targets below)"
        )
    else:
        print(
            f"目标 Target: 新增产业空间 ≥ {fmt_m2(report.target_m2)}, 截止 deadline {report.deadline.isoformat()}"
        )
    progress = f"  ({report.progress:.1%})" if report.has_target else ""
    print(f"  计入 Counted:  {fmt_m2(report.counted_m2)}{progress}")
    print(f"  已落实 Secured (delivered + under construction): {fmt_m2(report.secured_m2)}")
    print(f"  仅规划 Planned only: {fmt_m2(report.planned_m2)}")
    print(f"  缺口 Gap: {fmt_m2(report.gap_m2)}")
    print(f"  未计入 Not counted (no year in the plan period): {fmt_m2(report.not_counted_m2)}")
    print(f"  其中数据未核实 Counted on unconfirmed figures: {fmt_m2(report.counted_unconfirmed_m2)}")
    basis = ", ".join(f"{k}: {fmt_m2(v)}" for k, v in report.counted_by_basis.items()) or "—"
    print(f"  依据 By basis: {basis}  (baseline = 基线估算, 非官方数据 / estimate, not official figures)")
    print("\n按区 By district:")
    for r in report.by_district.to_dict("records"):
        quota = (
            ""
            if r["quota_met"] is None
            else f"  指标 quota {fmt_m2(r['quota_m2'])} {'达标 met' if r['quota_met'] else '未达标 not met'}"
        )
        print(
            f"  {r['name_zh']} {r['name_en']:<12} {fmt_m2(r['counted_m2']):>28}  [{r['specialisations'] or '—'}]{quota}"
        )
    print("\n按年 By year (累计 cumulative):")
    for r in report.by_year.to_dict("records"):
        print(f"  {r['year']}: +{fmt_m2(r['added_m2'])}  累计 {fmt_m2(r['cumulative_m2'])}")
    print("\n按状态 By status:")
    for r in report.by_status.to_dict("records"):
        print(f"  {STATUS_LABELS[r['status']][0]} {r['status']}: {fmt_m2(r['counted_m2'])}")
    print("\n按方向 By specialisation:")
    for r in report.by_specialisation.to_dict("records"):
        print(f"  {r['label_zh']} ({r['label_en']}): {fmt_m2(r['counted_m2'])}")
    print(
        "\n软件名园 Name parks:",
        ", ".join(f"{r['label_zh']} {r['parks']}" for r in report.namepark_counts.to_dict("records")),
    )
    print(f"\n发现 Findings ({len(findings)}):")
    for r in shown.itertuples(index=False):
        print(f"  [{r.severity}] {r.code} {r.id}: {r.message_zh} / {r.message_en}")
    if len(shown) < len(findings):
        print(
            f"  ... 另有 {len(findings) - len(shown):,} 条未列出 (每类只列前 {FIRST_ROWS} 条; --findings all 列出全部) / "
            f"{len(findings) - len(shown):,} more not listed (first {FIRST_ROWS} of each code; --findings all lists every one)"
        )


FIRST_ROWS = 5  # findings shown per code in ``check --json`` (``--findings all``: every row)


def findings_json(findings: pd.DataFrame, every: bool) -> dict[str, Any]:
    """The findings keys of ``check --json``: ``findings_total``, ``findings_by_code`` (severity,
    count of rows, parks they stand for) and ``findings``: the first rows of each code, or every row."""
    by = findings.groupby("code", sort=False).agg(
        severity=("severity", "first"), rows=("id", "size"), items=("count", "sum")
    )
    shown = findings if every else findings.groupby("code", sort=False).head(FIRST_ROWS)
    return {
        "findings_total": len(findings),
        "findings_by_code": {
            str(code): {"severity": r["severity"], "rows": int(r["rows"]), "items": int(r["items"])}
            for code, r in by.iterrows()
        },
        "findings_shown": "all" if every else f"first {FIRST_ROWS} of each code",
        "findings": finding_records(shown),
    }


def finding_records(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a findings table as JSON objects (with ``message``: Chinese / English)."""
    cols = [
        "severity",
        "code",
        "id",
        "other_id",
        "district_code",
        "field",
        "count",
        "message_zh",
        "message_en",
    ]
    rows = findings[cols].to_dict("records")
    for r in rows:
        r["count"] = int(r["count"])
        r["message"] = f"{r['message_zh']} / {r['message_en']}"
    return rows


def write_findings(findings: pd.DataFrame, register: Register, path: str) -> Path:
    """Every finding to ``path``: ``.csv`` (UTF-8 with BOM) or ``.geojson`` (each finding about a park
    with the park's geometry; the others without)."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".csv":
        return write_layer(findings, "csv", target, layer="findings")
    if suffix in (".geojson", ".json"):
        geoms = pd.Series(
            register.parks.geometry.to_numpy(), index=register.parks["id"].astype(str).to_numpy()
        )
        geoms = geoms[~geoms.index.duplicated()]
        geometry = findings["id"].astype(str).map(geoms)
        gdf = gpd.GeoDataFrame(
            findings.copy(), geometry=gpd.GeoSeries(geometry.to_numpy(), crs=WGS84), crs=WGS84
        )
        return write_layer(gdf, "geojson", target, layer="findings")
    raise PlannerError(
        f"--findings-out {path}: 只能写 .csv 或 .geojson 文件, 请改用其中一种扩展名 / "
        "only .csv or .geojson can be written: use one of those extensions"
    )


def cmd_check(args: argparse.Namespace) -> int:
    """The capacity report and the findings (one check: the district assignment computed once)."""
    from planner.core.checking import check  # the check path imports only what it uses

    plan = load_plan(args.plan)
    store, register, _ = stored_register(args, plan)
    result = check(plan, register)
    report, findings = result.report, result.findings
    if args.findings_out:
        write_findings(findings, register, args.findings_out)
    if args.json:
        areas = districts_layer(plan)[["code", "name_zh", "official_land_km2", "computed_land_km2", "note"]]
        targets = target_table(plan, register, report).astype(object)
        out = report.to_dict() | {
            "parks": len(register.parks),
            "allocations": len(register.allocations),
            "targets": targets.where(targets.notna(), None).to_dict("records"),
            "district_areas_km2": areas.to_dict("records"),
        }
        out |= findings_json(findings, args.findings == "all")
        first = None if args.findings == "all" else FIRST_ROWS  # the monitor's lists cut the same way
        out |= monitor_json(
            args, plan, store, register, first, result
        )  # as of --as-of (today): phase, warnings
        jsontext.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
    else:
        shown = findings if args.findings == "all" else findings.groupby("code", sort=False).head(FIRST_ROWS)
        _print_report(report, findings, shown, plan.title_zh)
        _print_targets(target_table(plan, register, report))
        print_monitor(args, plan, store, register, result)
        _print_areas(plan)
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    """Write one layer to a file."""
    plan = load_plan(args.plan)
    _, register, _ = stored_register(args, plan)
    if args.layer == ANNEX_LAYER:  # the plan's annex table (一览表): a spreadsheet, not a map layer
        if args.format != "xlsx":
            raise PlannerError("the annex table is written as --format xlsx / 一览表请用 xlsx 格式导出")
        path = write_annex_excel(plan, register, Path(args.out))
        print(f"已导出 exported {ANNEX_TITLE} ({len(register.parks)} parks) -> {path}")
        return EXIT_OK
    layer = build_layer(args.layer, plan, register)
    path = write_layer(layer, args.format, Path(args.out), layer=args.layer)
    print(f"已导出 exported {len(layer)} {args.layer} -> {path}")
    return EXIT_OK


def cmd_import(args: argparse.Namespace) -> int:
    """Preview a file of parks; unless --dry-run, save them into the store as a new version.

    The register is not read: the preview and the change are checked against the stored rows
    near the incoming parks and those with their ids (``Store.near``: the store's spatial and key
    indexes), and the store writes only the new rows."""
    plan = load_plan(args.plan)
    store = cli_store(args, plan)
    user = None if args.dry_run else signed_in(args, store)  # no preview work for a wrong password
    loaded = store.version(args.scenario)
    near = partial(store.near, args.scenario, loaded.version)
    preview = preview_import(
        Path(args.file), None, plan, near, crs=args.crs, accept_repairs=args.accept_repairs
    )
    delta = None
    if preview.ok:
        try:
            rows = near(  # what import_delta needs: the stored rows with the incoming ids
                np.empty((0, 4)),
                preview.parks["id"].astype(str).tolist(),
                preview.allocations["allocation_id"].astype(str).tolist(),
            )
            delta = import_delta(preview, rows, plan)
        except ValidationError as exc:  # the register's own rules, checked on the incoming rows
            preview = replace(
                preview, problems=[replace(p, code=p.code or "register_rule") for p in exc.problems]
            )
    saved = None
    imported = False
    if not preview.ok and not args.dry_run and user is not None:  # refused before the store: recorded
        store.record_refusal(
            ImportRefused(preview.problems, what=f"import {preview.file}"),
            user=user,
            action="import",
            scenario=args.scenario,
            expected_version=loaded.version,
        )
    if delta is not None and preview.ok and not args.dry_run and user is not None:
        comment = args.comment or f"导入 import {preview.file} ({len(preview.parks)} parks)"
        saved = store.save_change(  # only the new rows: validated, rights checked and written by the store
            delta,
            user=user,
            comment=comment,
            scenario=args.scenario,
            expected_version=loaded.version,
        )
        imported = True
    if args.json:
        out = preview.to_dict(plan) | {
            "dry_run": args.dry_run,
            "imported": imported,
            "scenario": args.scenario,
            "version": saved.version if saved else None,
        }
        jsontext.dump(out, sys.stdout, ensure_ascii=False, indent=1, default=str)
        print()
    else:
        _print_import(preview, plan, args.dry_run)
        if saved is not None:
            print(f"已保存为 saved as {saved.scenario} v{saved.version} ({saved.author})")
    return EXIT_OK if preview.ok else EXIT_REFUSED


def _print_import(preview: ImportPreview, plan: Plan, dry_run: bool) -> None:
    if preview.ok:
        verb = "可以导入 would import (--dry-run)" if dry_run else "已导入 imported"
        print(f"{verb} {len(preview.parks)} 个园区 parks from {preview.file} (CRS {preview.crs_used}):")
        for r in preview.summary_frame(plan).to_dict("records"):
            print(
                f"  {r['id']}  {r['name_zh']}  [{r['district_name'] or '—'}]  占地 land {fmt_m2(r['land_area_m2'])}"
                f"  建筑 floor {fmt_m2(r['gfa_m2'])}  新增 new {fmt_m2(r['new_gfa_m2'])}"
            )
    else:
        print(
            f"拒绝导入 refused: {preview.file}, {len(preview.problems)} 个问题 problem(s); 登记册未改动 register unchanged"
        )
        for issue in preview.problems:
            print(f"  - [{issue.code}] {issue}")
    if preview.warnings:
        print(f"提示 warnings ({len(preview.warnings)}):")
        for issue in preview.warnings:
            print(f"  - [{issue.code}] {issue}")


def _crs_arg(text: str) -> str:
    try:
        parse_crs_option(text)
    except PlannerError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc
    return text


def add_import_command(sub: argparse._SubParsersAction) -> None:
    """``import FILE [--crs wgs84|gcj02|bd09|EPSG:n] [--dry-run] [--json] [--accept-repairs]``."""
    imp = sub.add_parser("import", help="import parks from a GIS file / 导入园区文件")
    imp.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
    imp.add_argument("file", help="GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, CSV or Excel")
    imp.add_argument(
        "--crs", type=_crs_arg, default=None,
        help="coordinates are wgs84, gcj02 (Amap/Tencent), bd09 (Baidu) or EPSG:n when the file declares none",
    )  # fmt: skip
    imp.add_argument("--dry-run", action="store_true", help="check only; write nothing / 只检查不写入")
    add_store_arguments(imp, scenario=False)
    imp.add_argument("--scenario", default="main", help="scenario to add the parks to (default main)")
    imp.add_argument("--user", default=None, help="account name (needed unless --dry-run)")
    imp.add_argument("--comment", default="", help="what and why (kept in the history)")
    imp.add_argument("--json", action="store_true", help="one JSON object")
    imp.add_argument(
        "--accept-repairs", action="store_true", help="use the offered repaired shapes for invalid geometries"
    )
    imp.set_defaults(func=lambda args: run_guarded(cmd_import, args))


SUBCOMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    add_import_command,
    add_scenario_command,
    add_store_command,
    add_account_command,
    add_monitor_commands,
    add_propose_command,
]


def build_parser() -> argparse.ArgumentParser:
    """The CLI's argument parser."""
    parser = _Parser(prog="python -m planner", description="Shenzhen Park Planner / 深圳产业园区规划工具")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
    add_store_arguments(common)

    check = sub.add_parser("check", parents=[common], help="capacity report and findings / 容量核算与检查")
    check.add_argument("--json", action="store_true", help="one JSON object")
    check.add_argument(
        "--findings",
        choices=["first", "all"],
        default="first",
        help=f"first {FIRST_ROWS} findings of each code (default) or all / 每类前{FIRST_ROWS}条或全部",
    )
    check.add_argument(
        "--findings-out", metavar="FILE", help="every finding to FILE (.csv or .geojson) / 全部问题写入文件"
    )
    add_as_of_arguments(check)
    check.set_defaults(func=cmd_check)

    export = sub.add_parser("export", parents=[common], help="export a layer / 导出图层")
    export.add_argument(
        "--layer", required=True, choices=(*LAYERS, ANNEX_LAYER), help="annex: 一览表 (xlsx only)"
    )
    export.add_argument("--format", required=True, choices=FORMATS)
    export.add_argument("--out", required=True, help="output file path")
    export.set_defaults(func=cmd_export)

    for register_subcommand in SUBCOMMANDS:
        register_subcommand(sub)
    return parser


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush into a closed pipe says nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):  # stdout is not a file (tests capture it)
        return


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "import" and not args.dry_run and not args.user:
        parser.error("import needs --user NAME (or --dry-run) / 导入需要 --user")
    try:
        code = args.func(args)
        sys.stdout.flush()  # a reader that stopped early (| head) shows here, inside the handler
        return code
    except NotFound as exc:
        print(f"找不到 / not found: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader has what it wanted: exit quietly, as cat and grep do
        _silence_stdout()
        return EXIT_OK
    except PlannerError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"无法读写文件 / cannot read or write: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
