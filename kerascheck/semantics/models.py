"""Which Keras model object a name holds at each point of the program.

A Keras model is a mutable object: ``b = a`` gives one model a second name, and rules
about training (aliases trained twice, stateful layers, output heads) need to know which
object a name holds where it is used, not which values it ever held.

The module is interpreted once per file, abstractly: every scope's statements in order,
with ``if``/``try``/``match`` branches merged and loops run once with the names they
assign marked as "may also hold something unknown". Model objects are abstracted by
creation site (one :class:`ModelValue` per ``Sequential(...)`` call, per builder call...).
Function parameters take the values every call site in the module passes, and calls of
local builder functions take what the builder returns; since these depend on each other,
the interpretation is repeated until nothing changes (two or three rounds in practice).

Followed: models made by ``Sequential``/``Model``/``load_model``/``clone_model`` in any
Keras spelling, ``copy.copy``/``copy.deepcopy`` of a model, local ``keras.Model``
subclasses, and local functions that create and return one (or return a parameter or a
global model); plain and tuple assignments, walrus, parameters, globals and closures
(seen with every value the outer scope binds); ``m.add(layer)`` on a known model.

Not followed (the name is then unknown): attributes and containers (``self.model``,
``models[0]``), methods and decorated or passed-around functions, ``global``/
``nonlocal`` rebinding (such names are never definite), names bound by ``match``
patterns, other modules, and rebinding after a lambda is written (its body is read
with the values of that point). Nothing is imported or executed; queries about what
cannot be followed answer ``None``/``()``, so rules stay silent.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, TypeVar, Union

import libcst as cst

from .imports import ImportTable

T = TypeVar("T")


@dataclass(eq=False)
class ModelValue:
    """One model object (all objects one creation site makes, when it runs repeatedly).

    ``kind`` is ``"sequential"``, ``"functional"``, ``"subclass"``, ``"loaded"``,
    ``"clone"`` (``clone_model``, ``copy.deepcopy``/``copy.copy`` of a model) or
    ``"builder"`` (a call of a local function returning a model it creates: ``built`` is
    that model). ``layer_calls`` are the layer constructor calls that make up the model
    when they are statically known, in order, else empty. ``enclosing`` are the loops
    and functions around the creation, outermost first: the object is fresh per run of
    each of them.
    """

    creation: cst.Call
    kind: str
    layer_calls: Tuple[cst.Call, ...] = ()
    built: Optional["ModelValue"] = None
    source: Optional["ModelValue"] = None
    enclosing: Tuple[cst.CSTNode, ...] = ()

    def created_inside(self, node: cst.CSTNode) -> bool:
        """Whether each run of ``node`` (a loop or function) creates a fresh object."""
        return any(outer is node for outer in self.enclosing)


@dataclass(frozen=True)
class CallSite:
    """A direct call of a local function, with the loops and functions around it."""

    call: cst.Call
    enclosing: Tuple[cst.CSTNode, ...]


# Nodes whose body runs repeatedly: the ``enclosing`` chains list them with functions.
LOOP_NODES = (cst.For, cst.While, cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)

_CREATION_KINDS = {
    "Sequential": "sequential",
    "Model": "functional",
    "Functional": "functional",
    "load_model": "loaded",
    "clone_model": "clone",
}
_CREATION_PACKAGES = ("", "models", "saving")


class _Opaque:
    """Anything but a model object the analysis follows."""

    def __repr__(self) -> str:
        return "OPAQUE"


OPAQUE = _Opaque()
Value = Union[ModelValue, _Opaque]
Values = Tuple[Value, ...]
OPAQUE_VALUES: Values = (OPAQUE,)


def _unique(items: Iterable[T]) -> Tuple[T, ...]:
    """Items without repeats (by identity), in first-seen order."""
    seen: Set[int] = set()
    out = []
    for item in items:
        if id(item) not in seen:
            seen.add(id(item))
            out.append(item)
    return tuple(out)


@dataclass(frozen=True)
class _Binding:
    """What a name may hold: values, the statements that bound it, the bound expressions."""

    values: Values
    origins: Tuple[cst.CSTNode, ...] = ()
    exprs: Tuple[cst.BaseExpression, ...] = ()

    def union(self, other: "_Binding") -> "_Binding":
        if other is self:
            return self
        return _Binding(
            _unique(self.values + other.values),
            _unique(self.origins + other.origins),
            _unique(self.exprs + other.exprs),
        )


UNBOUND = _Binding(OPAQUE_VALUES)


def _opaque_from(origin: cst.CSTNode) -> _Binding:
    return _Binding(OPAQUE_VALUES, (origin,))


@dataclass(frozen=True)
class _Fresh:
    """A builder's return: a model the function creates anew on each call."""

    value: ModelValue


@dataclass(frozen=True)
class _ParamRef:
    """A function's return: whatever object the caller passed as this parameter."""

    name: str


_ReturnItem = Union[_Fresh, _ParamRef, ModelValue, _Opaque]

# --------------------------------------------------------------------------------------
# Structure: scopes, the names each binds, and the local functions and Model subclasses.
# Found from statements alone, once per file.

ScopeNode = Union[cst.Module, cst.FunctionDef, cst.ClassDef]


@dataclass(eq=False)
class _Scope:
    node: ScopeNode
    parent: Optional["_Scope"]
    # The loops and functions around the scope's body.
    chain: Tuple[cst.CSTNode, ...]
    local_names: Set[str] = field(default_factory=set)
    declared_global: Set[str] = field(default_factory=set)
    declared_nonlocal: Set[str] = field(default_factory=set)
    # Names that inner functions rebind with ``global``/``nonlocal``: never definite here.
    rebound_inside: Set[str] = field(default_factory=set)
    binding_counts: Dict[str, int] = field(default_factory=dict)
    # The first ``def``/``class`` statement of each name.
    definitions: Dict[str, Union[cst.FunctionDef, cst.ClassDef]] = field(default_factory=dict)
    # Per round: the union of every binding made in the scope (what closures see).
    bindings: Dict[str, _Binding] = field(default_factory=dict)
    # What ``_Structure.resolve`` answered for reads of each name in the scope.
    resolved: Dict[str, Optional[Union[cst.FunctionDef, cst.ClassDef]]] = field(
        default_factory=dict
    )
    # Read for every name looked up: isinstance() on libcst's classes is slow.
    is_module: bool = field(init=False)

    def __post_init__(self) -> None:
        self.is_module = isinstance(self.node, cst.Module)


class _Structure:
    """What statements alone tell: the scopes in definition order (parents first), the
    names bound anywhere inside each compound statement (to merge branches and loops),
    which ``def``/``class`` a name refers to, and the local Keras model subclasses."""

    def __init__(self, module: cst.Module, imports: ImportTable) -> None:
        self.scopes: List[_Scope] = []
        self.block_names: Dict[int, FrozenSet[str]] = {}
        self._open_blocks: Dict[int, Set[str]] = {}
        module_scope = _Scope(module, None, ())
        self.scopes.append(module_scope)
        self._statements(module.body, module_scope, (), ())
        self._resolve_outer_declarations()
        # Functions a bare name can refer to (not methods): each bound once in its scope.
        self.functions: Dict[int, cst.FunctionDef] = {}
        for scope in self.scopes:
            if isinstance(scope.node, cst.ClassDef):
                continue
            for name, node in scope.definitions.items():
                if isinstance(node, cst.FunctionDef) and self._unique_in(name, scope):
                    self.functions[id(node)] = node
        self.model_classes = self._model_classes(imports)

    def resolve(self, name: str, scope: _Scope) -> Optional[Union[cst.FunctionDef, cst.ClassDef]]:
        """The ``def``/``class`` a read of ``name`` in ``scope`` refers to, when the scope
        that binds the name binds it only there. (Asked once the structure is complete.)"""
        if name in scope.resolved:
            return scope.resolved[name]
        found = scope.resolved[name] = self._resolve(name, scope)
        return found

    def _resolve(self, name: str, scope: _Scope) -> Optional[Union[cst.FunctionDef, cst.ClassDef]]:
        current: Optional[_Scope] = scope
        while current is not None:
            if name in current.local_names:
                if isinstance(current.node, cst.ClassDef) or not self._unique_in(name, current):
                    return None
                return current.definitions.get(name)
            if current.is_module:
                return None
            current = current.parent
        return None

    @staticmethod
    def _unique_in(name: str, scope: _Scope) -> bool:
        return scope.binding_counts.get(name) == 1 and name not in scope.rebound_inside

    # ---- walking statements ----------------------------------------------------------

    def _statements(
        self,
        statements: Sequence[cst.CSTNode],
        scope: _Scope,
        blocks: Tuple[cst.CSTNode, ...],
        chain: Tuple[cst.CSTNode, ...],
    ) -> None:
        for statement in statements:
            self._statement(statement, scope, blocks, chain)

    def _suite(self, suite: cst.BaseSuite, scope: _Scope, blocks: Tuple, chain: Tuple) -> None:
        self._statements(suite.body, scope, blocks, chain)

    def _statement(self, node: cst.CSTNode, scope: _Scope, blocks: Tuple, chain: Tuple) -> None:
        if isinstance(node, cst.SimpleStatementLine):
            for small in node.body:
                self._small_statement(small, scope, blocks)
        elif isinstance(node, cst.FunctionDef):
            self._function(node, scope, blocks, chain)
        elif isinstance(node, cst.ClassDef):
            self._bind(node.name.value, scope, blocks)
            scope.definitions.setdefault(node.name.value, node)
            inner = _Scope(node, scope, chain)
            self.scopes.append(inner)
            self._suite(node.body, inner, (), chain)
        else:
            self._compound(node, scope, blocks, chain)

    def _function(self, node: cst.FunctionDef, scope: _Scope, blocks: Tuple, chain: Tuple) -> None:
        self._bind(node.name.value, scope, blocks)
        scope.definitions.setdefault(node.name.value, node)
        inner_chain = chain + (node,)
        inner = _Scope(node, scope, inner_chain)
        self.scopes.append(inner)
        for param in _all_params(node.params):
            self._bind(param.name.value, inner, ())
        self._suite(node.body, inner, (), inner_chain)

    def _compound(self, node: cst.CSTNode, scope: _Scope, blocks: Tuple, chain: Tuple) -> None:
        self._open_blocks[id(node)] = set()
        inner_blocks = blocks + (node,)
        if isinstance(node, cst.If):
            self._suite(node.body, scope, inner_blocks, chain)
            if node.orelse is not None:
                if isinstance(node.orelse, cst.If):
                    self._statement(node.orelse, scope, inner_blocks, chain)
                else:
                    self._suite(node.orelse.body, scope, inner_blocks, chain)
        elif isinstance(node, (cst.For, cst.While)):
            if isinstance(node, cst.For):
                self._bind_target(node.target, scope, inner_blocks)
            self._suite(node.body, scope, inner_blocks, chain + (node,))
            if node.orelse is not None:
                self._suite(node.orelse.body, scope, inner_blocks, chain)
        elif isinstance(node, (cst.Try, cst.TryStar)):
            self._suite(node.body, scope, inner_blocks, chain)
            for handler in node.handlers:
                if handler.name is not None:
                    self._bind_target(handler.name.name, scope, inner_blocks)
                self._suite(handler.body, scope, inner_blocks, chain)
            for tail in (node.orelse, node.finalbody):
                if tail is not None:
                    self._suite(tail.body, scope, inner_blocks, chain)
        elif isinstance(node, cst.With):
            for item in node.items:
                if item.asname is not None:
                    self._bind_target(item.asname.name, scope, inner_blocks)
            self._suite(node.body, scope, inner_blocks, chain)
        elif isinstance(node, cst.Match):
            for case in node.cases:
                self._suite(case.body, scope, inner_blocks, chain)
        self.block_names[id(node)] = frozenset(self._open_blocks.pop(id(node)))

    def _small_statement(self, node: cst.BaseSmallStatement, scope: _Scope, blocks: Tuple) -> None:
        if isinstance(node, cst.Assign):
            for target in node.targets:
                self._bind_target(target.target, scope, blocks)
        elif isinstance(node, (cst.AnnAssign, cst.AugAssign)):
            self._bind_target(node.target, scope, blocks)
        elif isinstance(node, cst.Del):
            self._bind_target(node.target, scope, blocks)
        elif isinstance(node, (cst.Import, cst.ImportFrom)):
            for name in _imported_names(node):
                self._bind(name, scope, blocks)
        elif isinstance(node, cst.Global):
            scope.declared_global.update(item.name.value for item in node.names)
        elif isinstance(node, cst.Nonlocal):
            scope.declared_nonlocal.update(item.name.value for item in node.names)

    def _bind_target(self, target: cst.BaseExpression, scope: _Scope, blocks: Tuple) -> None:
        for name in _target_names(target):
            self._bind(name, scope, blocks)

    def _bind(self, name: str, scope: _Scope, blocks: Tuple) -> None:
        scope.local_names.add(name)
        scope.binding_counts[name] = scope.binding_counts.get(name, 0) + 1
        for block in blocks:
            self._open_blocks[id(block)].add(name)

    # ---- after the walk ------------------------------------------------------------

    def _resolve_outer_declarations(self) -> None:
        """Names a function rebinds in an outer scope are that scope's, and not definite
        there (the interpretation does not follow when the function runs)."""
        module_scope = self.scopes[0]
        for scope in self.scopes:
            for name in scope.declared_global & scope.local_names:
                module_scope.rebound_inside.add(name)
            for name in scope.declared_nonlocal & scope.local_names:
                (_enclosing_owner(scope, name) or module_scope).rebound_inside.add(name)
            scope.local_names -= scope.declared_global | scope.declared_nonlocal

    def _model_classes(self, imports: ImportTable) -> Set[int]:
        """Local subclasses of a Keras model class, directly or through other local ones."""
        classes = [
            (node, scope)
            for scope in self.scopes
            for name, node in scope.definitions.items()
            if isinstance(node, cst.ClassDef) and self._unique_in(name, scope)
        ]
        found: Set[int] = set()
        changed = True
        while changed:
            changed = False
            for node, scope in classes:
                if id(node) not in found and any(
                    self._is_model_base(b.value, scope, imports, found) for b in node.bases
                ):
                    found.add(id(node))
                    changed = True
        return found

    def _is_model_base(
        self, base: cst.BaseExpression, scope: _Scope, imports: ImportTable, found: Set[int]
    ) -> bool:
        if imports.is_keras(base, "Model", "Sequential"):
            return True
        return isinstance(base, cst.Name) and id(self.resolve(base.value, scope)) in found


def _all_params(params: cst.Parameters) -> List[cst.Param]:
    out = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    for star in (params.star_arg, params.star_kwarg):
        if type(star) is cst.Param:  # no subclasses; isinstance() on libcst's ABCs is slow
            out.append(star)
    return out


def _imported_names(node: Union[cst.Import, cst.ImportFrom]) -> List[str]:
    if isinstance(node.names, cst.ImportStar):
        return []
    names = []
    for alias in node.names:
        if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
            names.append(alias.asname.name.value)
        else:
            dotted = cst.helpers.get_full_name_for_node(alias.name) or ""
            names.append(dotted.split(".")[0] if isinstance(node, cst.Import) else dotted)
    return [name for name in names if name]


def _target_names(target: cst.BaseExpression) -> List[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [name for element in target.elements for name in _target_names(element.value)]
    if isinstance(target, cst.StarredElement):
        return _target_names(target.value)
    return []


def _enclosing_owner(scope: _Scope, name: str) -> Optional[_Scope]:
    outer = scope.parent
    while outer is not None and not outer.is_module:
        if isinstance(outer.node, cst.FunctionDef) and name in outer.local_names:
            return outer
        outer = outer.parent
    return None


@dataclass(eq=False)
class _ScopeRun:
    """One analysis of a scope: what it read that may differ in the next round, and what
    it found. When every read gives the same again, analysing the scope again would
    find the same: the next round keeps this run instead."""

    scope: _Scope
    returns: Tuple[_ReturnItem, ...] = ()
    # Read: the values bound to each parameter, the summary of each local function
    # called, the enclosing scopes' bindings read by closures (scope, name, binding), and
    # the entries of other runs' ``bindings``/``expr_values`` followed (key, entry).
    parameter_values: List[Values] = field(default_factory=list)
    summaries_read: List[Tuple[cst.FunctionDef, Tuple[_ReturnItem, ...]]] = field(
        default_factory=list
    )
    closure_reads: List[Tuple[_Scope, str, Optional[_Binding]]] = field(default_factory=list)
    binding_reads: List[Tuple[int, Optional[_Binding]]] = field(default_factory=list)
    expr_value_reads: List[Tuple[int, Optional[Values]]] = field(default_factory=list)
    # Found, by ``id`` of the name, expression or model value they are about.
    bindings: Dict[int, _Binding] = field(default_factory=dict)
    expr_values: Dict[int, Values] = field(default_factory=dict)
    layer_parts: Dict[int, List[cst.Call]] = field(default_factory=dict)
    added_layers: Dict[int, List[cst.Call]] = field(default_factory=dict)
    sites: Dict[int, List[CallSite]] = field(default_factory=dict)
    site_arguments: Dict[int, List[Optional[Dict[str, Values]]]] = field(default_factory=dict)
    escaped: Set[int] = field(default_factory=set)


# Fields of expression-like nodes that hold no code worth reading (formatting, the
# keyword of an argument, the attribute name of ``a.b``).
_SKIPPED_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "comma",
        "semicolon",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "operator",
        "colon",
        "equal",
        "keyword",
        "attr",
        "star",
        "asynchronous",
        "dot",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
    }
)


_EXPRESSION, _OTHER_NODE, _NOT_A_NODE = "expression", "node", "value"


@lru_cache(maxsize=None)
def _node_kind(node_type: type) -> str:
    if issubclass(node_type, cst.BaseExpression):
        return _EXPRESSION
    return _OTHER_NODE if issubclass(node_type, cst.CSTNode) else _NOT_A_NODE


@lru_cache(maxsize=None)
def _code_fields(node_type: type) -> Tuple[str, ...]:
    return tuple(
        f.name
        for f in dataclasses.fields(node_type)
        if f.name not in _SKIPPED_FIELDS and not f.name.startswith("whitespace")
    )


# --------------------------------------------------------------------------------------
# The interpretation


MAX_ROUNDS = 6


class ModelFacts:
    """The model objects names hold, computed once per file (see the module docstring)."""

    def __init__(self, module: cst.Module, imports: ImportTable) -> None:
        self._imports = imports
        self._structure = _Structure(module, imports)
        # Stable across rounds, so that a value keeps its identity: creation site -> value.
        self._values_by_site: Dict[Tuple[int, int], ModelValue] = {}
        self._summaries: Dict[int, Tuple[_ReturnItem, ...]] = {}
        self._param_tables: Dict[int, Optional[Dict[str, Values]]] = {}
        # The latest run of each scope, and what they found, merged (the runs of different
        # scopes are about different nodes).
        self._runs: Dict[int, _ScopeRun] = {}
        self._bindings: Dict[int, _Binding] = {}
        self._expr_values: Dict[int, Values] = {}
        self._layer_parts: Dict[int, List[cst.Call]] = {}
        self._statement_handlers = {
            cst.SimpleStatementLine: self._line,
            cst.If: self._if,
            cst.For: self._loop,
            cst.While: self._loop,
            cst.Try: self._try,
            cst.TryStar: self._try,
            cst.With: self._with,
            cst.FunctionDef: self._function_def,
            cst.ClassDef: self._class_def,
            cst.Match: self._match,
        }
        self._small_statement_handlers = {
            cst.Assign: self._assign_statement,
            cst.AnnAssign: self._annotated_assign,
            cst.AugAssign: self._augmented_assign,
            cst.Expr: self._expression_statement,
            cst.Return: self._return,
            cst.Raise: self._raise,
            cst.Del: self._delete,
            cst.Import: self._import,
            cst.ImportFrom: self._import,
            cst.Global: self._declaration,
            cst.Nonlocal: self._declaration,
        }
        self._expression_handlers = {
            cst.Name: self._name,
            cst.Call: self._call,
            cst.Attribute: self._attribute,
            cst.NamedExpr: self._named_expression,
            cst.IfExp: self._conditional,
            cst.Lambda: self._lambda,
            cst.ListComp: self._comprehension,
            cst.SetComp: self._comprehension,
            cst.GeneratorExp: self._comprehension,
            cst.DictComp: self._comprehension,
            cst.Yield: self._yield,
        }
        for _ in range(MAX_ROUNDS):
            summaries, tables = self._run_round()
            stable = summaries == self._summaries and tables == self._param_tables
            self._summaries, self._param_tables = summaries, tables
            if stable or not self._values_by_site:
                break
        self._finalize_layers()

    # ---- queries ---------------------------------------------------------------------

    def value_of(self, expr: cst.BaseExpression) -> Optional[ModelValue]:
        """The one model object ``expr`` holds at that point, or None if unknown/not one."""
        values = self._values_at(expr)
        if len(values) == 1 and isinstance(values[0], ModelValue):
            return values[0]
        return None

    def possible_values(self, expr: cst.BaseExpression) -> Tuple[ModelValue, ...]:
        """Every model object ``expr`` may hold at that point (``()`` if unknown)."""
        return tuple(v for v in self._values_at(expr) if isinstance(v, ModelValue))

    def origins_of(self, name: cst.Name) -> Tuple[cst.CSTNode, ...]:
        """The statements whose binding of ``name`` may reach this use: ``Assign``,
        ``Param``, ``For``, ``Import``... (a loop node: a binding later in its body)."""
        binding = self._bindings.get(id(name))
        return binding.origins if binding is not None else ()

    def call_sites(self, function: cst.FunctionDef) -> Optional[Tuple[CallSite, ...]]:
        """Every call of a local function in the module, or None when they are not all
        known (the function is decorated, a method, passed around, or not unique)."""
        if not self._is_tracked(function):
            return None
        return tuple(self._sites.get(id(function), ()))

    def _is_tracked(self, function: cst.FunctionDef) -> bool:
        return (
            id(function) in self._structure.functions
            and not function.decorators
            and id(function) not in self._escaped
        )

    def _values_at(self, expr: cst.BaseExpression) -> Values:
        if type(expr) is cst.Name:
            binding = self._bindings.get(id(expr))
            return binding.values if binding is not None else ()
        return self._expr_values.get(id(expr), ())

    # ---- rounds ----------------------------------------------------------------------

    def _run_round(
        self,
    ) -> Tuple[Dict[int, Tuple[_ReturnItem, ...]], Dict[int, Optional[Dict[str, Values]]]]:
        summaries: Dict[int, Tuple[_ReturnItem, ...]] = {}
        for scope in self._structure.scopes:
            run = self._runs.get(id(scope))
            # Most scopes read nothing the previous round changed (in a script, only the
            # callers of builders do): their runs stand.
            if run is None or not self._reads_unchanged(run):
                if run is not None:
                    self._forget(run)
                run = self._runs[id(scope)] = self._analyze_scope(scope)
                self._bindings.update(run.bindings)
                self._expr_values.update(run.expr_values)
                self._layer_parts.update(run.layer_parts)
            if isinstance(scope.node, cst.FunctionDef):
                summaries[id(scope.node)] = run.returns
        self._merge_runs()
        return summaries, self._next_param_tables()

    def _reads_unchanged(self, run: _ScopeRun) -> bool:
        """Whether everything ``run`` read that changes between rounds reads the same now
        (outer scopes and earlier runs of this round being done)."""
        function = run.scope.node
        if isinstance(function, cst.FunctionDef):
            if self._parameter_values(function) != run.parameter_values:
                return False
        return (
            all(self._summary(called) == summary for called, summary in run.summaries_read)
            and all(
                outer.bindings.get(name) == binding for outer, name, binding in run.closure_reads
            )
            and all(self._bindings.get(key) == binding for key, binding in run.binding_reads)
            and all(self._expr_values.get(key) == found for key, found in run.expr_value_reads)
        )

    def _forget(self, run: _ScopeRun) -> None:
        for key in run.bindings:
            del self._bindings[key]
        for key in run.expr_values:
            del self._expr_values[key]
        for key in run.layer_parts:
            del self._layer_parts[key]

    def _merge_runs(self) -> None:
        """What several scopes add to, in the order the scopes run."""
        self._added_layers: Dict[int, List[cst.Call]] = {}
        self._sites: Dict[int, List[CallSite]] = {}
        self._site_arguments: Dict[int, List[Optional[Dict[str, Values]]]] = {}
        self._escaped: Set[int] = set()
        for scope in self._structure.scopes:
            run = self._runs[id(scope)]
            _extend_lists(self._added_layers, run.added_layers)
            _extend_lists(self._sites, run.sites)
            _extend_lists(self._site_arguments, run.site_arguments)
            self._escaped |= run.escaped

    def _next_param_tables(self) -> Dict[int, Optional[Dict[str, Values]]]:
        tables: Dict[int, Optional[Dict[str, Values]]] = {}
        for function in self._structure.functions.values():
            sites = self._site_arguments.get(id(function))
            if not sites or not self._is_tracked(function):
                tables[id(function)] = None
                continue
            table: Dict[str, Values] = {}
            for param in _all_params(function.params):
                name = param.name.value
                table[name] = _unique(
                    v
                    for site in sites
                    for v in (site.get(name, OPAQUE_VALUES) if site else OPAQUE_VALUES)
                )
            tables[id(function)] = table
        return tables

    def _analyze_scope(self, scope: _Scope) -> _ScopeRun:
        self._run = _ScopeRun(scope)
        scope.bindings = {}
        self._run.returns = self._interpret(scope)
        return self._run

    def _interpret(self, scope: _Scope) -> Tuple[_ReturnItem, ...]:
        self._scope = scope
        self._chain = scope.chain
        self._returns: List[_ReturnItem] = []
        self._is_generator = False
        env: Dict[str, _Binding] = {}
        node = scope.node
        if isinstance(node, cst.Module):
            self._block(node.body, env)
            return ()
        if isinstance(node, cst.ClassDef):
            self._suite(node.body, env)
            return ()
        self._bind_params(node, env)
        falls_through = self._suite(node.body, env)
        if self._is_generator or node.asynchronous is not None:
            return (OPAQUE,)
        if falls_through:
            self._returns.append(OPAQUE)
        return _unique(self._returns)

    def _bind_params(self, function: cst.FunctionDef, env: Dict[str, _Binding]) -> None:
        self._run.parameter_values = self._parameter_values(function)
        for param, values in zip(_all_params(function.params), self._run.parameter_values):
            self._bind(param.name.value, _Binding(values, (param,)), env)

    def _parameter_values(self, function: cst.FunctionDef) -> List[Values]:
        """What each parameter holds (in ``_all_params`` order), by the call sites."""
        table = self._param_tables.get(id(function))
        star_params = {id(p) for p in (function.params.star_arg, function.params.star_kwarg)}
        found = []
        for param in _all_params(function.params):
            values = OPAQUE_VALUES
            if table is not None and id(param) not in star_params:
                values = table.get(param.name.value, OPAQUE_VALUES)
            found.append(values)
        return found

    # ---- statements ------------------------------------------------------------------

    def _block(self, statements: Sequence[cst.CSTNode], env: Dict[str, _Binding]) -> bool:
        """Run statements; whether control can reach the end (no return/raise first)."""
        for statement in statements:
            if not self._statement(statement, env):
                return False
        return True

    def _suite(self, suite: cst.BaseSuite, env: Dict[str, _Binding]) -> bool:
        if type(suite) is cst.SimpleStatementSuite:
            return self._line(suite, env)
        return self._block(suite.body, env)

    def _statement(self, node: cst.CSTNode, env: Dict[str, _Binding]) -> bool:
        # Dispatch on the exact type: isinstance() on libcst's ABC-based classes is slow.
        handler = self._statement_handlers.get(type(node))
        if handler is None:
            self._walk(node, env)
            return True
        return handler(node, env)

    def _line(
        self,
        node: Union[cst.SimpleStatementLine, cst.SimpleStatementSuite],
        env: Dict[str, _Binding],
    ) -> bool:
        for small in node.body:
            handler = self._small_statement_handlers.get(type(small))
            if handler is None:
                self._walk(small, env)
            elif not handler(small, env):
                return False
        return True

    def _with(self, node: cst.With, env: Dict[str, _Binding]) -> bool:
        for item in node.items:
            self._eval(item.item, env)
            if item.asname is not None:
                self._bind_opaque(item.asname.name, node, env)
        return self._suite(node.body, env)

    def _function_def(self, node: cst.FunctionDef, env: Dict[str, _Binding]) -> bool:
        for decorator in node.decorators:
            self._eval(decorator.decorator, env)
        for param in _all_params(node.params):
            if param.default is not None:
                self._eval(param.default, env)
        self._bind(node.name.value, _opaque_from(node), env)
        return True

    def _class_def(self, node: cst.ClassDef, env: Dict[str, _Binding]) -> bool:
        for decorator in node.decorators:
            self._eval(decorator.decorator, env)
        for arg in (*node.bases, *node.keywords):
            self._eval(arg.value, env)
        self._bind(node.name.value, _opaque_from(node), env)
        return True

    def _assign_statement(self, node: cst.Assign, env: Dict[str, _Binding]) -> bool:
        values = self._eval(node.value, env)
        for target in node.targets:
            self._assign(target.target, node.value, values, node, env)
        return True

    def _annotated_assign(self, node: cst.AnnAssign, env: Dict[str, _Binding]) -> bool:
        if node.value is not None:
            self._assign(node.target, node.value, self._eval(node.value, env), node, env)
        return True

    def _augmented_assign(self, node: cst.AugAssign, env: Dict[str, _Binding]) -> bool:
        self._eval(node.target, env)
        self._eval(node.value, env)
        self._bind_opaque(node.target, node, env)
        return True

    def _expression_statement(self, node: cst.Expr, env: Dict[str, _Binding]) -> bool:
        self._eval(node.value, env)
        return True

    def _raise(self, node: cst.Raise, env: Dict[str, _Binding]) -> bool:
        self._walk(node, env)
        return False

    def _delete(self, node: cst.Del, env: Dict[str, _Binding]) -> bool:
        for name in _target_names(node.target):
            env.pop(name, None)
        return True

    def _import(self, node: Union[cst.Import, cst.ImportFrom], env: Dict[str, _Binding]) -> bool:
        for name in _imported_names(node):
            self._bind(name, _opaque_from(node), env)
        return True

    def _declaration(self, node: Union[cst.Global, cst.Nonlocal], env: Dict[str, _Binding]) -> bool:
        return True  # handled by the structure pass

    def _if(self, node: cst.If, env: Dict[str, _Binding]) -> bool:
        self._eval(node.test, env)
        branches = []
        body_env = dict(env)
        if self._suite(node.body, body_env):
            branches.append(body_env)
        else_env = dict(env)
        if type(node.orelse) is cst.If:
            else_falls = self._if(node.orelse, else_env)
        elif node.orelse is not None:
            else_falls = self._suite(node.orelse.body, else_env)
        else:
            else_falls = True
        if else_falls:
            branches.append(else_env)
        if not branches:
            return False
        self._merge_into(env, branches, self._structure.block_names[id(node)])
        return True

    def _loop(self, node: Union[cst.For, cst.While], env: Dict[str, _Binding]) -> bool:
        names = self._structure.block_names[id(node)]
        if isinstance(node, cst.For):
            self._eval(node.iter, env)
        before = dict(env)
        # A use early in the body may see what a later statement bound last iteration.
        for name in names:
            current = env.get(name)
            env[name] = _opaque_from(node) if current is None else current.union(_opaque_from(node))
        outer_chain = self._chain
        self._chain = outer_chain + (node,)
        if isinstance(node, cst.For):
            self._assign(node.target, None, OPAQUE_VALUES, node, env)
        else:
            self._eval(node.test, env)
        falls_through = self._suite(node.body, env)
        self._chain = outer_chain
        self._merge_into(env, [before, env] if falls_through else [before], names)
        if node.orelse is not None:
            self._suite(node.orelse.body, env)
        return True

    def _try(self, node: Union[cst.Try, cst.TryStar], env: Dict[str, _Binding]) -> bool:
        names = self._structure.block_names[id(node)]
        before = dict(env)
        branches = []
        if self._suite(node.body, env) and (
            node.orelse is None or self._suite(node.orelse.body, env)
        ):
            branches.append(env)
        # A handler may start anywhere in the body.
        handler_start = dict(before)
        self._merge_into(handler_start, [before, env], names)
        for handler in node.handlers:
            handler_env = dict(handler_start)
            if handler.type is not None:
                self._eval(handler.type, handler_env)
            if handler.name is not None:
                self._bind_opaque(handler.name.name, handler, handler_env)
            if self._suite(handler.body, handler_env):
                branches.append(handler_env)
        merged = dict(handler_start)
        if branches:
            self._merge_into(merged, branches, names)
        env.clear()
        env.update(merged)
        if node.finalbody is not None and not self._suite(node.finalbody.body, env):
            return False
        return bool(branches)

    def _match(self, node: cst.Match, env: Dict[str, _Binding]) -> bool:
        self._eval(node.subject, env)
        branches = [dict(env)]  # no case matched
        for case in node.cases:
            case_env = dict(env)
            if case.guard is not None:
                self._eval(case.guard, case_env)
            if self._suite(case.body, case_env):
                branches.append(case_env)
        self._merge_into(env, branches, self._structure.block_names[id(node)])
        return True

    def _merge_into(
        self, env: Dict[str, _Binding], branches: List[Dict[str, _Binding]], names: Iterable[str]
    ) -> None:
        for name in names:
            bindings = [branch.get(name) for branch in branches]
            first = bindings[0]
            if all(b is first for b in bindings):
                merged = first
            else:
                merged = bindings[0] or UNBOUND
                for other in bindings[1:]:
                    merged = merged.union(other or UNBOUND)
            if merged is None:
                env.pop(name, None)
            else:
                env[name] = merged

    def _return(self, node: cst.Return, env: Dict[str, _Binding]) -> bool:
        self._note_return(node, env)
        return False

    def _note_return(self, node: cst.Return, env: Dict[str, _Binding]) -> None:
        if node.value is None:
            self._returns.append(OPAQUE)
            return
        values = self._eval(node.value, env)
        function = self._scope.node
        if isinstance(node.value, cst.Name):
            binding = self._found_binding(node.value)
            if (
                binding is not None
                and binding.origins
                and all(isinstance(origin, cst.Param) for origin in binding.origins)
            ):
                self._returns.append(_ParamRef(node.value.value))
                return
        for value in values:
            if isinstance(value, ModelValue) and value.created_inside(function):
                self._returns.append(_Fresh(value))
            else:
                self._returns.append(value)

    # ---- binding names ---------------------------------------------------------------

    def _assign(
        self,
        target: cst.BaseExpression,
        value_node: Optional[cst.BaseExpression],
        values: Values,
        origin: cst.CSTNode,
        env: Dict[str, _Binding],
    ) -> None:
        if type(target) is cst.Name:
            binding = _Binding(values, (origin,), (value_node,) if value_node is not None else ())
            self._bind(target.value, binding, env)
            self._run.bindings[id(target)] = binding
        elif type(target) in (cst.Tuple, cst.List):
            pairs = _paired_elements(target, value_node)
            for element in target.elements:
                inner = element.value
                if id(inner) in pairs:
                    item = pairs[id(inner)]
                    self._assign(inner, item, self._expr_values_of(item), origin, env)
                else:
                    self._assign(inner, None, OPAQUE_VALUES, origin, env)
        elif type(target) is cst.StarredElement:
            self._assign(target.value, None, OPAQUE_VALUES, origin, env)
        else:
            self._eval(target, env)  # ``self.model = ...``: reads ``self``, binds no name

    def _expr_values_of(self, expr: cst.BaseExpression) -> Values:
        if type(expr) is cst.Name:
            binding = self._found_binding(expr)
            return binding.values if binding is not None else OPAQUE_VALUES
        key = id(expr)
        values = self._run.expr_values.get(key)
        if values is None:
            values = self._expr_values.get(key)
            self._run.expr_value_reads.append((key, values))
        return OPAQUE_VALUES if values is None else values

    def _found_binding(self, name: cst.BaseExpression) -> Optional[_Binding]:
        """The binding recorded for a name read, in this run or (noted as read) another."""
        key = id(name)
        binding = self._run.bindings.get(key)
        if binding is None:
            binding = self._bindings.get(key)
            self._run.binding_reads.append((key, binding))
        return binding

    def _bind_opaque(
        self, target: cst.BaseExpression, origin: cst.CSTNode, env: Dict[str, _Binding]
    ) -> None:
        for name in _target_names(target):
            self._bind(name, _opaque_from(origin), env)

    def _bind(self, name: str, binding: _Binding, env: Dict[str, _Binding]) -> None:
        env[name] = binding
        known = self._scope.bindings.get(name)
        self._scope.bindings[name] = binding if known is None else known.union(binding)

    def _lookup(self, name: str, env: Dict[str, _Binding]) -> Optional[_Binding]:
        scope = self._scope
        binding = env.get(name)
        if binding is None:
            if scope.is_module or name in scope.local_names:
                return None
            return self._free_variable(name, scope.parent)
        if name in scope.rebound_inside:
            binding = binding.union(UNBOUND)
        return binding

    def _free_variable(self, name: str, scope: Optional[_Scope]) -> Optional[_Binding]:
        """A closure or global read: any value the outer scope ever binds to ``name``."""
        while scope is not None:
            if scope.is_module or (
                isinstance(scope.node, cst.FunctionDef) and name in scope.local_names
            ):
                binding = scope.bindings.get(name)
                self._run.closure_reads.append((scope, name, binding))
                if binding is not None and name in scope.rebound_inside:
                    binding = binding.union(UNBOUND)
                return binding
            scope = scope.parent
        return None

    # ---- expressions -----------------------------------------------------------------

    def _eval(self, node: cst.BaseExpression, env: Dict[str, _Binding]) -> Values:
        handler = self._expression_handlers.get(type(node))
        if handler is None:
            self._walk(node, env)
            return OPAQUE_VALUES
        values = handler(node, env)
        if values != OPAQUE_VALUES and type(node) is not cst.Name:
            self._run.expr_values[id(node)] = values
        return values

    def _walk(self, node: cst.CSTNode, env: Dict[str, _Binding]) -> None:
        """Evaluate every expression below ``node`` (for nodes with no meaning here)."""
        for name in _code_fields(type(node)):
            child = getattr(node, name)
            if isinstance(child, (tuple, list)):
                for item in child:
                    self._walk_child(item, env)
            else:
                self._walk_child(child, env)

    def _walk_child(self, child: object, env: Dict[str, _Binding]) -> None:
        kind = _node_kind(type(child))
        if kind is _EXPRESSION:
            self._eval(child, env)  # type: ignore[arg-type]
        elif kind is _OTHER_NODE:
            self._walk(child, env)  # type: ignore[arg-type]

    def _name(self, node: cst.Name, env: Dict[str, _Binding]) -> Values:
        self._note_escape(node)
        return self._read(node, env)

    def _attribute(self, node: cst.Attribute, env: Dict[str, _Binding]) -> Values:
        self._eval(node.value, env)
        return OPAQUE_VALUES

    def _named_expression(self, node: cst.NamedExpr, env: Dict[str, _Binding]) -> Values:
        values = self._eval(node.value, env)
        self._assign(node.target, node.value, values, node, env)
        return values

    def _conditional(self, node: cst.IfExp, env: Dict[str, _Binding]) -> Values:
        self._eval(node.test, env)
        return _unique(self._eval(node.body, env) + self._eval(node.orelse, env))

    def _yield(self, node: cst.Yield, env: Dict[str, _Binding]) -> Values:
        self._is_generator = True
        self._walk(node, env)
        return OPAQUE_VALUES

    def _read(self, node: cst.Name, env: Dict[str, _Binding]) -> Values:
        binding = self._lookup(node.value, env)
        if binding is None:
            return OPAQUE_VALUES
        self._run.bindings[id(node)] = binding
        return binding.values

    def _note_escape(self, node: cst.Name) -> None:
        """A local function used other than by a direct call: its callers are unknown."""
        definition = self._structure.resolve(node.value, self._scope)
        if id(definition) in self._structure.functions:
            self._run.escaped.add(id(definition))

    def _lambda(self, node: cst.Lambda, env: Dict[str, _Binding]) -> Values:
        inner = dict(env)
        for param in _all_params(node.params):
            if param.default is not None:
                self._eval(param.default, env)
            inner[param.name.value] = _opaque_from(param)
        self._eval(node.body, inner)
        return OPAQUE_VALUES

    def _comprehension(
        self,
        node: Union[cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp],
        env: Dict[str, _Binding],
    ) -> Values:
        clause: Optional[cst.CompFor] = node.for_in
        self._eval(clause.iter, env)
        inner = dict(env)
        outer_chain = self._chain
        self._chain = outer_chain + (node,)
        while clause is not None:
            for name in _target_names(clause.target):
                inner[name] = _opaque_from(clause)
            for condition in clause.ifs:
                self._eval(condition.test, inner)
            clause = clause.inner_for_in
            if clause is not None:
                self._eval(clause.iter, inner)
        if isinstance(node, cst.DictComp):
            self._eval(node.key, inner)
            self._eval(node.value, inner)
        else:
            self._eval(node.elt, inner)
        self._chain = outer_chain
        return OPAQUE_VALUES

    # ---- calls -----------------------------------------------------------------------

    def _call(self, node: cst.Call, env: Dict[str, _Binding]) -> Values:
        func = node.func
        receiver: Optional[Values] = None
        if type(func) is cst.Name:
            self._read(func, env)  # calling a local function is not an escape
        elif type(func) is cst.Attribute:
            receiver = self._eval(func.value, env)
        else:
            self._eval(func, env)
        arguments = [self._eval(arg.value, env) for arg in node.args]
        kind = self._creation_kind(func)
        if kind is not None:
            return (self._create(node, kind, arguments),)
        if type(func) is cst.Name:
            definition = self._structure.resolve(func.value, self._scope)
            if id(definition) in self._structure.functions:
                return self._apply(definition, node, arguments)  # type: ignore[arg-type]
            if id(definition) in self._structure.model_classes:
                return (self._value_at(node, "subclass"),)
        if self._imports.is_name(func, "copy.deepcopy", "copy.copy"):
            source = _single_model(arguments[0]) if arguments else None
            if source is not None:
                value = self._value_at(node, "clone")
                value.source = source
                return (value,)
        if receiver is not None and func.attr.value == "add":
            model = _single_model(receiver)
            if model is not None and node.args:
                self._run.added_layers.setdefault(id(model), []).extend(
                    self._layer_items([node.args[0].value])
                )
        return OPAQUE_VALUES

    def _creation_kind(self, func: cst.BaseExpression) -> Optional[str]:
        member = self._imports.keras_member(func)
        if member is None:
            return None
        package, _, symbol = member.rpartition(".")
        return _CREATION_KINDS.get(symbol) if package in _CREATION_PACKAGES else None

    def _value_at(
        self, call: cst.Call, kind: str, built: Optional[ModelValue] = None
    ) -> ModelValue:
        key = (id(call), id(built))
        value = self._values_by_site.get(key)
        if value is None:
            value = ModelValue(call, kind, built=built, enclosing=self._chain)
            self._values_by_site[key] = value
        return value

    def _create(self, node: cst.Call, kind: str, arguments: List[Values]) -> ModelValue:
        value = self._value_at(node, kind)
        if kind == "clone":
            value.source = _single_model(arguments[0]) if arguments else None
        elif kind == "sequential":
            layers = _argument(node, 0, "layers")
            self._run.layer_parts[id(value)] = (
                self._sequential_layers(layers) if layers is not None else []
            )
        elif kind == "functional":
            outputs = _argument(node, 1, "outputs", "output")
            traced: List[cst.Call] = []
            if outputs is not None:
                self._trace_layers(outputs, traced, set())
            self._run.layer_parts[id(value)] = list(_unique(traced))
        return value

    def _apply(self, function: cst.FunctionDef, call: cst.Call, arguments: List[Values]) -> Values:
        """Record a call of a local function and give what it returns."""
        self._run.sites.setdefault(id(function), []).append(CallSite(call, self._chain))
        mapped = _map_arguments(function, call, arguments)
        self._run.site_arguments.setdefault(id(function), []).append(mapped)
        summary = self._summary(function)
        self._run.summaries_read.append((function, summary))
        out: List[Value] = []
        for item in summary:
            if isinstance(item, _Fresh):
                out.append(self._value_at(call, "builder", item.value))
            elif isinstance(item, _ParamRef):
                out.extend(
                    mapped.get(item.name, OPAQUE_VALUES) if mapped is not None else OPAQUE_VALUES
                )
            else:
                out.append(item)
        return _unique(out)

    def _summary(self, function: cst.FunctionDef) -> Tuple[_ReturnItem, ...]:
        # A decorator may return anything: a cached object, a wrapper, a tensor function.
        if function.decorators:
            return OPAQUE_VALUES
        return self._summaries.get(id(function), OPAQUE_VALUES)

    # ---- layers ----------------------------------------------------------------------

    def _sequential_layers(self, layers: cst.BaseExpression) -> List[cst.Call]:
        if isinstance(layers, cst.Name):
            binding = self._found_binding(layers)
            if binding is None or len(binding.exprs) != 1:
                return []
            layers = binding.exprs[0]
        if isinstance(layers, (cst.List, cst.Tuple)):
            return self._layer_items(element.value for element in layers.elements)
        return []

    def _layer_items(self, items: Iterable[cst.BaseExpression]) -> List[cst.Call]:
        """The layer constructor calls among list items (a call, or a name bound to one)."""
        out = []
        for item in items:
            if isinstance(item, cst.Name):
                binding = self._found_binding(item)
                item = binding.exprs[0] if binding is not None and len(binding.exprs) == 1 else item
            if isinstance(item, cst.Call):
                out.append(item)
        return out

    def _trace_layers(self, expr: cst.BaseExpression, out: List[cst.Call], seen: Set[int]) -> None:
        """Layer constructor calls the tensor ``expr`` is computed by, inputs first."""
        if id(expr) in seen:
            return
        seen.add(id(expr))
        if isinstance(expr, cst.Name):
            binding = self._found_binding(expr)
            if binding is not None and len(binding.exprs) == 1:
                self._trace_layers(binding.exprs[0], out, seen)
        elif isinstance(expr, cst.Call):
            for arg in expr.args:
                self._trace_layers(arg.value, out, seen)
            layer = self._applied_layer(expr.func)
            if layer is not None:
                out.append(layer)
            elif isinstance(expr.func, cst.Attribute):
                self._trace_layers(expr.func.value, out, seen)
        elif isinstance(expr, (cst.Attribute, cst.Subscript)):
            self._trace_layers(expr.value, out, seen)
        elif isinstance(expr, (cst.List, cst.Tuple)):
            for element in expr.elements:
                self._trace_layers(element.value, out, seen)
        elif isinstance(expr, cst.BinaryOperation):
            self._trace_layers(expr.left, out, seen)
            self._trace_layers(expr.right, out, seen)

    def _applied_layer(self, func: cst.BaseExpression) -> Optional[cst.Call]:
        """The layer constructor call of ``Dense(1)(x)`` or ``dense(x)`` (``dense = Dense(1)``);
        None for functions and models applied to tensors."""
        if isinstance(func, cst.Call):
            return None if self._creation_kind(func.func) else func
        if isinstance(func, cst.Name):
            binding = self._found_binding(func)
            if (
                binding is not None
                and len(binding.exprs) == 1
                and isinstance(binding.exprs[0], cst.Call)
                and not any(isinstance(v, ModelValue) for v in binding.values)
            ):
                return binding.exprs[0]
        return None

    def _finalize_layers(self) -> None:
        done: Dict[int, Tuple[cst.Call, ...]] = {}

        def layers_of(value: ModelValue, visiting: Set[int]) -> Tuple[cst.Call, ...]:
            if id(value) in done:
                return done[id(value)]
            if id(value) in visiting:
                return ()
            visiting.add(id(value))
            base: Sequence[cst.Call] = self._layer_parts.get(id(value), ())
            basis = value.built if value.kind == "builder" else value.source
            if basis is not None:
                base = layers_of(basis, visiting)
            result = _unique(list(base) + self._added_layers.get(id(value), []))
            done[id(value)] = result
            return result

        for value in self._values_by_site.values():
            value.layer_calls = layers_of(value, set())


def _extend_lists(into: Dict[int, List[T]], lists: Dict[int, List[T]]) -> None:
    for key, items in lists.items():
        into.setdefault(key, []).extend(items)


def _single_model(values: Values) -> Optional[ModelValue]:
    if len(values) == 1 and isinstance(values[0], ModelValue):
        return values[0]
    return None


def _argument(call: cst.Call, position: int, *keywords: str) -> Optional[cst.BaseExpression]:
    positional = [arg for arg in call.args if arg.keyword is None and not arg.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg.value
    return positional[position].value if position < len(positional) else None


def _map_arguments(
    function: cst.FunctionDef, call: cst.Call, arguments: List[Values]
) -> Optional[Dict[str, Values]]:
    """Parameter name -> the values passed at this call; None if ``*``/``**`` hide them."""
    if any(arg.star for arg in call.args):
        return None
    names = [p.name.value for p in (*function.params.posonly_params, *function.params.params)]
    mapped: Dict[str, Values] = {}
    position = 0
    for arg, values in zip(call.args, arguments):
        if arg.keyword is not None:
            mapped[arg.keyword.value] = values
        elif position < len(names):
            mapped[names[position]] = values
            position += 1
    return mapped


def _paired_elements(
    target: Union[cst.Tuple, cst.List], value: Optional[cst.BaseExpression]
) -> Dict[int, cst.BaseExpression]:
    """``a, b = x, y``: each target element's own value expression (by target id)."""
    if not isinstance(value, (cst.Tuple, cst.List)) or len(value.elements) != len(target.elements):
        return {}
    elements = list(zip(target.elements, value.elements))
    if any(isinstance(e, cst.StarredElement) for pair in elements for e in pair):
        return {}
    return {id(t.value): v.value for t, v in elements}
