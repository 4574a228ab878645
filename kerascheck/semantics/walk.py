"""A fast, read-only traversal of libcst trees.

libcst's own ``node.visit(visitor)`` rebuilds every node it passes (it is written for
transformers) and visits every whitespace, comma and parenthesis token: on real files a
traversal costs about as much as the parse. kerascheck never changes a tree while
visiting, so it walks the dataclass fields instead, in source order, skipping pure syntax
tokens. The callbacks are libcst's (``visit_Call`` returning False skips the children,
``leave_Call``, attribute callbacks ``visit_For_body``/``leave_For_body``, or an
overridden ``on_visit``/``on_leave``), so any ``cst.CSTVisitor`` runs unchanged with
:func:`visit`, and rules run together in one pass with :func:`visit_batched`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Type

import libcst as cst

# Fields that only hold tokens and whitespace: nothing any analysis looks at.
_TRIVIA_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "leading_lines",
        "lines_after_decorators",
        "trailing_whitespace",
        "header",
        "footer",
        "semicolon",
        "comma",
        "colon",
        "equal",
        "dot",
        "operator",
        "relative",
        "asynchronous",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "newline",
        "posonly_ind",
        "star_tok",
        "await_",
    }
)

# Where the dataclass field order differs from the source order, the source order.
_SOURCE_ORDER: Dict[Type[cst.CSTNode], Tuple[str, ...]] = {
    cst.FunctionDef: ("decorators", "name", "params", "returns", "body"),
    cst.ClassDef: ("decorators", "name", "bases", "keywords", "body"),
    cst.IfExp: ("body", "test", "orelse"),
    cst.Arg: ("keyword", "value"),
    cst.ExceptHandler: ("type", "name", "body"),
    cst.Parameters: ("posonly_params", "params", "star_arg", "kwonly_params", "star_kwarg"),
}

_FIELDS: Dict[type, Tuple[str, ...]] = {}


def _child_fields(node_type: Type[cst.CSTNode]) -> Tuple[str, ...]:
    fields = _FIELDS.get(node_type)
    if fields is None:
        ordered = _SOURCE_ORDER.get(node_type)
        if ordered is None:
            ordered = tuple(
                f.name
                for f in dataclasses.fields(node_type)
                if f.name not in _TRIVIA_FIELDS and not f.name.startswith("whitespace")
            )
        fields = _FIELDS[node_type] = ordered
    return fields


def _field_children(node: cst.CSTNode, name: str) -> List[cst.CSTNode]:
    value = getattr(node, name, None)
    kind = type(value)
    if kind is tuple or kind is list:
        return [v for v in value if _is_code(type(v))]
    return [value] if _is_code(kind) else []


_TOKENS = (
    cst.BaseParenthesizableWhitespace,
    cst.Comment,
    cst.EmptyLine,
    cst.Newline,
    cst.TrailingWhitespace,
    cst.Comma,
    cst.Dot,
    cst.LeftParen,
    cst.RightParen,
    cst.LeftSquareBracket,
    cst.RightSquareBracket,
    cst.LeftCurlyBrace,
    cst.RightCurlyBrace,
    cst.Colon,
    cst.Semicolon,
    cst.AssignEqual,
)

# isinstance() against libcst's abstract base classes is slow; the answer per concrete
# type never changes, so it is computed once per type.
_CODE_TYPES: Dict[type, bool] = {}


def _is_code(kind: type) -> bool:
    known = _CODE_TYPES.get(kind)
    if known is None:
        known = _CODE_TYPES[kind] = issubclass(kind, cst.CSTNode) and not issubclass(kind, _TOKENS)
    return known


# Where statements live: walking only these fields visits every statement of a module
# (at any depth, in functions and classes too) without entering a single expression.
_STATEMENT_FIELDS: Dict[type, Tuple[str, ...]] = {
    cst.Module: ("body",),
    cst.IndentedBlock: ("body",),
    cst.SimpleStatementSuite: ("body",),
    cst.SimpleStatementLine: ("body",),
    cst.FunctionDef: ("body",),
    cst.ClassDef: ("body",),
    cst.If: ("body", "orelse"),
    cst.Else: ("body",),
    cst.For: ("body", "orelse"),
    cst.While: ("body", "orelse"),
    cst.With: ("body",),
    cst.Try: ("body", "handlers", "orelse", "finalbody"),
    cst.TryStar: ("body", "handlers", "orelse", "finalbody"),
    cst.ExceptHandler: ("body",),
    cst.ExceptStarHandler: ("body",),
    cst.Finally: ("body",),
    cst.Match: ("cases",),
    cst.MatchCase: ("body",),
}


def statement_children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The statements (and statement blocks) directly inside ``node``."""
    for name in _STATEMENT_FIELDS.get(type(node), ()):
        yield from _field_children(node, name)


def children(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """The direct children of ``node`` that are code, in source order."""
    for name in _child_fields(type(node)):
        yield from _field_children(node, name)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it that is code, in source (pre-)order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))


# ---- visitors ---------------------------------------------------------------------------

Callback = Callable[[cst.CSTNode], Optional[bool]]


class _Dispatch:
    """Per visitor class: which callbacks exist, looked up once."""

    def __init__(self, visitor_type: type) -> None:
        plain = issubclass(visitor_type, cst.CSTVisitor)
        self.custom_on_visit = plain and visitor_type.on_visit is not cst.CSTVisitor.on_visit
        self.custom_on_leave = plain and visitor_type.on_leave is not cst.CSTVisitor.on_leave
        self.visitor_type = visitor_type
        # ``visit_For_body``-style callbacks, written by this visitor (not libcst's stubs).
        self.attribute_callbacks = frozenset(
            n
            for n in dir(visitor_type)
            if n.count("_") >= 2
            and (n.startswith("visit_") or n.startswith("leave_"))
            and n[6:7].isupper()
            and self._callback(n) is not None
        )
        self.has_attribute_callbacks = bool(self.attribute_callbacks)

    def visit_function(self, type_name: str) -> Optional[Callback]:
        return self._callback("visit_" + type_name)

    def leave_function(self, type_name: str) -> Optional[Callback]:
        return self._callback("leave_" + type_name)

    def _callback(self, name: str) -> Optional[Callback]:
        function = getattr(self.visitor_type, name, None)
        # libcst's visitor base classes define a do-nothing method for every node type;
        # calling those for every node of every file would be most of the traversal's cost.
        if function is None or function is getattr(cst.CSTVisitor, name, None):
            return None
        return function


_DISPATCH: Dict[type, _Dispatch] = {}


def _dispatch_for(visitor: object) -> _Dispatch:
    kind = type(visitor)
    dispatch = _DISPATCH.get(kind)
    if dispatch is None:
        dispatch = _DISPATCH[kind] = _Dispatch(kind)
    return dispatch


class _Callbacks:
    """For a set of visitors: per node type, the (visitor, callback) pairs to call."""

    def __init__(self, visitors: Sequence[object]) -> None:
        self.table = [(v, _dispatch_for(v)) for v in visitors]
        self._enter: Dict[type, list] = {}
        self._leave: Dict[type, list] = {}
        self._fields: Dict[type, frozenset] = {}

    def fields_with_callbacks(self, kind: type) -> frozenset:
        """The fields of ``kind`` some visitor has ``visit_<Type>_<field>`` callbacks for."""
        found = self._fields.get(kind)
        if found is None:
            prefixes = (f"visit_{kind.__name__}_", f"leave_{kind.__name__}_")
            found = self._fields[kind] = frozenset(
                name[len(prefixes[0]) :]
                for _, dispatch in self.table
                for name in dispatch.attribute_callbacks
                if name.startswith(prefixes)
            )
        return found

    def enter(self, kind: type) -> list:
        found = self._enter.get(kind)
        if found is None:
            found = self._enter[kind] = [
                (visitor, visitor.on_visit if dispatch.custom_on_visit else None, dispatch.visit_function(kind.__name__))
                for visitor, dispatch in self.table
                if dispatch.custom_on_visit or dispatch.visit_function(kind.__name__) is not None
            ]
        return found

    def leave(self, kind: type) -> list:
        found = self._leave.get(kind)
        if found is None:
            found = self._leave[kind] = [
                (visitor, visitor.on_leave if dispatch.custom_on_leave else None, dispatch.leave_function(kind.__name__))
                for visitor, dispatch in self.table
                if dispatch.custom_on_leave or dispatch.leave_function(kind.__name__) is not None
            ]
        return found


_ENTER, _LEAVE, _ENTER_FIELD, _LEAVE_FIELD = 0, 1, 2, 3


def visit(node: cst.CSTNode, visitor: cst.CSTVisitor, *, statements_only: bool = False) -> None:
    """Run a libcst visitor over ``node`` (read-only), as ``node.visit(visitor)`` would;
    with ``statements_only``, over its statements alone (no expression is entered)."""
    visit_batched(node, [visitor], honour_skip=True, statements_only=statements_only)


def visit_batched(
    node: cst.CSTNode,
    visitors: Sequence[object],
    honour_skip: bool = False,
    statements_only: bool = False,
) -> None:
    """Run several visitors in one traversal. As with libcst's batched visitors, a visit
    callback returning False only skips the children when ``honour_skip`` (one visitor)."""
    callbacks = _Callbacks(visitors)
    fields_of = (lambda kind: _STATEMENT_FIELDS.get(kind, ())) if statements_only else _child_fields
    stack: List[tuple] = [(_ENTER, node)]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        entry = pop()
        kind, current = entry[0], entry[1]
        node_type = type(current)
        if kind == _ENTER:
            descend = True
            for visitor, on_visit, function in callbacks.enter(node_type):
                result = on_visit(current) if on_visit is not None else function(visitor, current)
                if result is False and honour_skip:
                    descend = False
            # Most node types have no leave callback: no need to come back to them.
            if callbacks.leave(node_type):
                push((_LEAVE, current))
            if not descend:
                continue
            marked = callbacks.fields_with_callbacks(node_type)
            for name in reversed(fields_of(node_type)):
                with_fields = name in marked
                if with_fields:
                    push((_LEAVE_FIELD, current, name))
                value = getattr(current, name, None)
                value_type = type(value)
                if value_type is tuple or value_type is list:
                    extend([(_ENTER, v) for v in reversed(value) if _is_code(type(v))])
                elif _is_code(value_type):
                    push((_ENTER, value))
                if with_fields:
                    push((_ENTER_FIELD, current, name))
        elif kind == _LEAVE:
            for visitor, on_leave, function in callbacks.leave(node_type):
                if on_leave is not None:
                    on_leave(current)
                else:
                    function(visitor, current)
        else:
            prefix = "visit_" if kind == _ENTER_FIELD else "leave_"
            method = f"{prefix}{type(current).__name__}_{entry[2]}"
            for visitor, dispatch in callbacks.table:
                if method in dispatch.attribute_callbacks:
                    getattr(visitor, method)(current)
