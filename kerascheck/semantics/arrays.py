"""Numpy array facts: which calls allocate a new array, which code writes into an existing
array in place, and which expressions share an array's memory (views).

Purely syntactic, through the import table: ``np.zeros``, ``numpy.zeros`` and
``from numpy import zeros`` are one function, and a ``zeros`` of another library is none
of them. Where numpy's behaviour depends on a value the text does not show (an index that
may be an integer or an index array), the answer is "cannot tell" (None).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional, Sequence

import libcst as cst

from .imports import ImportTable, dotted_name
from .literals import integer_value

ALLOCATORS = frozenset(
    {
        "numpy.zeros",
        "numpy.empty",
        "numpy.ones",
        "numpy.full",
        "numpy.zeros_like",
        "numpy.empty_like",
        "numpy.ones_like",
        "numpy.full_like",
        "numpy.ndarray",
    }
)

# Functions that write into the array given as their first argument.
_WRITES_FIRST_ARGUMENT = frozenset(
    {
        "numpy.copyto",
        "numpy.put",
        "numpy.place",
        "numpy.putmask",
        "numpy.fill_diagonal",
        "numpy.random.shuffle",
        "random.shuffle",
    }
)

# ndarray methods that change the array they are called on.
_IN_PLACE_METHODS = frozenset({"fill", "sort", "partition", "put", "itemset"})

# Functions that return the very array they are given when given nothing else.
_IDENTITY_FUNCTIONS = frozenset({"numpy.asarray", "numpy.asanyarray"})

# Attributes that are views of the whole array (so writing through them writes the array).
_WHOLE_ARRAY_VIEWS = frozenset({"T", "flat"})


@dataclass(frozen=True)
class Allocation:
    """A call that creates a new array: ``function`` is its canonical name
    (``numpy.zeros``), ``ndim`` the new array's number of axes when the shape is literal."""

    function: str
    ndim: Optional[int]


@dataclass(frozen=True)
class ArrayRef:
    """An expression that is the array known as ``root``, or a view sharing its memory;
    ``ndim`` is the expression's own number of axes when it is known."""

    root: str
    ndim: Optional[int]


class ArrayFacts:
    def __init__(self, imports: ImportTable) -> None:
        self.imports = imports

    def allocation(self, expr: cst.BaseExpression) -> Optional[Allocation]:
        """The allocation ``expr`` is (``np.zeros((n, 2))``, ``np.empty_like(a)``), or None."""
        if not isinstance(expr, cst.Call):
            return None
        function = self.imports.qualified_name(expr.func)
        if function not in ALLOCATORS:
            return None
        # ``*_like`` copies the shape of an array the text does not describe.
        ndim = None if function.endswith("_like") else _shape_rank(expr)
        return Allocation(function, ndim)

    def written_arrays(self, node: cst.CSTNode) -> List[cst.BaseExpression]:
        """The arrays ``node`` (an assignment or a call) writes into in place, as the code
        names them: the base of an item or slice assignment (``x`` in ``x[i][0] = v``, on
        the premise that chained indexing on the left of ``=`` is basic indexing, as code
        filling a buffer writes it), the target of an augmented assignment, ``out=`` of a
        numpy function, the first argument of ``np.copyto``-like functions and ufunc
        ``.at``, the receiver of ``fill``/``sort``-like methods."""
        if isinstance(node, cst.Assign):
            return [
                base for target in node.targets for base in _item_assignment_bases(target.target)
            ]
        if isinstance(node, cst.AnnAssign) and node.value is not None:
            return _item_assignment_bases(node.target)
        if isinstance(node, cst.AugAssign):
            # ``x += v`` on an ndarray writes into ``x`` rather than binding a new array.
            return [_strip_views(node.target)]
        if isinstance(node, cst.Call):
            return self._written_by_call(node)
        return []

    def view_root(
        self, expr: cst.BaseExpression, known: Mapping[str, ArrayRef]
    ) -> Optional[ArrayRef]:
        """Which of the ``known`` arrays (by dotted name: ``x``, ``self.x``) ``expr`` is or
        shares memory with: the array itself, basic indexing of it (``x[:n]``, ``x[0]``
        when that leaves an axis, ``x[..., None]``), ``x.T``, ``x.view()``,
        ``np.asarray(x)``, ``np.expand_dims(x, k)``. None for a new array (``x.copy()``,
        ``x + 1``, ``np.array(x)``) and whenever it cannot be told (``x[idx]``)."""
        name = dotted_name(expr)
        if name is not None and name in known:
            return known[name]
        if isinstance(expr, cst.Subscript):
            base = self.view_root(expr.value, known)
            return self._indexed(base, expr.slice) if base is not None else None
        if isinstance(expr, cst.Attribute) and expr.attr.value == "T":
            return self.view_root(expr.value, known)
        if isinstance(expr, cst.Call):
            return self._call_view(expr, known)
        return None

    # ---- internals -----------------------------------------------------------------

    def _written_by_call(self, call: cst.Call) -> List[cst.BaseExpression]:
        function = self.imports.qualified_name(call.func)
        written: List[cst.BaseExpression] = []
        if function is not None and function.startswith("numpy."):
            for arg in call.args:
                if arg.keyword is not None and arg.keyword.value == "out":
                    written.extend(_strip_views(out) for out in _elements(arg.value))
            first = _positional(call.args, 0)
            writes_first = function in _WRITES_FIRST_ARGUMENT or function.endswith(".at")
            if writes_first and first is not None:
                written.append(_strip_views(first))
        elif function in _WRITES_FIRST_ARGUMENT:
            first = _positional(call.args, 0)
            if first is not None:
                written.append(_strip_views(first))
        elif (
            function is None
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value in _IN_PLACE_METHODS
        ):
            written.append(_strip_views(call.func.value))
        return written

    def _call_view(self, call: cst.Call, known: Mapping[str, ArrayRef]) -> Optional[ArrayRef]:
        function = self.imports.qualified_name(call.func)
        first = _positional(call.args, 0)
        if function in _IDENTITY_FUNCTIONS and first is not None and len(call.args) == 1:
            return self.view_root(first, known)
        if function == "numpy.expand_dims" and first is not None:
            base = self.view_root(first, known)
            if base is None:
                return None
            axis = _positional(call.args, 1) or _keyword(call.args, "axis")
            grows_by_one = axis is not None and integer_value(axis) is not None
            ndim = base.ndim + 1 if base.ndim is not None and grows_by_one else None
            return ArrayRef(base.root, ndim)
        if (
            function is None
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "view"
        ):
            return self.view_root(call.func.value, known)
        return None

    def _indexed(
        self, base: ArrayRef, elements: Sequence[cst.SubscriptElement]
    ) -> Optional[ArrayRef]:
        """``base[elements]`` when that is a view (basic indexing that leaves an array)."""
        integers = new_axes = 0
        keeps_array = False  # a slice or an Ellipsis: the result is an array at any rank
        for element in elements:
            index = element.slice
            if isinstance(index, cst.Slice):
                keeps_array = True
            elif index.star is not None:
                return None
            elif integer_value(index.value) is not None:
                integers += 1
            elif self._is_new_axis(index.value):
                new_axes += 1
            elif isinstance(index.value, cst.Ellipsis):
                keeps_array = True
            else:
                # An index held in a name may be an integer (a view) or an index array
                # (a copy): cannot tell.
                return None
        if base.ndim is None:
            return ArrayRef(base.root, None) if keeps_array or new_axes else None
        ndim = base.ndim - integers + new_axes
        if integers > base.ndim or (ndim == 0 and not keeps_array):
            return None  # an IndexError, or a scalar that shares nothing
        return ArrayRef(base.root, ndim)

    def _is_new_axis(self, expr: cst.BaseExpression) -> bool:
        if isinstance(expr, cst.Name) and expr.value == "None":
            return True
        return self.imports.qualified_name(expr) == "numpy.newaxis"


def _shape_rank(call: cst.Call) -> Optional[int]:
    shape = _positional(call.args, 0) or _keyword(call.args, "shape")
    if isinstance(shape, (cst.Tuple, cst.List)):
        if any(isinstance(element, cst.StarredElement) for element in shape.elements):
            return None
        return len(shape.elements)
    if isinstance(shape, cst.Integer):
        return 1
    return None


def _item_assignment_bases(target: cst.BaseExpression) -> List[cst.BaseExpression]:
    if isinstance(target, cst.Subscript):
        return [_strip_views(target)]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [
            base for element in target.elements for base in _item_assignment_bases(element.value)
        ]
    return []


def _strip_views(expr: cst.BaseExpression) -> cst.BaseExpression:
    """``x`` for ``x[i][0]``, ``x.T[0]``, ``x.flat[i]``: the array written through them."""
    while True:
        if isinstance(expr, cst.Subscript):
            expr = expr.value
        elif isinstance(expr, cst.Attribute) and expr.attr.value in _WHOLE_ARRAY_VIEWS:
            expr = expr.value
        else:
            return expr


def _elements(expr: cst.BaseExpression) -> List[cst.BaseExpression]:
    """The arrays of ``out=(a, b)`` or the one of ``out=a``."""
    if isinstance(expr, (cst.Tuple, cst.List)):
        return [element.value for element in expr.elements if isinstance(element, cst.Element)]
    return [expr]


def _positional(args: Sequence[cst.Arg], index: int) -> Optional[cst.BaseExpression]:
    positional = [arg for arg in args if arg.keyword is None]
    if any(arg.star for arg in positional[: index + 1]):
        return None  # ``f(*args)``: which value lands where is not in the text
    return positional[index].value if index < len(positional) else None


def _keyword(args: Sequence[cst.Arg], name: str) -> Optional[cst.BaseExpression]:
    for arg in args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    return None
