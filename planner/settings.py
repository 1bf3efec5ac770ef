"""Every environment variable and path the planner reads, in one place.

=====================  ==========================================================  ===============================
variable               what                                                        default
=====================  ==========================================================  ===============================
``PLANNER_PLAN``       the plan: a bundled name (``shenzhen``) or a plan folder    ``shenzhen``
``PLANNER_DB``         the store: a GeoPackage path or a ``postgresql://`` URL;    ``data/planner.gpkg`` (shenzhen),
                       ``{plan}`` in it is replaced by the plan's name             ``data/planner-<plan>.gpkg``
``PLANNER_ACCOUNTS``   the accounts file (argon2id hashes)                         ``data/accounts.toml``
``PLANNER_PASSWORD``   a password for scripted CLI use (else a prompt)             —
=====================  ==========================================================  ===============================

``PLANNER_STALE_MONTHS``: months without a change before a park's figures are stale (default 12).

The bundled data (plans under ``geodata/``, the map assets under ``static/``) are found from the
package's own location, so a clone works from any working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
GEODATA_DIR = PROJECT_DIR / "geodata"
STATIC_DIR = PROJECT_DIR / "static"
DATA_DIR = PROJECT_DIR / "data"

DEFAULT_PLAN = "shenzhen"
DEFAULT_DB = DATA_DIR / "planner.gpkg"
DEFAULT_ACCOUNTS = DATA_DIR / "accounts.toml"

PLAN_ENV = "PLANNER_PLAN"
DB_ENV = "PLANNER_DB"
ACCOUNTS_ENV = "PLANNER_ACCOUNTS"
PASSWORD_ENV = "PLANNER_PASSWORD"
STALE_MONTHS_ENV = "PLANNER_STALE_MONTHS"


def plan_name() -> str:
    """The plan to use when none is named: ``$PLANNER_PLAN``, else ``shenzhen``."""
    return os.environ.get(PLAN_ENV) or DEFAULT_PLAN


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
