"""The `rapport` command: Django's management commands under the product's name.

`rapport init`, `rapport serve`, `rapport worker`, `rapport demo`, `rapport token`,
`rapport bench` and every Django command (`rapport migrate`, `rapport check --deploy`).
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rapport.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(["rapport", *(sys.argv[1:] if argv is None else argv)])
