"""The next plan: a successor plan folder started from the current plan.

The folder gets a new ``plan.toml`` (id, title, period, deadline; the targets the planner enters,
each marked draft until a source is named), the predecessor's districts, roles, specialisations,
functional areas, fields, name-park levels, park types and plot ratios, its ``districts.geojson``
and the register (parks, allocations, quotas) as it stands. Nothing is recounted by hand: an
allocation counts toward the plan whose period contains its delivery year, so space delivering in
2026-2030 appears in the successor's figures and not in the predecessor's.

``[plan] predecessor`` names the plan it follows; the store accepts the successor on the
predecessor's store (both plans read the same register).
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planner.core.plan import DISTRICTS_FILE, PLAN_FILE, Plan, Target
from planner.errors import InputError

DRAFT_SOURCE = "draft"
# Everything of the predecessor's plan.toml carries over (roles, specialisations, districts, fields,
# land-use classes, plot ratios, ...) except what the successor sets anew.
NOT_CARRIED = ("plan", "targets", "new_space_target", "quota_milestones")
_PERIOD = re.compile(r"^(\d{4})-(\d{4})$")


@dataclass(frozen=True)
class TargetInput:
    """A target the planner enters for the successor: key, value, and optionally its source section."""

    key: str
    value: float
    section: str = ""


def parse_period(text: str) -> tuple[int, int]:
    """'2026-2030' -> (2026, 2030); InputError naming the fix otherwise."""
    m = _PERIOD.match(text.strip())
    if not m or int(m.group(1)) > int(m.group(2)):
        raise InputError(
            f"规划期应写作 起始年-截止年, 如 2026-2030 / the period is written START-END, e.g. 2026-2030: {text!r}"
        )
    return int(m.group(1)), int(m.group(2))


def parse_target(text: str) -> TargetInput:
    """'new_space=2000000' or 'value_added=6000@二(一)' -> TargetInput; InputError otherwise."""
    key, sep, rest = text.partition("=")
    value, _, section = rest.partition("@")
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not sep or not key.strip() or number < 0:
        raise InputError(
            f"目标应写作 键=数值[@章节], 如 new_space=2000000 / a target is written KEY=VALUE[@SECTION], "
            f"e.g. new_space=2000000: {text!r}"
        )
    return TargetInput(key.strip(), number, section.strip())


def is_draft(plan: Plan, target: Target) -> bool:
    """Whether a target is still a draft (no source named)."""
    return target.source == DRAFT_SOURCE


def successor_toml(
    plan: Plan,
    *,
    period: tuple[int, int],
    plan_id: str,
    title_zh: str,
    title_en: str = "",
    targets: list[TargetInput],
    source_title: str = "",
) -> dict[str, Any]:
    """The successor's plan.toml content as a dict. A target whose key the predecessor knows keeps
    its labels, unit and comparison; ``new_space`` becomes the new-space target. Targets cite
    ``source_title`` (a new source ``successor``) when given, else the ``draft`` source."""
    start, end = period
    raw = plan.raw
    head = dict(raw["plan"])
    head.update(
        id=plan_id,
        title_zh=title_zh,
        title_en=title_en or title_zh,
        period_start=start,
        deadline=f"{end}-12-31",
        predecessor=plan.id,
        predecessor_period=f"{plan.period_start}-{plan.deadline_year}",
    )
    for k in ("layout_source",):
        head.pop(k, None)
    out: dict[str, Any] = {"plan": head}
    out.update({k: v for k, v in raw.items() if k not in NOT_CARRIED})
    sources = dict(out.get("sources", {}))
    if source_title:
        sources["successor"] = {"title_zh": source_title, "publisher": "", "file": ""}
    else:
        sources[DRAFT_SOURCE] = {
            "title_zh": "草案: 尚未指明来源 (规划人员录入)",
            "publisher": "draft: no source named yet (entered by a planner)",
            "file": "",
        }
    out["sources"] = sources
    source = "successor" if source_title else DRAFT_SOURCE
    known = {t.key: t for t in plan.targets}
    if plan.new_space is not None:
        known[plan.new_space.key] = plan.new_space
    tlist = []
    for t in targets:
        base = known.get(t.key)
        entry = {
            "key": t.key,
            "label_zh": base.label_zh if base else t.key,
            "label_en": base.label_en if base else t.key,
            "value": t.value,
            "unit": base.unit if base else "",
            "comparison": base.comparison if base else ">=",
            "year": end,
            "source": source,
            "section": t.section,
            "draft": not source_title,
        }
        if plan.new_space is not None and t.key == plan.new_space.key:
            entry.pop("year")
            entry["deadline"] = f"{end}-12-31"
            out["new_space_target"] = entry
        else:
            tlist.append(entry)
    out["targets"] = tlist
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return json.dumps(str(v), ensure_ascii=False)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A small TOML writer for plan files (tables, arrays of tables, scalars, lists of scalars)."""
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_table_list(v)}
    for k, v in scalars.items():
        lines.append(f"{k} = {_toml_value(v)}")
    for k, v in data.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            lines.append(f"\n[{name}]")
            lines.append(to_toml(v, f"{name}.").strip("\n"))
        elif _is_table_list(v):
            for item in v:
                lines.append(f"\n[[{name}]]")
                lines.append(to_toml(item, f"{name}.").strip("\n"))
    return "\n".join(x for x in lines if x != "") + "\n"


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def write_successor(plan: Plan, register_files: dict[str, bytes], out: Path, content: dict[str, Any]) -> Path:
    """Write the successor folder: plan.toml, the predecessor's districts.geojson and the register
    files. Refuses (InputError) a folder that already holds a plan, so nothing is overwritten."""
    out = Path(out)
    if (out / PLAN_FILE).exists():
        raise InputError(
            f"{out} 已有规划文件, 未覆盖; 请另选文件夹 / {out} already holds a plan: nothing was overwritten; "
            "choose another folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    header = (
        f"# 后续规划, 自 {plan.id} 起草 / successor plan started from {plan.id}.\n"
        f'# 目标在注明来源前为草案 (source = "{DRAFT_SOURCE}", draft = true) / targets are drafts until a source is named.\n\n'
    )
    (out / PLAN_FILE).write_text(header + to_toml(content), encoding="utf-8")
    shutil.copyfile(plan.folder / DISTRICTS_FILE, out / DISTRICTS_FILE)
    for name, data in register_files.items():
        (out / name).write_bytes(data)
    return out


def successor_folder(name: str) -> Path:
    """The folder of a new successor plan named ``name`` in the planners' plans directory
    (``settings.plans_dir()``, ``$PLANNER_PLANS_DIR``, default ``data/plans/``), where the app's plan
    choice and ``--plan NAME`` find it. InputError for an empty name, one with a path in it, or the
    name of a plan already known (nothing is overwritten or hidden)."""
    from planner.core import plan as plan_module
    from planner.settings import plans_dir

    clean = str(name).strip()
    if not clean or Path(clean).name != clean or clean in (".", ".."):
        raise InputError(
            f"文件夹名应为一个名称 (不含路径), 如 shenzhen-2026-2030 / the folder name is one name without a "
            f"path, e.g. shenzhen-2026-2030: {name!r}"
        )
    if clean in plan_module.plan_folders():
        raise InputError(
            f"已有名为 {clean} 的规划, 未覆盖; 请另取文件夹名 / a plan named {clean!r} already exists: nothing "
            "was overwritten; choose another folder name"
        )
    return plans_dir() / clean


def _periods_under_geodata() -> dict[str, tuple[str, int, int]]:
    """id -> (predecessor id, start, end) of every plan folder known by name (bundled under
    geodata/ and the planners' own under ``settings.plans_dir()``; read lightly)."""
    import tomllib

    from planner.core import plan as plan_module

    out = {}
    for folder in plan_module.plan_folders().values():
        path = folder / PLAN_FILE
        try:
            head = tomllib.loads(path.read_text(encoding="utf-8")).get("plan", {})
            out[str(head["id"])] = (
                str(head.get("predecessor", "")),
                int(head["period_start"]),
                int(str(head["deadline"])[:4]),
            )
        except (OSError, ValueError, KeyError, tomllib.TOMLDecodeError):
            continue  # a broken plan folder is reported when it is loaded, not here
    return out


def lineage_ids(plan: Plan) -> set[str]:
    """The ids of this plan, the plans it follows and the known plans (bundled or the planners'
    own) that follow it."""
    known = _periods_under_geodata()
    ids = {plan.id}
    pred = str(plan.raw.get("plan", {}).get("predecessor", ""))
    while pred and pred not in ids:
        ids.add(pred)
        pred = known.get(pred, ("", 0, 0))[0]
    grew = True
    while grew:
        new = {k for k, (p, _, _) in known.items() if p in ids and k not in ids}
        ids |= new
        grew = bool(new)
    return ids


def register_years(plan: Plan) -> list[int]:
    """The delivery years an allocation may have: the plan's own period, its predecessor's
    (``[plan] predecessor_period``, carried-over allocations) and those of the bundled plans of
    its lineage (a successor under geodata/ or ``settings.plans_dir()``), so one register serves
    both plans."""
    years = set(plan.years)
    head = plan.raw.get("plan", {})
    if head.get("predecessor_period"):
        start, end = parse_period(str(head["predecessor_period"]))
        years |= set(range(start, end + 1))
    known = _periods_under_geodata()
    for pid in lineage_ids(plan) - {plan.id}:
        if pid in known:
            years |= set(range(known[pid][1], known[pid][2] + 1))
    return sorted(years)
