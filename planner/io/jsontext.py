"""JSON as the standard defines it: no ``NaN`` or ``Infinity`` tokens in anything the planner writes.

A missing number (NaN) is written as ``null``; an infinite one cannot be written and raises
:class:`planner.errors.PlannerError` naming where it is (the register's rules refuse infinite
numbers on the way in, so this guards data stored before they did).
"""

from __future__ import annotations

import json
import math
from typing import IO, Any

import numpy as np

from planner.errors import PlannerError


def plain(obj: Any, where: str = "$") -> Any:
    """``obj`` with NaN (float or numpy) replaced by None, checked for infinite numbers."""
    if isinstance(obj, dict):
        return {k: plain(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, float | np.floating):
        if math.isnan(obj):
            return None
        if math.isinf(obj):
            raise PlannerError(
                f"{where} 的数值为无穷大, 不能写成 JSON; 请改正该数据 / {where} is infinite and cannot be "
                "written as JSON: correct that figure in the register"
            )
    return obj


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` with ``allow_nan=False`` after :func:`plain`."""
    return json.dumps(plain(obj), allow_nan=False, **kwargs)


def dump(obj: Any, fp: IO[str], **kwargs: Any) -> None:
    """``json.dump`` with ``allow_nan=False`` after :func:`plain`."""
    json.dump(plain(obj), fp, allow_nan=False, **kwargs)
