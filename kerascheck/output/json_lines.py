"""``json-lines``: the objects of the ``json`` format, one compact object per line."""

from __future__ import annotations

import json
from typing import Sequence

from ..diagnostics import Diagnostic
from .common import OutputOptions
from .json_format import diagnostic_object


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    return "".join(
        json.dumps(diagnostic_object(d), separators=(",", ":")) + "\n" for d in diagnostics
    )
