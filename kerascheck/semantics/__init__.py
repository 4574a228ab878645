"""Facts about one file that several rules need, each computed at most once, on demand.

Rules read them through ``self.context.semantics``; a fact no selected rule asks for is
never computed. Each fact lives in its own module here; add one by adding a cached
property below.
"""

from __future__ import annotations

from functools import cached_property

import libcst as cst

from .arrays import ArrayFacts
from .heads import HeadFacts
from .imports import ImportTable, KerasFlavor
from .models import ModelFacts
from .ranks import RankInference
from .stateful import StatefulFacts


class Semantics:
    def __init__(self, module: cst.Module) -> None:
        self.module = module

    @cached_property
    def imports(self) -> ImportTable:
        return ImportTable(self.module)

    @cached_property
    def arrays(self) -> ArrayFacts:
        return ArrayFacts(self.imports)

    @cached_property
    def stateful(self) -> StatefulFacts:
        return StatefulFacts(self)

    @cached_property
    def models(self) -> ModelFacts:
        return ModelFacts(self.module, self.imports)

    @cached_property
    def heads(self) -> HeadFacts:
        return HeadFacts(self.module, self.imports, lambda: self.models)

    @cached_property
    def ranks(self) -> RankInference:
        return RankInference(self.module, self.imports)

    @property
    def flavor(self) -> KerasFlavor:
        return self.imports.flavor


__all__ = ["Semantics", "ImportTable", "KerasFlavor"]
