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

from planner.changes import RegisterChanges, register_changes
from planner.editing import park_districts
from planner.errors import AccessDenied, Problem
from planner.plan import Plan
from planner.register import Register

ROLES = ("planner", "district", "viewer")
ROLE_LABELS = {
    "planner": ("市级规划人员", "City planner"),
    "district": ("区级工作人员", "District staff"),
    "viewer": ("只读用户", "Viewer"),
}


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

    def can_edit_district(self, district_code: str) -> bool:
        """Whether this user may change this district's parks and allocations."""
        return self.role == "planner" or (self.role == "district" and self.district_code == district_code)

    def label(self, lang: str = "zh") -> str:
        """'name (角色 district)' for display."""
        zh, en = ROLE_LABELS[self.role]
        role = zh if lang == "zh" else en
        where = f" {self.district_code}" if self.district_code else ""
        return f"{self.display_name or self.name} ({role}{where})"


# The system itself (seeding a new store, migrations): not a person, allowed everything.
SYSTEM = User("system", "planner", display_name="系统 system")


def _district_of(register: Register, plan: Plan) -> pd.Series:
    return park_districts(register, plan)


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

    own = user.district_code
    old_d = _district_of(before, plan)
    new_d = _district_of(after, plan)
    for pid in changes.parks.touched:
        places = {old_d.get(pid), new_d.get(pid)} - {None}
        if places != {own}:
            where = "/".join(sorted(str(p) or "—" for p in places))
            problems.append(
                Problem(
                    f"park {pid}",
                    "district_code",
                    f"园区 {pid} 位于 {where}, 不属于本区 {own}, 无权修改",
                    f"park {pid} lies in {where}, not in your district {own}: not yours to change",
                )
            )
    alloc_park = pd.concat(
        [
            before.allocations.set_index("allocation_id")["park_id"],
            after.allocations.set_index("allocation_id")["park_id"],
        ]
    )
    for aid in changes.allocations.touched:
        parks = set(alloc_park.loc[[aid]].astype(str)) if aid in alloc_park.index else set()
        places = {d for p in parks for d in (old_d.get(p), new_d.get(p)) if d is not None}
        if places != {own}:
            where = "/".join(sorted(str(p) or "—" for p in places)) or "—"
            problems.append(
                Problem(
                    f"allocation {aid}",
                    "park_id",
                    f"分配 {aid} 属于 {where} 的园区, 不属于本区 {own}, 无权修改",
                    f"allocation {aid} belongs to a park in {where}, not your district {own}",
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
