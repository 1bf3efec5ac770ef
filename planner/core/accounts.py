"""Sign-in for an intranet: accounts with argon2-hashed passwords in a TOML file.

No account and no password ships with the planner: the first city planner is created with
``python -m planner account add NAME --role planner``. The file is ``data/accounts.toml`` beside
the app unless ``PLANNER_ACCOUNTS`` names another. Where an organisation has an identity provider
(OIDC, ``st.login``), ``user_for_identity`` maps the provider's e-mail to an account's role.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from planner.core.access import ROLES, User
from planner.core.values import field_problems
from planner.errors import PlannerError
from planner.settings import accounts_path

MIN_PASSWORD = 10
_HASHER = PasswordHasher()
MAX_FAILED_SIGN_INS = 5  # failed sign-ins for one account name within LOCKOUT_MINUTES lock it
LOCKOUT_MINUTES = 15  # the window counted, and how long the lock lasts after the last failure
LOCKED_DETAIL = "locked"  # audit detail prefix of a lockout refusal (not counted as a failure)


class SignInFailed(PlannerError):
    """Unknown account, wrong password or disabled account (deliberately not told apart)."""


class SignInLocked(SignInFailed):
    """Too many failed sign-ins for this account name lately: refused without checking the password."""


class SignInLog(Protocol):
    """Where sign-ins are recorded: the store (``planner.store.service.Store``)."""

    def failed_sign_ins(self, name: str, since: datetime) -> list[datetime]: ...

    def record_event(self, *, user: str, role: str, action: str, outcome: str, detail: str = "") -> None: ...


def lockout_minutes(failures: Iterable[datetime], now: datetime) -> int:
    """Minutes (rounded up) an account name stays locked given its failed sign-in times; 0 when
    not locked. Locked: MAX_FAILED_SIGN_INS failures within LOCKOUT_MINUTES, until LOCKOUT_MINUTES
    after the last of them."""
    window = timedelta(minutes=LOCKOUT_MINUTES)
    times = sorted(t for t in failures if t <= now)
    if not times or now - times[-1] >= window:
        return 0
    last = times[-1]
    if sum(1 for t in times if last - t < window) < MAX_FAILED_SIGN_INS:
        return 0
    return max(1, math.ceil((last + window - now).total_seconds() / 60))


def locked_message(minutes: int) -> str:
    """The bilingual refusal for a locked account name."""
    return f"尝试次数过多, 请 {minutes} 分钟后再试 / too many failed attempts, try again in {minutes} minutes"


def refuse_if_locked(log: SignInLog, name: str, *, now: datetime | None = None, via: str = "") -> None:
    """Raise SignInLocked (recorded in ``log``: sign_in, denied, detail ``locked ...``) when ``name``
    has too many recent failed sign-ins; called before the password is checked."""
    now = now or datetime.now(UTC)
    failures = log.failed_sign_ins(name, now - 2 * timedelta(minutes=LOCKOUT_MINUTES))
    minutes = lockout_minutes(failures, now)
    if minutes:
        message = locked_message(minutes)
        detail = f"{LOCKED_DETAIL}{' ' + via if via else ''}: {message}"
        log.record_event(user=name, role="", action="sign_in", outcome="denied", detail=detail)
        raise SignInLocked(message)


@dataclass(frozen=True)
class Account:
    """One account as stored: who, role, district, the argon2 hash (never the password)."""

    name: str
    role: str
    password_hash: str
    district_code: str | None = None
    display_name: str = ""
    email: str = ""
    disabled: bool = False

    def user(self) -> User:
        """The signed-in User this account stands for."""
        return User(self.name, self.role, self.district_code, self.display_name)


def load_accounts(path: str | Path | None = None) -> dict[str, Account]:
    """All accounts by name ({} when the file does not exist yet)."""
    file = accounts_path(path)
    if not file.exists():
        return {}
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PlannerError(f"{file}: 账户文件无法读取 / accounts file unreadable: {exc}") from exc
    table = data.get("accounts", {})
    if not isinstance(table, dict):
        raise PlannerError(
            f"{file} [accounts]: 应为表 [accounts.NAME] / must be a table of [accounts.NAME] sections, "
            f"not {type(table).__name__}"
        )
    out: dict[str, Account] = {}
    for name, row in table.items():
        place = f"{file} [accounts.{name}]"
        if not isinstance(row, dict):
            raise PlannerError(
                f"{place}: 账户无效, 应为表 / invalid account: must be a table (role = ..., "
                f"password_hash = ...), not {type(row).__name__}"
            )
        try:
            if "role" not in row:
                raise ValueError("缺少 role / role missing")
            for key in ("role", "password_hash", "district_code", "display_name", "email"):
                if key in row and not isinstance(row[key], str):
                    raise TypeError(f"{key} must be a string, not {type(row[key]).__name__}")
            if not isinstance(row.get("disabled", False), bool):
                raise TypeError("disabled must be true or false")
            acc = Account(
                name=name,
                role=row["role"],
                password_hash=row.get("password_hash", ""),
                district_code=row.get("district_code") or None,
                display_name=row.get("display_name", ""),
                email=row.get("email", ""),
                disabled=row.get("disabled", False),
            )
            acc.user()  # validates role and district
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise PlannerError(f"{place}: 账户无效 / invalid account: {exc}") from exc
        out[name] = acc
    return out


def _toml_str(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a valid TOML basic string


def save_accounts(accounts: dict[str, Account], path: str | Path | None = None) -> Path:
    """Write all accounts atomically (a crash leaves the old file whole)."""
    file = accounts_path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# Shenzhen Park Planner accounts: argon2id hashes only, never passwords.", ""]
    for acc in accounts.values():
        lines += [
            f"[accounts.{_toml_str(acc.name)}]",
            f"role = {_toml_str(acc.role)}",
            f"district_code = {_toml_str(acc.district_code or '')}",
            f"display_name = {_toml_str(acc.display_name)}",
            f"email = {_toml_str(acc.email)}",
            f"disabled = {'true' if acc.disabled else 'false'}",
            f"password_hash = {_toml_str(acc.password_hash)}",
            "",
        ]
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=".accounts-", suffix=".toml")
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    os.chmod(tmp, 0o600)
    os.replace(tmp, file)
    return file


def set_account(
    name: str,
    role: str,
    password: str,
    *,
    district_code: str | None = None,
    display_name: str = "",
    email: str = "",
    path: str | Path | None = None,
) -> Account:
    """Create or replace an account (password hashed with argon2id; at least 10 characters)."""
    if role not in ROLES:
        raise PlannerError(f"未知角色 unknown role {role!r}; roles: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise PlannerError(
            f"密码至少 {MIN_PASSWORD} 个字符 / password needs at least {MIN_PASSWORD} characters"
        )
    bad = field_problems({"name": name, "display_name": display_name, "email": email}, place="account")
    if bad:  # a NUL or other control character: the accounts file and the audit log cannot hold it
        raise PlannerError("\n".join(map(str, bad)))
    acc = Account(name, role, _HASHER.hash(password), district_code, display_name, email)
    try:
        acc.user()
    except ValueError as exc:
        raise PlannerError(str(exc)) from exc
    accounts = load_accounts(path)
    accounts[name] = acc
    save_accounts(accounts, path)
    return acc


def disable_account(name: str, path: str | Path | None = None) -> None:
    """Disable an account (kept for the audit trail, can no longer sign in)."""
    accounts = load_accounts(path)
    if name not in accounts:
        raise PlannerError(f"没有账户 no account {name!r}")
    accounts[name] = replace(accounts[name], disabled=True)
    save_accounts(accounts, path)


def authenticate(name: str, password: str, path: str | Path | None = None) -> User:
    """The User for a correct name and password; SignInFailed otherwise (same message for all)."""
    acc = load_accounts(path).get(name)
    failed = SignInFailed("用户名或密码错误 / wrong user name or password")
    if acc is None:
        _HASHER.hash(password)  # spend the same time as a real check
        raise failed
    try:
        _HASHER.verify(acc.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise failed from None
    if acc.disabled:
        raise failed
    return acc.user()


def user_for_identity(email: str, path: str | Path | None = None) -> User | None:
    """The account whose ``email`` matches an identity provider's (OIDC), or None."""
    wanted = email.strip().lower()
    for acc in load_accounts(path).values():
        if acc.email and acc.email.lower() == wanted and not acc.disabled:
            return acc.user()
    return None
