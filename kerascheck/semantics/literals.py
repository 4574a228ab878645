"""Reading literal values out of the syntax tree (shared by the semantic facts)."""

from __future__ import annotations

from typing import Optional

import libcst as cst


def integer_value(expr: Optional[cst.BaseExpression]) -> Optional[int]:
    """The value of an integer literal, signed or not (``1``, ``-1``, ``+2``), else None."""
    sign = 1
    if isinstance(expr, cst.UnaryOperation) and isinstance(expr.operator, (cst.Minus, cst.Plus)):
        sign = -1 if isinstance(expr.operator, cst.Minus) else 1
        expr = expr.expression
    if isinstance(expr, cst.Integer):
        return sign * int(expr.evaluated_value)
    return None
