"""Sign-in for an intranet: accounts with argon2-hashed passwords in a TOML file.

No account and no password ships with the planner: the first city planner is created with
``python -m planner account add NAME --role planner``. The file is ``data/accounts.toml`` beside
the app unless ``PLANNER_ACCOUNTS`` names another. Where an organisation has an identity provider
(OIDC, ``st.login``), ``user_for_identity`` maps the provider's e-mail to an account's role.
"""

from __future__ import annotations

import fcntl
import functools
import json
import math
import os
import secrets
import tempfile
import tomllib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from planner.core.access import ROLES, User
from planner.core.values import field_problems
from planner.errors import PlannerError
from planner.settings import accounts_path

if TYPE_CHECKING:  # argon2 and itsdangerous are imported where a password or a token is handled
    from argon2 import PasswordHasher
    from itsdangerous import URLSafeTimedSerializer

MIN_PASSWORD = 10
MAX_FAILED_SIGN_INS = 5  # failed sign-ins for one account name within LOCKOUT_MINUTES lock it
LOCKOUT_MINUTES = 15  # the window counted, and how long the lock lasts after the last failure
LOCKED_DETAIL = "locked"  # audit detail prefix of a lockout refusal
TOKEN_HOURS = 12  # a sign-in cookie (``issue_token``) is good for this long, unless revoked before
_TOKEN_SALT = "planner-sign-in"


@functools.cache
def _hasher() -> PasswordHasher:
    """The password hasher (argon2id, its default parameters), made on first use."""
    from argon2 import PasswordHasher

    return PasswordHasher()


class SignInFailed(PlannerError):
    """Unknown account, wrong password or disabled account (deliberately not told apart)."""


class SignInLocked(SignInFailed):
    """Too many failed sign-ins for this account name lately: refused without checking the password."""


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


# ---- the accounts folder: the file, its lock, the sign-in state, the token secret ----------------
def sign_in_state_path(path: str | Path | None = None) -> Path:
    """Failed sign-ins and token generations per account name: ``accounts.signins.json`` beside
    the accounts file (mode 600), so every store and every process consults the same place."""
    return accounts_path(path).with_suffix(".signins.json")


def secret_path(path: str | Path | None = None) -> Path:
    """The installation's secret that signs sign-in cookies: ``accounts.secret`` (mode 600)."""
    return accounts_path(path).with_suffix(".secret")


@contextmanager
def accounts_lock(path: str | Path | None = None) -> Iterator[None]:
    """An exclusive lock (``fcntl.flock`` on ``accounts.lock``) around one read-check-write step
    of the accounts file or the sign-in state: processes and threads take turns."""
    lock = accounts_path(path).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _write_private(file: Path, text: str) -> None:
    """Write ``text`` atomically (a crash leaves the old file whole) with mode 600."""
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=file.parent, prefix=f".{file.stem}-", suffix=file.suffix)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, file)


def _read_state(path: str | Path | None) -> dict[str, dict]:
    """The sign-in state by account name ({} when none yet; an unreadable file is an error)."""
    file = sign_in_state_path(path)
    if not file.exists():
        return {}
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        names = data["names"]
        if not isinstance(names, dict):
            raise TypeError("names must be an object")
    except (ValueError, KeyError, TypeError) as exc:
        raise PlannerError(
            f"{file}: 登录状态文件无法读取, 请删除后重试 (会清除锁定) / sign-in state unreadable "
            f"({exc}); delete it to reset lockouts"
        ) from exc
    return names


def _write_state(names: dict[str, dict], now: datetime, path: str | Path | None) -> None:
    """Write the state, dropping failures older than the window and empty entries."""
    horizon = (now - timedelta(minutes=LOCKOUT_MINUTES)).isoformat()
    kept: dict[str, dict] = {}
    for name, entry in names.items():
        failures = [t for t in entry.get("failures", []) if t >= horizon]
        gen = int(entry.get("generation", 0))
        if failures or gen:
            kept[name] = {"failures": failures, "generation": gen}
    _write_private(sign_in_state_path(path), json.dumps({"names": kept}, ensure_ascii=False, indent=1))


def _failures(names: dict[str, dict], name: str) -> list[datetime]:
    return [datetime.fromisoformat(t) for t in names.get(name, {}).get("failures", [])]


def _generation(names: dict[str, dict], name: str) -> int:
    return int(names.get(name, {}).get("generation", 0))


def _bump_generation(name: str, now: datetime, path: str | Path | None) -> None:
    """Revoke every sign-in cookie of ``name`` (call under ``accounts_lock``)."""
    names = _read_state(path)
    entry = names.setdefault(name, {})
    entry["generation"] = _generation(names, name) + 1
    _write_state(names, now, path)


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
    _write_private(file, "\n".join(lines))
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
    """Create or replace an account (password hashed with argon2id; at least 10 characters).
    Replacing one revokes its sign-in cookies."""
    if role not in ROLES:
        raise PlannerError(f"未知角色 unknown role {role!r}; roles: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise PlannerError(
            f"密码至少 {MIN_PASSWORD} 个字符 / password needs at least {MIN_PASSWORD} characters"
        )
    bad = field_problems({"name": name, "display_name": display_name, "email": email}, place="account")
    if bad:  # a NUL or other control character: the accounts file and the audit log cannot hold it
        raise PlannerError("\n".join(map(str, bad)))
    acc = Account(name, role, _hasher().hash(password), district_code, display_name, email)
    try:
        acc.user()
    except ValueError as exc:
        raise PlannerError(str(exc)) from exc
    with accounts_lock(path):
        accounts = load_accounts(path)
        existed = name in accounts
        accounts[name] = acc
        save_accounts(accounts, path)
        if existed:
            _bump_generation(name, datetime.now(UTC), path)
    return acc


def disable_account(name: str, path: str | Path | None = None) -> None:
    """Disable an account (kept for the audit trail, can no longer sign in; its cookies are revoked)."""
    with accounts_lock(path):
        accounts = load_accounts(path)
        if name not in accounts:
            raise PlannerError(f"没有账户 no account {name!r}")
        accounts[name] = replace(accounts[name], disabled=True)
        save_accounts(accounts, path)
        _bump_generation(name, datetime.now(UTC), path)


def authenticate(
    name: str, password: str, path: str | Path | None = None, *, now: datetime | None = None
) -> User:
    """The User for a correct name and password; SignInFailed otherwise (same message for all).

    The lockout and the check are one atomic step under ``accounts_lock``: the name's recent
    failures are read, a locked name is refused with SignInLocked without checking the password,
    else the password is checked and a failure is counted before the lock is released; a success
    clears the count. The count lives beside the accounts file (``sign_in_state_path``), whatever
    store a command opens, and also for names that have no account (nothing to tell them apart).
    ``now``: for tests.
    """
    with accounts_lock(path):
        # the time is taken inside the lock: later than every failure recorded before it
        now = now or datetime.now(UTC)
        names = _read_state(path)
        minutes = lockout_minutes(_failures(names, name), now)
        if minutes:
            raise SignInLocked(locked_message(minutes))
        try:
            user = _check_password(name, password, path)
        except SignInFailed:
            names.setdefault(name, {}).setdefault("failures", []).append(now.isoformat())
            _write_state(names, now, path)
            raise
        if names.get(name, {}).get("failures"):
            names[name]["failures"] = []
            _write_state(names, now, path)
        return user


def _check_password(name: str, password: str, path: str | Path | None) -> User:
    acc = load_accounts(path).get(name)
    failed = SignInFailed("用户名或密码错误 / wrong user name or password")
    if acc is None:
        _hasher().hash(password)  # spend the same time as a real check
        raise failed
    from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

    try:
        _hasher().verify(acc.password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise failed from None
    if acc.disabled:
        raise failed
    return acc.user()


def refuse_if_locked(name: str, path: str | Path | None = None, *, now: datetime | None = None) -> None:
    """SignInLocked when ``name`` is locked by failed password sign-ins: a sign-in that checks no
    password (the identity provider, a sign-in cookie) is refused too while the lock lasts."""
    with accounts_lock(path):
        minutes = lockout_minutes(_failures(_read_state(path), name), now or datetime.now(UTC))
    if minutes:
        raise SignInLocked(locked_message(minutes))


def user_for_identity(email: str, path: str | Path | None = None) -> User | None:
    """The account whose ``email`` matches an identity provider's (OIDC), or None."""
    wanted = email.strip().lower()
    for acc in load_accounts(path).values():
        if acc.email and acc.email.lower() == wanted and not acc.disabled:
            return acc.user()
    return None


# ---- sign-in cookies: signed (itsdangerous), expiring, revocable per account -------------------
def _secret(path: str | Path | None) -> str:
    """The installation's signing secret, created on first use (mode 600) beside the accounts file."""
    file = secret_path(path)
    if not file.exists():
        with accounts_lock(path):
            if not file.exists():
                _write_private(file, secrets.token_urlsafe(48))
    return file.read_text(encoding="utf-8").strip()


def _serializer(path: str | Path | None) -> URLSafeTimedSerializer:
    from itsdangerous import URLSafeTimedSerializer

    return URLSafeTimedSerializer(_secret(path), salt=_TOKEN_SALT)


def issue_token(user: User, path: str | Path | None = None) -> str:
    """A signed sign-in token for ``user`` (the cookie's value), good for TOKEN_HOURS unless the
    account's cookies are revoked (sign-out, disabled, replaced) before."""
    with accounts_lock(path):
        generation = _generation(_read_state(path), user.name)
    return _serializer(path).dumps({"u": user.name, "g": generation})


def user_for_token(token: str, path: str | Path | None = None, *, now: datetime | None = None) -> User | None:
    """The account a sign-in token stands for, as it is now; None when the token is forged,
    expired, revoked, or its account is gone, disabled or locked."""
    now = now or datetime.now(UTC)
    from itsdangerous import BadSignature

    try:
        data, signed_at = _serializer(path).loads(token, return_timestamp=True)
        name, generation = str(data["u"]), int(data["g"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
    if not timedelta(0) <= now - signed_at <= timedelta(hours=TOKEN_HOURS):
        return None  # expired (or signed in the future)
    acc = load_accounts(path).get(name)
    if acc is None or acc.disabled:
        return None
    with accounts_lock(path):
        names = _read_state(path)
    if _generation(names, name) != generation or lockout_minutes(_failures(names, name), now):
        return None
    return acc.user()


def revoke_tokens(name: str, path: str | Path | None = None) -> None:
    """Revoke every sign-in cookie of account ``name`` (at sign-out)."""
    with accounts_lock(path):
        _bump_generation(name, datetime.now(UTC), path)
