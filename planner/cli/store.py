"""Command line for the store:
``python -m planner scenario list|show|history|save|export|diff|restore|copy|delete|audit``.

Every command takes ``--db PATH_OR_URL`` (else ``$PLANNER_DB``, else ``data/planner.gpkg``). Writes
need ``--user NAME``; the password comes from ``$PLANNER_PASSWORD`` or a prompt (a failed sign-in
is recorded in the store's audit log). Exit codes: 0 ok (also a save that changes nothing: no
version is written), 1 refused or invalid, 2 usage, unreadable input or a wrong store location,
3 conflict, 4 access denied.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from planner.core.access import User
from planner.core.accounts import LOCKED_DETAIL, SignInFailed, SignInLocked, authenticate
from planner.core.capacity import capacity_report
from planner.core.geo import fmt_m2
from planner.core.plan import Plan, load_plan
from planner.core.register import Register, load_register
from planner.errors import AccessDenied, InputError, NotFound, PlannerError, ValidationError
from planner.io import jsontext
from planner.io.export import write_register_files
from planner.settings import PASSWORD_ENV, password_from_env
from planner.store import MAIN, ConflictError, Store, Version, compare, open_store

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_CONFLICT, EXIT_DENIED = 0, 1, 2, 3, 4


def add_store_arguments(parser: argparse.ArgumentParser, *, scenario: bool = True) -> None:
    """``--db`` (and ``--scenario``, ``--version``) for a command that reads the register from the store."""
    parser.add_argument(
        "--db",
        default=None,
        help="store: a GeoPackage file or postgresql:// URL (default $PLANNER_DB, else data/planner.gpkg)",
    )
    if scenario:
        parser.add_argument("--scenario", default=MAIN, help=f"scenario (default {MAIN}) / 场景")
        parser.add_argument("--version", type=int, default=None, help="version (default latest) / 版本")


def add_user_arguments(parser: argparse.ArgumentParser) -> None:
    """``--user`` and ``--comment`` for a command that writes."""
    parser.add_argument(
        "--user", required=True, help=f"account name; password from ${PASSWORD_ENV} or a prompt"
    )
    parser.add_argument("--comment", default="", help="what and why (kept in the history) / 修改说明")


def cli_store(args: argparse.Namespace, plan: Plan | None = None) -> Store:
    """The store named by ``--db`` / ``$PLANNER_DB`` for the plan of ``--plan``."""
    plan = plan if plan is not None else load_plan(getattr(args, "plan", None))
    return open_store(getattr(args, "db", None), plan)


def stored_register(args: argparse.Namespace, plan: Plan) -> tuple[Store, Register, Version]:
    """The register of ``--scenario`` / ``--version`` in the store."""
    store = cli_store(args, plan)
    register, version = store.load(getattr(args, "scenario", MAIN), getattr(args, "version", None))
    return store, register, version


def signed_in(args: argparse.Namespace, store: Store | None = None) -> User:
    """The user of ``--user``, signed in with ``$PLANNER_PASSWORD`` or a password prompt.

    A wrong name or password is recorded in ``store``'s audit log (action ``sign_in``, outcome
    ``denied``, the user name; never the password) and raises SignInFailed; after too many
    failures for the name, SignInLocked without checking the password."""
    password = password_from_env()
    if password is None:
        if not sys.stdin or not sys.stdin.isatty():
            raise SignInFailed(
                f"需要密码: 设置 {PASSWORD_ENV} 或在终端运行 / a password is needed: set {PASSWORD_ENV} "
                "or run in a terminal"
            )
        password = getpass.getpass(f"{args.user} 的密码 password: ")
    try:
        return authenticate(args.user, password)
    except SignInFailed as exc:
        if store is not None:
            locked = isinstance(exc, SignInLocked)
            store.record_event(
                user=args.user,
                role="",
                action="sign_in",
                outcome="denied",
                detail=f"{LOCKED_DETAIL} 命令行 / command line: {exc}"
                if locked
                else "命令行: 用户名或密码错误 / command line: wrong user name or password",
            )
        raise


def run_guarded(func, args: argparse.Namespace, *, writes: bool = False) -> int:
    """Run a store command, turning the store's refusals into exit codes with bilingual messages.

    For a write, any other planner error (no such scenario, confirmation missing, target exists)
    is a refusal too (exit 1); for a read it is left to ``main`` (exit 2).
    """
    try:
        return func(args)
    except InputError as exc:  # a missing folder or file, a bad argument, a wrong store location
        _fail(args, "usage", exc, [])
        return EXIT_USAGE
    except ConflictError as exc:
        exc.args = (str(exc) + retry_hint(exc),)
        _fail(args, "conflict", exc, getattr(exc, "problems", []))
        return EXIT_CONFLICT
    except (AccessDenied, SignInFailed) as exc:
        _fail(args, "denied", exc, getattr(exc, "problems", []))
        return EXIT_DENIED
    except ValidationError as exc:
        _fail(args, "invalid", exc, exc.problems)
        return EXIT_REFUSED
    except NotFound as exc:  # no such scenario or version: a refused write (1); a read: main says so (2)
        if not writes:
            raise
        _fail(args, "not_found", exc, [])
        return EXIT_REFUSED
    except PlannerError as exc:
        if not writes:
            raise
        _fail(args, "refused", exc, [])
        return EXIT_REFUSED


def _fail(args: argparse.Namespace, outcome: str, exc: Exception, problems: list) -> None:
    if getattr(args, "json", False):
        out = {
            "ok": False,
            "outcome": outcome,
            "message": str(exc),
            "problems": [p.to_dict() for p in problems],
        }
        if isinstance(exc, ConflictError):
            out |= {
                "scenario": exc.scenario,
                "expected_version": exc.expected_version,
                "current_version": exc.current_version,
                "versions": [_version_dict(v) for v in exc.versions],
                "rows": [
                    {"table": table, "key": key, "version": v.version, "author": v.author}
                    for table, rows in exc.rows.items()
                    for key, v in rows
                ],
            }
        _dump(out)
    print(f"拒绝 refused ({outcome}): {exc}", file=sys.stderr)


def retry_hint(exc: ConflictError) -> str:
    """How to retry after a conflict on the command line: the input was not changed."""
    if exc.current_version is None:
        return ""
    return (
        f"\n你的输入文件未改动; 看过上面的改动后, 用 --expected-version {exc.current_version} 重新运行同一命令"
        f"即可在 v{exc.current_version} 上应用你的修改 (import 会自动载入最新版本, 直接重新运行) / your input "
        f"files are untouched: after reviewing the changes above, run the same command again with "
        f"--expected-version {exc.current_version} to apply your change onto v{exc.current_version} "
        "(import loads the latest version itself: just run it again)"
    )


def _plain(x: Any) -> Any:
    if x is None or x is pd.NA or (isinstance(x, float) and np.isnan(x)):
        return None
    if isinstance(x, np.integer | np.floating | np.bool_):
        return x.item()
    return x


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]


def _version_dict(v: Version) -> dict[str, Any]:
    return {k: _plain(getattr(v, k)) for k in v.__dataclass_fields__}


def _dump(obj: Any) -> None:
    jsontext.dump(obj, sys.stdout, ensure_ascii=False, indent=1, default=str)
    print()


def _table(frame: pd.DataFrame) -> None:
    if frame.empty:
        print("  (无 none)")
        return
    print(frame.to_string(index=False))


# ---- commands --------------------------------------------------------------------------------
def cmd_list(args: argparse.Namespace) -> int:
    store = cli_store(args)
    table = store.scenarios()
    if args.json:
        _dump({"store": store.location, "scenarios": _records(table)})
    else:
        print(f"场景 Scenarios in {store.location}:")
        _table(table)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    store = cli_store(args, plan)
    register, v = store.load(args.name, args.version)
    report = capacity_report(plan, register)
    figures = {
        "counted_m2": report.counted_m2,
        "secured_m2": report.secured_m2,
        "planned_m2": report.planned_m2,
        "gap_m2": report.gap_m2,
    }
    if args.json:
        _dump(
            _version_dict(v)
            | figures
            | {
                "parks": len(register.parks),
                "allocations": len(register.allocations),
                "quotas": len(register.quotas),
                "by_district": report.to_dict()["by_district"],
            }
        )
        return EXIT_OK
    print(f"场景 Scenario {v.scenario} {v.describe()}")
    print(
        f"  园区 parks {len(register.parks)}, 分配 allocations {len(register.allocations)}, 配额 quotas {len(register.quotas)}"
    )
    print(f"  计入 Counted {fmt_m2(report.counted_m2)}; 已落实 Secured {fmt_m2(report.secured_m2)}")
    print(f"  仅规划 Planned only {fmt_m2(report.planned_m2)}; 缺口 Gap {fmt_m2(report.gap_m2)}")
    print("  按区 By district:")
    for r in report.by_district.to_dict("records"):
        print(f"    {r['name_zh']} {r['name_en']:<12} {fmt_m2(r['counted_m2'])}")
    return EXIT_OK


def cmd_history(args: argparse.Namespace) -> int:
    store = cli_store(args)
    hist = store.history(args.name)
    if args.json:
        _dump({"scenario": args.name, "versions": _records(hist)})
    else:
        print(f"场景 {args.name} 的历史 history (newest first):")
        _table(hist[["version", "action", "author", "role", "created_at", "comment", "changes"]])
    return EXIT_OK


def _latest_number(store: Store, name: str) -> int | None:
    """The scenario's latest version number, None when it does not exist (or was deleted)."""
    return store.version(name).version if store.exists(name) else None


def _saved(args: argparse.Namespace, v: Version, verb: str, before: int | None = None) -> int:
    """Print the saved version; ``before`` is the latest version before the write: when it is
    still the latest, nothing changed and nothing was written."""
    unchanged = before is not None and v.version == before
    if getattr(args, "json", False):
        _dump({"ok": True, "outcome": "unchanged" if unchanged else "ok"} | _version_dict(v))
    elif unchanged:
        print(f"无变化, 未保存 / no change, nothing saved: {v.scenario} stays v{v.version}")
    else:
        print(f"{verb}: {v.scenario} {v.describe()}  ({v.changes})")
    return EXIT_OK


def cmd_save(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    store = cli_store(args, plan)
    user = signed_in(args, store)
    if args.from_files:
        register = load_register(plan, args.from_files, require_files=True)
        source = f"files {args.from_files}"
    else:
        register, sv = store.load(args.from_scenario, args.from_version)
        source = f"{sv.scenario} v{sv.version}"
    expected = args.expected_version
    if expected is None and store.exists(args.name):
        latest = store.version(args.name)
        raise InputError(
            f"场景 {args.name} 已存在 (最新 v{latest.version}, {latest.author} 保存于 {latest.created_at}); "
            f"请用 --expected-version 写明你的修改基于哪个版本, 未保存 / scenario {args.name!r} exists "
            f"(latest v{latest.version}, saved by {latest.author} at {latest.created_at}): say which "
            f"version your edit started from with --expected-version N (N = {latest.version} if you "
            "started from the latest); nothing was saved"
        )
    comment = args.comment or f"保存自 {source} / saved from {source}"
    v = store.save(register, user=user, comment=comment, scenario=args.name, expected_version=expected)
    return _saved(args, v, "已保存 saved", expected)


def cmd_export_files(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    store = cli_store(args, plan)
    register, v = store.load(args.name, args.version)
    written = write_register_files(register, Path(args.to))
    if args.json:
        _dump({"ok": True, "folder": args.to, "written": [p.name for p in written]} | _version_dict(v))
    else:
        print(
            f"已导出 exported {v.scenario} v{v.version} ({len(register.parks)} parks) -> {args.to} "
            f"(scenario save NAME --from-files {args.to} --expected-version N)"
        )
    return EXIT_OK


def parse_side(text: str) -> tuple[str, int | None]:
    """``NAME`` or ``NAME@VERSION`` -> (name, version or None); InputError when malformed."""
    name, at, version = text.partition("@")
    if not name or (at and not version.strip().isdigit()):
        raise InputError(
            f"无法识别 {text!r}: 应为 场景名 或 场景名@版本号 (如 main@3) / cannot read {text!r}: "
            "expected NAME or NAME@VERSION (a version number, e.g. main@3)"
        )
    return name, int(version) if at else None


def _side(store: Store, text: str) -> tuple[Register, str]:
    name, version = parse_side(text)
    register, v = store.load(name, version)
    return register, f"{v.scenario}@{v.version}"


def cmd_diff(args: argparse.Namespace) -> int:
    plan = load_plan(args.plan)
    store = cli_store(args, plan)
    a, la = _side(store, args.a)
    b, lb = _side(store, args.b)
    cmp = compare(plan, a, b)
    if args.json:
        out = cmp.to_dict()
        out["totals"] = _records(cmp.totals)
        out["by_district"] = _records(cmp.by_district)
        _dump({"a": la, "b": lb} | out)
        return EXIT_OK
    print(f"比较 Compare A = {la}, B = {lb}")
    print("\n合计 Totals:")
    for r in cmp.totals.to_dict("records"):
        print(
            f"  {r['label_zh']} {r['label_en']:<13} A {fmt_m2(r['a'])}  B {fmt_m2(r['b'])}  Δ {r['delta']:+,.0f} m²"
        )
    print("\n按区 By district (counted):")
    for r in cmp.by_district.to_dict("records"):
        mark = "" if r["delta_m2"] == 0 else f"  Δ {r['delta_m2']:+,.0f} m²"
        print(f"  {r['name_zh']} {r['name_en']:<12} A {r['a_m2']:>12,.0f}  B {r['b_m2']:>12,.0f}{mark}")
    print(f"\n新增园区 Parks added ({len(cmp.parks_added)}): {', '.join(cmp.parks_added['id']) or '—'}")
    print(f"移除园区 Parks removed ({len(cmp.parks_removed)}): {', '.join(cmp.parks_removed['id']) or '—'}")
    print(f"修改园区 Parks changed ({len(cmp.changed_columns)}):")
    for pid, cols in cmp.changed_columns.items():
        print(f"  {pid}: {', '.join(cols)}")
    if cmp.changes is not None:
        ch = cmp.changes
        print(
            f"分配 Allocations: +{len(ch.allocations.added)} -{len(ch.allocations.removed)} ~{len(ch.allocations.changed)}"
        )
        print(f"配额 Quotas: +{len(ch.quotas.added)} -{len(ch.quotas.removed)} ~{len(ch.quotas.changed)}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    store = cli_store(args)
    user = signed_in(args, store)
    before = _latest_number(store, args.name)
    v = store.restore(
        args.name, args.version, user=user, comment=args.comment, expected_version=args.expected_version
    )
    return _saved(args, v, "已恢复 restored", before)


def cmd_copy(args: argparse.Namespace) -> int:
    store = cli_store(args)
    user = signed_in(args, store)
    v = store.copy(args.source, args.target, user=user, comment=args.comment)
    return _saved(args, v, "已复制 copied")


def cmd_delete(args: argparse.Namespace) -> int:
    store = cli_store(args)
    user = signed_in(args, store)
    store.delete(args.name, user=user, confirm=args.yes_delete or "")
    if args.json:
        _dump({"ok": True, "outcome": "ok", "deleted": args.name})
    else:
        print(f"已删除 deleted: {args.name} (历史保留 its history is kept: scenario history {args.name})")
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    store = cli_store(args)
    log = store.audit_log(args.limit)
    if args.json:
        _dump({"audit": _records(log)})
    else:
        _table(log)
    return EXIT_OK


def add_scenario_command(sub: argparse._SubParsersAction) -> None:
    """``scenario list|show|history|save|export|diff|restore|copy|delete|audit``."""
    sc = sub.add_parser("scenario", help="scenarios and versions in the store / 场景与版本")
    ssub = sc.add_subparsers(dest="scenario_command", required=True, parser_class=type(sc))

    def command(name: str, func, help_text: str, *, writes: bool = False, plan: bool = False):
        p = ssub.add_parser(name, help=help_text)
        add_store_arguments(p, scenario=False)
        p.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
        p.add_argument("--json", action="store_true", help="one JSON object")
        if writes:
            add_user_arguments(p)
        p.set_defaults(func=lambda args: run_guarded(func, args, writes=writes))
        return p

    command("list", cmd_list, "scenarios, latest version each / 场景列表")
    p = command("show", cmd_show, "a scenario's version and its totals / 查看场景")
    p.add_argument("name")
    p.add_argument("--version", type=int, default=None)
    p = command("history", cmd_history, "every version, newest first / 历史版本")
    p.add_argument("name")
    p = command(
        "save",
        cmd_save,
        "save a register as the scenario's next version (nothing when unchanged) / 保存场景",
        writes=True,
    )
    p.add_argument("name")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from-scenario", help="the latest version of this scenario")
    src.add_argument(
        "--from-files",
        help="a folder with parks.geojson, allocations.csv and quotas.csv (as `scenario export` writes)",
    )
    p.add_argument("--from-version", type=int, default=None, help="with --from-scenario: this version")
    p.add_argument(
        "--expected-version",
        type=int,
        default=None,
        help="the version of NAME your edit started from; required when NAME exists "
        "(refused as a conflict if NAME changed since) / 修改所基于的版本",
    )
    p = command(
        "export",
        cmd_export_files,
        "write a version's register files (parks.geojson, allocations.csv, quotas.csv) / 导出登记册文件",
    )
    p.add_argument("name")
    p.add_argument("--version", type=int, default=None, help="version (default latest) / 版本")
    p.add_argument("--to", required=True, help="folder to write (created if missing) / 导出文件夹")
    p = command("diff", cmd_diff, "compare two scenarios (NAME or NAME@VERSION) / 比较场景")
    p.add_argument("a")
    p.add_argument("b")
    p = command("restore", cmd_restore, "an earlier version becomes the newest / 恢复版本", writes=True)
    p.add_argument("name")
    p.add_argument("--version", type=int, required=True)
    p.add_argument("--expected-version", type=int, default=None)
    p = command("copy", cmd_copy, "copy a scenario to a new name (city planner) / 复制场景", writes=True)
    p.add_argument("source")
    p.add_argument("target")
    p = command(
        "delete", cmd_delete, "delete a scenario; history kept (city planner) / 删除场景", writes=True
    )
    p.add_argument("name")
    p.add_argument("--yes-delete", metavar="NAME", default=None, help="repeat the scenario's name to confirm")
    p = command("audit", cmd_audit, "the audit log, newest first / 审计日志")
    p.add_argument("--limit", type=int, default=50)


def cmd_store_upgrade(args: argparse.Namespace) -> int:
    """Upgrade a store of the snapshot format to the row history (done on open too): print what the
    re-check of the stored numbers found."""
    store = cli_store(args)
    report = store.upgrade_report
    if args.json:
        _dump({"store": store.location, "upgraded": store.upgraded, "report": report})
    elif store.upgraded:
        print(f"已升级 upgraded {store.location}: 行历史格式, 全部版本保留 / row history, every version kept")
        for line in report:
            print(f"  - {line}")
    else:
        print(f"已是最新结构, 无需升级 / {store.location} is already at the current schema: nothing to do")
    store.close()
    return EXIT_OK


def add_store_command(sub: argparse._SubParsersAction) -> None:
    """``store upgrade``."""
    st = sub.add_parser("store", help="the store itself / 规划库")
    ssub = st.add_subparsers(dest="store_command", required=True, parser_class=type(st))
    p = ssub.add_parser(
        "upgrade",
        help="upgrade a store of an earlier release, keeping every version (done on open too) / 升级规划库",
    )
    add_store_arguments(p, scenario=False)
    p.add_argument("--plan", default=None, help="plan folder or bundled name (default: shenzhen)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(func=lambda args: run_guarded(cmd_store_upgrade, args))
