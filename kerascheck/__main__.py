import os
import sys

if __name__ == "__main__":  # pragma: no cover
    # ``python -m`` puts the working folder first on the path: a project's own
    # ``click.py`` or ``libcst/`` must not be imported in place of kerascheck's
    # dependencies (kerascheck itself is imported already).
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    from .launch import main

    main()
