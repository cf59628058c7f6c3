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
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "oidc_provider.py")], cwd=ROOT, env=provider_env, **popen
    )
    wait_until_up(discovery, process)
    return process


def start_mail_catcher(env: dict, **popen) -> subprocess.Popen | None:
    """The local SMTP mail catcher (aiosmtpd) when SMTP_HOST is 127.0.0.1 (the default); its messages are
    readable on /dev/courriels."""
    import socket

    host, port = env.get("SMTP_HOST", "127.0.0.1"), int(env.get("SMTP_PORT", "1025"))
    if host not in {"127.0.0.1", "localhost"}:
        return None  # a real SMTP relay is configured
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "mailcatcher.py"), "--port", str(port)],
        cwd=ROOT,
        env=env,
        **popen,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"smtp://{host}:{port} : le collecteur de courriels s'est arrêté au démarrage."
            )
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"smtp://{host}:{port} ne répond pas.")


def start_scheduler(env: dict, **popen) -> subprocess.Popen:
    """The scheduler in its own process, as in production: `flask --app wsgi scheduler run`."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "scheduler", "run"],
        cwd=ROOT,
        env=env,
        **popen,
    )


def start_local_services(env: dict, **popen) -> list[subprocess.Popen]:
    """Returns the started processes: ProConnect test provider, mail catcher, scheduler."""
    processes = []
    provider = start_oidc_provider(env, **popen)
    if provider is not None:
        processes.append(provider)
    catcher = start_mail_catcher(env, **popen)
    if catcher is not None:
        processes.append(catcher)
    processes.append(start_scheduler(env, **popen))
    return processes


def die_with_parent() -> None:
    """In a child process (Popen's preexec_fn, Linux): receive SIGTERM when the parent dies, however it dies,
    so that no local service outlives `make run`."""
    import ctypes
    import signal

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
