"""Benchmark: the planner beside plain peers on the same synthetic register (a script, not a test).

    python bench/run.py [--sizes 1000,10000,100000] [--pg URL] [--repeats 3]

For each size it makes a realistic register (bench/checks.py: grid parcels inside the real districts,
about 1% overlapping, one allocation each), saves it in a fresh GeoPackage store and writes the same
parcels as GeoJSON and GeoPackage files, then times (median of ``--repeats`` runs):

- ``check``: the whole ``python -m planner check --json`` process (start included) beside a plain
  geopandas script (read the parcels + allocations, sjoin to the districts, groupby sum) and, with
  ``--pg`` (default ``$PLANNER_TEST_PG``), PostGIS twice: the whole job timed as one (load the same
  GeoPackage, CSV and districts into a fresh schema with ``ogr2ogr -f PostgreSQL``, else geopandas
  ``to_postgis``; index, analyse, the join and sums: the line ``PostGIS load(...)+sum``, the peer of
  the target "faster than the same join and sums in PostGIS") and the query alone on data loaded
  beforehand, on a warm server (``PostGIS query only``);
- the library check after loading (``planner.core.checking.check``): the first check of the loaded
  version (assignment and metric geometries computed) and the median of repeated checks of it (kept
  per version), and the re-check after a one-park edit (``recheck``);
- a one-park save through the public Store API (time and bytes the file grows) and load latest;
- import (``preview_import``: read + every check) and export (``write_layer``) of the GeoJSON and
  GeoPackage files beside pyogrio reading/writing the same files with Arrow (GDAL, as ogr2ogr does;
  ``ogr2ogr`` itself when it is on the PATH: import = ogr2ogr converting the file to a GeoPackage,
  export = ogr2ogr writing the layer from a GeoPackage, GeoJSON with ``RFC7946=YES``; ``bash run.sh
  bench`` installs it).

Peak memory is the peak resident set of each process (``/usr/bin/time``) or of this one.
It asserts nothing: it prints figures (the team's rules keep wall-clock out of the tests).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import geopandas as gpd  # noqa: E402
import pandas as pd  # noqa: E402
import pyogrio  # noqa: E402
from checks import synthetic  # noqa: E402

from planner.core.access import User  # noqa: E402
from planner.core.assign import clear_cache  # noqa: E402
from planner.core.changes import RegisterChanges, TableChanges  # noqa: E402
from planner.core.checking import check, recheck  # noqa: E402
from planner.core.plan import load_plan  # noqa: E402
from planner.core.register import Register  # noqa: E402
from planner.io.export import PRECISION, parks_layer, write_layer  # noqa: E402
from planner.io.ingest import preview_import  # noqa: E402
from planner.store import open_store  # noqa: E402

PLANNER = User("bench", "planner")

PLAIN = """
import sys
import geopandas as gpd, pandas as pd
parks = gpd.read_file(sys.argv[1], engine="pyogrio", use_arrow=True)
allocs = pd.read_csv(sys.argv[2])
districts = gpd.read_file(sys.argv[3], engine="pyogrio", use_arrow=True)
j = gpd.sjoin(parks[["id", "geometry"]], districts[["code", "geometry"]], predicate="intersects")
j = j[~j.index.duplicated()]
a = allocs.merge(j[["id", "code"]], left_on="park_id", right_on="id")
a = a[(a["delivery_year"] >= int(sys.argv[4])) & (a["delivery_year"] <= int(sys.argv[5]))]
print(a.groupby("code")["area_m2"].sum().to_json())
"""

PG_SQL = """
SELECT d.code, sum(a.area_m2)
FROM {s}.allocations a
JOIN (SELECT DISTINCT ON (p.id) p.id, d.code FROM {s}.parks p
      JOIN {s}.districts d ON ST_Intersects(p.geometry, d.geometry) ORDER BY p.id) d ON d.id = a.park_id
WHERE a.delivery_year BETWEEN {y0} AND {y1}
GROUP BY d.code
"""


def median_time(fn: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def run_process(cmd: list[str], repeats: int) -> tuple[float, float]:
    """Median wall seconds and the peak RSS (MiB) of a whole process, start included."""
    times, peaks = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        done = subprocess.run(["/usr/bin/time", "-f", "PEAK %M", *cmd], capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-2000:]}")
        peaks.append(float(done.stderr.rsplit("PEAK", 1)[1].split()[0]) / 1024)
    return statistics.median(times), max(peaks)


def ogr2ogr(arguments: list[str], out: Path) -> None:
    """GDAL's ogr2ogr into a fresh ``out`` (an old file removed first, as every writer here starts)."""
    out.unlink(missing_ok=True)
    subprocess.run(["ogr2ogr", *arguments], check=True, capture_output=True)  # its version notes: not ours


def line(what: str, ours: float, peer: float | None, peer_name: str, unit: str = "s") -> None:
    """One printed row: ours, the peer and the ratio."""
    if peer is None:
        print(f"  {what:<34} {ours:9.3f} {unit}")
        return
    print(f"  {what:<34} {ours:9.3f} {unit}   {peer_name:<26} {peer:9.3f} {unit}   ratio {ours / peer:5.2f}x")


def pg_whole(
    url: str, parks_gpkg: Path, allocs_csv: Path, districts_gpkg: Path, plan, repeats: int
) -> tuple[float, str]:
    """The whole PostGIS job, timed as one (median of ``repeats``): load the same GeoPackage (and the
    allocations CSV and the districts) into a fresh schema, index, analyse, run the join and sums.
    Loaded by ``ogr2ogr -f PostgreSQL`` when it is on the PATH, else by geopandas ``to_postgis``
    (and pandas ``to_sql``); returns the time and which loader was used."""
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    use_ogr = shutil.which("ogr2ogr") is not None

    def once() -> float:
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        t = time.perf_counter()
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE SCHEMA {schema}"))
        try:
            if use_ogr:
                for src, name, extra in (
                    (parks_gpkg, "parks", []),
                    (districts_gpkg, "districts", []),
                    (allocs_csv, "allocations", ["-oo", "AUTODETECT_TYPE=YES"]),
                ):
                    layer = ["-lco", f"SCHEMA={schema}", "-lco", "GEOMETRY_NAME=geometry"]
                    subprocess.run(
                        ["ogr2ogr", "-f", "PostgreSQL", f"PG:{url}", str(src), "-nln", name, *extra, *layer],
                        check=True,
                        capture_output=True,
                    )
            else:
                gpd.read_file(parks_gpkg, engine="pyogrio", use_arrow=True)[["id", "geometry"]].to_postgis(
                    "parks", engine, schema=schema, index=False
                )
                gpd.read_file(districts_gpkg, engine="pyogrio")[["code", "geometry"]].to_postgis(
                    "districts", engine, schema=schema, index=False
                )
                pd.read_csv(allocs_csv).to_sql("allocations", engine, schema=schema, index=False)
            with engine.begin() as con:
                if not use_ogr:  # ogr2ogr makes the GiST index itself
                    con.execute(sa.text(f"CREATE INDEX ON {schema}.parks USING gist (geometry)"))
                con.execute(sa.text(f"CREATE INDEX ON {schema}.allocations (park_id)"))
                con.execute(
                    sa.text(
                        f"ANALYZE {schema}.parks; ANALYZE {schema}.allocations; ANALYZE {schema}.districts"
                    )
                )
                con.execute(
                    sa.text(PG_SQL.format(s=schema, y0=plan.period_start, y1=plan.deadline_year))
                ).fetchall()
            return time.perf_counter() - t
        finally:
            with engine.begin() as con:
                con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))

    try:
        return statistics.median(once() for _ in range(repeats)), "ogr2ogr" if use_ogr else "geopandas"
    finally:
        engine.dispose()


def pg_peer(url: str, folder: Path, plan, register: Register, repeats: int) -> float:
    """The join and sums in PostGIS: the query only, on a warm server (data loaded into a fresh
    schema first, not timed)."""
    import sqlalchemy as sa

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as con:
        con.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        register.parks[["id", "geometry"]].to_postgis("parks", engine, schema=schema, index=False)
        plan.district_polygons[["code", "geometry"]].to_postgis(
            "districts", engine, schema=schema, index=False
        )
        register.allocations[["allocation_id", "park_id", "area_m2", "delivery_year"]].to_sql(
            "allocations", engine, schema=schema, index=False
        )
        with engine.begin() as con:
            con.execute(sa.text(f"CREATE INDEX ON {schema}.parks USING gist (geometry)"))
            con.execute(sa.text(f"CREATE INDEX ON {schema}.allocations (park_id)"))
            con.execute(
                sa.text(f"ANALYZE {schema}.parks; ANALYZE {schema}.allocations; ANALYZE {schema}.districts")
            )
        sql = sa.text(PG_SQL.format(s=schema, y0=plan.period_start, y1=plan.deadline_year))

        def query() -> None:
            with engine.connect() as con:
                con.execute(sql).fetchall()

        return median_time(query, repeats)
    finally:
        with engine.begin() as con:
            con.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def one_size(n: int, args: argparse.Namespace, tmp: Path) -> None:
    plan = load_plan()
    reg = synthetic(n)
    print(f"\n== {n:,} parcels ({int(reg.parks.geometry.geom_type.eq('Polygon').sum()):,} polygons) ==")
    db = tmp / f"store_{n}.gpkg"
    store = open_store(str(db), plan)
    _, v0 = store.load()
    t = time.perf_counter()
    store.save(reg, user=PLANNER, comment="bench", expected_version=v0.version)
    print(f"  (setup: whole register saved once in {time.perf_counter() - t:.1f} s)")

    # Files for the peers (and the import/export rows).
    parks_gpkg, parks_json = tmp / f"parks_{n}.gpkg", tmp / f"parks_{n}.geojson"
    allocs_csv, districts_gpkg = tmp / f"allocations_{n}.csv", tmp / "districts.gpkg"
    reg.parks.to_file(parks_gpkg, driver="GPKG", engine="pyogrio")
    reg.parks.to_file(parks_json, driver="GeoJSON", engine="pyogrio")
    reg.allocations.to_csv(allocs_csv, index=False)
    if not districts_gpkg.exists():
        plan.district_polygons[["code", "geometry"]].to_file(districts_gpkg, driver="GPKG", engine="pyogrio")
    plain = tmp / "plain.py"
    plain.write_text(PLAIN)

    print("  check")
    env_db = ["--db", str(db)]
    ours, ours_peak = run_process([sys.executable, "-m", "planner", "check", "--json", *env_db], args.repeats)
    peer, peer_peak = run_process(
        [
            sys.executable,
            str(plain),
            str(parks_gpkg),
            str(allocs_csv),
            str(districts_gpkg),
            str(plan.period_start),
            str(plan.deadline_year),
        ],
        args.repeats,
    )
    line("python -m planner check --json", ours, peer, "geopandas read+sjoin+sum")
    print(f"  {'peak memory (MiB)':<34} {ours_peak:9.0f}     {'geopandas script':<26} {peer_peak:9.0f}")
    if args.pg:
        whole, loader = pg_whole(args.pg, parks_gpkg, allocs_csv, districts_gpkg, plan, args.repeats)
        line("python -m planner check --json", ours, whole, f"PostGIS load({loader})+sum")
        pg = pg_peer(args.pg, tmp, plan, reg, args.repeats)
        line("python -m planner check --json", ours, pg, "PostGIS query only")

    cli_import_row(plan, db, reg, args, tmp)  # before library_rows adds its park: the same store each run
    library_rows(plan, store, db, reg, args)
    import_export_rows(plan, store, reg, n, args, tmp)
    store.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  {'peak memory of this process (MiB)':<34} {peak:9.0f}")


def library_rows(plan, store, db: Path, reg: Register, args: argparse.Namespace) -> None:
    """Library check, re-check after one edit, one-park save as the app makes it (with the loaded
    version as its base: time, bytes) and load latest."""
    clear_cache()  # a version this process has not checked yet, loaded afresh: with what the store kept
    loaded, v = store.load()
    t = time.perf_counter()
    check(plan, loaded)
    first = time.perf_counter() - t
    clear_cache()  # the same without what the store kept: assignment and metric geometries computed
    t = time.perf_counter()
    check(plan, loaded)
    computed = time.perf_counter() - t
    lib = median_time(lambda: check(plan, loaded), args.repeats)
    result = check(plan, loaded)
    parks = loaded.parks.copy()
    g = parks.geometry.values.copy()
    g[5] = parks.geometry.values[6]  # park 5 moved onto park 6: an overlap appears, one vanishes
    parks["geometry"] = g
    edited = Register(gpd.GeoDataFrame(parks, crs=loaded.parks.crs), loaded.allocations, loaded.quotas)
    pid = str(parks["id"].iloc[5])
    change = RegisterChanges(TableChanges(changed=[pid]), TableChanges(), TableChanges())
    re = median_time(lambda: recheck(result, edited, change), args.repeats)
    line("library check, first of a version", first, None, "")
    line("  the same, nothing kept (computed)", computed, None, "")
    line("library check after loading", lib, None, "")
    line("re-check after a one-park edit", re, None, "")

    one = Register(
        gpd.GeoDataFrame(
            pd.concat([loaded.parks, reg.parks.iloc[[0]].assign(id="bench_new")], ignore_index=True),
            crs=loaded.parks.crs,
        ),
        loaded.allocations,
        loaded.quotas,
    )
    size0 = db.stat().st_size
    t = time.perf_counter()
    store.save(one, user=PLANNER, comment="one park", expected_version=v.version, base=loaded)
    save_s = time.perf_counter() - t
    grown = db.stat().st_size - size0
    print(f"  {'one-park save (library)':<34} {save_s:9.3f} s    file grew {grown / 1024:,.0f} KiB")
    load_s = median_time(lambda: store.load(), args.repeats)
    line("load latest", load_s, None, "")


def cli_import_row(plan, db: Path, reg: Register, args: argparse.Namespace, tmp: Path) -> None:
    """The whole ``python -m planner import`` process (start included) of one new park, median of
    ``--repeats``: each run imports the same park into a fresh copy of the store (copying not timed)."""
    from planner.core.accounts import set_account

    accounts = tmp / "bench_accounts.toml"
    if not accounts.exists():
        set_account("bench", "planner", "bench-password-1", path=accounts)
    park = tmp / "one_park.geojson"
    one = reg.parks.iloc[[0]].assign(id="bench_cli_new", name_zh="bench_cli_new")
    one = one.set_geometry(one.geometry.scale(0.5, 0.5))  # inside parcel 0: a neighbour, not a duplicate
    one.to_file(park, driver="GeoJSON", engine="pyogrio")
    env = os.environ | {"PLANNER_ACCOUNTS": str(accounts), "PLANNER_PASSWORD": "bench-password-1"}
    copy = tmp / f"import_{db.name}"
    cmd = [sys.executable, "-m", "planner", "import", str(park), "--db", str(copy), "--user", "bench"]
    times, grown = [], []
    for _ in range(args.repeats):
        shutil.copyfile(db, copy)
        size0 = copy.stat().st_size
        t = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True, env=env)
        times.append(time.perf_counter() - t)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        grown.append(copy.stat().st_size - size0)
    copy.unlink()
    print(
        f"  {'python -m planner import (1 park)':<34} {statistics.median(times):9.3f} s    "
        f"file grew {max(grown) / 1024:,.0f} KiB"
    )


def import_export_rows(plan, store, reg: Register, n: int, args: argparse.Namespace, tmp: Path) -> None:
    """Import (read + checks) and export of the same files beside pyogrio (and ogr2ogr if present)."""
    parks_gpkg, parks_json = tmp / f"parks_{n}.gpkg", tmp / f"parks_{n}.geojson"
    loaded, _ = store.load()
    print("  import / export")
    for label, path in (("GeoJSON", parks_json), ("GeoPackage", parks_gpkg)):
        ours = median_time(
            lambda p=path: preview_import(
                p, None, plan, Register(reg.parks.iloc[:0], reg.allocations.iloc[:0], reg.quotas)
            ),
            args.repeats,
        )
        peer = median_time(lambda p=path: pyogrio.read_dataframe(p, use_arrow=True), args.repeats)
        line(f"import {label} (read + checks)", ours, peer, "pyogrio read (arrow)")
        if shutil.which("ogr2ogr"):
            out = tmp / f"ogr_{n}.gpkg"
            peer2 = median_time(
                lambda p=path, o=out: ogr2ogr([str(o), str(p)], o),
                args.repeats,
            )
            line(f"import {label} (read + checks)", ours, peer2, "ogr2ogr")
    layer = parks_layer(plan, loaded)
    for label, fmt in (("GeoPackage", "gpkg"), ("GeoJSON", "geojson")):
        out = tmp / f"export_{n}.{fmt}"
        peer_out = tmp / f"peer_{n}.{fmt}"
        ours = median_time(lambda o=out, f=fmt: write_layer(layer, f, o, layer="parks"), args.repeats)
        driver = "GeoJSON" if fmt == "geojson" else "GPKG"
        peer = median_time(
            lambda o=peer_out, d=driver: pyogrio.write_dataframe(layer, o, driver=d, use_arrow=True),
            args.repeats,
        )
        line(f"export {label}", ours, peer, "pyogrio write (arrow)")
        if shutil.which(
            "ogr2ogr"
        ):  # the same layer, from the GeoPackage written above, as GDAL's tool writes it
            src = tmp / f"peer_{n}.gpkg"
            opts = (
                ["-lco", "RFC7946=YES", "-lco", f"COORDINATE_PRECISION={PRECISION}"]
                if fmt == "geojson"
                else []
            )
            ogr_out = tmp / f"ogr_export_{n}.{fmt}"
            peer2 = median_time(
                lambda o=ogr_out, d=driver, s=src, x=opts: ogr2ogr(["-f", d, *x, str(o), str(s)], o),
                args.repeats,
            )
            line(f"export {label}", ours, peer2, "ogr2ogr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument(
        "--pg", default=os.environ.get("PLANNER_TEST_PG"), help="PostGIS URL for the SQL peer"
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"bench/run.py {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()})"
    )
    # The planner's bytecode compiled once, as `pip install` does for an installed package (the
    # libraries it imports are): with PYTHONDONTWRITEBYTECODE set, as on the project's VM, every
    # `python -m planner` process would otherwise compile its ~50 modules afresh (0.2-0.7 s).
    compileall.compile_dir(str(ROOT / "planner"), quiet=1)
    with tempfile.TemporaryDirectory(prefix="planner-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            one_size(n, args, Path(tmp))


if __name__ == "__main__":
    main()
