"""The plan's other targets (value added, employees, firms, R&D institutions, name parks) and the
actual values a city planner records for them.

A recorded value is one row: the indicator (a target key of ``plan.toml``), the year, the district
(blank for the whole city), the value in the target's unit, its source and its confidence
(``confirmed`` / ``estimate`` / ``unconfirmed``). The store keeps every recording (append-only,
who and when); the latest recording of an (indicator, year, district) wins. Only ``confirmed``
values are official: an unconfirmed one is shown apart and never decides whether a target was met.
Name-park counts come from the register, not from recordings.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import numpy as np
import pandas as pd

from planner.core.plan import Plan, Target
from planner.core.register import Register
from planner.errors import Problem, ValidationError

CONFIDENCE = {
    "confirmed": ("已核实 (官方)", "confirmed (official)"),
    "estimate": ("估算", "estimate"),
    "unconfirmed": ("未核实", "unconfirmed"),
}
INDICATOR_COLUMNS = ["indicator", "year", "district_code", "value", "source", "confidence", "note"]
STORED_INDICATOR_COLUMNS = [*INDICATOR_COLUMNS, "recorded_by", "recorded_at"]
INDICATOR_LABELS = {
    "indicator": ("指标", "Indicator"),
    "year": ("年份", "Year"),
    "district_code": ("区代码 (空 = 全市)", "District code (blank = city)"),
    "value": ("数值", "Value"),
    "source": ("来源", "Source"),
    "confidence": ("可信度", "Confidence"),
    "note": ("备注", "Note"),
}
NAMEPARKS = "name_parks"
COMPARE = {
    ">=": np.greater_equal,
    ">": np.greater,
    "=": np.equal,
    "<=": np.less_equal,
    "<": np.less,
}


def indicator_targets(plan: Plan) -> list[Target]:
    """The plan's targets an actual value is recorded for (its baselines, ``=``, left out)."""
    return [t for t in plan.targets if t.comparison != "="]


def empty_indicators() -> pd.DataFrame:
    """An empty table of stored recordings."""
    return conform_indicators(pd.DataFrame(columns=STORED_INDICATOR_COLUMNS))


def conform_indicators(frame: pd.DataFrame) -> pd.DataFrame:
    """The stored columns and dtypes (text blank rather than missing)."""
    out = frame.reindex(columns=STORED_INDICATOR_COLUMNS).copy()
    for c in ("indicator", "district_code", "source", "confidence", "note", "recorded_by", "recorded_at"):
        out[c] = out[c].astype(object).where(out[c].notna(), "").astype(str).str.strip()
    out["year"] = pd.to_numeric(out["year"], errors="coerce").astype("Int64")
    out["value"] = pd.to_numeric(out["value"], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def validate_indicators(raw: pd.DataFrame, plan: Plan, *, place: str = "indicators") -> list[Problem]:
    """Every problem of recorded values, each naming its row (1 = first data row) and field."""
    problems: list[Problem] = []
    missing = [c for c in ("indicator", "year", "value", "source", "confidence") if c not in raw.columns]
    if missing:
        return [
            Problem(
                place,
                c,
                "缺少必填列; 列为 " + ", ".join(INDICATOR_COLUMNS),
                "required column missing; columns are " + ", ".join(INDICATOR_COLUMNS),
            )
            for c in missing
        ]
    keys = {t.key for t in indicator_targets(plan)}
    codes = set(plan.district_codes())
    text = raw.astype(object).where(raw.notna(), "").astype(str).apply(lambda s: s.str.strip())
    year = pd.to_numeric(text["year"], errors="coerce")
    value = pd.to_numeric(text["value"], errors="coerce")
    district = text["district_code"] if "district_code" in text else pd.Series("", index=text.index)
    district = district.str.replace(r"\.0$", "", regex=True)
    checks = [
        (
            "indicator",
            ~text["indicator"].isin(keys),
            "未知指标; 可用: " + ", ".join(sorted(keys)),
            "unknown indicator; use one of " + ", ".join(sorted(keys)),
        ),
        (
            "year",
            year.isna() | (year % 1 != 0) | (year < 1979) | (year > 2100),
            "年份应为 1979-2100 的整数",
            "year must be a whole year 1979-2100",
        ),
        ("value", value.isna(), "数值不是数字", "value is not a number"),
        ("value", value < 0, "数值不能为负", "value must not be negative"),
        ("source", text["source"] == "", "必须注明来源", "a source must be named"),
        (
            "confidence",
            ~text["confidence"].isin(list(CONFIDENCE)),
            "可信度应为 " + " / ".join(CONFIDENCE),
            "confidence must be one of " + ", ".join(CONFIDENCE),
        ),
        (
            "district_code",
            (district != "") & ~district.isin(codes),
            "未知区代码; 全市请留空",
            "unknown district code; leave blank for the whole city",
        ),
    ]
    for field, bad, zh, en in checks:
        for i in np.flatnonzero(bad.fillna(False).to_numpy()):
            shown = text[field].iloc[i] if field in text else ""
            problems.append(
                Problem(f"{place} 第 {i + 1} 行 row {i + 1}", field, f"{zh}: {shown!r}", f"{en}: {shown!r}")
            )
    return sorted(problems, key=lambda p: (int(p.place.rsplit(" ", 1)[-1]), p.field))


def read_indicator_csv(data: bytes | str | Path, plan: Plan, *, name: str = "indicators.csv") -> pd.DataFrame:
    """Read a CSV of recorded values (UTF-8, with or without BOM; columns ``INDICATOR_COLUMNS``);
    :class:`ValidationError` naming every bad row and field, so nothing of a bad file is stored."""
    raw_bytes = Path(data).read_bytes() if isinstance(data, str | Path) else data
    try:
        raw = pd.read_csv(io.BytesIO(raw_bytes), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ValidationError(
            [
                Problem(
                    name,
                    "",
                    f"无法读取 CSV (应为 UTF-8): {exc}",
                    f"cannot read the CSV (UTF-8 expected): {exc}",
                )
            ],
            what=name,
        ) from None
    problems = validate_indicators(raw, plan, place=name)
    if problems:
        raise ValidationError(problems, what=name)
    return conform_indicators(raw.assign(recorded_by="", recorded_at=""))[INDICATOR_COLUMNS]


def current_values(stored: pd.DataFrame) -> pd.DataFrame:
    """The latest recording of each (indicator, year, district), in stored order."""
    s = conform_indicators(stored)
    return s.drop_duplicates(["indicator", "year", "district_code"], keep="last").reset_index(drop=True)


def _city_values(current: pd.DataFrame) -> pd.DataFrame:
    """One value an (indicator, year, confidence class): the city row, else the sum of the district rows."""
    city = current[current["district_code"] == ""]
    districts = current[current["district_code"] != ""]
    summed = (
        districts.groupby(["indicator", "year"], as_index=False)
        .agg(
            value=("value", "sum"),
            source=("source", lambda s: "; ".join(sorted(set(s)))),
            confidence=("confidence", lambda s: "confirmed" if (s == "confirmed").all() else "unconfirmed"),
        )
        .assign(note="各区合计 sum of districts")
    )
    summed = summed[
        ~summed.set_index(["indicator", "year"]).index.isin(city.set_index(["indicator", "year"]).index)
    ]
    return pd.concat([city[summed.columns.intersection(city.columns)], summed], ignore_index=True)


def target_status(
    plan: Plan, stored: pd.DataFrame, register: Register, as_of: dt.date | None = None
) -> pd.DataFrame:
    """Every target of the plan with its latest value, source, confidence, whether it is confirmed
    and whether it was met by its year (``met``: True / False, None while the year is open or no
    confirmed value exists). ``official_value`` holds confirmed values only; an unconfirmed latest
    value is in ``unconfirmed_value``. The name-park row counts the register's parks by level."""
    as_of = as_of or dt.date.today()
    cur = _city_values(current_values(stored))
    rows = []
    for t in indicator_targets(plan):
        mine = cur[cur["indicator"] == t.key].sort_values("year")
        official = mine[mine["confidence"] == "confirmed"]
        latest = mine.iloc[-1] if len(mine) else None
        due = t.year or plan.deadline_year
        at_due = official[official["year"] == due]
        met = None
        if len(at_due):
            met = bool(COMPARE[t.comparison](float(at_due["value"].iloc[-1]), t.value))
        last_official = official.iloc[-1] if len(official) else None
        rows.append(
            {
                "key": t.key,
                "label_zh": t.label_zh,
                "label_en": t.label_en,
                "comparison": t.comparison,
                "target": t.value,
                "unit": t.unit,
                "year": due,
                "target_source": f"{plan.sources.get(t.source, {}).get('title_zh', t.source)} {t.section}",
                "latest_year": None if latest is None else int(latest["year"]),
                "official_value": None if last_official is None else float(last_official["value"]),
                "official_year": None if last_official is None else int(last_official["year"]),
                "unconfirmed_value": (
                    None if latest is None or latest["confidence"] == "confirmed" else float(latest["value"])
                ),
                "source": "" if latest is None else str(latest["source"]),
                "confidence": "" if latest is None else str(latest["confidence"]),
                "confirmed": latest is not None and latest["confidence"] == "confirmed",
                "met": met,
                "year_open": as_of <= dt.date(due, 12, 31),
            }
        )
    levels = [lv for lv in plan.namepark_levels if lv.key != "unknown"]
    counts = register.parks["namepark_level"].value_counts()
    rows.append(
        {
            "key": NAMEPARKS,
            "label_zh": "软件名园 (国家级/省级/市级)",
            "label_en": "Software name parks (national / provincial / municipal)",
            "comparison": "",
            "target": None,
            "unit": "个",
            "year": plan.deadline_year,
            "target_source": "打造一批 (未量化) / 'a batch' (no number set)",
            "latest_year": None,
            "official_value": float(sum(int(counts.get(lv.key, 0)) for lv in levels)),
            "official_year": None,
            "unconfirmed_value": None,
            "source": "园区登记册 park register: "
            + ", ".join(f"{lv.label_zh} {int(counts.get(lv.key, 0))}" for lv in levels),
            "confidence": "register",
            "confirmed": True,
            "met": None,
            "year_open": as_of <= plan.deadline,
        }
    )
    return pd.DataFrame(rows)


def met_text(row: dict, lang: str = "zh") -> str:
    """'达成' / '未达成' / '进行中' / '无核实数据' / '未量化' for a row of :func:`target_status`."""
    if row["key"] == NAMEPARKS:
        return "目标未量化" if lang == "zh" else "no number set"
    if row["met"] is True:
        return "达成" if lang == "zh" else "met"
    if row["met"] is False:
        return "未达成" if lang == "zh" else "not met"
    if row["year_open"]:
        return "进行中" if lang == "zh" else "in progress"
    return "无核实数据, 不作判定" if lang == "zh" else "no confirmed value: not assessed"
