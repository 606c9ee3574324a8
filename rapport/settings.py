"""Rapport's one settings module.

Every setting comes from an environment variable; the defaults are the embedded
set-up (SQLite and the job queue in files under RAPPORT_DATA_DIR). The README's
configuration table lists each variable.
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


DATA_DIR = Path(os.environ.get("RAPPORT_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """The configured key, else one generated on first start and kept in the data dir."""
    configured = os.environ.get("RAPPORT_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("RAPPORT_DEBUG")
HTTPS = env_bool("RAPPORT_HTTPS")
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("RAPPORT_ALLOWED_HOSTS", "*").split(",")]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("RAPPORT_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "axes",
    "huey.contrib.djhuey",
    "ninja",
    "rapport.core",
    "rapport.accounts",
    "rapport.contacts",
    "rapport.activities",
    "rapport.sales",
    "rapport.automation",
    "rapport.mail",
    "rapport.workflows",
    "rapport.transfer",
    "rapport.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "rapport.core.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "rapport.core.middleware.LoginRequiredMiddleware",
    "rapport.core.middleware.WriteSourceMiddleware",
    "rapport.api.middleware.JsonMethodNotAllowedMiddleware",
    "rapport.api.middleware.ApiInputGuardMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "rapport.urls"
WSGI_APPLICATION = "rapport.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "rapport.web.context.navigation",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'rapport.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the writer; IMMEDIATE takes the write lock at
        # BEGIN so two writers queue on busy_timeout instead of failing mid-transaction.
        # mmap covers the first 2 GB (SQLite's ceiling) of the file: past the first 256 MB
        # a broad search at 1M contacts read pages through read() and took twice as long.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
        " PRAGMA temp_store=MEMORY; PRAGMA mmap_size=2147418112; PRAGMA cache_size=-16384;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 2}
# Persistent connections: without them an API read was 9x slower on PostgreSQL, and
# SQLite re-ran its connection PRAGMAs on every request.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("RAPPORT_DB_CONN_MAX_AGE", "300"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Login throttling: five failures lock the username+address pair for 15 minutes.
AXES_FAILURE_LIMIT = int(os.environ.get("RAPPORT_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_FORM_FIELD = "username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("RAPPORT_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# Phone numbers written without a country code are read in this region (ISO 3166 alpha-2).
PHONE_DEFAULT_REGION = os.environ.get("RAPPORT_PHONE_REGION", "US").upper()

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every start while it is missing
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
MEDIA_ROOT = DATA_DIR / "media"

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("RAPPORT_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = int(os.environ.get("RAPPORT_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# How many proxies (a TLS terminator, a load balancer) stand in front of Rapport and append
# the client's address to X-Forwarded-For; 0 trusts no such header.
TRUSTED_PROXIES = int(os.environ.get("RAPPORT_TRUSTED_PROXIES", "0") or 0)

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": os.environ.get("RAPPORT_QUEUE_NAME", "rapport"),
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }
else:
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "rapport",
        "filename": str(DATA_DIR / "jobs.sqlite3"),
        "immediate": False,
        "consumer": {"workers": 2, "worker_type": "thread"},
    }

NINJA_PAGINATION_MAX_LIMIT = 500

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("RAPPORT_LOG_LEVEL", "WARNING")},
}
RAPPORT_ICS_DOMAIN = os.environ.get("RAPPORT_ICS_DOMAIN", "rapport.invalid")

# Outbound HTTP (webhooks): private, loopback and link-local addresses are refused unless
# listed here, comma-separated networks such as 10.0.0.0/8 or 127.0.0.1/32 (SSRF guard).
OUTBOUND_ALLOWED_NETWORKS = [
    n.strip() for n in os.environ.get("RAPPORT_OUTBOUND_ALLOWED_NETWORKS", "").split(",") if n.strip()
]
OUTBOUND_TIMEOUT_SECONDS = float(os.environ.get("RAPPORT_OUTBOUND_TIMEOUT", "10"))

# Outbound email. RAPPORT_EMAIL_URL names the transport (rapport/mail/transport.py):
# smtp+tls://user:pass@host:587, smtp+ssl://…:465, smtp://host:25, anymail://<provider>;
# unset, messages are written to RAPPORT_DATA_DIR/outbox instead of leaving the machine.
EMAIL_URL = os.environ.get("RAPPORT_EMAIL_URL", "")
# A provider's keys for django-anymail: RAPPORT_ANYMAIL_POSTMARK_SERVER_TOKEN=… becomes
# ANYMAIL["POSTMARK_SERVER_TOKEN"].
ANYMAIL = {name.removeprefix("RAPPORT_ANYMAIL_"): value for name, value in os.environ.items()
           if name.startswith("RAPPORT_ANYMAIL_")}
# When set, every message goes out From this address (with the sender's name and their own
# address as Reply-To), for servers that let one address send. Otherwise From is the user.
EMAIL_FROM = os.environ.get("RAPPORT_EMAIL_FROM", "")
# The company's own currency: forecasts and quotas are in it; deals in others convert with
# the rates in Settings → Currencies.
COMPANY_CURRENCY = os.environ.get("RAPPORT_CURRENCY", "USD").strip().upper()
# The largest file an import takes (a million-row CSV is about 150 MB).
IMPORT_MAX_BYTES = int(os.environ.get("RAPPORT_IMPORT_MAX_MB", "500")) * 1024 * 1024
EMAIL_MAX_ATTACHMENT_BYTES = int(os.environ.get("RAPPORT_EMAIL_MAX_ATTACHMENT_MB", "10")) * 1024 * 1024
# A request body may carry that much in base64 (4/3 larger) plus the message itself; Django's
# 2.5 MB default would refuse an API email with a 2 MB attachment.
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, EMAIL_MAX_ATTACHMENT_BYTES * 4 // 3 + 1_048_576)
# DKIM signing of SMTP mail: the PEM private key, its DNS selector, and the signing domain
# (default: the domain of the From address).
DKIM_KEY_FILE = os.environ.get("RAPPORT_DKIM_KEY_FILE", "")
DKIM_SELECTOR = os.environ.get("RAPPORT_DKIM_SELECTOR", "rapport")
DKIM_DOMAIN = os.environ.get("RAPPORT_DKIM_DOMAIN", "")

# Inbound email (rapport/mail/inbound.py). A message over RAPPORT_INBOUND_MAX_MB is recorded
# by its headers but not downloaded; an attachment over RAPPORT_INBOUND_MAX_ATTACHMENT_MB,
# or of an executable type, is listed but not kept.
INBOUND_MAX_BYTES = int(os.environ.get("RAPPORT_INBOUND_MAX_MB", "25")) * 1024 * 1024
INBOUND_MAX_ATTACHMENT_BYTES = int(os.environ.get("RAPPORT_INBOUND_MAX_ATTACHMENT_MB", "10")) * 1024 * 1024
# A PEM file of CA certificates IMAP servers may also chain to (a self-hosted server's own
# CA); the system's trusted CAs always apply.
INBOUND_IMAP_CA_FILE = os.environ.get("RAPPORT_IMAP_CA_FILE", "")

# Where customers reach Rapport (https://crm.example.com), for the public links in quotes;
# unset, the address of the request that sends the quote.
PUBLIC_URL = os.environ.get("RAPPORT_PUBLIC_URL", "").strip().rstrip("/")
