"""Shared fixtures: a small organisation with every role, and API clients acting as each."""

import json
import os
import shutil
from dataclasses import dataclass

import pytest
from django.test import Client

from rapport.accounts.roles import Role
from rapport.accounts.services import team_create, token_create, user_create

PASSWORD = "correct-Horse-battery-9"


def isolated_env(data_dir, **extra) -> dict:
    """Environment for a `rapport` subprocess on its own SQLite data dir."""
    drop = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    return {**env, "RAPPORT_DATA_DIR": str(data_dir), **extra}


@dataclass
class Org:
    admin: object
    manager_a: object
    sales_a1: object
    sales_a2: object
    sales_b1: object
    marketing: object
    team_a: object
    team_b: object


@pytest.fixture
def org(db):
    admin = user_create(actor=None, email="admin@acme.example", full_name="Ada Admin",
                        role=Role.ADMIN, password=PASSWORD)
    team_a = team_create(actor=admin, name="Team A")
    team_b = team_create(actor=admin, name="Team B")

    def make(email, name, role, team):
        return user_create(actor=admin, email=email, full_name=name, role=role,
                           team_id=team.pk if team else None, password=PASSWORD)

    return Org(
        admin=admin,
        manager_a=make("manager.a@acme.example", "Mona Manager", Role.MANAGER, team_a),
        sales_a1=make("sales.a1@acme.example", "Sam Seller", Role.SALES, team_a),
        sales_a2=make("sales.a2@acme.example", "Sue Seller", Role.SALES, team_a),
        sales_b1=make("sales.b1@acme.example", "Bob Seller", Role.SALES, team_b),
        marketing=make("marketing@acme.example", "Max Marketer", Role.MARKETING, None),
        team_a=team_a,
        team_b=team_b,
    )


class ApiClient:
    """Speaks JSON to /api/v1 with a bearer token, like an integrator would."""

    def __init__(self, user=None, token: str | None = None):
        self.client = Client()
        if user is not None and token is None:
            _, token = token_create(user=user, name="tests")
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.user = user

    def _call(self, method, path, body=None, headers=None, raw=None, **params):
        url = path if path.startswith("/api/") else f"/api/v1{path}"
        all_headers = {**self.headers, **(headers or {})}
        if method == "get":
            return self.client.get(url, params or None, headers=all_headers)
        data = raw if raw is not None else (json.dumps(body) if body is not None else "")
        return getattr(self.client, method)(url, data=data, content_type="application/json",
                                            headers=all_headers)

    def get(self, path, **params):
        return self._call("get", path, **params)

    def post(self, path, body=None, **kw):
        return self._call("post", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self._call("patch", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self._call("put", path, body, **kw)

    def delete(self, path, **kw):
        return self._call("delete", path, **kw)


@pytest.fixture
def api(org):
    """An API client per user: `api(org.sales_a1).get("/contacts")`."""
    clients = {}

    def for_user(user=None):
        user = user or org.admin
        if user.pk not in clients:
            clients[user.pk] = ApiClient(user)
        return clients[user.pk]

    return for_user


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Serve static files from the apps, unhashed, as the test live server expects.

    Production uses hashed names collected by `rapport init`; `test_cli` covers that.
    """
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Argon2 is deliberately slow; tests that are not about hashing use a fast hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def jobs_run_at_once():
    """Huey runs each job as it is queued (in memory), so a test sees every after-commit
    effect and leaves nothing in the real queue; the worker process has its own tests."""
    from huey.contrib.djhuey import HUEY

    HUEY.immediate = True
    yield
    HUEY.immediate = False


def require_program(path: str, package: str, tests: str) -> None:
    """Skip on a laptop without `path`; fail in CI, where .ci/run installs `package`."""
    if os.path.exists(path):
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the {tests}: install Debian's {package}")
    pytest.skip(f"{path} is not installed (apt-get install {package}); the {tests} run in CI")


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, one per test module."""
    require_program(CHROMIUM, "chromium", "browser tests")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; the live server's ORM calls are still sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) that Rapport sends to for the test's length."""
    from rapport.mail import transport
    from tests.smtp_server import SmtpServer

    with SmtpServer() as server:
        settings.EMAIL_URL = server.url
        yield server
    transport.close()
