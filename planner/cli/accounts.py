"""``python -m planner account add|list|disable``: the intranet sign-in accounts.

No account ships with the planner; the first city planner is created here::

    python -m planner account add wang --role planner --display-name 王工
    python -m planner account add li --role district --district 440306
    python -m planner account list
    python -m planner account disable li

The password is asked twice at the prompt (never on the command line, where it would stay in the
shell history); scripts may pass it in ``$PLANNER_PASSWORD``. Accounts are written to
``$PLANNER_ACCOUNTS`` or ``data/accounts.toml`` (``--file`` overrides both).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from planner.core.access import ROLES
from planner.core.accounts import accounts_path, disable_account, load_accounts, set_account
from planner.core.plan import load_plan
from planner.errors import PlannerError
from planner.i18n import ROLE_LABELS
from planner.io import jsontext
from planner.settings import PASSWORD_ENV, password_from_env


def _password() -> str:
    """The new password: ``$PLANNER_PASSWORD``, else asked twice without echo."""
    env = password_from_env()
    if env:
        return env
    if not sys.stdin.isatty():
        raise PlannerError(
            f"没有终端, 无法输入密码; 请设置 ${PASSWORD_ENV} / no terminal to ask for the password: set ${PASSWORD_ENV}"
        )
    first = getpass.getpass("密码 Password: ")
    second = getpass.getpass("再次输入 Repeat password: ")
    if first != second:
        raise PlannerError("两次输入的密码不一致 / the two passwords differ")
    return first


def cmd_account_add(args: argparse.Namespace) -> int:
    """Create an account (or replace one: a new password, role or district)."""
    if args.district:
        codes = load_plan(args.plan).district_codes()
        if args.district not in codes:
            raise PlannerError(
                f"未知区代码 unknown district code {args.district!r}; codes: {', '.join(codes)}"
            )
    if args.role != "district" and args.district:
        raise PlannerError("--district 仅用于区级工作人员 / --district is for --role district only")
    existed = args.name in load_accounts(args.file)
    acc = set_account(
        args.name,
        args.role,
        _password(),
        district_code=args.district,
        display_name=args.display_name,
        email=args.email,
        path=args.file,
    )
    verb = "已更新 updated" if existed else "已创建 created"
    zh, en = ROLE_LABELS[acc.role]
    where = f" {acc.district_code}" if acc.district_code else ""
    print(f"{verb} {acc.name}: {zh} {en}{where} -> {accounts_path(args.file)}")
    return 0


def cmd_account_list(args: argparse.Namespace) -> int:
    """Every account: name, role, district, e-mail, disabled (never the hashes)."""
    accounts = load_accounts(args.file)
    rows = [
        {
            "name": a.name,
            "role": a.role,
            "district_code": a.district_code or "",
            "display_name": a.display_name,
            "email": a.email,
            "disabled": a.disabled,
        }
        for a in accounts.values()
    ]
    if args.json:
        jsontext.dump(rows, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    if not rows:
        print(f"没有账户 no accounts in {accounts_path(args.file)}")
        print("创建第一个 create the first: python -m planner account add NAME --role planner")
        return 0
    print(f"{len(rows)} 个账户 accounts in {accounts_path(args.file)}:")
    for r in rows:
        zh, en = ROLE_LABELS[str(r["role"])]
        state = "  [已停用 disabled]" if r["disabled"] else ""
        extra = " ".join(str(x) for x in (r["display_name"], r["email"]) if x)
        print(f"  {r['name']:<16} {zh} {en:<15} {r['district_code'] or '—':<7} {extra}{state}")
    return 0


def cmd_account_disable(args: argparse.Namespace) -> int:
    """Disable an account: it stays in the file (for the audit trail) but can no longer sign in."""
    disable_account(args.name, args.file)
    print(f"已停用 disabled {args.name}")
    return 0


def add_account_command(sub: argparse._SubParsersAction) -> None:
    """``account add NAME --role ... | account list | account disable NAME``."""
    account = sub.add_parser("account", help="sign-in accounts / 登录账户")
    acc_sub = account.add_subparsers(dest="account_command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--file", default=None, help="accounts file (default: $PLANNER_ACCOUNTS or data/accounts.toml)"
    )

    add = acc_sub.add_parser("add", parents=[common], help="create or replace an account / 创建账户")
    add.add_argument("name", help="account name used to sign in")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--district", default=None, help="district code, for --role district (e.g. 440306)")
    add.add_argument("--display-name", default="", help="name shown in the app")
    add.add_argument("--email", default="", help="e-mail known to the identity provider (OIDC)")
    add.add_argument("--plan", default=None, help="plan folder or bundled name (checks --district)")
    add.set_defaults(func=cmd_account_add)

    lst = acc_sub.add_parser("list", parents=[common], help="list accounts / 列出账户")
    lst.add_argument("--json", action="store_true", help="one JSON list")
    lst.set_defaults(func=cmd_account_list)

    dis = acc_sub.add_parser("disable", parents=[common], help="disable an account / 停用账户")
    dis.add_argument("name")
    dis.set_defaults(func=cmd_account_disable)
