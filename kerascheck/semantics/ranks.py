"""Tensor ranks: how many axes a tensor expression has, read from the code alone.

A value is an ``int`` rank (0 for a Python number or a scalar), a ``tuple`` of values for a
list or tuple of tensors (what a two-input ``Lambda`` receives), or ``None``: cannot tell.
Anything computed from an unknown part is unknown, and rules stay silent on unknowns.

What the inference knows:

* sources: ``Input(shape=s)`` has rank ``len(s) + 1``, ``Input(batch_shape=s)`` ``len(s)``;
  numbers have rank 0; layer applications with a plain output rank: rank-keeping layers
  (``Dense``, ``Dropout``, ``Activation``, normalisation, ...), ``Flatten`` (2),
  ``Reshape(s)`` (``len(s) + 1``), ``RepeatVector`` (3), merging layers (their inputs'
  common rank) and ``Lambda`` (its function's inferred result);
* indexing: an integer removes an axis, a slice keeps it, ``None``/``newaxis`` adds one,
  ``...`` stands for the axes not named; ``t[0]`` of a list of tensors is its element;
* reductions (``sum``, ``mean``, ``max``, ``min``, ``prod``, ``std``, ``var``, ``any``,
  ``all``, ``argmax``, ``argmin``, ``logsumexp``, ``norm``) of ``K``, ``keras.ops``,
  ``tf``/``tf.math`` (``reduce_*``), numpy, and tensor methods, each with its API's
  default axis: an integer axis removes one axis, a tuple its length, no axis every axis
  (one for ``K.argmax`` and ``tf.argmax``), ``keepdims=True`` none;
* ``expand_dims`` (+1), ``squeeze(axis=...)``, ``reshape`` to a literal shape, ``stack``
  (+1), ``concatenate``; elementwise arithmetic and functions broadcast to their
  operands' highest rank;
* names: within one function body (or the module), a name bound only by plain
  ``name = value`` statements directly in the body holds, at each statement, the value of
  the latest such assignment before it; names bound in any other way (in a loop or a
  branch, by unpacking, ``+=``, ``global``) are unknown. A free name read inside a
  function must be assigned exactly once in its scope;
* functions: a lambda or a ``def`` called with known arguments: the parameters take the
  arguments' values (or their defaults) and the result is the value every ``return``
  agrees on; decorated, ``async`` and generator functions, and functions that can end
  without a ``return``, are unknown.

Everything is computed on demand and memoised per (expression, frame).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, Union

import libcst as cst

from . import walk
from .imports import ImportTable, keras_member_of
from .literals import integer_value

Value = Union[int, Tuple["Value", ...], None]

EVERY_AXIS = -1
"""``Reduction.axes_removed`` when the reduction removes every axis (no axis given)."""

# Deeper than this (recursive functions, very long chains) the answer is "unknown".
MAX_DEPTH = 100

# ======================================================================================
# What names are bound to


@dataclass(frozen=True)
class Thunk:
    """An expression and the frame its names are read in; evaluated only when asked."""

    expr: cst.BaseExpression = field(repr=False)
    frame: "Frame" = field(repr=False)


@dataclass(frozen=True)
class Known:
    """A value computed already (a ``Lambda``'s input), or unknown (None)."""

    value: Value


@dataclass(frozen=True)
class Definition:
    """A ``def`` statement and the frame it is defined in."""

    node: cst.FunctionDef = field(repr=False)
    frame: "Frame" = field(repr=False)


Binding = Union[Thunk, Known, Definition]
UNKNOWN = Known(None)


class Scope:
    """One namespace (the module, a function or a class body) and how its names are bound.

    A *unit* is one top-level statement of the body (each small statement of a
    ``a = 1; b = 2`` line counts alone). ``assignments`` holds, per name, the plain
    assignments and ``def`` statements made directly in the body, as (unit, value or
    def); ``rebindings`` the units that bind it any other way (inside a loop or a branch,
    ``+=``, ``for``, ``with``, ``import``, ...); ``shared`` the names declared ``global`` or
    ``nonlocal``, which code elsewhere may rebind at any time.
    """

    def __init__(self, node: cst.CSTNode, parent: Optional["Scope"]) -> None:
        self.node = node
        self.parent = parent
        self.assignments: Dict[str, List[Tuple[int, cst.CSTNode]]] = {}
        self.rebindings: Dict[str, List[int]] = {}
        self.shared: Set[str] = set()
        self.parameters: FrozenSet[str] = (
            _parameter_names(node.params) if isinstance(node, cst.FunctionDef) else frozenset()
        )
        self.returns: List[Tuple[int, cst.Return]] = []
        self.is_generator = False
        self.ends_with_return = False

    @property
    def enclosing(self) -> Optional["Scope"]:
        """Where free names are read: the nearest enclosing scope that is not a class
        body (Python's rule for names used in methods)."""
        parent = self.parent
        while parent is not None and isinstance(parent.node, cst.ClassDef):
            parent = parent.parent
        return parent

    def binds(self, name: str) -> bool:
        return any(
            name in names
            for names in (self.assignments, self.rebindings, self.shared, self.parameters)
        )

    def binding_at(
        self, name: str, position: Optional[int]
    ) -> Optional[Tuple[int, Optional[cst.CSTNode]]]:
        """What gives ``name`` its value at unit ``position``: (unit, value or def) for a
        plain assignment, (-1, None) for the parameter, None when that cannot be told.
        Position None means "whenever the body has run" (a free name read later on),
        which only a name bound exactly once can answer."""
        if name in self.shared:
            return None
        assignments = self.assignments.get(name, [])
        rebindings = self.rebindings.get(name, [])
        parameter = (-1, None) if name in self.parameters else None
        if position is None:
            if rebindings or len(assignments) + (parameter is not None) != 1:
                return None
            return assignments[0] if assignments else parameter
        earlier = [assignment for assignment in assignments if assignment[0] < position]
        latest = earlier[-1] if earlier else parameter
        # A rebinding since then, or in the unit being read (a loop may run it first),
        # hides the value.
        if latest is None or any(latest[0] <= unit <= position for unit in rebindings):
            return None
        return latest


class Activation:
    """One run of a scope: the module, a function called with known arguments, or a
    function body read with unknown parameters (``scope`` is None for a lambda, whose
    only names are its parameters)."""

    def __init__(
        self,
        scope: Optional[Scope],
        parameters: Dict[str, Binding],
        parent: Optional["Frame"],
    ) -> None:
        self.scope = scope
        self.parameters = parameters
        self.parent = parent
        self._frames: Dict[Optional[int], Frame] = {}

    def frame_at(self, position: Optional[int]) -> "Frame":
        frame = self._frames.get(position)
        if frame is None:
            frame = self._frames[position] = Frame(self, position)
        return frame


class Frame:
    """A point (unit position) in an activation: names read there see the bindings made
    before it."""

    def __init__(self, activation: Activation, position: Optional[int]) -> None:
        self.activation = activation
        self.position = position

    def lookup(self, name: str) -> Binding:
        activation = self.activation
        scope = activation.scope
        if scope is not None and scope.binds(name):
            return self._local(scope, name)
        if name in activation.parameters:
            return activation.parameters[name]
        return activation.parent.lookup(name) if activation.parent is not None else UNKNOWN

    def _local(self, scope: Scope, name: str) -> Binding:
        binding = scope.binding_at(name, self.position)
        if binding is None:
            return UNKNOWN
        unit, value = binding
        if value is None:
            return self.activation.parameters.get(name, UNKNOWN)
        frame = self.activation.frame_at(unit)
        if isinstance(value, cst.FunctionDef):
            return Definition(value, frame)
        return Thunk(value, frame)  # type: ignore[arg-type]


# ======================================================================================
# Indexing the module: scopes, their bindings, and where every node is


@dataclass(frozen=True)
class _Place:
    """Where a node is: a unit of a scope, inside lambdas or comprehensions whose own
    names (``shadowed``) hide the scope's."""

    scope: Scope
    position: int
    shadowed: FrozenSet[str]


def _units(body: Union[cst.BaseSuite, Sequence[cst.BaseStatement]]) -> List[cst.CSTNode]:
    statements = body.body if isinstance(body, cst.BaseSuite) else body
    units: List[cst.CSTNode] = []
    for statement in statements:
        if isinstance(statement, cst.SimpleStatementLine):
            units.extend(statement.body)
        else:
            units.append(statement)
    return units


def _parameter_names(parameters: cst.Parameters) -> FrozenSet[str]:
    names = [p.name.value for p in _all_parameters(parameters)]
    for extra in (parameters.star_arg, parameters.star_kwarg):
        if isinstance(extra, cst.Param):
            names.append(extra.name.value)
    return frozenset(names)


def _all_parameters(parameters: cst.Parameters) -> List[cst.Param]:
    return [*parameters.posonly_params, *parameters.params, *parameters.kwonly_params]


def _target_names(target: cst.BaseExpression) -> Iterable[str]:
    if isinstance(target, cst.Name):
        yield target.value
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            yield from _target_names(element.value)
    elif isinstance(target, cst.StarredElement):
        yield from _target_names(target.value)


def _straight_assignments(unit: cst.CSTNode) -> List[Tuple[str, cst.CSTNode]]:
    """The (name, value) pairs a unit binds plainly: ``a = b = value``, ``a: T = value``,
    ``def a``, and ``a, b = value`` (``a`` bound to ``value[0]``, ``b`` to ``value[1]``)."""
    if isinstance(unit, cst.Assign):
        targets = [assign_target.target for assign_target in unit.targets]
        if all(isinstance(target, cst.Name) for target in targets):
            return [(target.value, unit.value) for target in targets]  # type: ignore[attr-defined]
        if len(targets) == 1 and isinstance(targets[0], (cst.Tuple, cst.List)):
            return _unpacked(targets[0], unit.value)
    if isinstance(unit, cst.AnnAssign) and isinstance(unit.target, cst.Name) and unit.value:
        return [(unit.target.value, unit.value)]
    if isinstance(unit, cst.FunctionDef):
        return [(unit.name.value, unit)]
    return []


def _unpacked(
    target: Union[cst.Tuple, cst.List], value: cst.BaseExpression
) -> List[Tuple[str, cst.CSTNode]]:
    names = [element.value for element in target.elements]
    if any(isinstance(e, cst.StarredElement) for e in target.elements) or not all(
        isinstance(name, cst.Name) for name in names
    ):
        return []
    # Unpacking reads the items in order: ``value[i]``, a node made for the analysis only.
    return [
        (
            name.value,  # type: ignore[attr-defined]
            cst.Subscript(value, [cst.SubscriptElement(cst.Index(cst.Integer(str(index))))]),
        )
        for index, name in enumerate(names)
    ]


class _ScopeIndex:
    def __init__(self, module: cst.Module) -> None:
        self.scopes: Dict[cst.CSTNode, Scope] = {}
        # By ``id`` of the node (the module keeps its nodes alive): hashing a libcst node
        # is a Python call, and every node of the module is recorded.
        self.where: Dict[int, _Place] = {}
        self.module_scope = Scope(module, None)
        self.index_body(self.module_scope, module.body)

    def index_body(
        self, scope: Scope, body: Union[cst.BaseSuite, Sequence[cst.BaseStatement]]
    ) -> None:
        self.scopes[scope.node] = scope
        units = _units(body)
        for position, unit in enumerate(units):
            walker = _UnitWalker(self, scope, position)
            walker.visit(unit)
            assignments = _straight_assignments(unit)
            for name, value in assignments:
                scope.assignments.setdefault(name, []).append((position, value))
            for name in walker.bound - {name for name, _ in assignments}:
                scope.rebindings.setdefault(name, []).append(position)
        scope.ends_with_return = bool(units) and isinstance(units[-1], cst.Return)


class _UnitWalker:
    """Walks one unit of a scope: records every node's place, collects the names the unit
    binds, and indexes the functions and classes defined in it as scopes of their own."""

    def __init__(self, index: _ScopeIndex, scope: Scope, position: int) -> None:
        self.index = index
        self.scope = scope
        self.position = position
        self.bound: Set[str] = set()
        self._place = _Place(scope, position, frozenset())

    def visit(self, node: cst.CSTNode) -> None:
        where = self.index.where
        stack = [node]
        pop, push = stack.pop, stack.append
        while stack:
            current = pop()
            where[id(current)] = self._place
            special = _SPECIAL_NODES.get(type(current))
            if special is None or not special(self, current):
                walk.push_children(current, push)

    def _visit_all(self, nodes: Iterable[cst.CSTNode]) -> None:
        for node in nodes:
            self.visit(node)

    def _visit_shadowed(self, nodes: Iterable[cst.CSTNode], names: Iterable[str]) -> None:
        outer = self._place
        self._place = _Place(outer.scope, outer.position, outer.shadowed | frozenset(names))
        self._visit_all(nodes)
        self._place = outer

    # ---- nested scopes (these walk their children themselves: they return True) -------

    def _function(self, node: cst.FunctionDef) -> bool:
        self.bound.add(node.name.value)
        # Decorators and defaults are evaluated where the function is defined.
        self._visit_all([*node.decorators, node.params])
        self.index.index_body(Scope(node, self.scope), node.body)
        return True

    def _class(self, node: cst.ClassDef) -> bool:
        self.bound.add(node.name.value)
        self._visit_all([*node.decorators, *node.bases, *node.keywords])
        self.index.index_body(Scope(node, self.scope), node.body)
        return True

    def _lambda(self, node: cst.Lambda) -> bool:
        self._visit_shadowed(walk.children(node), _parameter_names(node.params))
        return True

    def _comprehension(self, node: cst.BaseComp) -> bool:
        names: Set[str] = set()
        for_in: Optional[cst.CompFor] = node.for_in
        while for_in is not None:
            names.update(_target_names(for_in.target))
            for_in = for_in.inner_for_in
        self._visit_shadowed(walk.children(node), names)
        return True

    # ---- returns ---------------------------------------------------------------------

    def _return(self, node: cst.Return) -> bool:
        self.scope.returns.append((self.position, node))
        return False

    def _yield(self, node: cst.Yield) -> bool:
        self.scope.is_generator = True
        return False

    # ---- bindings (the children are still walked: they return False) -----------------

    def _bind(self, target: Optional[cst.BaseExpression]) -> bool:
        if target is not None:
            self.bound.update(_target_names(target))
        return False

    def _bind_import(self, node: Union[cst.Import, cst.ImportFrom]) -> bool:
        if isinstance(node.names, cst.ImportStar):
            return False
        for alias in node.names:
            asname = alias.asname
            if asname is not None and isinstance(asname.name, cst.Name):
                self.bound.add(asname.name.value)
            elif isinstance(node, cst.Import):
                self.bound.add(alias.evaluated_name.split(".")[0])
            else:
                self.bound.add(alias.evaluated_name)
        return False

    def _global(self, node: cst.Global) -> bool:
        names = {item.name.value for item in node.names}
        self.bound.update(names)
        self.index.module_scope.shared.update(names)
        self.scope.shared.update(names)
        return False

    def _nonlocal(self, node: cst.Nonlocal) -> bool:
        names = {item.name.value for item in node.names}
        self.bound.update(names)
        if self.scope.enclosing is not None:
            self.scope.enclosing.shared.update(names)
        self.scope.shared.update(names)
        return False


_SPECIAL_NODES = {
    cst.FunctionDef: _UnitWalker._function,
    cst.ClassDef: _UnitWalker._class,
    cst.Lambda: _UnitWalker._lambda,
    cst.ListComp: _UnitWalker._comprehension,
    cst.SetComp: _UnitWalker._comprehension,
    cst.DictComp: _UnitWalker._comprehension,
    cst.GeneratorExp: _UnitWalker._comprehension,
    cst.Return: _UnitWalker._return,
    cst.Yield: _UnitWalker._yield,
    cst.AssignTarget: lambda walker, node: walker._bind(node.target),
    cst.AnnAssign: lambda walker, node: walker._bind(node.target if node.value else None),
    cst.AugAssign: lambda walker, node: walker._bind(node.target),
    cst.For: lambda walker, node: walker._bind(node.target),
    cst.WithItem: lambda walker, node: walker._bind(node.asname.name if node.asname else None),
    cst.ExceptHandler: lambda walker, node: walker._bind(node.name.name if node.name else None),
    cst.ExceptStarHandler: lambda walker, node: walker._bind(node.name.name if node.name else None),
    cst.NamedExpr: lambda walker, node: walker._bind(node.target),
    cst.Del: lambda walker, node: walker._bind(node.target),
    cst.MatchAs: lambda walker, node: walker._bind(node.name),
    cst.MatchStar: lambda walker, node: walker._bind(node.name),
    cst.Import: _UnitWalker._bind_import,
    cst.ImportFrom: _UnitWalker._bind_import,
    cst.Global: _UnitWalker._global,
    cst.Nonlocal: _UnitWalker._nonlocal,
}


# ======================================================================================
# What the inference reports besides ranks


@dataclass(frozen=True)
class FunctionResult:
    """What a call of a function gives: ``value`` when every ``return`` agrees on it
    (else None), and each returned expression with the frame it is read in."""

    value: Value
    returns: Tuple[Thunk, ...]

    @property
    def rank(self) -> Optional[int]:
        return self.value if isinstance(self.value, int) else None


@dataclass(frozen=True)
class LambdaApplication:
    """``Lambda(...)(inputs)``: the layer construction, the frame its arguments are read
    in, the inputs' value, and what the layer's function gives for them."""

    layer: cst.Call
    layer_frame: Frame
    inputs: Value
    result: Optional[FunctionResult]


@dataclass(frozen=True)
class Reduction:
    """A reduction call as written. ``axes_removed`` is how many axes it removes without
    ``keepdims`` (:data:`EVERY_AXIS` when no axis is given and the API then reduces
    everything); ``keepdims_keyword`` is how this API spells "keep the axes" (None when
    it cannot, or when that cannot be told); ``keepdims_arg`` is the argument given."""

    call: cst.Call
    operand: cst.BaseExpression
    axes_removed: int
    keepdims: bool
    keepdims_keyword: Optional[str]
    keepdims_arg: Optional[cst.Arg]


# ======================================================================================
# Tables of the functions and layers whose rank effect is known


@dataclass(frozen=True)
class _ReductionSignature:
    axis_position: int
    keepdims_position: Optional[int]
    keepdims_keyword: Optional[str]
    no_axis_removes_every_axis: bool  # False: it removes one (K.argmax: -1, tf.argmax: 0)

    @property
    def keywords(self) -> FrozenSet[str]:
        own = {"axis"} | ({self.keepdims_keyword} if self.keepdims_keyword else set())
        return frozenset(own) | _HARMLESS_KEYWORDS

    @property
    def last_position(self) -> int:
        return max(self.axis_position, self.keepdims_position or 0)


# Keywords that do not change a reduction's rank.
_HARMLESS_KEYWORDS = frozenset(
    {"name", "dtype", "out", "ddof", "correction", "initial", "where", "output_type", "ord"}
)

_COMMON_REDUCTIONS = ("sum", "mean", "max", "min", "prod", "std", "var", "any", "all")
_ALL_AXES_BY_DEFAULT = _ReductionSignature(1, 2, "keepdims", True)
_ONE_AXIS_BY_DEFAULT = _ReductionSignature(1, None, None, False)
_NORM = _ReductionSignature(2, 3, "keepdims", True)
# numpy's keepdims comes after dtype/out, whose order differs per function: keyword only.
_NUMPY = _ReductionSignature(1, None, "keepdims", True)

_REDUCTIONS: Dict[Tuple[str, str], _ReductionSignature] = {
    **{("backend", name): _ALL_AXES_BY_DEFAULT for name in _COMMON_REDUCTIONS + ("logsumexp",)},
    ("backend", "argmax"): _ONE_AXIS_BY_DEFAULT,
    ("backend", "argmin"): _ONE_AXIS_BY_DEFAULT,
    **{
        ("ops", name): _ALL_AXES_BY_DEFAULT
        for name in _COMMON_REDUCTIONS + ("logsumexp", "argmax", "argmin")
    },
    ("ops", "norm"): _NORM,
    **{
        ("tf", "reduce_" + name): _ALL_AXES_BY_DEFAULT
        for name in (
            "sum", "mean", "max", "min", "prod", "std", "variance", "any", "all",
            "logsumexp", "euclidean_norm",
        )
    },
    ("tf", "argmax"): _ONE_AXIS_BY_DEFAULT,
    ("tf", "argmin"): _ONE_AXIS_BY_DEFAULT,
    ("tf", "norm"): _NORM,
    **{
        ("np", name): _NUMPY
        for name in _COMMON_REDUCTIONS + ("amax", "amin", "argmax", "argmin")
    },
    ("np", "norm"): _NORM,
}

_METHOD_REDUCTIONS = frozenset(_COMMON_REDUCTIONS + ("logsumexp", "argmax", "argmin"))
_METHOD_KEYWORDS = frozenset(
    {"axis", "dim", "keepdims", "keepdim", "dtype", "out", "ddof", "correction", "unbiased"}
)

# Elementwise functions: the result has the highest rank among the first N positional
# arguments (the others are options such as an axis or a dtype).
_UNARY = frozenset(
    {
        "abs", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "square", "sign", "round",
        "floor", "ceil", "sin", "cos", "tan", "tanh", "sigmoid", "hard_sigmoid", "relu",
        "relu6", "elu", "selu", "gelu", "silu", "swish", "softplus", "softsign", "softmax",
        "log_softmax", "l2_normalize", "cast", "negative", "reciprocal", "erf",
        "logical_not", "stop_gradient", "identity", "cumsum", "cumprod", "transpose",
        "permute_dimensions", "reverse", "sort", "tile", "linear", "exponential",
    }
)
_BINARY = frozenset(
    {
        "add", "subtract", "multiply", "divide", "true_divide", "truediv", "floordiv",
        "floor_divide", "mod", "pow", "power", "maximum", "minimum", "equal", "not_equal",
        "greater", "greater_equal", "less", "less_equal", "squared_difference",
        "logical_and", "logical_or", "logical_xor", "atan2", "arctan2", "divide_no_nan",
    }
)
_TERNARY = frozenset({"clip", "clip_by_value", "where"})
_SCALARS = frozenset({"epsilon"})

# keras.layers functions that merge a list of tensors of one rank into one of that rank.
_MERGE_FUNCTIONS = frozenset(
    {"concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum"}
)
_RANK_KEEPING_LAYERS = frozenset(
    {
        "Dense", "Dropout", "Activation", "BatchNormalization", "LayerNormalization",
        "UnitNormalization", "GaussianNoise", "GaussianDropout", "AlphaDropout", "ReLU",
        "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Softmax", "ActivityRegularization",
        "Masking", "Permute",
        *(
            f"{conv}{dims}D"
            for conv in ("Conv", "SeparableConv", "DepthwiseConv")
            for dims in (1, 2, 3)
        ),
        *(f"Conv{dims}DTranspose" for dims in (1, 2, 3)),
        *(
            f"{layer}{dims}D"
            for layer in (
                "MaxPooling", "AveragePooling", "MaxPool", "AvgPool", "UpSampling",
                "ZeroPadding", "Cropping", "SpatialDropout",
            )
            for dims in (1, 2, 3)
        ),
    }
)
_RECURRENT_LAYERS = frozenset({"LSTM", "GRU", "SimpleRNN", "CuDNNLSTM", "CuDNNGRU"})
_GLOBAL_POOLING_LAYERS = frozenset(
    f"Global{kind}{name}{dims}D"
    for kind in ("Max", "Average", "Avg")
    for name in ("Pooling", "Pool")
    for dims in (1, 2, 3)
)
_MERGING_LAYERS = frozenset(
    {"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"}
)
_NEW_AXIS_NAMES = frozenset({"numpy.newaxis", "tensorflow.newaxis"})

# Module prefixes of the function families, longest first.
_FAMILY_PREFIXES = (
    ("tensorflow.math.", "tf"),
    ("tensorflow.nn.", "tf"),
    ("tensorflow.linalg.", "tf"),
    ("tensorflow.", "tf"),
    ("numpy.linalg.", "np"),
    ("numpy.", "np"),
)
_KERAS_FAMILIES = frozenset({"backend", "ops", "activations", "layers", "config"})


def _operation(qualified: str) -> Optional[Tuple[str, str]]:
    """``(family, function)`` of a library function: ``keras.backend.mean`` ->
    ``("backend", "mean")``, ``tf.math.reduce_sum`` -> ``("tf", "reduce_sum")``."""
    member = keras_member_of(qualified)
    if member is not None:
        family, _, function = member.rpartition(".")
        return (family, function) if family in _KERAS_FAMILIES else None
    for prefix, family in _FAMILY_PREFIXES:
        rest = qualified[len(prefix) :]
        if qualified.startswith(prefix) and "." not in rest:
            return family, rest
    return None


# Index kinds
_INTEGER, _SLICE, _NEW_AXIS, _ELLIPSIS = "integer", "slice", "new axis", "ellipsis"
_CONSUMING = (_INTEGER, _SLICE)


def _argument_node(call: cst.Call, position: Optional[int], *keywords: str) -> Optional[cst.Arg]:
    """The argument given at ``position`` or as one of ``keywords``, if any."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value in keywords:
            return arg
    positional = [arg for arg in call.args if arg.keyword is None]
    if position is not None and position < len(positional):
        return positional[position]
    return None


def _argument(
    call: cst.Call, position: Optional[int], *keywords: str
) -> Optional[cst.BaseExpression]:
    arg = _argument_node(call, position, *keywords)
    return arg.value if arg is not None else None


def _positional(call: cst.Call) -> List[cst.BaseExpression]:
    return [arg.value for arg in call.args if arg.keyword is None]


def _common_rank(value: Value) -> Optional[int]:
    """The rank every tensor of a list shares."""
    if isinstance(value, tuple) and value and all(isinstance(v, int) for v in value):
        if len(set(value)) == 1:
            return value[0]  # type: ignore[return-value]
    return None


# ======================================================================================
# The inference


def may_apply_layer(call: cst.Call, imports: ImportTable) -> bool:
    """Whether ``RankInference.applied_lambda`` may find a layer applied in ``call``, told
    from the call alone (no inference, no index of the module): ``Lambda(f)(x)``, or
    ``layer(x)`` on a name some assignment binds, as names lead to a layer construction
    only through plain assignments (parameters, loop targets, imports are unknown)."""
    if not call.args:
        return False
    func = call.func
    return isinstance(func, cst.Call) or (
        isinstance(func, cst.Name) and imports.assigns(func.value)
    )


class RankInference:
    """Ranks of the tensor expressions of one module (see the module docstring)."""

    def __init__(self, module: cst.Module, imports: ImportTable) -> None:
        self.imports = imports
        self._index = _ScopeIndex(module)
        self._activations: Dict[Scope, Activation] = {}
        self._shadow_frames: Dict[_Place, Frame] = {}
        self._memo: Dict[Tuple[cst.CSTNode, Frame], Value] = {}
        self._depth = 0
        self._shape_functions = {
            "expand_dims": self._expanded,
            "squeeze": self._squeezed,
            "reshape": self._reshaped,
            "stack": self._stacked,
            "concatenate": self._concatenated,
            "concat": self._concatenated,
        }

    # ---- queries -----------------------------------------------------------------------

    def rank_of(self, expr: cst.BaseExpression) -> Optional[int]:
        """The rank of ``expr`` where it stands in the module, or None."""
        frame = self.frame_of(expr)
        value = self.value(expr, frame) if frame is not None else None
        return value if isinstance(value, int) else None

    def frame_of(self, node: cst.CSTNode) -> Optional[Frame]:
        """The frame the names around ``node`` are read in (parameters of the enclosing
        function are unknown)."""
        place = self._index.where.get(id(node))
        if place is None:
            return None
        frame = self._activation_of(place.scope).frame_at(place.position)
        if not place.shadowed:
            return frame
        shadow = self._shadow_frames.get(place)
        if shadow is None:
            hidden: Dict[str, Binding] = {name: UNKNOWN for name in place.shadowed}
            shadow = self._shadow_frames[place] = Activation(None, hidden, frame).frame_at(None)
        return shadow

    def value(self, expr: cst.BaseExpression, frame: Frame) -> Value:
        key = (expr, frame)
        if key in self._memo:
            return self._memo[key]
        if self._depth >= MAX_DEPTH:
            return None
        self._memo[key] = None  # a cycle reads as unknown
        self._depth += 1
        try:
            result = self._evaluate(expr, frame)
        finally:
            self._depth -= 1
        self._memo[key] = result
        return result

    def applied_lambda(self, call: cst.Call) -> Optional[LambdaApplication]:
        """``call`` as the application of a Keras ``Lambda`` layer (``Lambda(f)(x)`` or
        ``layer(x)`` with ``layer = Lambda(f)``), or None if it is not one."""
        if not isinstance(call.func, (cst.Call, cst.Name)) or not call.args:
            return None
        frame = self.frame_of(call)
        if frame is None or any(arg.star for arg in call.args):
            return None
        layer = self._layer_construction(call.func, frame)
        if layer is None or self._layer_symbol(layer) != "Lambda":
            return None
        inputs_expr = _argument(call, 0, "inputs")
        inputs = self.value(inputs_expr, frame) if inputs_expr is not None else None
        # Even unknown inputs may give a known result (a reshape to a literal shape).
        result = self._lambda_result(layer, inputs) if inputs_expr is not None else None
        return LambdaApplication(layer.expr, layer.frame, inputs, result)  # type: ignore[arg-type]

    def call_function(
        self,
        function: cst.BaseExpression,
        frame: Frame,
        positional: Sequence[Binding],
        keywords: Dict[str, Binding],
    ) -> Optional[FunctionResult]:
        """What calling ``function`` (a lambda, or a name of a ``def``) gives."""
        target = self._resolve(function, frame)
        if isinstance(target, Definition):
            return self._call_definition(target, positional, keywords)
        if isinstance(target, Thunk) and isinstance(target.expr, cst.Lambda):
            return self._call_lambda(target.expr, target.frame, positional, keywords)
        return None

    def literal_elements(
        self, expr: Optional[cst.BaseExpression], frame: Frame
    ) -> Optional[List[cst.BaseExpression]]:
        """The elements of the tuple or list literal ``expr`` is (or names)."""
        target = self._resolve(expr, frame) if expr is not None else None
        if not isinstance(target, Thunk) or not isinstance(target.expr, (cst.Tuple, cst.List)):
            return None
        elements = target.expr.elements
        if any(isinstance(element, cst.StarredElement) for element in elements):
            return None
        return [element.value for element in elements]

    def literal_length(self, expr: Optional[cst.BaseExpression], frame: Frame) -> Optional[int]:
        elements = self.literal_elements(expr, frame)
        return len(elements) if elements is not None else None

    def literal_int(self, expr: cst.BaseExpression, frame: Frame) -> Optional[int]:
        target = self._resolve(expr, frame)
        return integer_value(target.expr) if isinstance(target, Thunk) else None

    def reduction(self, call: cst.Call, frame: Frame) -> Optional[Reduction]:
        """``call`` as a reduction whose axes can be read, or None."""
        if any(arg.star for arg in call.args):
            return None
        qualified = self.imports.qualified_name(call.func)
        if qualified is not None:
            operation = _operation(qualified)
            return self._function_reduction(call, *operation, frame) if operation else None
        if isinstance(call.func, cst.Attribute):
            return self._method_reduction(call, call.func, frame)
        return None

    def sole_integer_index(
        self, subscript: cst.Subscript, frame: Frame
    ) -> Optional[Tuple[cst.SubscriptElement, int]]:
        """The integer written in ``subscript``'s index, with its value, when it is the
        only one, indexes a feature axis (not the batch axis 0) of a tensor, and the
        index adds no axis: the case where slicing ``k:k+1`` keeps the axis."""
        rank = self.value(subscript.value, frame)
        if not isinstance(rank, int):
            return None
        kinds = [self._index_kind(element, frame) for element in subscript.slice]
        if kinds.count(_INTEGER) != 1 or _NEW_AXIS in kinds or None in kinds:
            return None
        position = kinds.index(_INTEGER)
        if _ELLIPSIS in kinds[:position]:
            axis = rank - sum(kind in _CONSUMING for kind in kinds[position:])
        else:
            axis = sum(kind in _CONSUMING for kind in kinds[:position])
        element = subscript.slice[position]
        written = integer_value(element.slice.value)  # type: ignore[attr-defined]
        return (element, written) if axis >= 1 and written is not None else None

    # ---- scopes and names --------------------------------------------------------------

    def _activation_of(self, scope: Scope) -> Activation:
        activation = self._activations.get(scope)
        if activation is None:
            enclosing = scope.enclosing
            parent = self._activation_of(enclosing).frame_at(None) if enclosing else None
            activation = self._activations[scope] = Activation(scope, {}, parent)
        return activation

    def _resolve(self, expr: cst.BaseExpression, frame: Frame) -> Binding:
        """Follow names to the expression (or ``def``) they are bound to."""
        target: Binding = Thunk(expr, frame)
        for _ in range(MAX_DEPTH):
            if not isinstance(target, Thunk) or not isinstance(target.expr, cst.Name):
                return target
            if target.expr.value in ("None", "True", "False"):
                return target
            target = target.frame.lookup(target.expr.value)
        return UNKNOWN

    def _binding_value(self, binding: Binding) -> Value:
        if isinstance(binding, Known):
            return binding.value
        if isinstance(binding, Thunk):
            return self.value(binding.expr, binding.frame)
        return None

    # ---- expressions -------------------------------------------------------------------

    def _evaluate(self, expr: cst.BaseExpression, frame: Frame) -> Value:
        if isinstance(expr, (cst.Integer, cst.Float)):
            return 0
        if isinstance(expr, cst.Name):
            return self._binding_value(frame.lookup(expr.value))
        if isinstance(expr, (cst.Tuple, cst.List)):
            return self._sequence_value(expr, frame)
        if isinstance(expr, cst.UnaryOperation):
            if isinstance(expr.operator, cst.Not):
                return None
            return self.value(expr.expression, frame)
        if isinstance(expr, cst.BinaryOperation):
            return self._arithmetic(expr, frame)
        if isinstance(expr, cst.Subscript):
            return self._subscript(expr, frame)
        if isinstance(expr, cst.Call):
            return self._call_value(expr, frame)
        if isinstance(expr, cst.IfExp):
            body, orelse = self.value(expr.body, frame), self.value(expr.orelse, frame)
            return body if body == orelse else None
        return None

    def _sequence_value(self, expr: Union[cst.Tuple, cst.List], frame: Frame) -> Value:
        if any(isinstance(element, cst.StarredElement) for element in expr.elements):
            return None
        return tuple(self.value(element.value, frame) for element in expr.elements)

    def _arithmetic(self, expr: cst.BinaryOperation, frame: Frame) -> Value:
        if isinstance(expr.operator, cst.MatrixMultiply):
            return None
        left, right = self.value(expr.left, frame), self.value(expr.right, frame)
        # Tuples would concatenate or repeat (``+``, ``*``): not tensor arithmetic.
        if isinstance(left, int) and isinstance(right, int):
            return max(left, right)
        return None

    def _subscript(self, expr: cst.Subscript, frame: Frame) -> Value:
        base = self.value(expr.value, frame)
        if isinstance(base, tuple):
            return self._element(base, expr, frame)
        if not isinstance(base, int):
            return None
        kinds = [self._index_kind(element, frame) for element in expr.slice]
        if None in kinds or kinds.count(_ELLIPSIS) > 1:
            return None
        if sum(kind in _CONSUMING for kind in kinds) > base:
            return None
        return base - kinds.count(_INTEGER) + kinds.count(_NEW_AXIS)

    def _element(self, sequence: Tuple[Value, ...], expr: cst.Subscript, frame: Frame) -> Value:
        if len(expr.slice) != 1 or not isinstance(expr.slice[0].slice, cst.Index):
            return None
        index = self.literal_int(expr.slice[0].slice.value, frame)
        if index is None or not -len(sequence) <= index < len(sequence):
            return None
        return sequence[index]

    def _index_kind(self, element: cst.SubscriptElement, frame: Frame) -> Optional[str]:
        index = element.slice
        if isinstance(index, cst.Slice):
            return _SLICE
        if not isinstance(index, cst.Index) or index.star is not None:
            return None
        value = index.value
        if isinstance(value, cst.Ellipsis):
            return _ELLIPSIS
        if isinstance(value, cst.Name) and value.value == "None":
            return _NEW_AXIS
        if self.imports.is_name(value, *_NEW_AXIS_NAMES):
            return _NEW_AXIS
        return _INTEGER if self.literal_int(value, frame) is not None else None

    # ---- calls -------------------------------------------------------------------------

    def _call_value(self, call: cst.Call, frame: Frame) -> Value:
        if any(arg.star for arg in call.args):
            return None
        layer = self._layer_construction(call.func, frame)
        if layer is not None:
            return self._layer_output(layer, call, frame)
        qualified = self.imports.qualified_name(call.func)
        if qualified is not None:
            return self._library_value(qualified, call, frame)
        if isinstance(call.func, cst.Attribute):
            reduction = self._method_reduction(call, call.func, frame)
            return self._reduced_rank(reduction, frame) if reduction else None
        positional = [Thunk(arg.value, frame) for arg in call.args if arg.keyword is None]
        keywords: Dict[str, Binding] = {
            arg.keyword.value: Thunk(arg.value, frame) for arg in call.args if arg.keyword
        }
        result = self.call_function(call.func, frame, positional, keywords)
        return result.value if result is not None else None

    def _library_value(self, qualified: str, call: cst.Call, frame: Frame) -> Value:
        if keras_member_of(qualified) in ("Input", "layers.Input"):
            return self._input_rank(call, frame)
        operation = _operation(qualified)
        if operation is None:
            return None
        family, function = operation
        if (family, function) in _REDUCTIONS:
            reduction = self._function_reduction(call, family, function, frame)
            return self._reduced_rank(reduction, frame) if reduction else None
        if family == "layers":
            merged = _positional(call)
            if function not in _MERGE_FUNCTIONS or not merged:
                return None
            return _common_rank(self.value(merged[0], frame))
        return self._elementwise_or_shape(family, function, call, frame)

    def _elementwise_or_shape(
        self, family: str, function: str, call: cst.Call, frame: Frame
    ) -> Value:
        if function in _UNARY:
            return self._broadcast(call, 1, frame)
        if family == "activations":
            return None
        if function in _SCALARS and not call.args:
            return 0
        if function in _BINARY:
            return self._broadcast(call, 2, frame)
        if function in _TERNARY:
            return self._broadcast(call, 3, frame)
        if function == "batch_flatten" and family == "backend":
            return 2
        if function == "flatten" and family == "backend":
            return 1
        shape_function = self._shape_functions.get(function)
        return shape_function(family, call, frame) if shape_function else None

    def _broadcast(self, call: cst.Call, operands: int, frame: Frame) -> Value:
        arguments = _positional(call)
        if len(arguments) < operands:
            return None
        ranks = [self.value(argument, frame) for argument in arguments[:operands]]
        if all(isinstance(rank, int) for rank in ranks):
            return max(ranks)  # type: ignore[type-var]
        return None

    def _input_rank(self, call: cst.Call, frame: Frame) -> Value:
        if _argument(call, None, "tensor") is not None:
            return None
        shape = self.literal_length(_argument(call, 0, "shape"), frame)
        if shape is not None:
            return shape + 1
        return self.literal_length(_argument(call, None, "batch_shape"), frame)

    # ---- shape functions ---------------------------------------------------------------

    def _operand_rank(self, call: cst.Call, frame: Frame) -> Optional[int]:
        arguments = _positional(call)
        rank = self.value(arguments[0], frame) if arguments else None
        return rank if isinstance(rank, int) else None

    def _expanded(self, family: str, call: cst.Call, frame: Frame) -> Value:
        rank = self._operand_rank(call, frame)
        axis = _argument(call, 1, "axis", "dim")
        if axis is None:  # only K.expand_dims has a default axis (-1)
            added = 1 if family == "backend" else None
        else:
            added = self._axis_count(axis, frame)
        if rank is None or added is None or added == EVERY_AXIS:
            return None
        return rank + added

    def _squeezed(self, family: str, call: cst.Call, frame: Frame) -> Value:
        rank = self._operand_rank(call, frame)
        axis = _argument(call, 1, "axis")
        # Without an axis every size-1 axis goes, and sizes are not known here.
        removed = self._axis_count(axis, frame) if axis is not None else None
        if rank is None or removed is None or removed == EVERY_AXIS or removed > rank:
            return None
        return rank - removed

    def _reshaped(self, family: str, call: cst.Call, frame: Frame) -> Value:
        return self.literal_length(_argument(call, 1, "shape", "newshape"), frame)

    def _stacked(self, family: str, call: cst.Call, frame: Frame) -> Value:
        arguments = _positional(call)
        rank = _common_rank(self.value(arguments[0], frame)) if arguments else None
        return rank + 1 if rank is not None else None

    def _concatenated(self, family: str, call: cst.Call, frame: Frame) -> Value:
        axis = _argument(call, 1, "axis")
        if isinstance(axis, cst.Name) and axis.value == "None":  # numpy flattens first
            return None
        arguments = _positional(call)
        return _common_rank(self.value(arguments[0], frame)) if arguments else None

    # ---- reductions --------------------------------------------------------------------

    def _function_reduction(
        self, call: cst.Call, family: str, function: str, frame: Frame
    ) -> Optional[Reduction]:
        signature = _REDUCTIONS.get((family, function))
        arguments = _positional(call)
        if signature is None or not arguments or len(arguments) > signature.last_position + 1:
            return None
        if any(arg.keyword and arg.keyword.value not in signature.keywords for arg in call.args):
            return None
        axis = _argument(call, signature.axis_position, "axis")
        keepdims = None
        if signature.keepdims_keyword is not None:
            keepdims = _argument_node(call, signature.keepdims_position, signature.keepdims_keyword)
        return self._reduction(
            call,
            arguments[0],
            axis,
            keepdims,
            signature.keepdims_keyword,
            signature.no_axis_removes_every_axis,
            frame,
        )

    def _method_reduction(
        self, call: cst.Call, method: cst.Attribute, frame: Frame
    ) -> Optional[Reduction]:
        if method.attr.value not in _METHOD_REDUCTIONS:
            return None
        if not isinstance(self.value(method.value, frame), int):
            return None
        keywords = {arg.keyword.value: arg for arg in call.args if arg.keyword}
        positional = [arg for arg in call.args if arg.keyword is None]
        if len(positional) > 1 or set(keywords) - _METHOD_KEYWORDS:
            return None
        axes = positional + [keywords[k] for k in ("axis", "dim") if k in keywords]
        # torch's ``t.max(dim)``/``t.min(dim)`` return (values, indices), not a tensor.
        if len(axes) > 1 or (axes and method.attr.value in ("max", "min")):
            return None
        keepdims = [keywords[k] for k in ("keepdims", "keepdim") if k in keywords]
        if len(keepdims) > 1:
            return None
        return self._reduction(
            call,
            method.value,
            axes[0].value if axes else None,
            keepdims[0] if keepdims else None,
            _method_keepdims_keyword(keywords),
            True,
            frame,
        )

    def _reduction(
        self,
        call: cst.Call,
        operand: cst.BaseExpression,
        axis: Optional[cst.BaseExpression],
        keepdims_arg: Optional[cst.Arg],
        keepdims_keyword: Optional[str],
        no_axis_removes_every_axis: bool,
        frame: Frame,
    ) -> Optional[Reduction]:
        if axis is None:
            removed: Optional[int] = EVERY_AXIS if no_axis_removes_every_axis else 1
        else:
            removed = self._axis_count(axis, frame)
        keepdims: Optional[bool] = False
        if keepdims_arg is not None:
            keepdims = self._bool_literal(keepdims_arg.value, frame)
        if removed is None or keepdims is None:
            return None
        return Reduction(call, operand, removed, keepdims, keepdims_keyword, keepdims_arg)

    def _reduced_rank(self, reduction: Optional[Reduction], frame: Frame) -> Value:
        if reduction is None:
            return None
        if reduction.axes_removed == EVERY_AXIS and not reduction.keepdims:
            return 0  # whatever the operand was
        rank = self.value(reduction.operand, frame)
        if not isinstance(rank, int):
            return None
        if reduction.keepdims:
            return rank
        remaining = rank - reduction.axes_removed
        return remaining if remaining >= 0 else None

    def _axis_count(self, axis: cst.BaseExpression, frame: Frame) -> Optional[int]:
        """How many axes an ``axis=`` argument names (:data:`EVERY_AXIS` for None)."""
        target = self._resolve(axis, frame)
        if not isinstance(target, Thunk):
            return None
        if isinstance(target.expr, cst.Name) and target.expr.value == "None":
            return EVERY_AXIS
        if integer_value(target.expr) is not None:
            return 1
        elements = self.literal_elements(target.expr, target.frame)
        if elements is None or any(self.literal_int(e, target.frame) is None for e in elements):
            return None
        return len(elements)

    def _bool_literal(self, expr: cst.BaseExpression, frame: Frame) -> Optional[bool]:
        target = self._resolve(expr, frame)
        if isinstance(target, Thunk) and isinstance(target.expr, cst.Name):
            return {"True": True, "False": False}.get(target.expr.value)
        return None

    # ---- layers ------------------------------------------------------------------------

    def _layer_construction(self, callee: cst.BaseExpression, frame: Frame) -> Optional[Thunk]:
        """The Keras layer construction ``callee`` is or names (``Dense(3)``, ``layer``)."""
        target = self._resolve(callee, frame)
        if not isinstance(target, Thunk) or not isinstance(target.expr, cst.Call):
            return None
        member = self.imports.keras_member(target.expr.func)
        if member is None or not member.startswith("layers.") or member == "layers.Input":
            return None
        return target if member[len("layers.") :][:1].isupper() else None

    def _layer_symbol(self, layer: Thunk) -> str:
        """The class a layer construction names: ``"Dense"`` for ``layers.Dense(3)``."""
        construction: cst.Call = layer.expr  # type: ignore[assignment]
        return (self.imports.keras_member(construction.func) or "").rsplit(".", 1)[-1]

    def _layer_output(self, layer: Thunk, application: cst.Call, frame: Frame) -> Value:
        symbol = self._layer_symbol(layer)
        inputs_expr = _argument(application, 0, "inputs")
        if inputs_expr is None:
            return None
        inputs = self.value(inputs_expr, frame)
        if symbol == "Lambda":
            result = self._lambda_result(layer, inputs)
            return result.value if result is not None else None
        if symbol in _MERGING_LAYERS:
            return _common_rank(inputs)
        return self._single_input_layer(symbol, layer, inputs)

    def _single_input_layer(self, symbol: str, layer: Thunk, inputs: Value) -> Value:
        construction: cst.Call = layer.expr  # type: ignore[assignment]
        # These layers give one output rank for any input Keras accepts (it rejects the
        # others with an error, not silently).
        if symbol in _RECURRENT_LAYERS:
            return self._recurrent_output(construction, layer.frame)
        if symbol == "Bidirectional":
            return self._bidirectional_output(construction, layer.frame)
        if symbol == "Flatten" or symbol in _GLOBAL_POOLING_LAYERS:
            keepdims = self._flag(construction, "keepdims", layer.frame)
            return 2 if keepdims is False else None
        if symbol == "RepeatVector":
            return 3
        if symbol == "Reshape":
            target = self.literal_length(_argument(construction, 0, "target_shape"), layer.frame)
            return target + 1 if target is not None else None
        if not isinstance(inputs, int):
            return None
        if symbol in _RANK_KEEPING_LAYERS:
            return inputs
        return inputs + 1 if symbol == "Embedding" else None

    def _recurrent_output(self, construction: cst.Call, frame: Frame) -> Value:
        # With return_state the layer returns a list; the states are not modelled.
        if self._flag(construction, "return_state", frame) is not False:
            return None
        sequences = self._flag(construction, "return_sequences", frame)
        return None if sequences is None else 3 if sequences else 2

    def _bidirectional_output(self, construction: cst.Call, frame: Frame) -> Value:
        merge_mode = _argument(construction, 1, "merge_mode")
        # merge_mode=None returns the two directions as a list.
        if merge_mode is not None and not isinstance(merge_mode, cst.SimpleString):
            return None
        inner = self._layer_construction(_argument(construction, 0, "layer"), frame)
        if inner is None:
            return None
        if self._layer_symbol(inner) not in _RECURRENT_LAYERS:
            return None
        return self._recurrent_output(inner.expr, inner.frame)  # type: ignore[arg-type]

    def _flag(self, call: cst.Call, keyword: str, frame: Frame) -> Optional[bool]:
        """A boolean keyword argument's value (False when absent), None if not literal."""
        value = _argument(call, None, keyword)
        return False if value is None else self._bool_literal(value, frame)

    def _lambda_result(self, layer: Thunk, inputs: Value) -> Optional[FunctionResult]:
        construction: cst.Call = layer.expr  # type: ignore[assignment]
        function = _argument(construction, 0, "function")
        keywords = self._lambda_arguments(construction, layer.frame)
        if function is None or keywords is None:
            return None
        return self.call_function(function, layer.frame, [Known(inputs)], keywords)

    def _lambda_arguments(
        self, construction: cst.Call, frame: Frame
    ) -> Optional[Dict[str, Binding]]:
        """``Lambda(f, arguments={...})``: the keyword arguments Keras passes to ``f``."""
        arguments = _argument(construction, 3, "arguments")
        if arguments is None:
            return {}
        target = self._resolve(arguments, frame)
        if not isinstance(target, Thunk) or not isinstance(target.expr, cst.Dict):
            return None
        keywords: Dict[str, Binding] = {}
        for element in target.expr.elements:
            if not isinstance(element, cst.DictElement):
                return None
            if not isinstance(element.key, cst.SimpleString):
                return None
            keywords[str(element.key.evaluated_value)] = Thunk(element.value, target.frame)
        return keywords

    # ---- user functions ----------------------------------------------------------------

    def _call_lambda(
        self,
        function: cst.Lambda,
        defined_in: Frame,
        positional: Sequence[Binding],
        keywords: Dict[str, Binding],
    ) -> Optional[FunctionResult]:
        parameters = _bind_parameters(function.params, defined_in, positional, keywords)
        if parameters is None:
            return None
        body = Activation(None, parameters, defined_in).frame_at(None)
        return self._result((Thunk(function.body, body),))

    def _call_definition(
        self, definition: Definition, positional: Sequence[Binding], keywords: Dict[str, Binding]
    ) -> Optional[FunctionResult]:
        node = definition.node
        scope = self._index.scopes.get(node)
        defined_in = definition.frame.activation.scope
        if scope is None or node.asynchronous or node.decorators or scope.is_generator:
            return None
        # A function that can end without ``return`` may give None; a method reads
        # names the class body does not provide.
        if not scope.ends_with_return or (defined_in and isinstance(defined_in.node, cst.ClassDef)):
            return None
        parameters = _bind_parameters(node.params, definition.frame, positional, keywords)
        if parameters is None:
            return None
        activation = Activation(scope, parameters, definition.frame.activation.frame_at(None))
        returns = []
        for position, statement in scope.returns:
            if statement.value is None:
                return None
            returns.append(Thunk(statement.value, activation.frame_at(position)))
        return self._result(tuple(returns))

    def _result(self, returns: Tuple[Thunk, ...]) -> FunctionResult:
        values = {self.value(returned.expr, returned.frame) for returned in returns}
        agreed = values.pop() if len(values) == 1 else None
        return FunctionResult(agreed, returns)


def _method_keepdims_keyword(keywords: Dict[str, cst.Arg]) -> Optional[str]:
    """numpy-style methods say ``axis``/``keepdims``, torch ``dim``/``keepdim``; with
    neither written, the tensor library cannot be told."""
    if "dim" in keywords or "keepdim" in keywords:
        return "keepdim"
    if "axis" in keywords or "keepdims" in keywords:
        return "keepdims"
    return None


def _bind_parameters(
    parameters: cst.Parameters,
    defined_in: Frame,
    positional: Sequence[Binding],
    keywords: Dict[str, Binding],
) -> Optional[Dict[str, Binding]]:
    """Parameter name -> binding for one call, as Python binds them; None when the call
    would fail or cannot be read. Defaults are read where the function is defined."""
    ordered = [*parameters.posonly_params, *parameters.params]
    star_arg = parameters.star_arg if isinstance(parameters.star_arg, cst.Param) else None
    if len(positional) > len(ordered) and star_arg is None:
        return None
    bound: Dict[str, Binding] = {p.name.value: value for p, value in zip(ordered, positional)}
    names = {p.name.value for p in _all_parameters(parameters)}
    for name, value in keywords.items():
        if name in bound or (name not in names and parameters.star_kwarg is None):
            return None
        if name in names:  # the others land in ``**kwargs``
            bound[name] = value
    for parameter in _all_parameters(parameters):
        if parameter.name.value not in bound:
            default = parameter.default
            bound[parameter.name.value] = Thunk(default, defined_in) if default else UNKNOWN
    for extra in (star_arg, parameters.star_kwarg):
        if extra is not None:
            bound[extra.name.value] = UNKNOWN
    return bound
