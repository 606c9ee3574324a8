"""The security baseline: login everywhere, throttling, headers, hashing, deploy checks."""

import re
import subprocess
import sys

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from tests.conftest import isolated_env

# Reachable without logging in, on purpose.
# The inbound email webhook is for mail providers: anymail's basic auth guards it, not a login.
PUBLIC = {"/login/", "/api/v1/", "/api/v1/openapi.json", "/api/v1/docs", "/email/inbound/1/",
          # A customer's quote: reached only with a signed token (a forged one is a 404).
          "/q/1/", "/q/1/accept/", "/q/1/decline/", "/q/1/pdf/",
          "/f/1/", "/f/1/thanks/"}


def _paths(resolver=None, prefix=""):
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _paths(pattern, route)
        elif isinstance(pattern, URLPattern):
            path = re.sub(r"<(?:\w+:)?\w+>", "1", route).lstrip("^").rstrip("$")
            yield "/" + path.replace("\\Z", "").replace("^", "")


def test_every_page_requires_login_except_the_public_ones(db):
    paths = sorted(set(_paths()))
    assert len(paths) > 10
    for path in paths:
        if path in PUBLIC or path.startswith("/static/"):
            if path.startswith(("/q/", "/f/")):
                assert Client().get(path).status_code in {404, 405}, path  # "1" is no token
            continue
        response = Client().get(path)
        if path.startswith("/api/"):
            assert response.status_code in {401, 404, 405}, path
            assert response["Content-Type"] == "application/json", path
        else:
            assert response.status_code == 302, path
            assert response["Location"].startswith("/login/"), path


def test_pages_send_a_strict_content_security_policy(db):
    response = Client().get("/login/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_passwords_are_hashed_with_argon2(org, settings):
    from django.conf import global_settings  # noqa: F401 - the real list is in rapport.settings

    from rapport import settings as rapport_settings
    from rapport.accounts.models import User

    settings.PASSWORD_HASHERS = rapport_settings.PASSWORD_HASHERS
    user = User.objects.get(pk=org.sales_a1.pk)
    user.set_password("Another-pass-123")
    user.save()
    assert user.password.startswith("argon2$")


def test_repeated_failed_logins_lock_the_account_out(org, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/login/", {"username": org.sales_a1.email, "password": "wrong"})
    locked = client.post("/login/", {"username": org.sales_a1.email,
                                     "password": "correct-Horse-battery-9"})
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_good_login_works_and_logout_needs_a_post(org):
    client = Client()
    response = client.post("/login/", {"username": org.sales_a1.email,
                                       "password": "correct-Horse-battery-9"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/logout/").status_code == 405
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_the_deploy_check_is_clean_under_production_settings(tmp_path):
    env = isolated_env(tmp_path, RAPPORT_HTTPS="true", RAPPORT_DEBUG="false",
                       RAPPORT_SECRET_KEY="x" * 20 + "-production-key-" + "y" * 30,
                       RAPPORT_ALLOWED_HOSTS="crm.example.com")
    result = subprocess.run(
        [sys.executable, "-m", "rapport", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("sort", ["password", "owner__password", "-owner__email", "id;drop"])
def test_sort_fields_come_only_from_the_allow_list(org, api, sort):
    assert api().get("/contacts", sort=sort).status_code == 400


@pytest.mark.parametrize("name", ["owner__password", "owner__email", "created_by_id",
                                  "custom_fields", "deleted_at__isnull"])
def test_filter_fields_come_only_from_the_allow_list(org, api, name):
    assert api().get("/contacts", **{name: "x"}).status_code == 400


def test_unknown_api_paths_answer_in_the_error_shape(db):
    response = Client().get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "203.0.113.7", "10.0.0.1"),                  # no proxy trusted: the header is anyone's
    (1, "1.2.3.4, 203.0.113.7", "203.0.113.7"),      # what our proxy saw, not what was claimed
    (2, "1.2.3.4, 203.0.113.7, 10.0.0.2", "203.0.113.7"),
    (1, "not-an-address", "10.0.0.1"),
    (2, "203.0.113.7", "10.0.0.1"),                  # fewer hops than proxies: the connection's
])
def test_the_client_address_is_read_through_trusted_proxies_only(settings, proxies, forwarded,
                                                                 expected):
    from django.test import RequestFactory

    from rapport.core.ratelimit import client_ip

    settings.TRUSTED_PROXIES = proxies
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
