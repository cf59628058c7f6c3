"""The certified OpenID provider (panva's oidc-provider, configured like ProConnect by provider.mjs) as a
real Node process on a free 127.0.0.1 port. `npm ci` installs it on first use when node_modules is missing
(`make test` does it beforehand)."""

import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from app import ratelimit
from config import TestConfig
from scripts.services import wait_until_up

HERE = Path(__file__).resolve().parent
APP_URL = "http://127.0.0.1:5000"  # the BASE_URL the Flask test client's app is given


def _install() -> None:
    if (HERE / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("Node.js et npm sont nécessaires aux tests d'interopérabilité (tests/interop).")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=HERE, check=True)


@pytest.fixture(scope="session")
def certified_provider(tmp_path_factory):
    """Yields the issuer URL (…/api/v2) of the running provider."""
    _install()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        PORT=str(port),
        CLIENT_ID=TestConfig.PROCONNECT_CLIENT_ID,
        CLIENT_SECRET=TestConfig.PROCONNECT_CLIENT_SECRET,
        APP_URL=APP_URL,
    )
    log_path = tmp_path_factory.mktemp("interop") / "provider.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [shutil.which("node") or "node", str(HERE / "provider.mjs")],
            cwd=HERE,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        issuer = f"http://127.0.0.1:{port}/api/v2"
        try:
            wait_until_up(f"{issuer}/.well-known/openid-configuration", process)
            yield issuer
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def certified(app, certified_provider):
    """Point the session-wide app at the certified provider; restore the configuration afterwards."""
    names = ("PROCONNECT_DISCOVERY_URL", "PROCONNECT_MIN_ACR", "PROCONNECT_USERINFO_FORMAT", "BASE_URL")
    saved = {name: app.config[name] for name in names}
    app.config.update(
        PROCONNECT_DISCOVERY_URL=f"{certified_provider}/.well-known/openid-configuration",
        PROCONNECT_MIN_ACR="",
        PROCONNECT_USERINFO_FORMAT="jwt",
        BASE_URL=APP_URL,
    )
    ratelimit.reset()
    yield certified_provider
    app.config.update(saved)
    ratelimit.reset()
