"""The ``huzhu`` console script: Django's manage.py with the project's commands.

Commands may be typed with hyphens (``huzhu seed-demo``); they map to the
underscore names Django uses (``seed_demo``).
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv if argv is None else argv)
    if len(args) > 1 and not args[1].startswith("-"):
        args[1] = args[1].replace("-", "_")
        if args[1] == "help" and len(args) > 2 and not args[2].startswith("-"):
            args[2] = args[2].replace("-", "_")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "huzhu.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(args)


if __name__ == "__main__":
    main()
