"""Import resolution: what a name or attribute chain refers to.

Every spelling of Keras resolves to one canonical form, so rules ask one question:
``keras.layers.Lambda`` is what ``Lambda`` means after any of

    import keras                              from keras.layers import Lambda
    from tensorflow import keras              import tensorflow as tf  (tf.keras.layers.Lambda)
    from tensorflow.keras.layers import *     import tf_keras as keras
    from keras.layers.core import Lambda      Lam = keras.layers.Lambda  (a module-level alias)

Resolution is flow-insensitive (imports are nearly always at the top of a file) and
purely syntactic: nothing is imported.
"""

from __future__ import annotations

import enum
from functools import cached_property
from typing import Dict, FrozenSet, List, Optional, Set

import libcst as cst

from . import walk

# Prefixes under which Keras lives, mapped to the canonical ``keras``.
_KERAS_PREFIXES = (
    ("tensorflow.python.keras", "keras"),
    ("tensorflow.compat.v1.keras", "keras"),
    ("tensorflow.compat.v2.keras", "keras"),
    ("tensorflow.keras", "keras"),
    ("tf_keras", "keras"),
    ("keras.src", "keras"),
    ("keras.api", "keras"),
    ("keras._tf_keras.keras", "keras"),
)

# Public Keras sub-packages; a deeper module path below one of them (``keras.layers.core``,
# ``keras.layers.recurrent``, ``keras.utils.data_utils``) is an implementation detail that
# ``keras_member`` folds away.
KERAS_PACKAGES = frozenset(
    {
        "layers",
        "models",
        "optimizers",
        "losses",
        "metrics",
        "callbacks",
        "utils",
        "backend",
        "ops",
        "activations",
        "initializers",
        "regularizers",
        "constraints",
        "preprocessing",
        "applications",
        "datasets",
        "saving",
        "random",
        "mixed_precision",
    }
)

# Modules that only exist in Keras 2 (their import tells the file's Keras).
_KERAS2_MODULES = (
    "keras.layers.core",
    "keras.layers.recurrent",
    "keras.layers.convolutional",
    "keras.layers.normalization",
    "keras.layers.embeddings",
    "keras.layers.merge",
    "keras.layers.wrappers",
    "keras.layers.advanced_activations",
    "keras.layers.cudnn_recurrent",
    "keras.engine",
    "keras.utils.np_utils",
    "keras.wrappers",
    "keras.legacy",
)

# What Keras 3 still has in ``keras.backend``; any other ``K.<name>`` is Keras 2 math.
KERAS3_BACKEND_NAMES = frozenset(
    {
        "epsilon",
        "floatx",
        "set_floatx",
        "set_epsilon",
        "image_data_format",
        "set_image_data_format",
        "clear_session",
        "is_keras_tensor",
        "backend",
        "standardize_dtype",
        "result_type",
        "is_float_dtype",
        "is_int_dtype",
    }
)


class KerasFlavor(str, enum.Enum):
    KERAS2 = "keras2"
    KERAS3 = "keras3"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


def canonical(qualified: str) -> str:
    """Map every Keras spelling to ``keras.*``; other names are returned unchanged."""
    for prefix, replacement in _KERAS_PREFIXES:
        if qualified == prefix or qualified.startswith(prefix + "."):
            return replacement + qualified[len(prefix) :]
    return qualified


def dotted_name(node: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts: List[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _module_name(node: cst.BaseExpression) -> str:
    name = dotted_name(node)
    return name or ""


class _BindingCollector(cst.CSTVisitor):
    """Collects imports, star imports, simple module-level aliases, and every bound name."""

    def __init__(self) -> None:
        self.aliases: Dict[str, str] = {}
        self.star_modules: List[str] = []
        self.bound: Set[str] = set()
        # Bound by an assignment statement (``=``, ``: T =``), unpacking included.
        self.assigned: Set[str] = set()
        self.assign_counts: Dict[str, int] = {}
        self.simple_assigns: Dict[str, cst.BaseExpression] = {}
        self.imported_modules: Set[str] = set()
        self._depth = 0  # function/class nesting

    # ---- imports -------------------------------------------------------------------

    def visit_Import(self, node: cst.Import) -> None:
        for alias in node.names:
            full = _module_name(alias.name)
            self.imported_modules.add(canonical(full))
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
                self.aliases[local] = full
            else:
                # ``import a.b.c`` binds ``a``
                top = full.split(".")[0]
                self.aliases.setdefault(top, top)
                local = top
            self.bound.add(local)

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        if node.relative:
            return  # relative imports are the project's own modules, never Keras
        module = _module_name(node.module) if node.module is not None else ""
        self.imported_modules.add(canonical(module))
        if isinstance(node.names, cst.ImportStar):
            self.star_modules.append(module)
            return
        for alias in node.names:
            name = _module_name(alias.name)
            full = f"{module}.{name}" if module else name
            self.imported_modules.add(canonical(full))
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            else:
                local = name
            self.aliases[local] = full
            self.bound.add(local)

    # ---- other bindings (they shadow star imports and disqualify aliases) -------------

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.bound.add(node.name.value)
        self._count(node.name.value)
        self._depth += 1

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._depth -= 1

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.bound.add(node.name.value)
        self._count(node.name.value)
        self._depth += 1

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._depth -= 1

    def visit_Param(self, node: cst.Param) -> None:
        self.bound.add(node.name.value)

    def visit_Lambda(self, node: cst.Lambda) -> None:
        for param in node.params.params:
            self.bound.add(param.name.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind_target(target.target, assignment=True)
        if (
            self._depth == 0
            and len(node.targets) == 1
            and isinstance(node.targets[0].target, cst.Name)
        ):
            self.simple_assigns[node.targets[0].target.value] = node.value

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind_target(node.target, assignment=True)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind_target(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind_target(node.target)

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind_target(node.target)

    def visit_WithItem(self, node: cst.WithItem) -> None:
        if node.asname is not None:
            self._bind_target(node.asname.name)

    def visit_ExceptHandler(self, node: cst.ExceptHandler) -> None:
        if node.name is not None:
            self._bind_target(node.name.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind_target(node.target)

    def visit_Global(self, node: cst.Global) -> None:
        for item in node.names:
            self.bound.add(item.name.value)

    def _bind_target(self, target: cst.BaseExpression, assignment: bool = False) -> None:
        if isinstance(target, cst.Name):
            self.bound.add(target.value)
            if assignment:
                self.assigned.add(target.value)
            self._count(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind_target(element.value, assignment)
        elif isinstance(target, cst.StarredElement):
            self._bind_target(target.value, assignment)

    def _count(self, name: str) -> None:
        self.assign_counts[name] = self.assign_counts.get(name, 0) + 1


class ImportTable:
    """What every imported (or simply aliased) name in a module refers to."""

    def __init__(self, module: cst.Module) -> None:
        collector = _BindingCollector()
        # Imports and the assignments that make aliases are statements: walking only the
        # statements is many times cheaper. Every bound name (parameters, comprehension
        # variables, ...) matters only to shadow a star import, so only then is the whole
        # tree walked.
        walk.visit(module, collector, statements_only=True)
        if collector.star_modules:
            collector = _BindingCollector()
            walk.visit(module, collector)
        self._aliases = dict(collector.aliases)
        self._star_modules = [canonical(m) for m in collector.star_modules]
        self._bound = frozenset(collector.bound)
        self._assigned = frozenset(collector.assigned)
        self.imported_modules: FrozenSet[str] = frozenset(collector.imported_modules)
        # ``Dense = keras.layers.Dense`` at module level, assigned once: an alias too.
        for name, value in collector.simple_assigns.items():
            if collector.assign_counts.get(name) == 1 and name not in self._aliases:
                target = self._resolve_uncached(value)
                if target is not None:
                    self._aliases[name] = target
        self._cache: Dict[int, Optional[str]] = {}
        self._members: Dict[int, Optional[str]] = {}
        self._module = module

    @cached_property
    def flavor(self) -> KerasFlavor:
        """Which Keras the file is written for (rules ask only when they word a finding,
        so the extra traversal is skipped in files without one)."""
        return self._detect_flavor(self._module)

    # ---- queries -------------------------------------------------------------------

    @property
    def imports_keras(self) -> bool:
        return any(m == "keras" or m.startswith("keras.") for m in self.imported_modules) or any(
            m == "keras" or m.startswith("keras.") for m in self._star_modules
        )

    def assigns(self, name: str) -> bool:
        """Whether an assignment statement (``=``, ``: T =``, unpacking too) anywhere in
        the module binds ``name``."""
        return name in self._assigned

    def qualified_name(self, node: cst.BaseExpression) -> Optional[str]:
        """The canonical dotted name ``node`` refers to, or None if it is not imported."""
        key = id(node)
        if key not in self._cache:
            self._cache[key] = self._resolve_uncached(node)
        return self._cache[key]

    def keras_member(self, node: cst.BaseExpression) -> Optional[str]:
        """``"layers.Lambda"`` / ``"Model"`` / ``"backend.mean"`` for Keras names, else None.

        Implementation sub-modules are folded: ``keras.layers.core.Lambda`` gives
        ``layers.Lambda``; ``keras.engine.training.Model`` gives ``Model``.
        """
        key = id(node)
        if key not in self._members:
            name = self.qualified_name(node)
            self._members[key] = keras_member_of(name) if name else None
        return self._members[key]

    def is_keras(self, node: cst.BaseExpression, *members: str) -> bool:
        """Whether ``node`` is one of the Keras ``members`` (``"layers.Lambda"``, ``"Model"``).

        A bare symbol (``"Model"``) also matches the symbol in any sub-package
        (``keras.models.Model``) since Keras re-exports them.
        """
        member = self.keras_member(node)
        if member is None:
            return False
        symbol = member.rsplit(".", 1)[-1]
        for wanted in members:
            if member == wanted or ("." not in wanted and symbol == wanted):
                return True
        return False

    def is_name(self, node: cst.BaseExpression, *qualified: str) -> bool:
        """Whether ``node`` resolves to one of the given canonical dotted names."""
        name = self.qualified_name(node)
        return name is not None and name in qualified

    def local_names_for(self, qualified_prefix: str) -> List[str]:
        """Local names bound to ``qualified_prefix`` or below it (for spelling fixes)."""
        return sorted(
            local
            for local, target in self._aliases.items()
            if canonical(target) == qualified_prefix
            or canonical(target).startswith(qualified_prefix + ".")
        )

    def spelling_for(self, qualified: str) -> Optional[str]:
        """How this file can spell ``qualified`` with the names it already imports, e.g.
        ``keras.models.clone_model`` → ``tf.keras.models.clone_model``; None if it cannot."""
        best: Optional[str] = None
        for local, target in self._aliases.items():
            target_c = canonical(target)
            if qualified == target_c:
                candidate = local
            elif qualified.startswith(target_c + "."):
                candidate = local + qualified[len(target_c) :]
            elif target_c == "tensorflow" and qualified.startswith("keras."):
                candidate = f"{local}.{qualified}"
            else:
                continue
            if best is None or len(candidate) < len(best):
                best = candidate
        return best

    # ---- internals -----------------------------------------------------------------

    def _resolve_uncached(self, node: cst.BaseExpression) -> Optional[str]:
        # Most names are neither imported nor possibly from a star import: tell from the
        # first name of the chain before spelling all of it. (Neither class has
        # subclasses: type tests stand for isinstance(), slow on libcst's ABCs.)
        first = node
        while type(first) is cst.Attribute:
            first = first.value
        if type(first) is not cst.Name:
            return None
        head = first.value
        if head not in self._aliases and (head in self._bound or not self._star_modules):
            return None
        name = dotted_name(node)
        if name is None:
            return None
        head, _, rest = name.partition(".")
        if head in self._aliases:
            full = self._aliases[head] + ("." + rest if rest else "")
            return canonical(full)
        if head not in self._bound and self._star_modules:
            # A free name after ``from m import *``: only resolvable when one star
            # import is Keras (the others cannot be told apart without importing them).
            keras_stars = [m for m in self._star_modules if m == "keras" or m.startswith("keras.")]
            if len(keras_stars) == 1:
                return keras_stars[0] + "." + name
        return None

    def _detect_flavor(self, module: cst.Module) -> KerasFlavor:
        raw = set(self._aliases.values()) | set(self._star_modules)
        if any(m == "tf_keras" or m.startswith("tf_keras.") for m in raw):
            return KerasFlavor.KERAS2
        if any(
            m == k2 or m.startswith(k2 + ".")
            for m in self.imported_modules
            for k2 in _KERAS2_MODULES
        ):
            return KerasFlavor.KERAS2
        signals = _FlavorSignals(self)
        signals.scan(module)
        if signals.keras2 and not signals.keras3:
            return KerasFlavor.KERAS2
        if signals.keras3 and not signals.keras2:
            return KerasFlavor.KERAS3
        return KerasFlavor.UNKNOWN


class _FlavorSignals:
    """APIs that exist in only one Keras: ``keras.ops``/``PyDataset`` (3), backend math,
    ``fit_generator`` and ``CuDNNLSTM`` (2)."""

    def __init__(self, table: ImportTable) -> None:
        self.table = table
        self.keras2 = False
        self.keras3 = False

    def scan(self, module: cst.Module) -> None:
        # Every node is read: a loop of type tests costs less than visitor callbacks.
        keras_member = self.table.keras_member
        stack: List[cst.CSTNode] = [module]
        pop, push = stack.pop, stack.append
        while stack:
            node = pop()
            if type(node) is cst.Attribute:
                if node.attr.value in ("fit_generator", "evaluate_generator", "predict_generator"):
                    self.keras2 = True
                member = keras_member(node)
                if member is not None:
                    self._member(member)
                    continue  # a Keras name as a whole: its parts are not read again
            elif type(node) is cst.Name:
                member = keras_member(node)
                if member is not None:
                    self._member(member)
            walk.push_children(node, push)

    def _member(self, member: str) -> None:
        package, _, symbol = member.rpartition(".")
        if package.startswith("ops") or symbol == "PyDataset":
            self.keras3 = True
        elif package == "backend" and symbol not in KERAS3_BACKEND_NAMES:
            self.keras2 = True
        elif symbol in ("CuDNNLSTM", "CuDNNGRU"):
            self.keras2 = True


def keras_member_of(qualified: str) -> Optional[str]:
    if not qualified.startswith("keras."):
        return None
    parts = qualified.split(".")[1:]
    if len(parts) == 1:
        return parts[0]
    if parts[0] in KERAS_PACKAGES:
        # ``keras.ops.numpy.mean`` -> ``ops.mean``; ``keras.layers.core.Lambda`` -> ``layers.Lambda``
        return f"{parts[0]}.{parts[-1]}"
    if parts[0] == "engine":
        return parts[-1]
    return ".".join(parts)

