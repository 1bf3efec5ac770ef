"""Reading the file formats an import accepts: GeoJSON, GeoPackage, zipped Shapefile, KML/KMZ, CSV and Excel."""

from __future__ import annotations

import codecs
import contextlib
import io
import json
import shutil
import sqlite3
import struct
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError

from planner.core.values import field_problems, geojson_text_problems
from planner.io.issues import _Collector, _Refuse
from planner.settings import MB, import_limits

VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".zip", ".shp", ".kml", ".kmz")


TABLE_SUFFIXES = (".csv", ".txt", ".xlsx", ".xlsm")  # old .xls: save it as .xlsx first


SUPPORTED_SUFFIXES = VECTOR_SUFFIXES + TABLE_SUFFIXES


def _refuse_file(c: _Collector, zh: str, en: str, *, code: str = "unreadable", field: str = "") -> NoReturn:
    """One error about the whole file (Chinese, English); the import stops there."""
    c.error(code, c.file, field, zh, en)
    raise _Refuse


def _cannot_read(
    c: _Collector, exc: BaseException, what_zh: str = "文件", what_en: str = "the file"
) -> NoReturn:
    """The reader failed on the file: its own words, after what could not be read."""
    _refuse_file(c, f"无法读取{what_zh}: {exc}", f"cannot read {what_en}: {exc}")


def _too_large(c: _Collector, limit: str, what_zh: str, what_en: str) -> NoReturn:
    """Refuse the file: it passes one of the import limits (``limit``, a field of ImportLimits)."""
    limits = import_limits()
    env = limits.env_of(limit)
    value = getattr(limits, limit)
    shown = f"{value:,}" if limit == "members" else f"{value // MB:,} MB"
    _refuse_file(
        c,
        f"{what_zh}, 超过上限 {shown}; 请拆分文件, 或请管理员调高环境变量 {env}",
        f"{what_en}, beyond the limit of {shown}; split the file, or ask an administrator to raise "
        f"the environment variable {env}", code="too_large",
    )  # fmt: skip


def _materialise(
    source: str | Path | bytes | BinaryIO, filename: str | None, tmp: Path, c: _Collector
) -> Path:
    """A path on disk for the input (uploads are written into ``tmp``, refused beyond the upload limit)."""
    if isinstance(source, str | Path):
        return Path(source)
    limit = import_limits().upload_bytes
    data = source if isinstance(source, bytes) else source.read(limit + 1)
    if len(data) > limit:
        _too_large(c, "upload_bytes", f"上传文件大于 {len(data) // MB:,} MB", "the upload is larger")
    name = Path(filename or "upload").name or "upload"
    path = tmp / name
    path.write_bytes(data)
    return path


ARCHIVE_SUFFIXES = (".zip", ".kmz")  # opened here, one level deep; an archive inside one is not opened


def _archive_directory(zf: zipfile.ZipFile, c: _Collector) -> list[zipfile.ZipInfo]:
    """The archive's members after the limits are checked from its directory (before reading any)."""
    limits = import_limits()
    infos = zf.infolist()
    if len(infos) > limits.members:
        _too_large(
            c, "members", f"压缩包有 {len(infos):,} 个成员", f"the archive holds {len(infos):,} members"
        )
    for info in infos:
        if info.file_size > limits.member_bytes:
            _too_large(
                c, "member_bytes", f"压缩包成员 {info.filename} 解压后为 {info.file_size // MB:,} MB",
                f"the member {info.filename} expands to {info.file_size // MB:,} MB",
            )  # fmt: skip
    total = sum(info.file_size for info in infos)
    if total > limits.expand_bytes:
        _too_large(
            c,
            "expand_bytes",
            f"压缩包解压后共 {total // MB:,} MB",
            f"the archive expands to {total // MB:,} MB",
        )
    return infos


_CHUNK = 1024 * 1024


def check_archive(path: Path, c: _Collector) -> None:
    """Refuse a zip-based file (.xlsx) whose directory passes the import limits.

    Python's zip reader stops each member at the size its directory declares, so a member cannot
    expand beyond what is checked here.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            _archive_directory(zf, c)
    except (zipfile.BadZipFile, OSError) as exc:
        _cannot_read(c, exc)


def _unzip(path: Path, tmp: Path, c: _Collector) -> Path:
    """Extract an archive (.zip, .kmz; member names reduced to their base names) within the import
    limits and return the file to read.

    The limits are checked twice: from the archive's directory before anything is read, and while
    each member is streamed to disk (a counter, whatever the directory claims).
    """
    limits = import_limits()
    out = tmp / "unzipped"
    out.mkdir(exist_ok=True)
    total = 0
    try:
        with zipfile.ZipFile(path) as zf:
            for info in _archive_directory(zf, c):
                base = Path(info.filename).name
                if info.is_dir() or not base or base.startswith("."):
                    continue
                if Path(base).suffix.lower() in ARCHIVE_SUFFIXES:
                    c.warn(
                        "nested_archive", c.file, "", f"压缩包中的压缩包 {base} 不会被打开",
                        f"the archive {base} inside the archive is not opened",
                    )  # fmt: skip
                    continue
                size = 0
                with zf.open(info) as member, (out / base).open("wb") as sink:
                    while chunk := member.read(_CHUNK):
                        size += len(chunk)
                        total += len(chunk)
                        if size > limits.member_bytes:
                            _too_large(
                                c, "member_bytes", f"压缩包成员 {info.filename} 解压后超过声明大小",
                                f"the member {info.filename} expands beyond what the archive declares",
                            )  # fmt: skip
                        if total > limits.expand_bytes:
                            _too_large(c, "expand_bytes", "压缩包解压后过大", "the archive expands too far")
                        sink.write(chunk)
    except (zipfile.BadZipFile, OSError, EOFError, zlib.error, NotImplementedError) as exc:
        _cannot_read(c, exc, "压缩文件", "the zip file")
    files = sorted(out.iterdir())
    wanted = (".kml",) if path.suffix.lower() == ".kmz" else (".shp", ".gpkg", ".geojson", ".json", ".kml")
    for suffix in wanted:
        hits = [f for f in files if f.suffix.lower() == suffix]
        if hits:
            if len(hits) > 1:
                c.warn(
                    "layers_ignored", c.file, "",
                    f"压缩包中有多个{suffix}文件, 只导入 {hits[0].name}",
                    f"the zip holds several {suffix} files; only {hits[0].name} is imported",
                )  # fmt: skip
            return hits[0]
    _refuse_file(
        c,
        f"压缩包中没有 {'/'.join(wanted)} 文件",
        f"the archive holds no {', '.join(wanted)} file",
    )  # fmt: skip


def _sidecar(shp: Path, suffix: str) -> Path | None:
    for f in shp.parent.iterdir():
        if f.stem == shp.stem and f.suffix.lower() == suffix:
            return f
    return None


def _cpg_codec(text: str) -> str | None:
    """Python codec for a .cpg text ("UTF-8", "GBK", "936", "ANSI 936"); None when unknown."""
    t = text.strip().upper().replace("ANSI", "").strip()
    if t in ("936", "CP936", "GBK", "GB2312", "GB18030", "EUC-CN"):
        return "gb18030"  # a superset of GBK/GB2312: decodes all of them
    if t in ("65001", "UTF8", "UTF-8"):
        return "utf-8"
    for cand in (t, f"cp{t}"):
        try:
            return codecs.lookup(cand).name
        except LookupError:
            continue
    return None


def _sniff_dbf(dbf: Path) -> str:
    """UTF-8 when the DBF's header and records decode strictly as UTF-8, else GB18030."""
    raw = dbf.read_bytes()
    try:
        raw[32:].decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


_KML_LAUNDER = "LIBKML_LAUNDER_FIELD_NAMES"


_ONE_LAYER = (".geojson", ".json")
_ARROW_SUFFIXES = (".gpkg",)  # read through Arrow: columnar, several times faster (GeoJSON: GDAL reads
# a NaN coordinate differently through Arrow, and the import parses that text itself anyway)


def _read_vector(path: Path, c: _Collector, **kwargs: Any) -> gpd.GeoDataFrame:
    """pyogrio read of the first layer; GDAL's warnings become import warnings."""
    try:  # GeoJSON has one layer by definition: listing it would make GDAL parse the whole file twice
        layers = [[path.stem]] if path.suffix.lower() in _ONE_LAYER else pyogrio.list_layers(path)
    except (pyogrio.errors.DataSourceError, OSError) as exc:
        _cannot_read(c, exc)
    if len(layers) == 0:
        _refuse_file(c, "文件中没有图层", "the file holds no layer", code="empty")
    if len(layers) > 1:
        c.warn(
            "layers_ignored", c.file, "",
            f"文件有 {len(layers)} 个图层, 只导入第一个 ({layers[0][0]})",
            f"the file has {len(layers)} layers; only the first ({layers[0][0]}) is imported",
        )  # fmt: skip
    kml = path.suffix.lower() in (".kml", ".kmz")
    previous = pyogrio.get_gdal_config_option(_KML_LAUNDER) if kml else None
    if kml:  # keep Chinese <Data name="占地面积"> headers instead of GDAL's "____" laundering
        pyogrio.set_gdal_config_options({_KML_LAUNDER: "NO"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            arrow = {"use_arrow": True} if path.suffix.lower() in _ARROW_SUFFIXES else {}
            layer = 0 if path.suffix.lower() in _ONE_LAYER else layers[0][0]
            gdf = pyogrio.read_dataframe(path, layer=layer, **arrow, **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
            _cannot_read(c, exc)
        except RecursionError:  # an attribute nested thousands deep (parsed as JSON)
            _refuse_file(c, "属性嵌套层数过深", "an attribute is nested too deep to read")
        except UnicodeDecodeError as exc:
            if "encoding" not in kwargs:
                raise  # the shapefile reader retries with another encoding
            _refuse_file(
                c,
                f"文字无法按 {kwargs['encoding']} 解码 (字段名可能被截断): {exc}",
                f"text does not decode as {kwargs['encoding']} (a field name may be cut short): {exc}",
            )  # fmt: skip
        finally:
            if kml:
                pyogrio.set_gdal_config_options({_KML_LAUNDER: previous})
    for w in caught:
        c.warn("read_warning", c.file, "", f"读取提示: {w.message}", f"reader says: {w.message}")
    if path.suffix.lower() == ".gpkg":
        _refuse_cut_texts(_gpkg_cut_texts(path, layers[0][0]), c)
    return gdf


def _gpkg_cut_texts(path: Path, table: str) -> list[tuple[int, str, str]]:
    """(feature number, column, whole text) of each GeoPackage text cell holding a NUL.

    SQLite keeps the whole text; GDAL reads it only up to the NUL, so it is looked for in the
    file itself, read-only. Features are numbered in GDAL's reading order (the table's rowid):
    one pass finds the rows with a NUL (no window over the table: at 100,000 rows numbering every
    row first cost 0.8 s), and only when there are any are the rowids read to number them.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as con:
            quoted = table.replace('"', '""')
            cols = [row[1] for row in con.execute(f'PRAGMA table_info("{quoted}")')]
            if not cols:
                return []
            names = [col.replace('"', '""') for col in cols]
            texts = ", ".join(
                f'CASE WHEN typeof("{n}") = \'text\' THEN CAST("{n}" AS BLOB) END' for n in names
            )
            has_nul = " OR ".join(
                f"(typeof(\"{n}\") = 'text' AND instr(CAST(\"{n}\" AS BLOB), X'00') > 0)" for n in names
            )
            rows = con.execute(f'SELECT rowid, {texts} FROM "{quoted}" WHERE {has_nul}').fetchall()
            if not rows:
                return []
            order = np.array([r[0] for r in con.execute(f'SELECT rowid FROM "{quoted}" ORDER BY rowid')])
    except sqlite3.Error:
        return []  # GDAL read the file: what SQLite cannot say is no cut text
    numbers = np.searchsorted(order, [row[0] for row in rows]) + 1  # the feature's place in rowid order
    return [
        (int(number), col, bytes(value).decode("utf-8", "replace"))
        for number, row in zip(numbers, rows, strict=True)
        for col, value in zip(cols, row[1:], strict=True)
        if isinstance(value, bytes) and b"\x00" in value
    ]


_DELETED = 0x2A  # a DBF record starting with "*" is deleted: GDAL skips it


def _dbf_cut_texts(dbf: Path, encoding: str) -> list[tuple[int, str, str]]:
    """(feature number, field, whole text) of each DBF text cell in which text follows a NUL.

    GDAL reads a DBF text only up to a NUL. A NUL that only pads the cell (as some writers pad
    instead of with spaces) cuts nothing; one followed by text does. Looked for in the records'
    bytes, one field at a time (numpy over all records).
    """
    raw = dbf.read_bytes()
    if len(raw) < 32:
        return []
    count, header, size = struct.unpack_from("<IHH", raw, 4)
    fields, pos, offset = [], 32, 1  # each record starts with its deletion flag
    while pos + 32 <= min(header, len(raw)) and raw[pos] != 0x0D:
        length = raw[pos + 16]
        if raw[pos + 11 : pos + 12] == b"C":
            fields.append((raw[pos : pos + 11].split(b"\x00")[0].decode(encoding, "replace"), offset, length))
        offset, pos = offset + length, pos + 32
    count = min(count, (len(raw) - header) // size) if size and header <= len(raw) else 0
    if not fields or count == 0 or offset > size:
        return []
    records = np.frombuffer(raw, np.uint8, count=count * size, offset=header).reshape(count, size)
    kept = records[:, 0] != _DELETED
    numbers = np.cumsum(kept)
    out = []
    for name, start, length in fields:
        cells = records[:, start : start + length]
        nul = cells == 0
        cut = (np.logical_or.accumulate(nul, axis=1) & ~nul & (cells != 0x20)).any(axis=1) & kept
        out += [
            (int(numbers[i]), name, cells[i].tobytes().rstrip(b" \x00").decode(encoding, "replace"))
            for i in np.flatnonzero(cut)
        ]
    return out


def _refuse_cut_texts(found: list[tuple[int, str, str]], c: _Collector) -> None:
    """Each text GDAL would cut at a NUL is a problem with its feature and field (the text rule of
    ``planner.core.values``), never a shortened name."""
    for number, field, text in found:
        for problem in field_problems({field: text}, place=f"{c.file} feature {number}"):
            c.error("control_character", problem.place, problem.field, problem.message_zh, problem.message_en)


def _note_prj(prj: Path | None, gdf: gpd.GeoDataFrame, c: _Collector) -> None:
    """Remember the .prj as where the CRS is declared; one GDAL cannot read is never taken for WGS84."""
    if prj is not None:
        c.crs_source, c.crs_unreadable = prj.name, gdf.crs is None


def _readable_prj(prj: Path) -> bool:
    """Whether PROJ can read the .prj's coordinate system."""
    try:
        CRS.from_user_input(prj.read_text(encoding="utf-8", errors="replace").strip())
    except CRSError:
        return False
    return True


def _without_prj(shp: Path, tmp: Path) -> Path:
    """A copy of the shapefile's files without its .prj (in ``tmp``)."""
    out = tmp / "without-prj"
    out.mkdir(exist_ok=True)
    for f in shp.parent.iterdir():
        if f.stem == shp.stem and f.suffix.lower() != ".prj":
            shutil.copyfile(f, out / f.name)
    return out / shp.name


def _read_shapefile(shp: Path, c: _Collector, tmp: Path) -> gpd.GeoDataFrame:
    dbf = _sidecar(shp, ".dbf")
    cpg = _sidecar(shp, ".cpg")
    encoding = None
    if cpg is not None:
        text = cpg.read_text(encoding="ascii", errors="replace")
        encoding = _cpg_codec(text)
        if encoding is None:
            c.warn(
                "encoding", c.file, "", f".cpg 中的编码 {text.strip()!r} 无法识别, 自动检测",
                f"the .cpg names an unknown encoding {text.strip()!r}; detecting it instead",
            )  # fmt: skip
    if encoding is None and dbf is not None and dbf.stat().st_size > 29 and dbf.read_bytes()[29] == 0:
        encoding = _sniff_dbf(dbf)
        if encoding != "utf-8":
            c.warn(
                "encoding", c.file, "", "没有 .cpg 文件; 属性文字按 GB18030 (GBK) 读取 (自动检测)",
                "no .cpg file; attribute text read as GB18030 (GBK), detected from the bytes",
            )  # fmt: skip
    prj = _sidecar(shp, ".prj")
    if prj is None:
        c.warn("no_prj", c.file, "", "没有 .prj 文件, 坐标系未声明", "no .prj file: the CRS is not declared")
    elif not _readable_prj(prj):  # GDAL may fail on it outright: read the layer without it
        c.crs_source, c.crs_unreadable = prj.name, True
        shp = _without_prj(shp, tmp)
        dbf, prj = _sidecar(shp, ".dbf"), None
    try:
        gdf = _read_vector(shp, c, encoding=encoding) if encoding else _read_vector(shp, c)
        _note_prj(prj, gdf, c)
        if dbf is not None:
            _refuse_cut_texts(_dbf_cut_texts(dbf, encoding or "utf-8"), c)
        return gdf
    except UnicodeDecodeError:
        if encoding == "gb18030" or dbf is None:
            _refuse_file(c, "属性文字编码无法识别", "the attribute text's encoding is unknown")
        c.warn(
            "encoding", c.file, "", f"按 {encoding} 解码失败, 改按 GB18030 读取",
            f"text did not decode as {encoding}; read as GB18030 instead",
        )  # fmt: skip
        kwargs_retry = {"encoding": "gb18030"}
        gdf = _read_vector(shp, c, **kwargs_retry)
        _note_prj(prj, gdf, c)
        _refuse_cut_texts(_dbf_cut_texts(dbf, "gb18030"), c)
        return gdf


def _read_geojson(path: Path, c: _Collector) -> tuple[gpd.GeoDataFrame, bool]:
    """Returns the frame and whether the file declares a CRS (a legacy ``crs`` member)."""
    raw = path.read_bytes()
    text = ""
    try:
        text = raw.decode("utf-8-sig")  # once: 0.15 s for a 100,000-parcel file
        doc = json.loads(text)
    except UnicodeDecodeError as exc:
        _refuse_file(c, f"不是 UTF-8 编码的 JSON: {exc}", f"not UTF-8 JSON: {exc}")
    except json.JSONDecodeError as exc:
        _refuse_file(
            c,
            f"JSON 语法错误 (第 {exc.lineno} 行第 {exc.colno} 列): {exc.msg}; 文件可能被截断",
            f"JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}; the file may be truncated",
        )  # fmt: skip
    except RecursionError:  # [[[[...]]]] a thousand levels deep: no GeoJSON is like that
        _refuse_file(
            c, "JSON 嵌套层数过深, 不是有效的 GeoJSON",
            "the JSON is nested too deep to be GeoJSON",
        )  # fmt: skip
    if not isinstance(doc, dict) or doc.get("type") not in (
        "FeatureCollection", "Feature", "Point", "Polygon", "MultiPolygon", "LineString",
        "MultiLineString", "MultiPoint", "GeometryCollection",
    ):  # fmt: skip
        _refuse_file(
            c, "不是 GeoJSON (缺少 type 或类型未知)",
            "not GeoJSON: no known top-level 'type'", field="type",
        )  # fmt: skip
    if doc.get("type") == "FeatureCollection" and not doc.get("features"):
        _refuse_file(
            c, "要素集合为空, 没有园区", "the feature collection is empty", code="empty", field="features"
        )
    for problem in geojson_text_problems(text, place=c.file, doc=doc):  # a NUL GDAL would cut
        c.error("control_character", problem.place, problem.field, problem.message_zh, problem.message_en)
    gdf = _read_vector(path, c)
    c.not_numbers = _non_numeric_coordinates(doc, gdf.geometry.values)
    if "crs" in doc:  # a legacy crs member: unreadable when GDAL made nothing of it
        c.crs_source, c.crs_unreadable = '"crs"', gdf.crs is None
    return gdf, "crs" in doc


def _non_numeric_coordinates(doc: dict, geoms: np.ndarray) -> dict[int, str]:
    """Row -> the coordinate that is not a number, for features GDAL read without a geometry.

    GDAL drops a geometry holding a non-number coordinate; only those rows (present in the
    file, empty in the frame) are looked at in the parsed JSON.
    """
    kind = doc.get("type")
    feats = (
        doc.get("features") or []
        if kind == "FeatureCollection"
        else [doc if kind == "Feature" else {"geometry": doc}]
    )
    if not isinstance(feats, list) or len(feats) != len(geoms):  # rows and features do not pair up
        return {}
    out: dict[int, str] = {}
    for i in np.flatnonzero(shapely.is_missing(geoms) | shapely.is_empty(geoms)):
        geom = feats[i].get("geometry") if isinstance(feats[i], dict) else None
        coords = geom.get("coordinates") if isinstance(geom, dict) else None
        found = _first_non_number(coords, "coordinates") if isinstance(coords, list) else None
        if found:
            out[int(i)] = found
    return out


def _first_non_number(value: Any, where: str) -> str | None:
    """``"x" (coordinates[2])`` for the first value in nested lists that is not a number
    (walked with a stack: a deeply nested file cannot exhaust Python's recursion)."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        v, at = stack.pop()
        if isinstance(v, list):
            stack.extend((v[k], f"{at}[{k}]") for k in range(len(v) - 1, -1, -1))
        elif isinstance(v, bool) or not isinstance(v, int | float):
            return f"{json.dumps(v, ensure_ascii=False)[:60]} ({at})"
    return None


def _read_table(path: Path, c: _Collector) -> pd.DataFrame:
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".txt"):
            raw = path.read_bytes()
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = raw.decode("gb18030", errors="strict")
                c.warn(
                    "encoding", c.file, "", "CSV 按 GB18030 (GBK) 编码读取",
                    "CSV read as GB18030 (GBK) text",
                )  # fmt: skip
            head = text.lstrip().split("\n", 1)[0]
            sep = max((",", ";", "\t", "|"), key=head.count)  # the header line names the separator
            frame = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, sep=sep)
        else:
            check_archive(path, c)  # an .xlsx is a zip: the same limits as any archive
            frame = pd.read_excel(path, dtype=str, keep_default_na=False, sheet_name=0)
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError, zipfile.BadZipFile) as exc:
        _cannot_read(c, exc, "表格", "the table")
    return frame
