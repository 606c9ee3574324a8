"""Rapport's settings with the benchmark's URLconf: the app plus its hello-world views."""

from rapport.settings import *  # noqa: F403

ROOT_URLCONF = "rapport.bench.urls"
