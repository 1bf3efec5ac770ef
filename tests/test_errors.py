"""One problem model (code, severity, place, field, zh, en) for validation, import issues and findings."""

from __future__ import annotations

import pandas as pd
import pytest

from planner.core.findings import Finding, run_checks
from planner.core.register import validate_allocations
from planner.errors import SEVERITIES, Problem, ValidationError
from planner.io.ingest import ImportRefused, confirm_import, preview_import

PROBLEM_KEYS = ["code", "severity", "place", "field", "message_zh", "message_en"]


def test_import_issues_are_problems_with_their_json_keys(plan, seed_register, tmp_path):
    path = tmp_path / "parks.csv"
    pd.DataFrame({"名称": ["南山园"], "经度": ["abc"], "纬度": [22.54], "占地面积": ["-3"]}).to_csv(path)
    preview = preview_import(path, None, plan, seed_register)
    assert not preview.ok
    issue = next(i for i in preview.problems if i.code == "bad_coordinate")
    assert isinstance(issue, Problem) and issue.severity == "error" and issue.field == "经度"
    assert all(isinstance(w, Problem) and w.severity == "warning" for w in preview.warnings)
    assert list(issue.to_dict()) == PROBLEM_KEYS
    assert list(preview.to_dict()["problems"][0]) == PROBLEM_KEYS
    with pytest.raises(ImportRefused) as err:
        confirm_import(preview, seed_register, plan)
    assert err.value.problems == err.value.issues == preview.problems  # codes kept


def test_findings_are_problems_keyed_by_id(plan, seed_register):
    findings = run_checks(plan, seed_register)
    assert findings and all(isinstance(f, Finding) and isinstance(f, Problem) for f in findings)
    assert {f.severity for f in findings} <= set(SEVERITIES)
    gap = next(f for f in findings if f.code == "TARGET_GAP")
    assert gap.id == gap.place == plan.id
    assert list(gap.to_dict()) == ["severity", "id", "code", "message", "message_zh", "message_en"]


def test_validation_problems_carry_a_code(plan, seed_register):
    allocations = seed_register.allocations.copy()
    allocations.loc[0, "area_m2"] = -5.0
    problems = validate_allocations(allocations, seed_register.parks, plan)
    (bad,) = problems
    assert (bad.code, bad.severity, bad.field) == ("not_positive", "error", "area_m2")
    assert bad.place.startswith("allocations row 1")
    assert "-5" in bad.message_en and "面积" in bad.message_zh
    assert list(bad.to_dict()) == PROBLEM_KEYS
    assert "allocations row 1" in str(ValidationError(problems))
