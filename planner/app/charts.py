"""Charts for the pages, as Vega-Lite (altair) specifications: data in, chart out (no streamlit)."""

from __future__ import annotations

import altair as alt
import pandas as pd

from planner.core.capacity import CapacityReport
from planner.core.geo import M2_PER_WAN
from planner.i18n import t

# (column of report.by_year, zh, en, colour, dash pattern, line width, opacity), drawn in this
# order: the counted line wide, pale and solid with large markers, the secured line over it thin
# and dashed with small markers, so where the two are equal both stay visible (the counted line
# shows as a band around the secured one).
CUMULATIVE_SERIES = (
    ("target_m2", "目标", "Target", "#7f7f7f", [2, 3], 1.5, 1.0),
    ("cumulative_m2", "累计计入", "Counted, cumulative", "#2c7fb8", [1, 0], 7.0, 0.45),
    ("secured_cumulative_m2", "累计已落实", "Secured, cumulative", "#1a9850", [6, 4], 2.0, 1.0),
)


DELIVERED_SERIES = (
    "累计已交付 (按状态日期)",
    "Delivered, cumulative (status dates)",
    "#e67e22",
    [1, 3],
    2.0,
    1.0,
)


def cumulative_chart(
    report: CapacityReport, lang: str = "zh", *, delivered: pd.Series | None = None
) -> alt.LayerChart | alt.FacetChart:
    """Counted and secured space by year, cumulative, against the target line, in 万㎡; with
    ``delivered`` (m² by year, as of a date) a fourth, dotted line on top."""
    year = t(lang, "年份", "Year")
    series = t(lang, "系列", "Series")
    names = [t(lang, zh, en) for _, zh, en, *_ in CUMULATIVE_SERIES]
    rows = [
        pd.DataFrame(
            {
                year: report.by_year["year"].astype(str),
                series: name,
                "万㎡": (report.by_year[col] / M2_PER_WAN).round(2),
            }
        )
        for (col, *_), name in zip(CUMULATIVE_SERIES, names, strict=True)
    ]
    series_list = list(CUMULATIVE_SERIES)
    if delivered is not None:
        name = t(lang, *DELIVERED_SERIES[:2])
        names.append(name)
        series_list.append(("", *DELIVERED_SERIES))
        by_year = report.by_year["year"].map(delivered.rename(index=int)).astype(float)
        rows.append(
            pd.DataFrame(
                {
                    year: report.by_year["year"].astype(str),
                    series: name,
                    "万㎡": (by_year / M2_PER_WAN).round(2),
                }
            )
        )
    data = pd.concat(rows, ignore_index=True)
    colours = [c for *_, c, _, _, _ in series_list]
    dashes = [d for *_, d, _, _ in series_list]
    base = alt.Chart(data).encode(
        x=alt.X(f"{year}:O", title=year),
        y=alt.Y("万㎡:Q", title="万㎡"),
        color=alt.Color(f"{series}:N", scale=alt.Scale(domain=names, range=colours), title=None),
        strokeDash=alt.StrokeDash(f"{series}:N", scale=alt.Scale(domain=names, range=dashes), title=None),
        tooltip=[f"{series}:N", f"{year}:O", alt.Tooltip("万㎡:Q", format=",.1f")],
    )
    layers = [
        base.transform_filter(alt.datum[series] == name).mark_line(
            strokeWidth=width,
            opacity=opacity,
            point=alt.OverlayMarkDef(size=20 * width, filled=True, opacity=opacity),
        )
        for (*_, width, opacity), name in zip(series_list, names, strict=True)
    ]
    return alt.layer(*layers)
