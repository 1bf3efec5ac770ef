"""Every label a user sees for one of the planner's codes, Chinese first, with English: one table.

The library keeps stable codes (``under_construction``, ``planner``, ``PARK_NO_LOCATION``,
``new_gfa_m2``); a person sees their label from here, never the code. ``LABELS`` holds one table
per kind of code; :func:`label` looks one up, :func:`labels` a whole column. What a *plan* names
(district roles, specialisations, fields, park types, name-park levels) is the plan's data and
comes from ``plan.toml`` through :func:`plan_label`.

To add a kind (a new page's statuses, say): add a ``dict[str, tuple[str, str]]`` (code -> (zh, en))
below and an entry in ``LABELS``; ``tests/test_i18n.py`` then checks it is complete and bilingual.
Sentences of a single page stay on that page as ``t("中文", "English")`` pairs, with the one
translator :func:`translator`.

>>> label("status", "under_construction")
'在建'
>>> label("status", "under_construction", "en")
'Under construction'
>>> label("severity", None)
'—'
>>> place_label("parks.csv row 3", "zh")
'parks.csv 第 3 行'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from planner.core import schema as _schema

if TYPE_CHECKING:  # the plan is only read here: no import cycle with planner.core
    from planner.core.plan import Plan

LANGS = ("zh", "en")
MISSING = "—"  # what a missing value looks like to a user (never "None", "nan" or empty)

STATUS_LABELS: dict[str, tuple[str, str]] = _schema.STATUS_LABELS  # the schema's (one place)
BASIS_LABELS: dict[str, tuple[str, str]] = {
    "baseline": ("基线估算 (非官方)", "Baseline estimate (not official)"),
    "planner": ("规划人员设定", "Set by a planner"),
    "import": ("导入", "Imported"),
    "proposal": ("方案生成", "Proposal"),
}
SEVERITY_LABELS: dict[str, tuple[str, str]] = {
    "error": ("错误", "Error"),
    "warning": ("警告", "Warning"),
    "info": ("提示", "Note"),
}
# The findings' codes (planner.core.findings), each with a short name.
FINDING_LABELS: dict[str, tuple[str, str]] = {
    "PARK_NO_LOCATION": ("园区无位置", "Park has no location"),
    "PARK_OUTSIDE_CITY": ("园区在市域外", "Park outside the city"),
    "PARK_NEAR_BOUNDARY": ("园区紧邻边界外", "Park just outside the boundary"),
    "PARK_IN_FUNCTIONAL_AREA": ("园区属功能区", "Park in a functional area"),
    "PARK_STRADDLES_DISTRICTS": ("园区跨区", "Park straddles districts"),
    "PARK_DISTRICT_MISMATCH": ("所在区与来源不符", "District differs from the source"),
    "PARK_DISTRICT_AMBIGUOUS": ("来源所在区不明确", "Source names several districts"),
    "PARK_NO_AREA": ("园区无面积", "Park has no area"),
    "PLOT_RATIO_EXCEEDED": ("建筑面积超容积率", "Floor area above the plot ratio"),
    "PLOT_RATIO_ABOVE_LIMIT": ("容积率超上限", "Plot ratio above the limit"),
    "PARKS_OVERLAP": ("园区重叠", "Parks overlap"),
    "FIGURES_UNCONFIRMED": ("数据未核实", "Figures unconfirmed"),
    "ALLOC_UNKNOWN_PARK": ("分配的园区不存在", "Allocation names no park"),
    "ALLOC_EXCEEDS_NEW_SPACE": ("分配超出新增面积", "Allocations exceed new space"),
    "ALLOC_NOT_COUNTED": ("分配不计入目标", "Allocation not counted"),
    "ALLOC_SPEC_MISALIGNED": ("专业方向与区不符", "Specialisation not the district's"),
    "QUOTA_NOT_MET": ("未达区指标", "District quota not met"),
    "TARGET_GAP": ("未达规划目标", "Plan target not met"),
    # early warnings as of a date (planner.core.monitor)
    "ALLOC_AT_RISK": ("分配有逾期风险", "Allocation at risk"),
    "ALLOC_OVERDUE": ("分配逾期未交付", "Allocation overdue"),
    "DISTRICT_BEHIND_PACE": ("区进度落后", "District behind pace"),
    "PARK_STALE": ("园区状态久未更新", "Park status not updated"),
    "PLAN_PERIOD_ENDED": ("规划期已结束", "Plan period ended"),
    "TARGET_MISSED_AT_DEADLINE": ("截止时未达目标", "Target missed at the deadline"),
}
# Account roles (planner.core.access.ROLES); a district's role in the plan is the plan's own label.
ROLE_LABELS: dict[str, tuple[str, str]] = {
    "planner": ("市级规划人员", "City planner"),
    "district": ("区级工作人员", "District staff"),
    "viewer": ("只读用户", "Viewer"),
}
# What the store records (versions and the audit log).
ACTION_LABELS: dict[str, tuple[str, str]] = {
    "seed": ("初始", "Seed"),
    "save": ("保存", "Save"),
    "restore": ("恢复", "Restore"),
    "copy": ("复制", "Copy"),
    "delete": ("删除", "Delete"),
    "sign_in": ("登录", "Sign-in"),
}
OUTCOME_LABELS: dict[str, tuple[str, str]] = {
    "ok": ("成功", "Done"),
    "denied": ("拒绝 (无权)", "Denied"),
    "conflict": ("冲突", "Conflict"),
    "invalid": ("未通过校验", "Invalid"),
}

# The register's columns (planner.core.register: PARK_COLUMNS, ALLOCATION_COLUMNS).
PARK_LABELS: dict[str, tuple[str, str]] = _schema.PARKS.labels()  # the schema's (one place)
ALLOCATION_LABELS: dict[str, tuple[str, str]] = _schema.ALLOCATIONS.labels()  # the schema's (one place)
# Further fields a problem or a table may name (quotas, geometry, accounts, import columns).
OTHER_FIELD_LABELS: dict[str, tuple[str, str]] = {
    "quota_m2": ("指标(m²)", "Quota (m²)"),
    "geometry": ("几何形状", "Geometry"),
    "account": ("账户", "Account"),
    "park_name": ("园区名称", "Park name"),
    "lon": ("经度", "Longitude"),
    "lat": ("纬度", "Latitude"),
    "wkt": ("几何 (WKT)", "Geometry (WKT)"),
    "crs": ("坐标系", "Coordinate system"),
    "severity": ("级别", "Severity"),
    "code": ("类别", "Kind"),
    "item": ("对象", "Item"),
    "message": ("说明", "Message"),
}
FIELD_LABELS: dict[str, tuple[str, str]] = {**PARK_LABELS, **ALLOCATION_LABELS, **OTHER_FIELD_LABELS}

LABELS: dict[str, Mapping[str, tuple[str, str]]] = {
    "status": STATUS_LABELS,
    "basis": BASIS_LABELS,
    "severity": SEVERITY_LABELS,
    "finding": FINDING_LABELS,
    "role": ROLE_LABELS,
    "action": ACTION_LABELS,
    "outcome": OUTCOME_LABELS,
    "field": FIELD_LABELS,
}
# Kinds a plan names itself (plan.toml), as Plan attributes.
PLAN_KINDS = ("roles", "specialisations", "fields", "park_types", "namepark_levels")


def t(lang: str, zh: str, en: str) -> str:
    """Chinese or English, as the language says ("zh" unless "en")."""
    return en if lang == "en" else zh


def translator(lang: str) -> Callable[[str, str], str]:
    """``t(zh, en)`` for one language: the one translator every page uses.

    >>> translator("en")("目标", "Target")
    'Target'
    """

    def tr(zh: str, en: str) -> str:
        return t(lang, zh, en)

    return tr


def is_missing(value: Any) -> bool:
    """None, NaN/NA or an empty string: shown as ``MISSING``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is not missing
        return False


def label(kind: str, key: Any, lang: str = "zh") -> str:
    """The label of a code of ``kind`` (a key of ``LABELS``); ``MISSING`` for no value; a code
    with no label is shown as it is (``tests/test_i18n.py`` keeps every known code labelled)."""
    if is_missing(key):
        return MISSING
    pair = LABELS[kind].get(str(key))
    return str(key) if pair is None else t(lang, *pair)


def labels(kind: str, values: Iterable[Any], lang: str = "zh") -> pd.Series:
    """:func:`label` over a column (one dictionary lookup, not a call per distinct code).

    >>> list(labels("status", ["planned", None], "en"))
    ['Planned', '—']
    """
    s = pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values.astype(object)
    table = {k: t(lang, *v) for k, v in LABELS[kind].items()}
    out = s.map(lambda v: MISSING if is_missing(v) else table.get(str(v), str(v)))
    return out.astype(object)


def options(kind: str, lang: str = "zh") -> dict[str, str]:
    """Code -> label for a widget's ``format_func`` (``options("status", lang).get``)."""
    return {k: t(lang, *v) for k, v in LABELS[kind].items()}


def field_label(field: Any, lang: str = "zh") -> str:
    """A field's name as a user reads it (``new_gfa_m2`` -> 新增建筑面积(m²)); a field that is not
    one of the planner's columns (an import file's own header) is shown as the file has it."""
    return label("field", field, lang)


def column_labels(columns: Iterable[str], lang: str = "zh") -> dict[str, str]:
    """Column -> label for the columns that have one (for ``rename`` or ``column_config``)."""
    return {c: t(lang, *FIELD_LABELS[c]) for c in columns if c in FIELD_LABELS}


_PLACE_WORDS = (
    (re.compile(r"\brow (\d+)"), "第 {} 行"),
    (re.compile(r"\bfeature (\d+)"), "第 {} 个要素"),
    (re.compile(r"\bpark (\S+)"), "园区 {}"),
    (re.compile(r"\ballocation (\S+)"), "分配 {}"),
    (re.compile(r"\bquota (\S+)"), "指标 {}"),
)


def _formatter(template: str) -> Callable[[re.Match[str]], str]:
    """A ``re.sub`` replacement putting the match's first group into ``template``."""
    return lambda m: template.format(m.group(1))


def place_label(place: Any, lang: str = "zh") -> str:
    """Where a problem is, in the user's language: 'parks.csv row 3' -> 'parks.csv 第 3 行'."""
    if is_missing(place):
        return MISSING
    text = str(place)
    if lang == "en":
        return text
    for pattern, zh in _PLACE_WORDS:
        text = pattern.sub(_formatter(zh), text)
    return text


def plan_label(plan: Plan, kind: str, keys: Any, lang: str = "zh", sep: str = "、") -> str:
    """The plan's own label for one key, or for several joined by ``;`` ('fintech;ecommerce'),
    of a kind in ``PLAN_KINDS``; ``MISSING`` for none."""
    if kind not in PLAN_KINDS:
        raise KeyError(f"unknown plan label kind {kind!r}; use one of {PLAN_KINDS}")
    if is_missing(keys):
        return MISSING
    parts = [k.strip() for k in str(keys).split(";") if k.strip()]
    return sep.join(plan.label(kind, k, lang) for k in parts) or MISSING


def plan_options(plan: Plan, kind: str, lang: str = "zh") -> dict[str, str]:
    """Key -> the plan's label, for a widget's options and ``format_func``."""
    return {item.key: t(lang, item.label_zh, item.label_en) for item in getattr(plan, kind)}


# Leaflet.draw's toolbar and tooltips in Chinese (the structure of its L.drawLocal; English is
# Leaflet.draw's own). planner.app.mapview merges it into L.drawLocal before the tools are built.
LEAFLET_DRAW_ZH: dict[str, Any] = {
    "draw": {
        "toolbar": {
            "actions": {"title": "取消绘制", "text": "取消"},
            "finish": {"title": "完成绘制", "text": "完成"},
            "undo": {"title": "删除最后一个点", "text": "删除最后一点"},
            "buttons": {"polygon": "绘制园区范围 (多边形)", "rectangle": "绘制园区范围 (矩形)"},
        },
        "handlers": {
            "polygon": {
                "tooltip": {
                    "start": "单击开始绘制园区范围。",
                    "cont": "单击继续绘制。",
                    "end": "单击第一个点闭合图形。",
                }
            },
            "polyline": {
                "error": "<strong>错误:</strong> 边界不能自相交!",
                "tooltip": {
                    "start": "单击开始绘制。",
                    "cont": "单击继续绘制。",
                    "end": "单击最后一个点完成。",
                },
            },
            "rectangle": {"tooltip": {"start": "按住并拖动鼠标绘制矩形。"}},
            "simpleshape": {"tooltip": {"end": "松开鼠标完成绘制。"}},
        },
    },
    "edit": {
        "toolbar": {
            "actions": {
                "save": {"title": "保存修改", "text": "保存"},
                "cancel": {"title": "取消编辑, 放弃全部修改", "text": "取消"},
                "clearAll": {"title": "清除全部绘制", "text": "全部清除"},
            },
            "buttons": {
                "edit": "编辑图形",
                "editDisabled": "没有可编辑的图形",
                "remove": "删除绘制的图形",
                "removeDisabled": "没有可删除的图形",
            },
        },
        "handlers": {
            "edit": {"tooltip": {"text": "拖动控制点编辑图形。", "subtext": "点击取消可撤销修改。"}},
            "remove": {"tooltip": {"text": "单击图形将其删除。"}},
        },
    },
}
