"""Every module in this package is a rule; importing the package registers them all.

Adding a rule is adding a module here (copy an existing one), then running
``python -m kerascheck.docgen``, which writes its documentation page and its entry in the
catalog the engine reads before it imports any rule; nothing else changes.
"""

import importlib
import pkgutil

for _module in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")
