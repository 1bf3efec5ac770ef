"""The app's import step as plain data: an upload, the coordinate-system choice, the held preview.

``pages/import.py`` draws widgets; everything it decides lives here (no streamlit import), so it is
unit-tested without a browser:

- :class:`Upload` / :func:`read_upload`: an ``st.file_uploader`` value (or a ``(name, bytes)``
  pair) as a file name and its bytes;
- :data:`CRS_CHOICES` / :func:`crs_option`: the coordinate-system choice and the value
  :func:`planner.io.ingest.preview_import` takes for it (the CLI's ``--crs``);
- :func:`held_preview`: the preview of an upload, kept in session state under a key of the file's
  name, size, digest, the CRS and the repair choice, so a rerun does not read the file again;
- :func:`summary_table`, :func:`issues_table`, :func:`repairs_table`: what the page shows;
- :func:`confirm_upload`: the confirmed preview through the app's one write path
  (:func:`planner.app.session.commit_edit`); a refused import leaves the register as it was.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from planner.app.session import commit_edit, current_user
from planner.core.access import ANONYMOUS, check_change
from planner.core.changes import RegisterChanges, apply_delta
from planner.core.geo import M2_PER_WAN, area_m2
from planner.core.plan import Plan
from planner.core.register import Register, rows_near
from planner.errors import AccessDenied, PlannerError
from planner.i18n import field_label, labels, place_label
from planner.io.ingest import (
    SUPPORTED_SUFFIXES,
    ImportPreview,
    confirm_import,
    import_delta,
    parse_crs_option,
    preview_import,
)

# What the uploader accepts (suffixes without the dot). A shapefile comes zipped with its
# .dbf/.shx/.prj/.cpg: a lone .shp cannot be read, so it is not offered.
UPLOAD_TYPES: tuple[str, ...] = tuple(s.lstrip(".") for s in SUPPORTED_SUFFIXES if s != ".shp")

# Coordinate-system choices: key, Chinese label, English label. "auto" honours what the file
# declares (plain longitude/latitude is WGS84); "epsg" takes a code typed by the user.
CRS_CHOICES: tuple[tuple[str, str, str], ...] = (
    ("auto", "自动 (按文件声明)", "Auto (as the file declares)"),
    ("wgs84", "WGS84 (GPS, 天地图)", "WGS84 (GPS, Tianditu)"),
    ("gcj02", "GCJ-02 (高德/腾讯)", "GCJ-02 (Amap/Tencent)"),
    ("bd09", "BD-09 (百度)", "BD-09 (Baidu)"),
    ("epsg", "EPSG 代码", "EPSG code"),
)
CRS_KEYS: tuple[str, ...] = tuple(k for k, _, _ in CRS_CHOICES)

PREVIEW_STATE = "import_preview"  # session-state key of the held (key, register, preview)

# The library's messages name the CLI's options; in the app the same choices are widgets.
_CLI_WORDING = {
    "zh": (
        ("确认后可采用修复形状 (--accept-repairs)", "可勾选「采用修复后的形状」"),
        ("用 --crs 指定", "在「坐标系」中指定"),
    ),
    "en": (
        ("accept it with --accept-repairs", 'tick "Accept the repaired shapes"'),
        ("give --crs", 'choose it under "Coordinate system"'),
    ),
}


@dataclass(frozen=True)
class Upload:
    """An uploaded file: its base name and its bytes."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    @property
    def digest(self) -> str:
        """A short content hash (two files of the same name and size are still told apart)."""
        return hashlib.blake2b(self.data, digest_size=8).hexdigest()


def read_upload(value: Any) -> Upload | None:
    """An :class:`Upload` from a Streamlit ``UploadedFile`` (``.name`` + ``.getvalue()``) or a
    ``(name, bytes)`` pair; None when nothing was uploaded."""
    if value is None:
        return None
    if isinstance(value, tuple):
        name, data = value
    else:
        name, data = value.name, value.getvalue()
    name = str(name).replace("\\", "/").rsplit("/", 1)[-1]
    if not name:
        raise ValueError("an upload needs a file name (its suffix picks the reader) / 上传文件缺少文件名")
    return Upload(name, bytes(data))


def crs_label(key: str, lang: str = "zh") -> str:
    """The label of a coordinate-system choice in the given language."""
    for k, zh, en in CRS_CHOICES:
        if k == key:
            return zh if lang == "zh" else en
    raise ValueError(f"unknown coordinate-system choice {key!r}; use one of {', '.join(CRS_KEYS)}")


def crs_option(choice: str, epsg_text: str = "") -> str | None:
    """The ``crs`` value :func:`planner.io.ingest.preview_import` takes for a choice.

    ``"auto"`` -> None, ``"wgs84"``/``"gcj02"``/``"bd09"`` -> that datum, ``"epsg"`` -> ``"EPSG:n"``
    from the typed code (``4547``, ``EPSG:4547`` and ``epsg 4547`` all work). Raises
    :class:`PlannerError` for an unknown choice or a code that is no EPSG system.

    >>> crs_option("gcj02"), crs_option("auto"), crs_option("epsg", " epsg:4547 ")
    ('gcj02', None, 'EPSG:4547')
    """
    if choice not in CRS_KEYS:
        raise PlannerError(f"unknown coordinate-system choice {choice!r}; use one of {', '.join(CRS_KEYS)}")
    if choice == "auto":
        return None
    if choice != "epsg":
        return choice
    code = epsg_text.strip().upper().replace(" ", "").removeprefix("EPSG:").removeprefix("EPSG")
    if not code:
        raise PlannerError("type an EPSG code, e.g. 4547 / 请输入 EPSG 代码, 如 4547")
    text = f"EPSG:{code}"
    parse_crs_option(text)  # raises PlannerError naming the bad code
    return text


def preview_key(upload: Upload, crs: str | None, accept_repairs: bool) -> tuple[str, int, str, str, bool]:
    """What a held preview depends on: file name, size, content digest, CRS, repair choice."""
    return (upload.name, upload.size, upload.digest, crs or "auto", bool(accept_repairs))


def held_preview(
    state: MutableMapping[str, Any],
    upload: Upload,
    plan: Plan,
    register: Register,
    *,
    crs: str | None = None,
    accept_repairs: bool = False,
) -> ImportPreview:
    """The preview of ``upload``, read once and held in ``state`` for the session.

    It is read again only when the file, the CRS, the repair choice or the working register
    (checked by identity: registers are immutable) changed; only the latest preview is kept.
    """
    key = preview_key(upload, crs, accept_repairs)
    held = state.get(PREVIEW_STATE)
    if held is not None and held[0] == key and held[1] is register:
        return held[2]
    preview = preview_import(upload.data, upload.name, plan, register, crs=crs, accept_repairs=accept_repairs)
    state[PREVIEW_STATE] = (key, register, preview)
    return preview


def forget_preview(state: MutableMapping[str, Any]) -> None:
    """Drop the held preview (after an import, or when the upload is removed)."""
    state.pop(PREVIEW_STATE, None)


def app_wording(message: str, lang: str = "zh") -> str:
    """A library message with the CLI's option names replaced by the app's widget names."""
    for cli, app in _CLI_WORDING["zh" if lang == "zh" else "en"]:
        message = message.replace(cli, app)
    return message


def _label(col: str, lang: str) -> str:
    return field_label(col, lang)


def summary_table(preview: ImportPreview, plan: Plan, *, lang: str = "zh") -> pd.DataFrame:
    """One row a park the import would add, with bilingual headers and units.

    Columns: id, name, district (by name; the location decides when the file names none), status,
    delivery year, land/total/new floor area in m² and in 万㎡ as the file gives them, and the
    footprint measured from the shape (m², in the plan's metric CRS; empty for a point).
    """
    s = preview.summary_frame(plan)
    zh = lang == "zh"
    names = {d.code: (d.name_zh if zh else d.name_en) for d in plan.districts}
    district = (
        s["district_code"].map(names).fillna(s["district"]).where(s["district_code"] != "", s["district"])
    )
    status = labels("status", s["status"], lang)
    out = pd.DataFrame(
        {
            _label("id", lang): s["id"],
            _label("name_zh", lang): s["name_zh"],
            ("区" if zh else "District"): district,
            _label("status", lang): status,
            _label("delivery_year", lang): s["delivery_year"],
        },
        index=s.index,
    )
    for col in ("land_area_m2", "gfa_m2", "new_gfa_m2"):
        base = re.sub(r"\s*\(m²\)$", "", _label(col, lang))
        out[f"{base} (m²)"] = s[col].round(0)
        out[f"{base} (万㎡)"] = (s[col] / M2_PER_WAN).round(2)
    geoms = preview.parks.geometry
    polygonal = geoms.notna() & ~geoms.is_empty & geoms.geom_type.isin(["Polygon", "MultiPolygon"])
    polygonal &= geoms.is_valid  # an invalid shape has no meaningful area (see repairs_table)
    footprint = pd.Series(float("nan"), index=s.index)
    if polygonal.any():
        footprint[polygonal] = area_m2(geoms[polygonal], plan.metric_crs).round(0)
    out["形状面积 (m²)" if zh else "Footprint (from shape, m²)"] = footprint
    return out.reset_index(drop=True)


def issues_table(preview: ImportPreview, *, lang: str = "zh") -> pd.DataFrame:
    """Every problem, then every warning, each in feature/row order: severity, place, field and
    the message in the chosen language (Chinese by default), the CLI's wording replaced by the app's."""
    frame = preview.issues_frame()
    # errors before warnings, each by feature/row number (problems about the whole file first)
    number = frame["place"].str.extract(r"\b(?:feature|row) (\d+)", expand=False).astype(float).fillna(0)
    order = pd.DataFrame({"w": frame["severity"] != "error", "n": number}).sort_values(
        ["w", "n"], kind="stable"
    )
    frame = frame.loc[order.index].reset_index(drop=True)
    zh = lang == "zh"
    msg = frame["message_zh"] if zh else frame["message_en"]
    return pd.DataFrame(
        {
            ("级别" if zh else "Severity"): labels("severity", frame["severity"], lang),
            ("位置" if zh else "Place"): frame["place"].map(lambda p: place_label(p, lang)),
            ("字段" if zh else "Field"): frame["field"].map(lambda f: field_label(f, lang)),
            ("问题" if zh else "Message"): msg.map(lambda m: app_wording(m, lang)),
            ("代码" if zh else "Code"): frame["code"],
        }
    )


def repairs_table(preview: ImportPreview, plan: Plan, *, lang: str = "zh") -> pd.DataFrame:
    """The repaired shapes offered for invalid geometries: park id, name, area (m²) and WKT."""
    zh = lang == "zh"
    cols = [_label("id", lang), _label("name_zh", lang), "面积 (m²)" if zh else "Area (m²)", "WKT"]
    wkt = preview.repairs_wkt()
    if not wkt or preview.repairs is None:
        return pd.DataFrame(columns=cols)
    offered = preview.repairs.dropna()
    parks = preview.parks.loc[offered.index]
    return pd.DataFrame(
        {
            cols[0]: parks["id"].to_numpy(),
            cols[1]: parks["name_zh"].to_numpy(),
            cols[2]: area_m2(offered, plan.metric_crs).round(0).to_numpy(),
            cols[3]: [wkt[i] for i in parks["id"]],
        }
    )


def confirm_upload(
    state: MutableMapping[str, Any], preview: ImportPreview, *, comment: str = ""
) -> RegisterChanges:
    """Add a previewed import to the session's working register, through ``commit_edit`` (a
    refused import is recorded in the store's audit log).

    Raises :class:`planner.io.ingest.ImportRefused` if the preview has problems (or no parks),
    :class:`planner.errors.AccessDenied` if the signed-in user may not make the change, and
    ``ValidationError`` if the register refuses the parks; in each case ``state["register"]`` is
    left exactly as it was. On success the held preview is dropped.
    """
    changes = commit_edit(
        state,
        partial(confirm_import, preview, state["register"], state["plan"]),
        comment=comment or f"import {preview.file}",
        action="import",
    )
    forget_preview(state)
    return changes


def preview_denied(state: MutableMapping[str, Any], preview: ImportPreview) -> AccessDenied | None:
    """Whether the session's user may import this preview, asked of the library's rights check
    (``planner.core.access.check_change``, the one the store applies on confirm) before anything
    is written: the refusal naming every park the user may not add (a district user importing
    another district's park, a viewer, nobody signed in), or None when the import is allowed or
    the preview has problems anyway. Nothing is recorded: nothing was attempted yet."""
    if not preview.ok or len(preview.parks) == 0:
        return None
    user = current_user(state) or ANONYMOUS
    try:  # the rights of the change's rows only, as the store checks them (not a whole-register diff)
        delta = import_delta(preview, state["register"], state["plan"])
        ch = delta.changes
        near = rows_near(state["register"], np.empty((0, 4)), ch.parks.touched, ch.allocations.touched)
        check_change(user, near, apply_delta(near, delta), state["plan"], changes=ch)
    except AccessDenied as err:
        return err
    except PlannerError:  # the register refuses the parks: the confirm will say so
        return None
    return None
