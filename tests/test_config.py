"""Production refuses to start on an unsafe configuration, naming the variable (one test per refusal)."""

import secrets

import pytest

from app import create_app
from config import BASE_DIR, DEV_CLIENT_SECRET, DEV_SECRET_KEY, ProdConfig, is_local_host, production_problems

GOOD = {
    "SECRET_KEY": secrets.token_urlsafe(48),  # random: any value written here would be refused
    "DATABASE_URL": "postgresql+psycopg://app@db.example.gouv.fr/app",
    "BASE_URL": "https://mutualisation.numerique.gouv.fr",
    "PROCONNECT_DISCOVERY_URL": "https://auth.agentconnect.gouv.fr/api/v2/.well-known/openid-configuration",
    "PROCONNECT_CLIENT_ID": "mutualisation",
    "PROCONNECT_CLIENT_SECRET": secrets.token_urlsafe(32),
    "SMTP_HOST": "smtp.example.gouv.fr",
    "MAIL_FROM": "Mutualisation DSI <ne-pas-repondre@numerique.gouv.fr>",
}


def refusal(**changes) -> str:
    env = {**GOOD, **changes}
    with pytest.raises(RuntimeError) as raised:
        ProdConfig.check(env)
    return str(raised.value)


def test_a_sound_configuration_starts():
    ProdConfig.check(GOOD)
    assert production_problems(GOOD) == []


def test_missing_variables_are_named():
    assert "SMTP_HOST" in refusal(SMTP_HOST="")


def test_short_secret_key():
    assert "SECRET_KEY is shorter than 32 bytes" in refusal(SECRET_KEY="x")
    assert "SECRET_KEY is shorter than 32 bytes" in refusal(SECRET_KEY="a" * 31)


def test_secret_key_written_in_the_repository():
    # config.py's development default (33 bytes, so it is the repository check that refuses it)
    assert "SECRET_KEY is a value written in the repository" in refusal(SECRET_KEY=DEV_SECRET_KEY)


def test_secret_key_copied_from_the_docs():
    example = "exemple-de-cle-a-ne-jamais-utiliser-en-production-0123"
    assert example in (BASE_DIR / "README.md").read_text()  # the production section shows it
    assert "SECRET_KEY is a value written in the repository" in refusal(SECRET_KEY=example)


def test_development_client_secret():
    assert "PROCONNECT_CLIENT_SECRET is the development client secret" in refusal(
        PROCONNECT_CLIENT_SECRET=DEV_CLIENT_SECRET
    )


def test_debug_on(monkeypatch):
    assert "FLASK_DEBUG is on" in refusal(FLASK_DEBUG="1")
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match="FLASK_DEBUG / DEBUG is on"):
        create_app(ProdConfig, DEBUG=True)


def test_mock_provider_flag():
    assert "PROCONNECT_IS_MOCK is on" in refusal(PROCONNECT_IS_MOCK="true")


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:5001",
        "127.8.9.10",
        "127.1",
        "2130706433",
        "0x7f.0.0.1",
        "localhost:5001",
        "localhost.",
        "LOCALHOST.:443",
        "idp.localhost",
        "0.0.0.0:5001",
        "[::1]:5001",
        "[::]",
        "[::ffff:127.0.0.1]",
    ],
)
def test_local_test_provider_in_any_form(host):
    message = refusal(PROCONNECT_DISCOVERY_URL=f"https://{host}/.well-known/openid-configuration")
    assert "PROCONNECT_DISCOVERY_URL points to this machine" in message


def test_public_hosts_are_not_local():
    for host in ("auth.agentconnect.gouv.fr", "cafe.fr", "10.0.0.1", "128.0.0.1", "localhost.gouv.fr"):
        assert not is_local_host(host), host


@pytest.mark.parametrize("name", ["BASE_URL", "PROCONNECT_DISCOVERY_URL"])
def test_plain_http_urls(name):
    assert f"{name} is not an https URL" in refusal(**{name: GOOD[name].replace("https://", "http://")})


def test_create_app_checks_the_environment(monkeypatch):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SECRET_KEY", DEV_SECRET_KEY)
    with pytest.raises(RuntimeError, match="SECRET_KEY is a value written in the repository"):
        create_app(ProdConfig)
