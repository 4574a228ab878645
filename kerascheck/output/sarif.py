"""``sarif``: a SARIF 2.1.0 log that GitHub code scanning accepts.

One run: the tool with every enabled rule, and one result per finding.

- Paths: ``artifactLocation.uri`` is the file's path relative to the project root (POSIX
  separators, its bytes percent-encoded) with ``uriBaseId`` ``%SRCROOT%``, which
  ``originalUriBaseIds`` maps to the root's ``file:`` URI. A file outside the root gets its
  absolute ``file:`` URI and no base.
- Columns: the run declares ``columnKind: "unicodeCodePoints"`` and regions use 1-based
  code-point columns (``endColumn`` exclusive): the same numbers as the text, JSON and
  GitHub formats. The unit is declared because a consumer that finds no ``columnKind``
  may assume UTF-16 units, which differ on lines with emoji.
- Notebooks: rows are within the cell (the ``.ipynb`` JSON has no lines of its own that a
  viewer could map), the result's ``properties.cell`` is the 1-based cell index, and the
  message starts with ``cell N, line R: `` so a reader of the alert finds the spot.
- ``partialFingerprints.primaryLocationLineHash``: a hash of the rule code and the flagged
  line's stripped text, plus ``:N`` counting equal hashes in the same file. It does not
  depend on the line number, so an alert survives edits elsewhere in the file and a
  re-upload matches the alert it already has instead of opening a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from typing import Any, Dict, List, Sequence, Tuple, Type
from urllib.parse import quote

from .. import __version__
from ..diagnostics import Diagnostic, Severity
from ..registry import Rule, rules_for
from .common import OutputOptions, absolute_path, notebook_prefix, one_based

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://github.com/kerascheck/kerascheck"
SOURCE_ROOT = "%SRCROOT%"


def _level(severity: Severity) -> str:
    return "error" if severity is Severity.ERROR else "warning"


def _rule_descriptor(rule: Type[Rule]) -> Dict[str, Any]:
    documentation = rule.documentation()
    return {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.doc_sections().get("What it does") or rule.summary},
        "help": {"text": documentation, "markdown": documentation},
        "helpUri": rule.url(),
        "defaultConfiguration": {"level": _level(rule.severity)},
    }


def _artifact_location(path: str, options: OutputOptions) -> Dict[str, str]:
    file = absolute_path(path, options.cwd)
    try:
        relative = file.relative_to(absolute_path(options.root, options.cwd))
    except ValueError:  # outside the project root: only an absolute URI can name it
        return {"uri": file.as_uri()}
    # The name's bytes are quoted, as ``as_uri`` does: a name that is not UTF-8 (held by
    # Python as lone surrogates) has no UTF-8 of its own.
    return {"uri": quote(os.fsencode(relative.as_posix())), "uriBaseId": SOURCE_ROOT}


def _region(diagnostic: Diagnostic) -> Dict[str, int]:
    start, end = diagnostic.start, diagnostic.end
    return {
        "startLine": start.row,
        "startColumn": one_based(start.column),
        "endLine": end.row,
        "endColumn": one_based(end.column),
    }


def _line_hashes(diagnostics: Sequence[Diagnostic]) -> List[str]:
    """``<hash>:<n>`` per finding, ``n`` counting equal hashes within one file in order."""
    occurrences: Counter[Tuple[str, str]] = Counter()
    hashes = []
    for diagnostic in diagnostics:
        line = (diagnostic.source_line or "").strip()
        digest = hashlib.sha256(f"{diagnostic.code}\0{line}".encode("utf-8")).hexdigest()[:16]
        occurrences[diagnostic.path, digest] += 1
        hashes.append(f"{digest}:{occurrences[diagnostic.path, digest]}")
    return hashes


def _result(
    diagnostic: Diagnostic, line_hash: str, rule_index: Dict[str, int], options: OutputOptions
) -> Dict[str, Any]:
    result: Dict[str, Any] = {"ruleId": diagnostic.code}
    if diagnostic.code in rule_index:
        result["ruleIndex"] = rule_index[diagnostic.code]
    result["level"] = _level(diagnostic.severity)
    result["message"] = {"text": notebook_prefix(diagnostic) + diagnostic.message}
    result["locations"] = [
        {
            "physicalLocation": {
                "artifactLocation": _artifact_location(diagnostic.path, options),
                "region": _region(diagnostic),
            }
        }
    ]
    result["partialFingerprints"] = {"primaryLocationLineHash": line_hash}
    if diagnostic.cell is not None:
        result["properties"] = {"cell": diagnostic.cell}
    return result


def _root_uri(options: OutputOptions) -> str:
    uri = absolute_path(options.root, options.cwd).as_uri()
    return uri if uri.endswith("/") else uri + "/"


def sarif_log(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> Dict[str, Any]:
    rules = rules_for(options.rule_codes)
    rule_index = {rule.code: index for index, rule in enumerate(rules)}
    results = [
        _result(diagnostic, line_hash, rule_index, options)
        for diagnostic, line_hash in zip(diagnostics, _line_hashes(diagnostics))
    ]
    driver = {
        "name": "kerascheck",
        "version": __version__,
        "informationUri": INFORMATION_URI,
        "rules": [_rule_descriptor(rule) for rule in rules],
    }
    run = {
        "tool": {"driver": driver},
        "originalUriBaseIds": {SOURCE_ROOT: {"uri": _root_uri(options)}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def render(diagnostics: Sequence[Diagnostic], options: OutputOptions) -> str:
    return json.dumps(sarif_log(diagnostics, options), indent=2) + "\n"
