"""Configuration classes, read from the environment (see README, "Configuration")."""

import ipaddress
import os
import re
import socket
import uuid
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "oui"}


DEV_SECRET_KEY = "dev-secret-key-not-for-production"
DEV_CLIENT_SECRET = "dev-client-secret"
# Folders and files scanned for a SECRET_KEY copied from the repository (docs, examples, tests).
_REPOSITORY_TEXT = (
    "config.py",
    "README.md",
    "CONTRIBUTING.md",
    "Makefile",
    "app",
    "docs",
    "scripts",
    "tests",
    "bench",
    ".ci",
)
_TEXT_SUFFIXES = {".py", ".md", ".txt", ".toml", ".yml", ".yaml", ".cfg", ".ini", ".env", ".sh", ".html", ""}


class Config:
    """Development defaults: everything runs locally on the embedded defaults."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", DEV_SECRET_KEY)
    SQLALCHEMY_DATABASE_URI = os.environ.get(
        "DATABASE_URL", f"sqlite:///{BASE_DIR / 'instance' / 'app.sqlite3'}"
    )
    SQLALCHEMY_ENGINE_OPTIONS: dict = {"pool_pre_ping": True}
    BASE_URL = os.environ.get("BASE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '5000')}")
    PUBLIC_PORTFOLIO = env_bool("PUBLIC_PORTFOLIO", False)
    # Open-data API (/api/v1/…) and open-data exports readable without an account (see docs/api.md).
    PUBLIC_API = env_bool("PUBLIC_API", False)
    DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "data"))
    UPLOAD_DIR = Path(os.environ.get("UPLOAD_DIR", BASE_DIR / "instance" / "uploads"))
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_MB", "20")) * 1024 * 1024
    # per file (dossier pieces, messages, follow-up proofs, signed contract): a French message at the field,
    # checked in the browser before sending too; keep it below MAX_UPLOAD_MB
    DOSSIER_ATTACHMENT_MAX_MB = int(os.environ.get("DOSSIER_ATTACHMENT_MAX_MB", "10"))
    PER_PAGE = 20
    AUTO_MIGRATE = env_bool("AUTO_MIGRATE", True)

    PROCONNECT_DISCOVERY_URL = os.environ.get(
        "PROCONNECT_DISCOVERY_URL", "http://127.0.0.1:5001/.well-known/openid-configuration"
    )
    PROCONNECT_CLIENT_ID = os.environ.get("PROCONNECT_CLIENT_ID", "mutualisation-dev")
    PROCONNECT_CLIENT_SECRET = os.environ.get("PROCONNECT_CLIENT_SECRET", DEV_CLIENT_SECRET)
    PROCONNECT_USERINFO_FORMAT = os.environ.get("PROCONNECT_USERINFO_FORMAT", "jwt")  # jwt | json
    PROCONNECT_MIN_ACR = os.environ.get("PROCONNECT_MIN_ACR", "")
    PROCONNECT_IS_MOCK = env_bool("PROCONNECT_IS_MOCK", True)
    # Login and callback routes: at most AUTH_RATE_LIMIT requests per AUTH_RATE_WINDOW seconds per IP
    # (0 disables); TRUSTED_PROXIES = number of reverse proxies whose X-Forwarded-For is trusted.
    AUTH_RATE_LIMIT = int(os.environ.get("AUTH_RATE_LIMIT", "10"))
    AUTH_RATE_WINDOW = int(os.environ.get("AUTH_RATE_WINDOW", "60"))
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))
    # API (/api/…): per user when logged in, per IP address otherwise; mail-sending actions: per user.
    # Flask-Limiter syntax ("300 per minute"); an empty value disables the limit.
    API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "300 per minute")
    API_RATE_LIMIT_PER_IP = os.environ.get("API_RATE_LIMIT_PER_IP", "600 per minute")
    MAIL_RATE_LIMIT = os.environ.get("MAIL_RATE_LIMIT", "30 per hour")
    # Redis (sessions and rate-limit counters shared by every worker); empty: sessions in the database
    # table auth_sessions, rate-limit counters in each process's memory.
    REDIS_URL = os.environ.get("REDIS_URL", "")
    REDIS_PREFIX = os.environ.get("REDIS_PREFIX", "mutualisation:")
    SESSION_IDLE_MINUTES = int(os.environ.get("SESSION_IDLE_MINUTES", "120"))
    SESSION_MAX_HOURS = int(os.environ.get("SESSION_MAX_HOURS", "12"))
    # Files: at most this many per message and per dossier (0 = no limit).
    MAX_FILES_PER_MESSAGE = int(os.environ.get("MAX_FILES_PER_MESSAGE", "5"))
    MAX_FILES_PER_DOSSIER = int(os.environ.get("MAX_FILES_PER_DOSSIER", "50"))

    SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "1025"))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = env_bool("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "Mutualisation DSI <ne-pas-repondre@mutualisation.local>")
    # Named on the login error pages (docs/proconnect.md §9: an error page gives a way out).
    SUPPORT_EMAIL = os.environ.get("SUPPORT_EMAIL", "")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    HSTS = False
    SCHEDULER_ENABLED = env_bool("SCHEDULER_ENABLED", False)
    RETENTION_MONTHS = int(os.environ.get("RETENTION_MONTHS", "12"))  # app/services/retention.py
    # XLSX/ODS exports above this many rows are written by the scheduler process, not by the web request
    # (app/services/export_jobs.py); their files are kept EXPORT_KEEP_HOURS under EXPORT_DIR
    EXPORT_JOB_ROWS = int(os.environ.get("EXPORT_JOB_ROWS", "5000"))
    EXPORT_KEEP_HOURS = int(os.environ.get("EXPORT_KEEP_HOURS", "24"))
    EXPORT_DIR = Path(os.environ.get("EXPORT_DIR", BASE_DIR / "instance" / "exports"))
    # CPU priority (nice, 0–19) of the thread that writes a background export: the web workers come first
    EXPORT_JOB_NICE = int(os.environ.get("EXPORT_JOB_NICE", "10"))
    # `flask scheduler run` on SIGTERM/SIGINT: seconds a running job may take to end before it is abandoned
    SCHEDULER_STOP_GRACE = float(os.environ.get("SCHEDULER_STOP_GRACE", "10"))


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
    EXPORT_JOB_NICE = 0  # background exports in the calling thread (the test shares one connection)
    # The suite runs sessions and rate limits on Redis (CI: 127.0.0.1:6379; `make test` starts one
    # when none answers); each app gets its own key prefix (see tests/conftest.py).
    REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    REDIS_PREFIX = f"mutualisation-test-{uuid.uuid4().hex[:12]}:"  # parallel runs share one Redis
    # the suite sends many API and mail requests from one address: these limits are on in their own tests
    API_RATE_LIMIT = ""
    API_RATE_LIMIT_PER_IP = ""
    MAIL_RATE_LIMIT = ""
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL_ACTIVE", "sqlite://")
    AUTO_MIGRATE = False
    PUBLIC_PORTFOLIO = False
    PUBLIC_API = False
    SERVER_NAME = None
    PROCONNECT_IS_MOCK = True


class ProdConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    HSTS = True
    AUTO_MIGRATE = False
    PROCONNECT_IS_MOCK = env_bool("PROCONNECT_IS_MOCK", False)

    REQUIRED = (
        "SECRET_KEY",
        "DATABASE_URL",
        "BASE_URL",
        "PROCONNECT_DISCOVERY_URL",
        "PROCONNECT_CLIENT_ID",
        "PROCONNECT_CLIENT_SECRET",
        "SMTP_HOST",
        "MAIL_FROM",
    )

    @classmethod
    def check(cls, environ: Mapping[str, str] | None = None) -> None:
        """Refuse to start (RuntimeError naming the variable) on an incomplete or unsafe configuration."""
        problems = production_problems(os.environ if environ is None else environ)
        if problems:
            raise RuntimeError("Production refuses to start: " + " ; ".join(problems))


def production_problems(env: Mapping[str, str]) -> list[str]:
    """Every reason this environment is not fit for production (empty list: fit)."""
    missing = [name for name in ProdConfig.REQUIRED if not env.get(name)]
    if missing:
        return ["configuration incomplete, missing: " + ", ".join(missing)]
    problems = []
    key = env["SECRET_KEY"]
    if len(key.encode()) < 32:
        problems.append("SECRET_KEY is shorter than 32 bytes")
    elif key in {DEV_SECRET_KEY, TestConfig.SECRET_KEY} or written_in_repository(key):
        problems.append("SECRET_KEY is a value written in the repository, hence public")
    if env["PROCONNECT_CLIENT_SECRET"] == DEV_CLIENT_SECRET:
        problems.append("PROCONNECT_CLIENT_SECRET is the development client secret")
    if _truthy(env.get("FLASK_DEBUG")) or _truthy(env.get("DEBUG")):
        problems.append("FLASK_DEBUG is on (the debugger runs code sent by any visitor)")
    if _truthy(env.get("PROCONNECT_IS_MOCK")):
        problems.append("PROCONNECT_IS_MOCK is on (the local ProConnect test provider)")
    for name in ("BASE_URL", "PROCONNECT_DISCOVERY_URL"):
        parts = urlsplit(env[name])
        if parts.scheme != "https":
            problems.append(f"{name} is not an https URL")
        if is_local_host(parts.hostname or ""):
            problems.append(f"{name} points to this machine ({parts.hostname or 'no host'}): a test set-up")
    return problems


def _truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() in {"1", "true", "yes", "on", "oui"}


def is_local_host(host: str) -> bool:
    """localhost (trailing dot or not, sub-names), 127.0.0.0/8 in any spelling, ::1, 0.0.0.0."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host or host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not re.fullmatch(r"[0-9a-fx.]+", host):
            return False
        try:  # the forms inet_aton accepts and browsers resolve: 127.1, 2130706433, 0x7f.0.0.1
            address = ipaddress.ip_address(socket.inet_aton(host))
        except OSError:
            return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def written_in_repository(value: str) -> bool:
    """True when `value` appears in one of the repository's text files (a key copied from the docs)."""
    for name in _REPOSITORY_TEXT:
        root = BASE_DIR / name
        paths = [root] if root.is_file() else root.rglob("*") if root.is_dir() else []
        for path in paths:
            if path.is_file() and path.suffix in _TEXT_SUFFIXES and "__pycache__" not in path.parts:
                try:
                    if value in path.read_text(encoding="utf-8", errors="ignore"):
                        return True
                except OSError:
                    continue
    return False


CONFIGS = {"development": Config, "test": TestConfig, "production": ProdConfig}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("APP_ENV", "development")]
