"""Every environment variable and path the planner reads, in one place.

=====================  ==========================================================  ===============================
variable               what                                                        default
=====================  ==========================================================  ===============================
``PLANNER_PLAN``       the plan: a bundled name (``shenzhen``) or a plan folder    ``shenzhen``
``PLANNER_PLANS_DIR``  where successor plans made in the app or CLI are written;   ``data/plans/``
                       its folders are offered by name beside the bundled plans
``PLANNER_DB``         the store: a GeoPackage path or a ``postgresql://`` URL;    ``data/planner.gpkg`` (shenzhen),
                       ``{plan}`` in it is replaced by the plan's name             ``data/planner-<plan>.gpkg``
``PLANNER_ACCOUNTS``   the accounts file (argon2id hashes)                         ``data/accounts.toml``
``PLANNER_PASSWORD``   a password for scripted CLI use (else a prompt)             —
``PLANNER_MAX_UPLOAD_MB``    largest file the app accepts for import (MB)          ``50``
``PLANNER_MAX_EXPAND_MB``    what one archive (.zip, .kmz, .xlsx) may expand to    ``500``
``PLANNER_MAX_MEMBER_MB``    what one member of an archive may expand to (MB)      ``500``
``PLANNER_MAX_MEMBERS``      how many members an archive may hold                  ``1000``
=====================  ==========================================================  ===============================

``PLANNER_STALE_MONTHS``: months without a change before a park's figures are stale (default 12).

The app's uploader is also capped by Streamlit's own ``server.maxUploadSize`` (``.streamlit/config.toml``,
or ``STREAMLIT_SERVER_MAX_UPLOAD_SIZE``); ``bash run.sh app`` sets it from ``PLANNER_MAX_UPLOAD_MB``.

The bundled data (plans under ``geodata/``, the map assets under ``static/``) are found from the
package's own location, so a clone works from any working directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from planner.errors import PlannerError

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
GEODATA_DIR = PROJECT_DIR / "geodata"
STATIC_DIR = PROJECT_DIR / "static"
DATA_DIR = PROJECT_DIR / "data"

DEFAULT_PLAN = "shenzhen"
DEFAULT_DB = DATA_DIR / "planner.gpkg"
DEFAULT_ACCOUNTS = DATA_DIR / "accounts.toml"
DEFAULT_PLANS_DIR = DATA_DIR / "plans"

PLAN_ENV = "PLANNER_PLAN"
PLANS_DIR_ENV = "PLANNER_PLANS_DIR"
DB_ENV = "PLANNER_DB"
ACCOUNTS_ENV = "PLANNER_ACCOUNTS"
PASSWORD_ENV = "PLANNER_PASSWORD"
STALE_MONTHS_ENV = "PLANNER_STALE_MONTHS"


def plan_name() -> str:
    """The plan to use when none is named: ``$PLANNER_PLAN``, else ``shenzhen``."""
    return os.environ.get(PLAN_ENV) or DEFAULT_PLAN


def plans_dir() -> Path:
    """The planners' own plan folders (successor plans made in the app or with ``plan successor``):
    ``$PLANNER_PLANS_DIR``, else ``data/plans/``. Beside the bundled plans of ``geodata/`` (which
    win on a clash of names), each of its folders is a plan loadable by its folder's name."""
    return Path(os.environ.get(PLANS_DIR_ENV) or DEFAULT_PLANS_DIR)


def db_location(db: str | Path | None = None, plan: str | None = None) -> str:
    """The store to use: ``db``, else ``$PLANNER_DB``, else the default file of the plan named ``plan``.

    A store belongs to one plan. ``{plan}`` in either is replaced by the plan's name (its folder's
    name), so one setting gives each plan its own store; the default is ``data/planner.gpkg`` for
    the default plan (shenzhen) and ``data/planner-<plan>.gpkg`` for any other.

    >>> db_location("x/{plan}.gpkg", "zhejiang")
    'x/zhejiang.gpkg'
    """
    name = plan or DEFAULT_PLAN
    given = db or os.environ.get(DB_ENV)
    if given:
        return str(given).replace("{plan}", name)
    return str(DEFAULT_DB if name == DEFAULT_PLAN else DATA_DIR / f"planner-{name}.gpkg")


def accounts_path(path: str | Path | None = None) -> Path:
    """The accounts file: ``path``, else ``$PLANNER_ACCOUNTS``, else ``data/accounts.toml``."""
    return Path(path or os.environ.get(ACCOUNTS_ENV) or DEFAULT_ACCOUNTS)


def password_from_env() -> str | None:
    """The password in ``$PLANNER_PASSWORD``, if set (scripted CLI use)."""
    return os.environ.get(PASSWORD_ENV)


# ---- Limits on what an import may read (a zip bomb, an oversized upload) ------------------------
MAX_UPLOAD_MB_ENV = "PLANNER_MAX_UPLOAD_MB"
MAX_EXPAND_MB_ENV = "PLANNER_MAX_EXPAND_MB"
MAX_MEMBER_MB_ENV = "PLANNER_MAX_MEMBER_MB"
MAX_MEMBERS_ENV = "PLANNER_MAX_MEMBERS"
MB = 1024 * 1024


@dataclass(frozen=True)
class ImportLimits:
    """What one imported file may be: its size as uploaded, and what an archive in it may expand to.

    Archives inside archives are never opened (nesting depth 1): a .zip or .kmz member of an archive
    is left unread.
    """

    upload_bytes: int
    expand_bytes: int
    member_bytes: int
    members: int

    def env_of(self, limit: str) -> str:
        """The environment variable that raises ``limit`` (a field name of this class)."""
        return {
            "upload_bytes": MAX_UPLOAD_MB_ENV,
            "expand_bytes": MAX_EXPAND_MB_ENV,
            "member_bytes": MAX_MEMBER_MB_ENV,
            "members": MAX_MEMBERS_ENV,
        }[limit]


_LIMIT_DEFAULTS = {
    MAX_UPLOAD_MB_ENV: 50,
    MAX_EXPAND_MB_ENV: 500,
    MAX_MEMBER_MB_ENV: 500,
    MAX_MEMBERS_ENV: 1000,
}


def _positive_int(name: str) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return _LIMIT_DEFAULTS[name]
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise PlannerError(
            f"环境变量 {name}={text!r} 须为正整数 / {name}={text!r} must be a positive whole number "
            f"(default {_LIMIT_DEFAULTS[name]})"
        )
    return value


def import_limits() -> ImportLimits:
    """The import limits now in force: the ``PLANNER_MAX_*`` variables, else the defaults above."""
    return ImportLimits(
        upload_bytes=_positive_int(MAX_UPLOAD_MB_ENV) * MB,
        expand_bytes=_positive_int(MAX_EXPAND_MB_ENV) * MB,
        member_bytes=_positive_int(MAX_MEMBER_MB_ENV) * MB,
        members=_positive_int(MAX_MEMBERS_ENV),
    )


def max_upload_mb() -> int:
    """The largest upload the app's file uploader offers, in MB (``$PLANNER_MAX_UPLOAD_MB``)."""
    return _positive_int(MAX_UPLOAD_MB_ENV)


def stale_months(months: int | None = None) -> int:
    """Months after which a park's unchanged figures are stale: ``months``, else
    ``$PLANNER_STALE_MONTHS``, else 12."""
    if months is not None:
        return int(months)
    text = os.environ.get(STALE_MONTHS_ENV)
    try:
        return int(text) if text else 12
    except ValueError:
        raise ValueError(
            f"{STALE_MONTHS_ENV} 应为整数月数 / {STALE_MONTHS_ENV} must be a whole number of months, got {text!r}"
        ) from None
