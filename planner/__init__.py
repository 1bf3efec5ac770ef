"""Shenzhen Park Planner: plan industrial parks and clusters on real geodata.

The public API, re-exported from the topic modules::

    from planner import load_plan, load_register, capacity_report, run_checks
"""

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
