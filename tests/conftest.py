"""Shared fixtures: the real Shenzhen plan and seed register, and small hand-made registers."""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from planner.core.access import User
from planner.core.accounts import Account, load_accounts, save_accounts
from planner.core.geo import WGS84
from planner.core.plan import Plan, load_plan
from planner.core.register import Register, conform_allocations, conform_parks, conform_quotas, load_register

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = Path(__file__).resolve().parent / "data"
METRIC = load_plan().metric_crs  # the bundled Shenzhen plan's metric CRS (EPSG:4547)


def shared_file(*parts: str) -> Path:
    """A file of the team's shared/ folder (there for developers and CI; required under CI)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            raise FileNotFoundError(f"{path} is missing: CI must run with shared/ beside the repo")
        pytest.skip(f"{path} not present (shared/ is beside the repo only for developers and CI)")
    return path


@pytest.fixture(scope="session")
def plan() -> Plan:
    return load_plan()


@pytest.fixture(scope="session")
def seed_register(plan: Plan) -> Register:
    return load_register(plan)


def inside(plan: Plan, code: str, dx_m: float = 0.0, dy_m: float = 0.0) -> shapely.Point:
    """A WGS84 point well inside a district (its representative point, optionally moved in metres)."""
    poly = plan.district_polygons.set_index("code").loc[[code], ["geometry"]]
    pt = gpd.GeoSeries(poly.geometry.values, crs=WGS84).to_crs(METRIC).representative_point()
    moved = gpd.GeoSeries(shapely.transform(pt.values, lambda c: c + np.array([dx_m, dy_m])), crs=METRIC)
    return moved.to_crs(WGS84).iloc[0]


def square(center: shapely.Point, side_m: float) -> shapely.Polygon:
    """A WGS84 square of ``side_m`` metres around a WGS84 point."""
    c = gpd.GeoSeries([center], crs=WGS84).to_crs(METRIC).iloc[0]
    sq = shapely.box(c.x - side_m / 2, c.y - side_m / 2, c.x + side_m / 2, c.y + side_m / 2)
    return gpd.GeoSeries([sq], crs=METRIC).to_crs(WGS84).iloc[0]


def make_register(parks: list[dict], allocations: list[dict] = (), quotas: list[dict] = ()) -> Register:
    """A register from plain dicts (each park dict has a ``geometry``)."""
    rows = [{k: v for k, v in p.items() if k != "geometry"} for p in parks]
    geoms = [p.get("geometry") for p in parks]
    gdf = gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=WGS84)
    return Register(
        conform_parks(gdf),
        conform_allocations(pd.DataFrame(list(allocations))),
        conform_quotas(pd.DataFrame(list(quotas), columns=["district_code", "quota_m2"])),
    )


def as_account(user: User | None) -> User | None:
    """``user`` as an account of the test's accounts file (every write re-reads the account, so a
    session's user must have one). Its hash is a placeholder: it cannot sign in with a password."""
    if user is not None:
        accounts = load_accounts()
        accounts[user.name] = Account(
            user.name, user.role, "placeholder", user.district_code, user.display_name
        )
        save_accounts(accounts)
    return user


@pytest.fixture(autouse=True)
def accounts_and_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test has its own (empty) accounts file, store and plans directory, never the repo's data/."""
    monkeypatch.setenv("PLANNER_ACCOUNTS", str(tmp_path / "accounts.toml"))
    monkeypatch.setenv("PLANNER_DB", str(tmp_path / "planner.gpkg"))
    monkeypatch.setenv("PLANNER_PLANS_DIR", str(tmp_path / "plans"))
    return tmp_path


def postgis_url() -> str:
    """The test PostGIS server's URL (``$PLANNER_TEST_PG``, set by ``bash run.sh test``); skips
    without one, except under CI where a missing server is an error."""
    url = os.environ.get("PLANNER_TEST_PG")
    if not url:
        if os.environ.get("CI"):
            raise RuntimeError(
                "PLANNER_TEST_PG is not set under CI: run.sh must start PostGIS (.ci/postgis.sh)"
            )
        pytest.skip(
            "no PostGIS server: set PLANNER_TEST_PG=postgresql://... (bash .ci/postgis.sh starts one)"
        )
    return url


@pytest.fixture
def pg_schema_url() -> str:
    """A URL whose connections use a fresh schema of the test PostGIS database (dropped afterwards)."""
    import uuid

    import sqlalchemy as sa

    url = postgis_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as con:
        con.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema},public"
    with engine.begin() as con:
        con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh store location: a GeoPackage file, and a PostGIS schema."""
    if request.param == "gpkg":
        return str(tmp_path / "store.gpkg")
    return request.getfixturevalue("pg_schema_url")


@pytest.fixture
def store(store_db: str, plan: Plan):
    """A fresh store of each backend, seeded on first use."""
    from planner.store import open_store

    s = open_store(store_db, plan)
    yield s
    s.close()


# Under pytest-xdist (``-n``; ``--dist loadgroup`` in pyproject.toml) each test module runs whole on
# one worker (its module-scoped fixtures are made once), the two browser modules on the same one
# (one screenshots folder), the nine-district tests each on its own; and each worker puts the
# slowest groups first, so that none of them is left to run alone at the end.
SLOW_FIRST = ("tests/test_store_concurrency.py", "browser", "tests/test_crafted.py", "tests/test_io.py")
ONE_GROUP_A_TEST = ("tests/test_store_concurrency.py",)


def _group(item: pytest.Item) -> str:
    path = item.nodeid.split("::")[0]
    if item.get_closest_marker("browser"):
        return "browser"
    return item.nodeid if path in ONE_GROUP_A_TEST else path


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group the tests for pytest-xdist's ``loadgroup`` (see above); the slowest first on a worker."""
    for item in items:
        item.add_marker(pytest.mark.xdist_group(_group(item)))
    if hasattr(config, "workerinput"):  # an xdist worker (every worker sorts alike: a stable sort)
        rank = {group: i for i, group in enumerate(SLOW_FIRST)}
        items.sort(key=lambda item: rank.get(_group(item).split("::")[0], len(rank)))
