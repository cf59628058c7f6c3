"""Configuration classes, read from the environment (see README, "Configuration")."""

import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "oui"}


class Config:
    """Development defaults: everything runs locally on the embedded defaults."""

    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-secret-key-not-for-production")
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
    PER_PAGE = 20
    AUTO_MIGRATE = env_bool("AUTO_MIGRATE", True)

    PROCONNECT_DISCOVERY_URL = os.environ.get(
        "PROCONNECT_DISCOVERY_URL", "http://127.0.0.1:5001/.well-known/openid-configuration"
    )
    PROCONNECT_CLIENT_ID = os.environ.get("PROCONNECT_CLIENT_ID", "mutualisation-dev")
    PROCONNECT_CLIENT_SECRET = os.environ.get("PROCONNECT_CLIENT_SECRET", "dev-client-secret")
    PROCONNECT_USERINFO_FORMAT = os.environ.get("PROCONNECT_USERINFO_FORMAT", "jwt")  # jwt | json
    PROCONNECT_MIN_ACR = os.environ.get("PROCONNECT_MIN_ACR", "")
    PROCONNECT_IS_MOCK = env_bool("PROCONNECT_IS_MOCK", True)
    # Login and callback routes: at most AUTH_RATE_LIMIT requests per AUTH_RATE_WINDOW seconds per IP
    # (0 disables); TRUSTED_PROXIES = number of reverse proxies whose X-Forwarded-For is trusted.
    AUTH_RATE_LIMIT = int(os.environ.get("AUTH_RATE_LIMIT", "10"))
    AUTH_RATE_WINDOW = int(os.environ.get("AUTH_RATE_WINDOW", "60"))
    TRUSTED_PROXIES = int(os.environ.get("TRUSTED_PROXIES", "0"))

    SMTP_HOST = os.environ.get("SMTP_HOST", "127.0.0.1")
    SMTP_PORT = int(os.environ.get("SMTP_PORT", "1025"))
    SMTP_USER = os.environ.get("SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("SMTP_PASSWORD", "")
    SMTP_STARTTLS = env_bool("SMTP_STARTTLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "Mutualisation DSI <ne-pas-repondre@mutualisation.local>")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    HSTS = False
    SCHEDULER_ENABLED = env_bool("SCHEDULER_ENABLED", False)
    # `flask scheduler run` on SIGTERM/SIGINT: seconds a running job may take to end before it is abandoned
    SCHEDULER_STOP_GRACE = float(os.environ.get("SCHEDULER_STOP_GRACE", "10"))


class TestConfig(Config):
    ENV_NAME = "test"
    TESTING = True
    SECRET_KEY = "test-secret-key"
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
    def check(cls) -> None:
        missing = [name for name in cls.REQUIRED if not os.environ.get(name)]
        if missing:
            raise RuntimeError("Production configuration incomplete, missing: " + ", ".join(missing))
        host = urlsplit(os.environ["PROCONNECT_DISCOVERY_URL"]).hostname or ""
        if cls.PROCONNECT_IS_MOCK or host in {"127.0.0.1", "localhost", "::1"} or host.startswith("127."):
            raise RuntimeError("Production refuses to start with the local ProConnect test provider.")


CONFIGS = {"development": Config, "test": TestConfig, "production": ProdConfig}


def config_from_env() -> type[Config]:
    return CONFIGS[os.environ.get("APP_ENV", "development")]
