"""Folium maps of a plan and its register. The only module of the planner that imports folium.

``build_map`` returns a ``folium.Map``: districts coloured by role (specialisations in tooltip and
legend), parks coloured by status (polygons where the footprint is known, circles sized by new
floor area where only a point is), a popup per park with its figures, source and confidence, a
layer control and, on request, the drawing tools.

Every JS/CSS asset the map needs is served by the app itself from ``static/vendor`` (Leaflet and
Leaflet.draw from npm, pinned; ``geodata/fetch_vendor.sh``): folium's defaults point at public
CDNs, which an intranet cannot reach. Only the optional online basemaps need the internet.

Geometry is stored in WGS84. On a GCJ-02 basemap (Amap) the overlays are shifted into GCJ-02 for
display (``planner.core.geo.shift_gdf``); what is drawn there must be shifted back before it is stored
(``planner.core.editing.drawn_park`` with ``basemap_datum(...)``).
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import folium
import folium.plugins
import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely.geometry
from branca.element import MacroElement
from folium.utilities import JsCode
from jinja2 import Template

from planner.app.labels import district_area_note
from planner.core.geo import WGS84, fmt_m2, project, shift_from_wgs84, shift_gdf
from planner.core.plan import Plan
from planner.core.register import STATUSES, Register
from planner.i18n import LEAFLET_DRAW_ZH, STATUS_LABELS, field_label

LEAFLET_VERSION = "1.9.4"
LEAFLET_DRAW_VERSION = "1.0.4"
VENDOR_URL = "/app/static/vendor"  # Streamlit serves ./static at /app/static (enableStaticServing)

LEAFLET_JS = [("leaflet", f"{VENDOR_URL}/leaflet@{LEAFLET_VERSION}/leaflet.js")]
LEAFLET_CSS = [("leaflet_css", f"{VENDOR_URL}/leaflet@{LEAFLET_VERSION}/leaflet.css")]
DRAW_JS = [("leaflet_draw_js", f"{VENDOR_URL}/leaflet-draw@{LEAFLET_DRAW_VERSION}/leaflet.draw.js")]
DRAW_CSS = [("leaflet_draw_css", f"{VENDOR_URL}/leaflet-draw@{LEAFLET_DRAW_VERSION}/leaflet.draw.css")]

STATUS_COLOURS = {
    "delivered": "#1a9850",
    "under_construction": "#f39c12",
    "planned": "#2c7fb8",
    "unknown": "#7f7f7f",
}
DEFAULT_ROLE_COLOUR = "#7f8c8d"
SELECTED_COLOUR = "#000000"
RADIUS_MIN, RADIUS_MAX = 5.0, 22.0  # px: circles for parks known only as a point
# District outlines are simplified for display only (about 10 m): a quarter of the vertices, same look.
DISPLAY_SIMPLIFY_DEG = 0.0001


@dataclass(frozen=True)
class Basemap:
    """A background map: its tiles, the datum they are drawn in, and whether a key is needed."""

    key: str
    label_zh: str
    label_en: str
    datum: str  # "wgs84" or "gcj02": the datum overlays must be shifted into to line up
    needs_key: bool = False
    online: bool = True


BASEMAPS: dict[str, Basemap] = {
    "none": Basemap("none", "无底图(离线可用)", "None (works offline)", "wgs84", online=False),
    "osm": Basemap("osm", "OpenStreetMap", "OpenStreetMap", "wgs84"),
    # Tianditu's web-Mercator tiles are in CGCS2000, which agrees with WGS84 to centimetres.
    "tianditu": Basemap(
        "tianditu", "天地图 (CGCS2000, 需密钥)", "Tianditu (CGCS2000, key needed)", "wgs84", True
    ),
    "amap": Basemap("amap", "高德地图 (GCJ-02)", "Amap (GCJ-02)", "gcj02"),
}

_TIANDITU = (
    "https://t{{s}}.tianditu.gov.cn/{layer}_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0"
    "&LAYER={layer}&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={{z}}&TILEROW={{y}}"
    "&TILECOL={{x}}&tk={key}"
)
_AMAP = "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}"
_PARK_ID_IN_TOOLTIP = re.compile(r"编号 ID:\s*(\S+)\s*$")


def basemap_datum(basemap: str) -> str:
    """The datum of a basemap's tiles ("wgs84" or "gcj02"); ValueError names the valid keys."""
    if basemap not in BASEMAPS:
        raise ValueError(f"unknown basemap {basemap!r}; use one of {list(BASEMAPS)} / 未知底图")
    return BASEMAPS[basemap].datum


def _t(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh" else en


def _esc(values: pd.Series) -> pd.Series:
    return values.astype(str).map(html.escape)


def _role_colours(plan: Plan) -> dict[str, str]:
    return {r.key: str(r.extra.get("color", DEFAULT_ROLE_COLOUR)) for r in plan.roles}


def _spec_labels(plan: Plan, keys: pd.Series, lang: str) -> pd.Series:
    labels = {s.key: (s.label_zh if lang == "zh" else s.label_en) for s in plan.specialisations}
    return keys.str.split(";").map(lambda ks: "、".join(labels.get(k, k) for k in ks if k))


def district_layer_frame(plan: Plan, *, lang: str = "zh") -> gpd.GeoDataFrame:
    """District polygons with the display columns the map uses (colour, tooltip HTML)."""
    d = plan.district_polygons.copy()
    d["geometry"] = d.geometry.simplify(DISPLAY_SIMPLIFY_DEG, preserve_topology=True)
    colours = _role_colours(plan)
    role_label = {r.key: (r.label_zh if lang == "zh" else r.label_en) for r in plan.roles}
    name = d["name_zh"] if lang == "zh" else d["name_en"]
    specs = _spec_labels(plan, d["specialisations"], lang).replace("", _t(lang, "未指定", "none named"))
    d["_colour"] = d["role"].map(colours).fillna(DEFAULT_ROLE_COLOUR)
    d["_tip"] = (
        "<b>"
        + _esc(name)
        + "</b> · "
        + _esc(d["role"].map(role_label))
        + "<br>"
        + _t(lang, "专业方向: ", "Specialisation: ")
        + _esc(specs)
        + "<br>"
        + _t(lang, "面积(官方/计算): ", "Land (official/computed): ")
        + d["official_land_km2"].map(lambda v: f"{v:,.2f}" if pd.notna(v) else "—")  # a plan may give none
        + " / "
        + d["computed_land_km2"].map("{:,.2f}".format)
        + " km²"
    )
    notes = {
        c: district_area_note(plan, c, lang) for c in {a.parent for a in plan.functional_areas if a.parent}
    }
    note = d["code"].map(lambda c: notes.get(c) or "")  # e.g. 龙岗's polygon holds 大鹏新区
    d["_tip"] = d["_tip"] + np.where(
        note != "", '<br><i style="white-space:normal">' + _esc(note) + "</i>", ""
    )
    return d[["code", "role", "_colour", "_tip", "geometry"]]


def _fmt_series(values: pd.Series) -> pd.Series:
    return values.map(lambda v: fmt_m2(float(v)) if pd.notna(v) else "—")


def park_layer_frame(plan: Plan, register: Register, *, lang: str = "zh") -> gpd.GeoDataFrame:
    """Located parks with the display columns the map uses: colour, circle radius, tooltip, popup.

    Unconfirmed figures (``figures_verified`` false) are marked as such in the popup; estimated
    coordinates say so too. Parks with no location are left out (they cannot be drawn).
    """
    p = register.parks
    located = ~(p.geometry.isna() | p.geometry.is_empty)
    p = p[located].copy()
    alloc = register.allocations.groupby("park_id")["area_m2"].agg(["sum", "count"])
    alloc_sum = p["id"].map(alloc["sum"])
    alloc_n = p["id"].map(alloc["count"]).fillna(0).astype(int)

    # circles: area proportional to new floor area; unknown new floor area gets the smallest circle
    gfa = p["new_gfa_m2"].to_numpy(dtype=float)
    top = np.nanmax(gfa) if np.isfinite(gfa).any() else 1.0
    scaled = np.sqrt(np.clip(np.nan_to_num(gfa, nan=0.0), 0, None) / (top or 1.0))
    p["_radius"] = np.round(RADIUS_MIN + (RADIUS_MAX - RADIUS_MIN) * scaled, 1)
    p["_colour"] = p["status"].map(STATUS_COLOURS).fillna(STATUS_COLOURS["unknown"])

    name = p["name_zh"] if lang == "zh" else p["name_en"].where(p["name_en"] != "", p["name_zh"])
    status = p["status"].map({k: _t(lang, *v) for k, v in STATUS_LABELS.items()})
    p["_tip"] = "<b>" + _esc(name) + "</b> · " + _esc(status) + "<br>编号 ID: " + _esc(p["id"])

    unconfirmed = np.where(
        p["figures_verified"],
        "",
        f' <span style="color:#b03a2e">({_t(lang, "未核实", "unconfirmed")})</span>',
    )
    warn = np.where(
        p["figures_verified"],
        "",
        '<div style="color:#b03a2e;font-weight:bold">'
        + _t(lang, "数据未核实, 仅供参考", "Figures unconfirmed: indicative only")
        + "</div>",
    )
    coord_note = np.where(
        p["coord_conf"].str.startswith("est"),
        _t(lang, " (估计位置, 约±0.5-1 km)", " (estimated location, about ±0.5-1 km)"),
        "",
    )
    year = p["delivery_year"].astype("string").fillna("—")

    def row(label_zh: str, label_en: str, value: pd.Series | str, mark: Any = "") -> pd.Series:
        if isinstance(value, pd.Series):
            value = value.astype(str)  # an empty register's mapped columns are float
        return "<tr><th>" + _t(lang, label_zh, label_en) + "</th><td>" + value + mark + "</td></tr>"

    p["_popup"] = (
        '<div style="min-width:260px">'
        + "<b>"
        + _esc(p["name_zh"])
        + "</b><br>"
        + _esc(p["name_en"])
        + warn
        + "<table>"
        + row("编号", "ID", _esc(p["id"]))
        + row("状态", "Status", _esc(status) + " (" + _esc(p["status_src"]) + ")")
        + row("交付年份", "Delivery year", year)
        + row("占地面积", "Land area", _fmt_series(p["land_area_m2"]), unconfirmed)
        + row("总建筑面积", "Total floor area", _fmt_series(p["gfa_m2"]), unconfirmed)
        + row("新增建筑面积", "New floor area", _fmt_series(p["new_gfa_m2"]), unconfirmed)
        + row("容积率", "Plot ratio", p["plot_ratio"].map(lambda v: f"{v:.2f}" if pd.notna(v) else "—"))
        + row("分配给集群", "Allocated to cluster", _fmt_series(alloc_sum) + " / " + alloc_n.astype(str))
        + row("数据可信度", "Figures confidence", _esc(p["figures_conf"]))
        + row("坐标可信度", "Coordinate confidence", _esc(p["coord_conf"]) + coord_note)
        + row("来源", "Source", _esc(p["source"]))
        + "</table></div>"
    )
    return p[["id", "status", "_colour", "_radius", "_tip", "_popup", "geometry"]]


class _Legend(MacroElement):
    """A legend drawn as a Leaflet control (works in folium HTML and in streamlit-folium)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.control({position: "bottomright"});
        {{ this.get_name() }}.onAdd = function (map) {
            var div = L.DomUtil.create("div", "planner-legend");
            div.style.cssText = "background:white;padding:6px 8px;font:12px sans-serif;"
                + "line-height:18px;border-radius:4px;box-shadow:0 0 4px rgba(0,0,0,.3);max-width:280px";
            div.innerHTML = {{ this.html | tojson }};
            return div;
        };
        {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_text


MAP_CSS = """
.planner-count{font:bold 11px/16px sans-serif;color:#222;text-align:center;white-space:nowrap;
  text-shadow:0 0 2px #fff,0 0 2px #fff,0 0 3px #fff;pointer-events:none}
.planner-district-label{font:bold 13px sans-serif;color:#222;text-align:center;white-space:nowrap;
  text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff;pointer-events:none}
.planner-legend details>summary{cursor:pointer}
"""


class _Style(MacroElement):
    """CSS for the map's own labels, added to the map's page by script (works inside streamlit-folium)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var s = document.createElement("style");
            s.textContent = {{ this.css | tojson }};
            document.head.appendChild(s);
        })();
        {% endmacro %}
        """
    )

    def __init__(self, css: str) -> None:
        super().__init__()
        self._name = "Style"
        self.css = css


class _DrawLocale(MacroElement):
    """Leaflet.draw's texts in the map's language: merged into ``L.drawLocal`` (inline, offline)."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function merge(into, from) {
            for (var k in from) {
                if (typeof from[k] === "object" && into[k]) { merge(into[k], from[k]); }
                else { into[k] = from[k]; }
            }
        })(L.drawLocal, {{ this.texts | tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, texts: dict[str, Any]) -> None:
        super().__init__()
        self._name = "DrawLocale"
        self.texts = texts


def aggregate_legend(lang: str = "zh") -> str:
    """Legend rows for the aggregates: what a cell shows and the alignment colours."""
    sw = '<span style="display:inline-block;width:12px;height:12px;margin-right:4px;background:{}"></span>'
    rows = [
        f"<b>{_t(lang, '园区汇总 (缩小时)', 'Aggregates (zoomed out)')}</b>",
        _t(
            lang,
            "网格数字 = 园区个数; 颜色 = 最多的状态 (或契合度); 放大到街区显示每个园区",
            "Cell number = parks; colour = commonest status (or alignment); zoom in for each park",
        ),
    ]
    for colour, (zh, en) in zip(
        (*ALIGNED_COLOURS, NO_COUNT_COLOUR),
        (
            ("契合 < 1/3", "aligned < 1/3"),
            ("契合 1/3-2/3", "aligned 1/3-2/3"),
            ("契合 ≥ 2/3", "aligned ≥ 2/3"),
            ("无计入面积或本区未指定方向", "nothing counted, or no specialisation designated"),
        ),
        strict=True,
    ):
        rows.append(sw.format(colour) + html.escape(_t(lang, zh, en)))
    return "<br>".join(rows)


def legend_html(
    plan: Plan, *, lang: str = "zh", n_unlocated: int = 0, extra: str = "", expanded: bool = True
) -> str:
    """The legend: roles with the districts' specialisations, park statuses, circle sizes
    (and ``extra``, HTML for further layers, at the end); ``expanded=False`` shows only its title."""
    colours = _role_colours(plan)
    spec = {s.key: (s.label_zh if lang == "zh" else s.label_en) for s in plan.specialisations}
    sw = '<span style="display:inline-block;width:12px;height:12px;margin-right:4px;background:{}"></span>'
    parts = [f"<b>{_t(lang, '区的角色 (一核多中心)', 'District roles (one core, several centres)')}</b>"]
    for role in plan.roles:
        label = role.label_zh if lang == "zh" else role.label_en
        members = [d for d in plan.districts if d.role == role.key]
        names = "; ".join(
            html.escape(d.short_zh if lang == "zh" else d.name_en)
            + (
                ": " + "、".join(html.escape(spec.get(s, s)) for s in d.specialisations)
                if role.key == "centre"
                else ""
            )
            for d in members
        )
        parts.append(f"{sw.format(colours.get(role.key, DEFAULT_ROLE_COLOUR))}{html.escape(label)}: {names}")
    parts.append(f"<b>{_t(lang, '园区状态', 'Park status')}</b>")
    for key in STATUSES:
        parts.append(f"{sw.format(STATUS_COLOURS[key])}{html.escape(_t(lang, *STATUS_LABELS[key]))}")
    parts.append(
        _t(
            lang,
            "圆点大小: 新增建筑面积 (m²); 最小圆点 = 未知",
            "Circle size: new floor area (m²); smallest = unknown",
        )
    )
    if n_unlocated:
        parts.append(
            _t(
                lang,
                f"{n_unlocated} 个园区无位置, 未显示",
                f"{n_unlocated} parks have no location, not shown",
            )
        )
    if extra:
        parts.append(extra)
    summary = _t(lang, "图例", "Legend")
    return f"<details{' open' if expanded else ''}><summary><b>{summary}</b></summary>{'<br>'.join(parts)}</details>"


def _use_local_assets(element: Any, js: list[tuple[str, str]], css: list[tuple[str, str]]) -> None:
    element.default_js = list(js)
    element.default_css = list(css)


def asset_urls(m: folium.Map) -> list[str]:
    """Every JS/CSS URL the map and its elements ask the browser to load (as streamlit-folium collects them)."""
    urls: list[str] = []

    def walk(el: Any) -> None:
        urls.extend(u for _, u in getattr(el, "default_js", []))
        urls.extend(u for _, u in getattr(el, "default_css", []))
        for child in getattr(el, "_children", {}).values():
            walk(child)

    walk(m)
    return list(dict.fromkeys(urls))


def _add_basemap(m: folium.Map, basemap: str, tianditu_key: str) -> None:
    if basemap == "osm":
        folium.TileLayer("OpenStreetMap", name="OpenStreetMap").add_to(m)
    elif basemap == "tianditu":
        if not tianditu_key.strip():
            raise ValueError("Tianditu needs a key (tk) / 天地图需要密钥 (tk)")
        key = tianditu_key.strip()
        attribution = "&copy; 天地图 Tianditu (国家地理信息公共服务平台)"
        for layer, name, overlay in (("vec", "天地图 Tianditu", False), ("cva", "天地图注记 labels", True)):
            folium.TileLayer(
                _TIANDITU.format(layer=layer, key=key),
                attr=attribution,
                name=name,
                subdomains="01234567",
                overlay=overlay,
                max_zoom=18,
            ).add_to(m)
    elif basemap == "amap":
        folium.TileLayer(_AMAP, attr="&copy; 高德地图 AutoNavi", name="高德 Amap", subdomains="1234").add_to(
            m
        )


def build_map(
    plan: Plan,
    register: Register,
    *,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str = "",
    draw: bool = False,
    height: int | str = "100%",
    overlays: Sequence[folium.FeatureGroup] = (),
    legend_extra: str = "",
    legend_expanded: bool = True,
    bounds: Sequence[float] | None = None,
    parks: bool = True,
    figures: bool = True,
) -> folium.Map:
    """The plan's map: districts by role, parks by status, legend, layer control, optional draw tools.

    ``parks=False`` draws no park (a city register: the page adds what is in view with
    :func:`view_layer`, or aggregates with :func:`cell_layer`); ``figures`` puts each district's
    park count, land area and counted new space in its label and tooltip (off for a map whose
    register is not the one shown, e.g. the compare map). The layer control starts folded.

    ``basemap`` is a key of ``BASEMAPS`` ("none" needs no internet). On a GCJ-02 basemap every
    overlay is shifted into GCJ-02 so it lines up with the tiles. ``overlays`` are further layers
    (already in the basemap's datum) drawn above the parks and listed in the layer control;
    ``legend_extra`` is HTML appended to the legend (``legend_expanded=False``: folded); ``bounds`` (minx, miny, maxx, maxy, in the
    basemap's datum) is the view to fit instead of the districts.
    """
    datum = basemap_datum(basemap)
    districts = district_layer_frame(plan, lang=lang)
    index = map_index(plan, register) if (figures or not parks) else None
    by_district = district_figures(plan, index) if (figures and index is not None) else None
    if by_district is not None:
        f = by_district.reindex(districts["code"])
        districts["_tip"] = (
            districts["_tip"]
            + (
                "<br>" + _figures_html(f["count"], f["land_m2"], f["counted_m2"], f["aligned_share"], lang)
            ).to_numpy()
        )
    shown = park_layer_frame(plan, register, lang=lang) if parks else None
    if datum != "wgs84":
        districts = shift_gdf(districts, to=datum)
        shown = shift_gdf(shown, to=datum) if shown is not None else None

    m = folium.Map(
        location=plan.map_centre,
        zoom_start=plan.map_zoom,
        tiles=None,
        control_scale=True,
        height=height,
        prefer_canvas=False,
    )
    _use_local_assets(m, LEAFLET_JS, LEAFLET_CSS)
    _add_basemap(m, basemap, tianditu_key)
    _Style(MAP_CSS).add_to(m)

    folium.GeoJson(
        districts,
        name=_t(lang, "区 (按角色着色)", "Districts (by role)"),
        style_function=lambda f: {
            "color": "#333333",
            "weight": 1,
            "fillColor": f["properties"]["_colour"],
            "fillOpacity": 0.25,
        },
        highlight_function=lambda f: {"weight": 3, "fillOpacity": 0.4},
        tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False),
    ).add_to(m)

    district_labels(plan, by_district, lang=lang, basemap=basemap).add_to(m)

    for status in STATUSES:
        if shown is None:
            break
        subset = shown[shown["status"] == status]
        if subset.empty:
            continue
        group = folium.FeatureGroup(name=f"{_t(lang, *STATUS_LABELS[status])} ({len(subset)})")
        _park_geojson(
            subset,
            popup=folium.GeoJsonPopup(fields=["_popup"], labels=False, localize=False, max_width=420),
        ).add_to(group)
        group.add_to(m)

    for layer in overlays:
        layer.add_to(m)

    if shown is not None:
        n_unlocated = len(register.parks) - len(shown)
    else:
        n_unlocated = index.n_unlocated if index is not None else 0
        legend_extra = aggregate_legend(lang) + ("<br>" + legend_extra if legend_extra else "")
    legend = legend_html(
        plan, lang=lang, n_unlocated=n_unlocated, extra=legend_extra, expanded=legend_expanded
    )
    _Legend(legend).add_to(m)

    if draw:
        if lang == "zh":  # before the tools: Leaflet.draw reads its texts when it builds them
            _DrawLocale(LEAFLET_DRAW_ZH).add_to(m)
        d = folium.plugins.Draw(
            export=False,
            position="topleft",
            draw_options={
                "polyline": False,
                "circle": False,
                "circlemarker": False,
                "marker": False,
                "rectangle": True,
                "polygon": {"allowIntersection": False, "showArea": True},
            },
            edit_options={"edit": False, "remove": True},
        )
        _use_local_assets(d, DRAW_JS, DRAW_CSS)
        d.add_to(m)

    folium.LayerControl(collapsed=True).add_to(m)  # an icon: the list opens on hover, hides nothing
    if bounds is None:
        bounds = districts.total_bounds
    m.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return m


def selection_layer(
    plan: Plan, register: Register, selected: str | None, *, lang: str = "zh", basemap: str = "none"
) -> folium.FeatureGroup:
    """A layer outlining the selected park (empty when none), to pass as streamlit-folium's
    ``feature_group_to_add``: the map swaps it in without being rebuilt, so the view is kept."""
    group = folium.FeatureGroup(name=_t(lang, "选中的园区", "Selected park"))
    parks = map_index(plan, register).parks  # shared per version: no frame of the whole register built
    chosen = parks.loc[parks["id"] == selected, ["id", "geometry"]] if selected else parks.iloc[0:0, [0]]
    chosen = chosen.assign(_radius=RADIUS_MAX)
    if len(chosen):
        datum = basemap_datum(basemap)
        if datum != "wgs84":
            chosen = shift_gdf(chosen, to=datum)
        folium.GeoJson(
            chosen,
            marker=folium.CircleMarker(radius=RADIUS_MIN, fill=False),
            style_function=lambda f: {
                "color": SELECTED_COLOUR,
                "weight": 4,
                "fill": False,
                "radius": f["properties"]["_radius"] + 4,
            },
            interactive=False,
        ).add_to(group)
    return group


def view_around(geometry: dict[str, Any], *, margin: float = 1.0, min_deg: float = 0.01) -> list[float]:
    """The view (minx, miny, maxx, maxy, in the drawing's own datum) to keep after a drawing is
    saved: its bounds widened by ``margin`` times its size on each side, at least ``min_deg``
    across, so the rebuilt map shows the new park in its surroundings instead of the whole city.

    >>> view_around({"type": "Point", "coordinates": [114.0, 22.5]})
    [113.995, 22.495, 114.005, 22.505]
    """
    minx, miny, maxx, maxy = shapely.geometry.shape(geometry).bounds
    dx = max((maxx - minx) * margin, (min_deg - (maxx - minx)) / 2)
    dy = max((maxy - miny) * margin, (min_deg - (maxy - miny)) / 2)
    return [round(v, 6) for v in (minx - dx, miny - dy, maxx + dx, maxy + dy)]


def park_id_from_tooltip(text: str | None) -> str | None:
    """The park id in a clicked park's tooltip text (as streamlit-folium returns it), else None."""
    if not text:
        return None
    hit = _PARK_ID_IN_TOOLTIP.search(text.strip())
    return hit.group(1) if hit else None


def new_drawing(last_active_drawing: dict | None) -> dict | None:
    """The feature the user just drew, from streamlit-folium's ``last_active_drawing``, else None.

    streamlit-folium also reports a *clicked* layer there (a park or a district, as GeoJSON with
    the map's own properties); a drawing from Leaflet.draw has none. Only a drawn polygon counts.
    """
    if not last_active_drawing or not isinstance(last_active_drawing.get("geometry"), dict):
        return None
    if last_active_drawing.get("properties"):
        return None
    return last_active_drawing


INCOMING_COLOUR = "#c2185b"  # parks an import would add (not yet in the register)
REPAIR_COLOUR = "#6a1b9a"  # repaired shapes offered for invalid geometries
MAX_PREVIEW_FEATURES = 5_000  # incoming parks drawn on the preview map at most


def incoming_layer_frame(incoming: gpd.GeoDataFrame, *, lang: str = "zh") -> gpd.GeoDataFrame:
    """Parks an import would add (register columns, WGS84) with a tooltip; no location, no row."""
    geoms = incoming.geometry
    p = incoming[~(geoms.isna() | geoms.is_empty)].copy()
    name = p["name_zh"] if lang == "zh" else p["name_en"].where(p["name_en"] != "", p["name_zh"])
    p["_tip"] = (
        "<b>"
        + _esc(name)
        + "</b> · "
        + _t(lang, "待导入", "to import")
        + "<br>"
        + _t(lang, "编号", "ID")
        + ": "
        + _esc(p["id"])
    )
    return gpd.GeoDataFrame(p[["id", "_tip"]], geometry=p.geometry.values, crs=incoming.crs)


def _outline_layer(frame: gpd.GeoDataFrame, name: str, colour: str, dash: str) -> folium.FeatureGroup:
    """Dashed shapes with a tooltip; a small polygon (a few pixels at city scale) also gets a
    dashed circle at a point inside it, so every incoming park can be found on the map."""
    group = folium.FeatureGroup(name=name)
    polygons = frame[frame.geom_type.isin(["Polygon", "MultiPolygon"])]
    marks = gpd.GeoDataFrame(
        polygons[["id", "_tip"]], geometry=polygons.geometry.representative_point(), crs=frame.crs
    )
    for part, fill in ((frame, 0.25), (marks, 0.0)):
        if not len(part):
            continue
        folium.GeoJson(
            part,
            marker=folium.CircleMarker(radius=9, fill=True),
            style_function=lambda f, fill=fill: {
                "color": colour,
                "fillColor": colour,
                "fillOpacity": fill,
                "weight": 3,
                "dashArray": dash,
            },
            tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False),
        ).add_to(group)
    return group


def import_map(
    plan: Plan,
    register: Register,
    incoming: gpd.GeoDataFrame,
    *,
    repairs: gpd.GeoSeries | None = None,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str = "",
    height: int | str = "100%",
    max_features: int = MAX_PREVIEW_FEATURES,
) -> folium.Map:
    """The plan's map with the parks an import would add drawn over it, before anything is stored.

    ``incoming`` is :attr:`planner.io.ingest.ImportPreview.parks` (WGS84); ``repairs`` the repaired
    shapes offered for invalid geometries (same index), drawn in their own layer so the user sees
    what accepting them would store. The view fits the districts and every incoming park, so a
    park far outside the city shows where it lies; the legend starts folded so it hides none of
    them (the layer control names the incoming layers). At most ``max_features`` incoming parks
    are drawn (the layer's name says how many of how many): a browser cannot show 100,000
    parcels, the summary table lists them all. No tiles unless a basemap is chosen.
    """
    datum = basemap_datum(basemap)
    frame = incoming_layer_frame(incoming, lang=lang)
    count = f"{len(frame)}"
    if len(frame) > max_features:
        count = _t(
            lang, f"显示 {max_features:,} / 共 {len(frame):,}", f"{max_features:,} of {len(frame):,} shown"
        )
        frame = frame.iloc[:max_features]
    layers = [
        (
            frame,
            _t(lang, f"待导入园区 ({count})", f"Parks to import ({count})"),
            INCOMING_COLOUR,
            "6 4",
        )
    ]
    if repairs is not None and repairs.notna().any():
        offered = repairs.dropna()
        fixed = gpd.GeoDataFrame(
            {"id": incoming.loc[offered.index, "id"].to_numpy()}, geometry=offered.values, crs=WGS84
        )
        fixed["_tip"] = _t(lang, "修复后的形状: ", "Repaired shape: ") + _esc(fixed["id"])
        name = _t(lang, f"修复后的形状 ({len(fixed)})", f"Repaired shapes ({len(fixed)})")
        layers.append((fixed, name, REPAIR_COLOUR, "2 4"))
    if datum != "wgs84":
        layers = [(shift_gdf(f, to=datum), n, c, d) for f, n, c, d in layers]
    overlays = [_outline_layer(f, n, c, d) for f, n, c, d in layers]
    sw = (
        '<span style="display:inline-block;width:12px;height:12px;margin-right:4px;'
        'border:2px dashed {};background:{}40"></span>'
    )
    extra = f"<b>{_t(lang, '导入预览', 'Import preview')}</b><br>" + "<br>".join(
        f"{sw.format(c, c)}{html.escape(n)}" for _, n, c, _ in layers
    )
    districts = plan.district_polygons.geometry
    if datum != "wgs84":
        districts = gpd.GeoSeries(shift_from_wgs84(districts, datum), crs=WGS84)
    boxes = [districts.total_bounds] + [f.total_bounds for f, *_ in layers if len(f)]
    b = np.array(boxes)
    bounds = [b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max()]
    return build_map(
        plan,
        register,
        lang=lang,
        basemap=basemap,
        tianditu_key=tianditu_key,
        height=height,
        overlays=overlays,
        legend_extra=extra,
        legend_expanded=False,  # the incoming parks may lie anywhere, the legend must not hide them
        bounds=bounds,
        parks=False,  # the register as aggregates (district figures), never every park
    )


COMPARE_COLOURS = {"added": "#2e7d32", "removed": "#c62828", "changed": "#ef6c00"}
_COMPARE_LABELS = {
    "added": ("新增园区", "Parks added"),
    "removed": ("删除园区", "Parks removed"),
    "changed": ("修改园区", "Parks changed"),
}


def compare_layer_frame(parks: gpd.GeoDataFrame, kind: str, *, lang: str = "zh") -> gpd.GeoDataFrame:
    """Located parks of one side of a comparison (``kind`` added / removed / changed) with a
    tooltip and a popup (id, names, status, new floor area; for changed parks the columns that
    changed). Parks with no location are left out."""
    geoms = parks.geometry
    p = parks[~(geoms.isna() | geoms.is_empty)].copy()
    if p.empty:
        return gpd.GeoDataFrame({"id": [], "_tip": [], "_popup": []}, geometry=[], crs=WGS84)
    label = _t(lang, *_COMPARE_LABELS[kind])
    name = p["name_zh"] if lang == "zh" else p["name_en"].where(p["name_en"] != "", p["name_zh"])
    status = p["status"].map({k: _t(lang, *v) for k, v in STATUS_LABELS.items()}).fillna(p["status"])
    p["_tip"] = "<b>" + _esc(name) + "</b> · " + label + "<br>编号 ID: " + _esc(p["id"])
    changed = (
        "<br>"
        + _t(lang, "改动的字段: ", "Changed: ")
        + _esc(
            p["changed_columns"].map(
                lambda cs: "、".join(field_label(c.strip(), lang) for c in str(cs).split(",") if c.strip())
            )
        )
        if kind == "changed" and "changed_columns" in p
        else ""
    )
    p["_popup"] = (
        f'<div style="min-width:220px"><b style="color:{COMPARE_COLOURS[kind]}">{label}</b><br><b>'
        + _esc(p["name_zh"])
        + "</b> "
        + _esc(p["name_en"])
        + "<br>"
        + _t(lang, "编号: ", "ID: ")
        + _esc(p["id"])
        + "<br>"
        + _t(lang, "状态: ", "Status: ")
        + _esc(status)
        + "<br>"
        + _t(lang, "新增建筑面积: ", "New floor area: ")
        + _fmt_series(p["new_gfa_m2"])
        + changed
        + "</div>"
    )
    return gpd.GeoDataFrame(p[["id", "_tip", "_popup"]], geometry=p.geometry.values, crs=WGS84)


def compare_map(
    plan: Plan,
    comparison: Any,
    *,
    lang: str = "zh",
    height: int | str = "100%",
    max_features: int = MAX_PREVIEW_FEATURES,
) -> folium.Map:
    """Two scenarios on one map: the districts, and the parks added (green), removed (red) and
    changed (orange) from A to B, each a layer with tooltips, popups and a legend entry.

    ``comparison`` is a :class:`planner.store.service.Comparison` (``compare(plan, a, b)``). Parks that
    are the same in both are not drawn (the tables list everything); at most ``max_features`` of
    each kind are drawn (the layer's name says how many of how many). No tiles (works offline).
    """
    from planner.store import empty_register  # the store imports nothing of the map

    sides = {
        "added": comparison.parks_added,
        "removed": comparison.parks_removed,
        "changed": comparison.parks_changed,
    }
    overlays, rows = [], []
    for kind, parks in sides.items():
        frame = compare_layer_frame(parks.iloc[:max_features], kind, lang=lang)
        colour = COMPARE_COLOURS[kind]
        count = f"{len(parks)}"
        if len(parks) > max_features:
            count = _t(
                lang,
                f"显示 {max_features:,} / 共 {len(parks):,}",
                f"{max_features:,} of {len(parks):,} shown",
            )
        name = f"{_t(lang, *_COMPARE_LABELS[kind])} ({count})"
        group = folium.FeatureGroup(name=name)
        if len(frame):
            folium.GeoJson(
                frame,
                marker=folium.CircleMarker(radius=9, fill=True),
                style_function=lambda f, colour=colour: {
                    "color": colour,
                    "fillColor": colour,
                    "fillOpacity": 0.5,
                    "weight": 3,
                },
                tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False),
                popup=folium.GeoJsonPopup(fields=["_popup"], labels=False, localize=False, max_width=360),
            ).add_to(group)
        overlays.append(group)
        rows.append(
            f'<span style="display:inline-block;width:12px;height:12px;margin-right:4px;'
            f'border-radius:6px;background:{colour}"></span>{html.escape(name)}'
        )
    extra = f"<b>{_t(lang, '方案对比 A → B', 'Comparison A → B')}</b><br>" + "<br>".join(rows)
    return build_map(
        plan, empty_register(), lang=lang, height=height, overlays=overlays, legend_extra=extra, figures=False
    )


PROPOSAL_COLOURS = {"proposed": "#2e7d32", "capacity": "#1565c0", "unusable": "#9e9e9e"}


def proposal_layer_frames(
    sites: gpd.GeoDataFrame, *, lang: str = "zh", max_features: int = MAX_PREVIEW_FEATURES
) -> dict[str, gpd.GeoDataFrame]:
    """The proposal map's three layers as point frames with ``_tip`` and ``_radius``: sites with a
    proposed allocation, the other sites with remaining capacity, sites not usable (with the reason).

    ``sites`` is :func:`planner.core.sites.site_capacity` (with ``proposed_m2`` once proposed).
    Each layer keeps its ``max_features`` largest sites (a browser cannot draw 100,000 circles).
    """
    s = sites[~(sites.geometry.isna() | sites.geometry.is_empty)]
    proposed = s["proposed_m2"].fillna(0.0) if "proposed_m2" in s else pd.Series(0.0, index=s.index)
    cap = s["capacity_m2"].fillna(0.0)
    name = _esc(s["name_zh"]) + " (" + _esc(s["site_id"]) + ") · " + _esc(s["district_name"])
    year = s["earliest_year"].astype(str)
    tips = {
        "proposed": name
        + _t(lang, "<br>建议分配 ", "<br>proposed ")
        + proposed.map(fmt_m2)
        + _t(lang, ", 交付 ", ", delivered ")
        + year
        + _t(lang, "<br>剩余容量 ", "<br>capacity ")
        + cap.map(fmt_m2),
        "capacity": name
        + _t(lang, "<br>剩余容量 ", "<br>capacity ")
        + cap.map(fmt_m2)
        + _t(lang, ", 最早 ", ", earliest ")
        + year,
        "unusable": name + "<br>" + _esc(s["reason_zh" if lang == "zh" else "reason_en"]),
    }
    masks = {
        "proposed": proposed > 0,
        "capacity": (proposed <= 0) & s["usable"] & (cap > 0),
        "unusable": ~s["usable"].astype(bool),
    }
    sizes = {"proposed": proposed, "capacity": cap, "unusable": pd.Series(0.0, index=s.index)}
    out = {}
    for kind, mask in masks.items():
        size = sizes[kind][mask]
        part = s[mask].assign(_tip=tips[kind][mask], _size=size)
        part = part.sort_values("_size", ascending=False).iloc[:max_features]
        radius = RADIUS_MIN + 10 * np.sqrt(part["_size"] / max(float(part["_size"].max()), 1.0))
        points = part.geometry.representative_point()
        out[kind] = gpd.GeoDataFrame(
            {"id": part["site_id"].to_numpy(), "_tip": part["_tip"].to_numpy(), "_radius": radius.to_numpy()},
            geometry=points.values,
            crs=sites.crs,
        )
    return out


def proposal_map(
    plan: Plan,
    sites: gpd.GeoDataFrame,
    *,
    lang: str = "zh",
    basemap: str = "none",
    height: int | str = "100%",
) -> folium.Map:
    """Districts with the sites: proposed allocations (green, sized by m²), remaining capacity
    (blue, sized by m²) and sites without usable data (grey); offline unless a basemap is chosen."""
    from planner.store import empty_register  # the store imports nothing of the map

    datum = basemap_datum(basemap)
    frames = proposal_layer_frames(sites, lang=lang)
    names = {
        "proposed": _t(lang, "建议分配", "Proposed allocations"),
        "capacity": _t(lang, "剩余容量", "Remaining capacity"),
        "unusable": _t(lang, "数据不足 (未计算)", "Not usable (no data)"),
    }
    overlays = []
    for kind in ("unusable", "capacity", "proposed"):
        frame = frames[kind]
        if datum != "wgs84":
            frame = shift_gdf(frame, to=datum)
        group = folium.FeatureGroup(name=f"{names[kind]} ({len(frame)})")
        colour = PROPOSAL_COLOURS[kind]
        if len(frame):
            folium.GeoJson(
                frame,
                marker=folium.CircleMarker(radius=RADIUS_MIN, fill=True),
                style_function=lambda f, colour=colour, kind=kind: {
                    "color": colour,
                    "fillColor": colour,
                    "fillOpacity": 0.0 if kind == "unusable" else 0.55,
                    "weight": 2,
                    "radius": f["properties"]["_radius"],
                },
                tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False),
            ).add_to(group)
        overlays.append(group)
    sw = '<span style="display:inline-block;width:12px;height:12px;border-radius:6px;margin-right:4px;background:{}"></span>'
    extra = f"<b>{_t(lang, '方案生成', 'Proposal')}</b><br>" + "<br>".join(
        f"{sw.format(PROPOSAL_COLOURS[k])}{html.escape(names[k])}"
        for k in ("proposed", "capacity", "unusable")
    )
    return build_map(
        plan,
        empty_register(),
        lang=lang,
        basemap=basemap,
        height=height,
        overlays=overlays,
        legend_extra=extra,
        figures=False,
    )


# ---- city scale: a register of 100,000 parcels ------------------------------------------------
# The map page draws the parcels in view one by one while there are at most MAX_PARCELS of them
# (street level), else aggregates: grid cells in the plan's metric CRS (count, land area, counted
# new space; coloured by the commonest status or by alignment with the district's specialisation;
# the count as a label) and the districts' figures in their labels and tooltips. The parcels or cells
# are a layer swapped in by streamlit-folium (``feature_group_to_add``) from the bounds and zoom it
# returns, so panning keeps the map and sends only what is in view.

MAX_PARCELS = 3_000  # parcels drawn one by one in a view at most; beyond: aggregates
CELL_PX = 40  # a grid cell is about this many screen pixels across at the view's zoom
CELL_M_MIN, CELL_M_MAX = 250.0, 16_000.0
ALIGNED_COLOURS = ("#d73027", "#fee08b", "#1a9850")  # counted space: none / half / all aligned
NO_COUNT_COLOUR = "#bdbdbd"
COLOUR_BY = {
    "status": ("按状态着色", "Colour by status"),
    "alignment": ("按专业方向契合度着色", "Colour by alignment"),
}


@dataclass(frozen=True)
class MapIndex:
    """What the map needs of one register version, built once (``map_index``) and shared.

    ``parks``: located parks (id, names, status, district_code, land_m2, counted_m2, aligned_m2,
    geometry in WGS84) with a spatial index; ``x``/``y``: a point inside each, in the plan's metric
    CRS; ``lon``/``lat``: the same points in WGS84; ``n_unlocated``: parks with no location.
    """

    parks: gpd.GeoDataFrame
    x: np.ndarray
    y: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    n_unlocated: int


def park_figures(plan: Plan, register: Register) -> pd.DataFrame:
    """Per park (index: park id) the counted new space and the part of it aligned with its
    district's specialisations (m²), by ``planner.core.capacity.allocation_table``'s rules; the
    district is the one the register records (no spatial join: a city register is assigned at import)."""
    from planner.core.capacity import allocation_table

    where = pd.DataFrame({"effective_district_code": register.parks["district_code"].fillna("").to_numpy()})
    a = allocation_table(plan, register, where=where)
    counted = a["area_m2"].where(a["counted"], 0.0).fillna(0.0)
    aligned = counted.where(a["aligned"].eq(True), 0.0)
    judged = counted.where(a["aligned"].notna(), 0.0)  # in a district that designates specialisations
    cols = ["counted_m2", "aligned_m2", "judged_m2"]
    frame = pd.DataFrame({"counted_m2": counted, "aligned_m2": aligned, "judged_m2": judged})
    return frame.assign(park_id=a["park_id"]).groupby("park_id")[cols].sum()


def build_index(plan: Plan, register: Register) -> MapIndex:
    """The register's :class:`MapIndex` (vectorised; a spatial index over the parks)."""
    p = register.parks
    located = ~(p.geometry.isna() | p.geometry.is_empty)
    keep = ["id", "name_zh", "name_en", "status", "district_code", "land_area_m2", "new_gfa_m2"]
    parks = gpd.GeoDataFrame(p.loc[located, keep], geometry=p.geometry[located].values, crs=WGS84)
    parks = parks.reset_index(drop=True).rename(columns={"land_area_m2": "land_m2"})
    fig = park_figures(plan, register).reindex(parks["id"].to_numpy())  # one lookup for the three
    for c in ("counted_m2", "aligned_m2", "judged_m2"):
        parks[c] = fig[c].fillna(0.0).to_numpy()
    points = shapely.point_on_surface(np.asarray(parks.geometry.values))
    lonlat = shapely.get_coordinates(points)
    xy = shapely.get_coordinates(project(points, WGS84, plan.metric_crs))  # one pyproj call
    parks.sindex  # noqa: B018  built now, once, not on the first view
    return MapIndex(parks, xy[:, 0], xy[:, 1], lonlat[:, 0], lonlat[:, 1], int((~located).sum()))


def map_index(plan: Plan, register: Register) -> MapIndex:
    """The register's :class:`MapIndex`, built once per register object and process and shared by
    every session viewing that version (``planner.app.registers.derived``)."""
    from planner.app.registers import derived

    return derived(register, f"map_index:{plan.id}", lambda r: build_index(plan, r))


def cell_size_m(zoom: float) -> float:
    """The grid cell size (m) for a zoom level: about ``CELL_PX`` pixels at Shenzhen's latitude,
    rounded to a power of two times 250 m.

    >>> cell_size_m(10), cell_size_m(13)
    (4000.0, 500.0)
    """
    m_per_px = 156_543.03 * np.cos(np.radians(22.6)) / 2.0 ** float(zoom)
    size = CELL_M_MIN * 2.0 ** np.round(np.log2(max(CELL_PX * m_per_px, CELL_M_MIN) / CELL_M_MIN))
    return float(min(size, CELL_M_MAX))


def _in_bounds(index: MapIndex, bounds: Sequence[float] | None) -> np.ndarray:
    if bounds is None:
        return np.ones(len(index.x), dtype=bool)
    minx, miny, maxx, maxy = bounds
    return (index.lon >= minx) & (index.lon <= maxx) & (index.lat >= miny) & (index.lat <= maxy)


def _alignment_colour(share: np.ndarray) -> np.ndarray:
    """Counted space aligned with the district's specialisations: red (none), yellow, green (all)."""
    out = np.where(
        share >= 2 / 3, ALIGNED_COLOURS[2], np.where(share >= 1 / 3, ALIGNED_COLOURS[1], ALIGNED_COLOURS[0])
    )
    return np.where(np.isnan(share), NO_COUNT_COLOUR, out)


def grid_cells(
    plan: Plan, index: MapIndex, cell_m: float, *, bounds: Sequence[float] | None = None
) -> gpd.GeoDataFrame:
    """The parks aggregated into square cells of ``cell_m`` metres in the plan's metric CRS (only
    cells with a park whose point lies in ``bounds``, WGS84 minx, miny, maxx, maxy, when given):
    ``count``, ``land_m2``, ``counted_m2``, ``aligned_m2``, ``aligned_share`` (NaN when nothing is
    counted), ``status`` (the commonest), geometry (the cell, WGS84). Vectorised (numpy/pandas)."""
    keep = _in_bounds(index, bounds)
    p = index.parks.loc[keep]
    frame = pd.DataFrame(
        {
            "ix": np.floor(index.x[keep] / cell_m).astype(np.int64),
            "iy": np.floor(index.y[keep] / cell_m).astype(np.int64),
            "land_m2": p["land_m2"].fillna(0.0).to_numpy(),
            "counted_m2": p["counted_m2"].to_numpy(),
            "aligned_m2": p["aligned_m2"].to_numpy(),
            "judged_m2": p["judged_m2"].to_numpy(),
            "status": p["status"].to_numpy(),
        }
    )
    g = frame.groupby(["ix", "iy"], sort=True)
    cells = g[["land_m2", "counted_m2", "aligned_m2", "judged_m2"]].sum()
    cells.insert(0, "count", g.size())
    by_status = frame.groupby(["ix", "iy", "status"]).size().unstack(fill_value=0)
    cells["status"] = by_status.idxmax(axis=1).reindex(cells.index) if len(by_status.columns) else []
    cells["aligned_share"] = _aligned_share(cells)
    cells = cells.reset_index()
    ix, iy = cells["ix"].to_numpy(), cells["iy"].to_numpy()
    # the cell's corners in the metric CRS, counter-clockwise, taken to WGS84 (one cached transformer)
    cx = (np.stack([ix, ix + 1, ix + 1, ix], axis=1) * cell_m).ravel()
    cy = (np.stack([iy, iy, iy + 1, iy + 1], axis=1) * cell_m).ravel()
    lon, lat = _to_wgs84(plan.metric_crs).transform(cx, cy)
    corners = np.stack([np.asarray(lon), np.asarray(lat)], axis=1).reshape(len(cells), 4, 2)
    return gpd.GeoDataFrame(cells, geometry=shapely.polygons(corners), crs=WGS84)


@functools.lru_cache(maxsize=8)
def _to_wgs84(crs: str) -> pyproj.Transformer:
    """A transformer from ``crs`` to WGS84 (lon, lat), built once: building one takes a PROJ lookup."""
    return pyproj.Transformer.from_crs(crs, WGS84, always_xy=True)


def district_figures(plan: Plan, index: MapIndex) -> pd.DataFrame:
    """Per district of the plan (index: code): ``count``, ``land_m2``, ``counted_m2``,
    ``aligned_m2``, ``aligned_share`` of its located parks (by the district the register records)."""
    p = index.parks
    g = p.assign(land_m2=p["land_m2"].fillna(0.0)).groupby("district_code")
    out = g[["land_m2", "counted_m2", "aligned_m2", "judged_m2"]].sum()
    out.insert(0, "count", g.size())
    out = out.reindex(plan.district_codes()).fillna(0.0)
    out["count"] = out["count"].astype(int)
    out["aligned_share"] = _aligned_share(out)
    return out


def _aligned_share(frame: pd.DataFrame) -> np.ndarray:
    """Aligned / counted space, of the space counted in districts that designate specialisations
    (as ``capacity_report``'s ``aligned_share``); NaN where none is."""
    judged = frame["judged_m2"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(judged > 0, frame["aligned_m2"].to_numpy(dtype=float) / judged, np.nan)


def _wan(v: pd.Series) -> pd.Series:
    return (v / 1e4).map("{:,.1f} 万㎡".format)


def _figures_html(
    count: pd.Series, land: pd.Series, counted: pd.Series, share: pd.Series, lang: str
) -> pd.Series:
    pct = share.map(lambda s: "—" if pd.isna(s) else f"{s:.0%}")
    return (
        _t(lang, "园区 ", "Parks ")
        + count.map("{:,}".format)
        + _t(lang, " 个<br>占地 ", "<br>Land ")
        + _wan(land)
        + _t(lang, "<br>计入新增空间 ", "<br>Counted new space ")
        + _wan(counted)
        + _t(lang, "<br>其中与本区专业方向契合 ", "<br>aligned with the district's specialisation ")
        + pct
    )


# each cell's figures in a popup; its count a label: a marker at the cell's centre (a tooltip on the
# polygon is placed once, before the map has its size, and drifts)
_CELL_POPUP = "function (feature, layer) { layer.bindPopup(feature.properties._tip); }"
_COUNT_LABEL = """function (feature, latlng) {
    return L.marker(latlng, {interactive: false, keyboard: false, icon: L.divIcon({
        className: "planner-count", html: String(feature.properties._label),
        iconSize: [44, 16], iconAnchor: [22, 8]})});
}"""


def cell_layer(
    plan: Plan,
    index: MapIndex,
    zoom: float,
    *,
    bounds: Sequence[float] | None = None,
    colour_by: str = "status",
    lang: str = "zh",
    basemap: str = "none",
) -> folium.FeatureGroup:
    """Grid cells (``cell_size_m(zoom)``) of the parks in ``bounds`` as one layer: coloured by the
    commonest status or by alignment, the count as a permanent label, the figures in a popup."""
    size = cell_size_m(zoom)
    cells = grid_cells(plan, index, size, bounds=bounds)
    if colour_by == "alignment":
        cells["_colour"] = _alignment_colour(cells["aligned_share"].to_numpy(dtype=float))
    else:
        cells["_colour"] = cells["status"].map(STATUS_COLOURS).fillna(STATUS_COLOURS["unknown"])
    cells["_label"] = cells["count"].map("{:,}".format)
    cells["_tip"] = _t(lang, f"{size / 1000:g} km 网格<br>", f"{size / 1000:g} km cell<br>") + _figures_html(
        cells["count"], cells["land_m2"], cells["counted_m2"], cells["aligned_share"], lang
    )
    frame = gpd.GeoDataFrame(cells[["_colour", "_tip"]], geometry=cells.geometry, crs=WGS84)
    frame["geometry"] = shapely.set_precision(frame.geometry.values, 1e-5)
    centres = _to_wgs84(plan.metric_crs).transform((cells["ix"] + 0.5) * size, (cells["iy"] + 0.5) * size)
    labels = gpd.GeoDataFrame(
        {"_label": cells["_label"].to_numpy()},
        geometry=shapely.set_precision(shapely.points(*centres), 1e-5),
        crs=WGS84,
    )
    datum = basemap_datum(basemap)
    if datum != "wgs84":
        frame, labels = shift_gdf(frame, to=datum), shift_gdf(labels, to=datum)
    name = _t(lang, f"园区汇总 ({size / 1000:g} km 网格)", f"Parks aggregated ({size / 1000:g} km cells)")
    group = folium.FeatureGroup(name=name)
    if len(frame):
        folium.GeoJson(
            frame,
            style_function=lambda f: {
                "color": f["properties"]["_colour"],
                "weight": 1,
                "fillColor": f["properties"]["_colour"],
                "fillOpacity": 0.45,
            },
            on_each_feature=JsCode(_CELL_POPUP),
        ).add_to(group)
        folium.GeoJson(labels, pointToLayer=JsCode(_COUNT_LABEL)).add_to(group)
    return group


def parcels_in_view(index: MapIndex, bounds: Sequence[float], *, cap: int = MAX_PARCELS) -> np.ndarray | None:
    """Positions (in ``index.parks``) of the parks whose shape meets ``bounds`` (WGS84 minx, miny,
    maxx, maxy), through the spatial index; None when there are more than ``cap`` (draw aggregates)."""
    if int(_in_bounds(index, bounds).sum()) > cap:  # counting points first spares a query of the city
        return None
    hits = index.parks.sindex.query(shapely.box(*bounds), predicate="intersects")
    return None if len(hits) > cap else np.sort(hits)


def parcel_frame(
    index: MapIndex, positions: np.ndarray, zoom: float, *, lang: str = "zh"
) -> gpd.GeoDataFrame:
    """The parks at ``positions`` for drawing: shapes simplified to about half a pixel at ``zoom``
    and rounded to ~0.1 m (a shape under 4 pixels across becomes a point, drawn as a circle), the
    status colour, the circle radius by new floor area, a tooltip ending in the park's id (click-to-select)."""
    p = index.parks.iloc[positions]
    pixel = 360.0 / (256 * 2.0 ** float(zoom))  # degrees of longitude per screen pixel
    geoms = shapely.simplify(p.geometry.values, 0.5 * pixel, preserve_topology=True)
    # a shape under 4 pixels across would be an invisible speck: drawn as a circle at a point inside it
    b = shapely.bounds(geoms)
    speck = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < 4 * pixel
    geoms = np.where(speck, shapely.point_on_surface(geoms), geoms)
    geoms = shapely.set_precision(geoms, 1e-6)
    # a circle's area is proportional to new floor area (of the register's largest), as on the small map
    gfa = index.parks["new_gfa_m2"].to_numpy(dtype=float)
    top = float(np.nanmax(gfa)) if np.isfinite(gfa).any() else 1.0
    mine = np.clip(np.nan_to_num(p["new_gfa_m2"].to_numpy(dtype=float), nan=0.0), 0, None)
    radius = np.round(RADIUS_MIN + (RADIUS_MAX - RADIUS_MIN) * np.sqrt(mine / (top or 1.0)), 1)
    name = p["name_zh"] if lang == "zh" else p["name_en"].where(p["name_en"] != "", p["name_zh"])
    status = p["status"].map({k: _t(lang, *v) for k, v in STATUS_LABELS.items()}).fillna(p["status"])
    return gpd.GeoDataFrame(
        {
            "id": p["id"].to_numpy(),
            "status": p["status"].to_numpy(),
            "_colour": p["status"].map(STATUS_COLOURS).fillna(STATUS_COLOURS["unknown"]).to_numpy(),
            "_radius": radius,
            "_tip": (
                "<b>" + _esc(name) + "</b> · " + _esc(status) + "<br>编号 ID: " + _esc(p["id"])
            ).to_numpy(),
        },
        geometry=geoms,
        crs=WGS84,
    )


def parcel_layer(frame: gpd.GeoDataFrame, *, lang: str = "zh", basemap: str = "none") -> folium.FeatureGroup:
    """The parks of :func:`parcel_frame` as one layer, each with its status colour and tooltip."""
    if basemap_datum(basemap) != "wgs84":
        frame = shift_gdf(frame, to=basemap_datum(basemap))
    group = folium.FeatureGroup(name=_t(lang, f"园区 ({len(frame):,})", f"Parks ({len(frame):,})"))
    if len(frame):
        _park_geojson(frame[["id", "_colour", "_radius", "_tip", "geometry"]]).add_to(group)
    return group


def _park_geojson(frame: gpd.GeoDataFrame, popup: folium.GeoJsonPopup | None = None) -> folium.GeoJson:
    """Parks drawn in their status colour (``_colour``), points as circles of ``_radius``, with ``_tip``."""
    return folium.GeoJson(
        frame,
        marker=folium.CircleMarker(radius=RADIUS_MIN, fill=True),
        style_function=lambda f: {
            "color": f["properties"]["_colour"],
            "fillColor": f["properties"]["_colour"],
            "fillOpacity": 0.6,
            "weight": 2,
            "radius": f["properties"]["_radius"],
        },
        tooltip=folium.GeoJsonTooltip(fields=["_tip"], labels=False),
        popup=popup,
    )


def view_layer(
    plan: Plan,
    index: MapIndex,
    bounds: Sequence[float],
    zoom: float,
    *,
    colour_by: str = "status",
    lang: str = "zh",
    basemap: str = "none",
    cap: int = MAX_PARCELS,
) -> tuple[folium.FeatureGroup, str]:
    """What the map shows of the register in a view (``bounds`` WGS84, widened by a tenth on each
    side so a small pan or the GCJ-02 shift leaves no gap): the parks one by one when there are at
    most ``cap`` (``"parcels"``), else grid cells (``"cells"``). Returns the layer and which it is."""
    minx, miny, maxx, maxy = bounds
    dx, dy = (maxx - minx) / 10, (maxy - miny) / 10
    wide = (minx - dx, miny - dy, maxx + dx, maxy + dy)
    positions = parcels_in_view(index, wide, cap=cap)
    if positions is not None:
        return parcel_layer(
            parcel_frame(index, positions, zoom, lang=lang), lang=lang, basemap=basemap
        ), "parcels"
    return cell_layer(
        plan, index, zoom, bounds=wide, colour_by=colour_by, lang=lang, basemap=basemap
    ), "cells"


def bounds_of_view(value: dict | None) -> list[float] | None:
    """streamlit-folium's returned ``bounds`` as (minx, miny, maxx, maxy), else None."""
    b = (value or {}).get("bounds") or {}
    try:
        sw, ne = b["_southWest"], b["_northEast"]
        out = [float(sw["lng"]), float(sw["lat"]), float(ne["lng"]), float(ne["lat"])]
    except (KeyError, TypeError, ValueError):
        return None
    return out if out[0] < out[2] and out[1] < out[3] else None


def district_labels(
    plan: Plan, figures: pd.DataFrame | None, *, lang: str = "zh", basemap: str = "none"
) -> folium.FeatureGroup:
    """A name label on each district (with its park count when ``figures`` are given)."""
    d = plan.district_polygons
    pts = gpd.GeoSeries(d.geometry.representative_point().values, crs=WGS84)
    if basemap_datum(basemap) != "wgs84":
        pts = gpd.GeoSeries(shift_from_wgs84(pts, basemap_datum(basemap)), crs=WGS84)
    short = {x.code: (x.short_zh if lang == "zh" else x.name_en) for x in plan.districts}
    group = folium.FeatureGroup(name=_t(lang, "区名", "District names"))
    for code, pt in zip(d["code"], pts, strict=True):
        text = html.escape(short.get(code, code))
        if figures is not None and code in figures.index:
            text += f'<br><span style="font-weight:normal">{int(figures.loc[code, "count"]):,} {_t(lang, "个园区", "parks")}</span>'
        folium.Marker(
            [pt.y, pt.x],
            icon=folium.DivIcon(
                html=f'<div class="planner-district-label">{text}</div>',
                icon_size=(120, 36),
                icon_anchor=(60, 18),
            ),
            interactive=False,
        ).add_to(group)
    return group


def overview_map(
    plan: Plan, register: Register, *, lang: str = "zh", colour_by: str = "status", height: int | str = "100%"
) -> folium.Map:
    """The Overview's small map: districts with their figures and name labels, and the register as
    grid cells (count labels) sized for the city view; never the parks themselves."""
    cells = cell_layer(plan, map_index(plan, register), plan.map_zoom, colour_by=colour_by, lang=lang)
    return build_map(
        plan, register, lang=lang, height=height, parks=False, legend_expanded=False, overlays=[cells]
    )
