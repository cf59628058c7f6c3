"""Start the local services that `make run` needs besides the web server."""

import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DISCOVERY_URL = "http://127.0.0.1:5001/.well-known/openid-configuration"


def wait_until_up(url: str, process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Poll `url` until it answers 200; fail if the process dies or the timeout passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} : le service s'est arrêté au démarrage (code {process.returncode}).")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{url} ne répond pas après {timeout:.0f} s.")


def start_oidc_provider(env: dict, **popen) -> subprocess.Popen | None:
    """The ProConnect test provider, when PROCONNECT_DISCOVERY_URL points at 127.0.0.1 (the default)."""
    discovery = env.get("PROCONNECT_DISCOVERY_URL") or DEFAULT_DISCOVERY_URL
    parts = urlsplit(discovery)
    if parts.hostname not in {"127.0.0.1", "localhost"}:
        return None  # a real ProConnect environment (integration): nothing to start
    provider_env = dict(env, OIDC_PROVIDER_PORT=str(parts.port or 80))
    provider_env.setdefault("OIDC_PROVIDER_APP_URLS", env.get("BASE_URL", "http://127.0.0.1:5000"))
    process = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "oidc_provider.py")], cwd=ROOT,
                               env=provider_env, **popen)
    wait_until_up(discovery, process)
    return process


def start_local_services(env: dict) -> list[subprocess.Popen]:
    """Returns the started processes. (The mail catcher and scheduler join here.)"""
    processes = []
    provider = start_oidc_provider(env)
    if provider is not None:
        processes.append(provider)
    return processes
