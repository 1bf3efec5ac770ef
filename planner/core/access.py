"""Who may change what: city planner, district staff, viewer.

The rule lives here and is applied in the library's write paths (``session.commit_register``,
the store's ``save``), not only by hiding buttons in pages:

- city planner (``planner``): everything, targets and quotas included;
- district staff (``district``): parks and allocations of their own district only, a park judged
  by where it lies both before and after the change; no quotas;
- viewer (``viewer``): read only.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from planner.core.assign import assign_districts
from planner.core.changes import RegisterChanges, register_changes
from planner.core.plan import Plan
from planner.core.register import Register
from planner.errors import AccessDenied, Problem
from planner.i18n import ROLE_LABELS

ROLES = ("planner", "district", "viewer")


@dataclass(frozen=True)
class User:
    """A signed-in person: account name, role, and for district staff their district code."""

    name: str
    role: str
    district_code: str | None = None
    display_name: str = ""

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"unknown role {self.role!r}; roles are {', '.join(ROLES)}")
        if self.role == "district" and not self.district_code:
            raise ValueError(f"district staff {self.name!r} needs a district code")

    @property
    def can_write(self) -> bool:
        """Whether this user may change anything at all."""
        return self.role != "viewer"

    @property
    def can_set_quotas(self) -> bool:
        """Whether this user may set district quotas (and targets): city planners only."""
        return self.role == "planner"

    def can_edit_district(self, district_code: str) -> bool:
        """Whether this user may change this district's parks and allocations."""
        return self.role == "planner" or (self.role == "district" and self.district_code == district_code)

    def editable_districts(self, plan: Plan) -> list[str]:
        """The plan's district codes this user may change, in the plan's order."""
        return [c for c in plan.district_codes() if self.can_edit_district(c)]

    def label(self, lang: str = "zh") -> str:
        """'name (角色 district)' for display."""
        zh, en = ROLE_LABELS[self.role]
        role = zh if lang == "zh" else en
        where = f" {self.district_code}" if self.district_code else ""
        return f"{self.display_name or self.name} ({role}{where})"


# The system itself (seeding a new store, migrations): not a person, allowed everything.
SYSTEM = User("system", "planner", display_name="系统 system")
# Whoever has not signed in: may read everything, change nothing.
ANONYMOUS = User("anonymous", "viewer", display_name="未登录 not signed in")


def _district_of(register: Register, plan: Plan, ids: pd.Index) -> pd.Series:
    """Where each of the parks ``ids`` lies, for deciding whose it is: the district its geometry
    lies in ('' when outside every district, so a park moved out of the city is nobody's but the
    planner's); the declared district only for a park without a geometry. Indexed by park id.

    Only these parks are located (a one-park edit of 100,000 parks joins one park, not all)."""
    parks = register.parks[register.parks["id"].isin(ids)]
    where = assign_districts(parks, plan)
    codes = where["geo_district_code"].where(where["located"], where["effective_district_code"])
    return pd.Series(codes.to_numpy(), index=parks["id"].to_numpy(), name="district_code")


def _where(codes: set, plan: Plan) -> tuple[str, str]:
    """'南山区' / 'Nanshan' for a set of district codes ('区界外' / 'outside every district' for none):
    a person reads the district's name, never its code."""
    known = set(plan.district_codes())
    zh, en = [], []
    for code in sorted(str(c) for c in codes):
        if code in known:
            d = plan.district(code)
            zh.append(d.name_zh)
            en.append(d.name_en)
        else:
            zh.append("区界外")
            en.append("outside every district")
    return "、".join(zh) or "区界外", ", ".join(en) or "outside every district"


def check_change(
    user: User, before: Register, after: Register, plan: Plan, *, changes: RegisterChanges | None = None
) -> RegisterChanges:
    """Raise AccessDenied naming every park, allocation or quota the user may not change;
    return the changes when allowed."""
    changes = changes if changes is not None else register_changes(before, after)
    if not changes or user.role == "planner":
        return changes
    problems: list[Problem] = []
    who = user.label("en")
    if user.role == "viewer":
        problems.append(
            Problem("register", "", "只读用户不能修改数据", f"{who} is read-only and cannot change anything")
        )
        raise AccessDenied(problems, user=user)

    own = str(user.district_code)
    own_zh, own_en = _where({own}, plan)
    alloc_park = pd.concat(
        [
            before.allocations.set_index("allocation_id")["park_id"],
            after.allocations.set_index("allocation_id")["park_id"],
        ]
    )
    touched_allocs = alloc_park[alloc_park.index.isin(changes.allocations.touched)]
    ids = pd.Index(changes.parks.touched).union(pd.Index(touched_allocs.astype(str).unique()))
    old_d = _district_of(before, plan, ids)
    new_d = _district_of(after, plan, ids)
    for pid in changes.parks.touched:
        places = {old_d.get(pid), new_d.get(pid)} - {None}
        if places != {own}:
            zh, en = _where(places, plan)
            problems.append(
                Problem(
                    f"park {pid}",
                    "district_code",
                    f"园区 {pid} 位于 {zh}, 不属于本区 ({own_zh}), 无权修改",
                    f"park {pid} lies in {en}, not in your district ({own_en}): not yours to change",
                )
            )
    for aid in changes.allocations.touched:
        parks = set(alloc_park.loc[[aid]].astype(str)) if aid in alloc_park.index else set()
        places = {d for p in parks for d in (old_d.get(p), new_d.get(p)) if d is not None}
        if places != {own}:
            zh, en = _where(places, plan)
            problems.append(
                Problem(
                    f"allocation {aid}",
                    "park_id",
                    f"分配 {aid} 属于 {zh} 的园区, 不属于本区 ({own_zh}), 无权修改",
                    f"allocation {aid} belongs to a park in {en}, not your district ({own_en})",
                )
            )
    for code in changes.quotas.touched:
        problems.append(
            Problem(
                f"quota {code}",
                "quota_m2",
                "只有市级规划人员可以设定配额",
                "only a city planner may set quotas",
            )
        )
    if problems:
        raise AccessDenied(problems, user=user)
    return changes


def check_planner_only(user: User, what_zh: str, what_en: str, *, place: str = "") -> None:
    """Raise AccessDenied unless the user is a city planner (recording the other targets' actual
    values, starting a successor plan)."""
    if user.role != "planner":
        raise AccessDenied(
            [
                Problem(
                    place or what_en,
                    "",
                    f"只有市级规划人员可以{what_zh}",
                    f"only a city planner may {what_en} ({user.label('en')})",
                )
            ],
            user=user,
        )
