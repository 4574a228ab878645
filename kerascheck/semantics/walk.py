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
from typing import (
    Any,
    Callable,
    Dict,
    Iterator,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Type,
    Union,
)

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


class _PerType(dict):
    """A fact about a node type, computed on first use: per-type facts never change, and
    looking one up must cost no more than a dict lookup (it is done for every node)."""

    def __init__(self, compute: Callable[[type], Any]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, kind: type) -> Any:
        value = self[kind] = self._compute(kind)
        return value


def _source_order_fields(node_type: type) -> Tuple[str, ...]:
    ordered = _SOURCE_ORDER.get(node_type)
    if ordered is None:
        ordered = tuple(
            f.name
            for f in dataclasses.fields(node_type)
            if f.name not in _TRIVIA_FIELDS and not f.name.startswith("whitespace")
        )
    return ordered


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

# The fields that may hold code, last first (a stack takes the last pushed first).
_FIELDS_LAST_FIRST: Dict[type, Tuple[str, ...]] = _PerType(
    lambda kind: _source_order_fields(kind)[::-1]
)
# isinstance() against libcst's abstract base classes is slow: whether a type is code is
# answered once per type.
_IS_CODE: Dict[type, bool] = _PerType(
    lambda kind: issubclass(kind, cst.CSTNode) and not issubclass(kind, _TOKENS)
)


def _push_code(node: cst.CSTNode, fields: Tuple[str, ...], push: Callable[[Any], None]) -> None:
    """Push the code held in ``fields`` of ``node`` (given last first), last first."""
    is_code = _IS_CODE
    for name in fields:
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in reversed(value):
                if is_code[type(item)]:
                    push(item)
        elif is_code[kind]:
            push(value)


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


def children(node: cst.CSTNode) -> List[cst.CSTNode]:
    """The direct children of ``node`` that are code, in source order."""
    found: List[cst.CSTNode] = []
    push_children(node, found.append)
    found.reverse()
    return found


def push_children(node: cst.CSTNode, push: Callable[[cst.CSTNode], None]) -> None:
    """Push the direct children of ``node`` that are code, last first: popped off a stack
    they come in source order (a walk with no generator or list per node)."""
    _push_code(node, _FIELDS_LAST_FIRST[type(node)], push)


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``node`` and every node below it that is code, in source (pre-)order."""
    stack = [node]
    pop, push, fields = stack.pop, stack.append, _FIELDS_LAST_FIRST
    while stack:
        current = pop()
        yield current
        _push_code(current, fields[type(current)], push)


def parents(root: cst.CSTNode) -> Tuple[List[cst.CSTNode], Dict[int, cst.CSTNode]]:
    """Every node below ``root`` that is code, in source (pre-)order, and the parent of
    each (by ``id`` of the node: a libcst node's own hash is a Python call)."""
    order: List[cst.CSTNode] = []
    parent_of: Dict[int, cst.CSTNode] = {}
    stack = [root]
    pop, push, add = stack.pop, stack.append, order.append
    fields_of, is_code = _FIELDS_LAST_FIRST, _IS_CODE
    while stack:
        current = pop()
        add(current)
        # _push_code's loop, written out to note each parent as its child is pushed: a
        # call per node, or a second pass over the children, costs half as much again.
        for name in fields_of[type(current)]:
            value = getattr(current, name)
            kind = type(value)
            if kind is tuple or kind is list:
                for item in reversed(value):
                    if is_code[type(item)]:
                        push(item)
                        parent_of[id(item)] = current
            elif is_code[kind]:
                push(value)
                parent_of[id(value)] = current
    del order[0]
    return order, parent_of


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


_DISPATCH: Dict[type, _Dispatch] = _PerType(_Dispatch)


# A callback of one of the visitors of a traversal: the function (the method of the
# visitor's class) and the position of the visitor among the visitors.
_Callback = Tuple[Callback, int]
# After a node's children: the callbacks to call, and the node to call them with.
_Pending = Tuple[Tuple[_Callback, ...], cst.CSTNode]


class _Plan(NamedTuple):
    """For the classes of a set of visitors and one node type: what to do with a node."""

    enter: Tuple[_Callback, ...]
    leave: Tuple[_Callback, ...]
    fields: Tuple[str, ...]  # to descend into, last first
    # Per field some visitor has ``visit_<Type>_<field>``/``leave_...`` callbacks for:
    # those to call before its children and those to call after them.
    around_fields: Dict[str, Tuple[Tuple[_Callback, ...], Tuple[_Callback, ...]]]


def _plan(visitor_types: Tuple[type, ...], statements_only: bool, kind: type) -> _Plan:
    dispatches = [_DISPATCH[visitor_type] for visitor_type in visitor_types]
    type_name = kind.__name__
    enter = []
    leave = []
    for index, dispatch in enumerate(dispatches):
        visit_function = dispatch.visit_function(type_name)
        if dispatch.custom_on_visit:
            enter.append((dispatch.visitor_type.on_visit, index))
        elif visit_function is not None:
            enter.append((visit_function, index))
        leave_function = dispatch.leave_function(type_name)
        if dispatch.custom_on_leave:
            leave.append((dispatch.visitor_type.on_leave, index))
        elif leave_function is not None:
            leave.append((leave_function, index))
    if statements_only:
        fields = _STATEMENT_FIELDS.get(kind, ())[::-1]
    else:
        fields = _FIELDS_LAST_FIRST[kind]
    around_fields = {}
    for name in fields:
        before = _attribute_callbacks(dispatches, f"visit_{type_name}_{name}")
        after = _attribute_callbacks(dispatches, f"leave_{type_name}_{name}")
        if before or after:
            around_fields[name] = (before, after)
    return _Plan(tuple(enter), tuple(leave), fields, around_fields)


def _attribute_callbacks(dispatches: List[_Dispatch], method: str) -> Tuple[_Callback, ...]:
    return tuple(
        (getattr(dispatch.visitor_type, method), index)
        for index, dispatch in enumerate(dispatches)
        if method in dispatch.attribute_callbacks
    )


# Per set of visitor classes (and statements_only), the plans of the node types met so far.
_PLANS: Dict[Tuple[Tuple[type, ...], bool], Dict[type, _Plan]] = {}


def _plans_for(visitors: Sequence[object], statements_only: bool) -> Dict[type, _Plan]:
    visitor_types = tuple(type(visitor) for visitor in visitors)
    key = (visitor_types, statements_only)
    plans = _PLANS.get(key)
    if plans is None:
        plans = _PLANS[key] = _PerType(lambda kind: _plan(visitor_types, statements_only, kind))
    return plans


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
    plans = _plans_for(visitors, statements_only)
    # Nodes to enter, and (callbacks, node) pairs to call once the nodes pushed before
    # them are done: a node's leave callbacks, a field's attribute callbacks.
    stack: List[Union[cst.CSTNode, _Pending]] = [node]
    pop, push = stack.pop, stack.append
    while stack:
        current = pop()
        if type(current) is tuple:
            callbacks, target = current
            for function, index in callbacks:
                function(visitors[index], target)
            continue
        enter, leave, fields, around_fields = plans[type(current)]
        descend = True
        for function, index in enter:
            if function(visitors[index], current) is False and honour_skip:
                descend = False
        # Most node types have no leave callback: no need to come back to them.
        if leave:
            push((leave, current))
        if not descend:
            continue
        if not around_fields:
            _push_code(current, fields, push)
            continue
        for name in fields:
            around = around_fields.get(name)
            if around is not None:
                push((around[1], current))
            _push_code(current, (name,), push)
            if around is not None:
                push((around[0], current))
