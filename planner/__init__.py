"""Shenzhen Park Planner: plan industrial parks and clusters on real geodata.

The public API, re-exported from the topic modules::

    from planner import load_plan, load_register, capacity_report, run_checks

Each name is imported from its module when first used (PEP 562), so ``import planner`` (and the
command line, ``python -m planner``) loads only the modules a run needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from planner.core.capacity import CapacityReport, capacity_report
    from planner.core.findings import Finding, findings_frame, run_checks
    from planner.core.plan import Plan, available_plans, load_plan
    from planner.core.register import Register, load_register
    from planner.errors import (
        AccessDenied,
        NotFound,
        PlanError,
        PlannerError,
        Problem,
        StoreUnavailable,
        ValidationError,
    )
    from planner.io.ingest import ImportPreview, ImportRefused, confirm_import, preview_import

_EXPORTS = {
    "AccessDenied": "planner.errors",
    "CapacityReport": "planner.core.capacity",
    "Finding": "planner.core.findings",
    "ImportPreview": "planner.io.ingest",
    "ImportRefused": "planner.io.ingest",
    "NotFound": "planner.errors",
    "Plan": "planner.core.plan",
    "PlanError": "planner.errors",
    "PlannerError": "planner.errors",
    "Problem": "planner.errors",
    "Register": "planner.core.register",
    "StoreUnavailable": "planner.errors",
    "ValidationError": "planner.errors",
    "available_plans": "planner.core.plan",
    "capacity_report": "planner.core.capacity",
    "confirm_import": "planner.io.ingest",
    "findings_frame": "planner.core.findings",
    "load_plan": "planner.core.plan",
    "load_register": "planner.core.register",
    "preview_import": "planner.io.ingest",
    "run_checks": "planner.core.findings",
}

__all__ = [
    "AccessDenied",
    "CapacityReport",
    "Finding",
    "ImportPreview",
    "ImportRefused",
    "NotFound",
    "Plan",
    "PlanError",
    "PlannerError",
    "Problem",
    "Register",
    "StoreUnavailable",
    "ValidationError",
    "available_plans",
    "capacity_report",
    "confirm_import",
    "findings_frame",
    "load_plan",
    "load_register",
    "preview_import",
    "run_checks",
]


def __getattr__(name: str) -> Any:
    """A public name, imported from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'planner' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # found directly from now on
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
