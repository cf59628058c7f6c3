"""A newcomer's terminal: no alembic plugin noise on CLI commands; `make run` prints its banner only once
the web server answers."""

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

from scripts.dev import wait_until_serving

ROOT = Path(__file__).resolve().parent.parent


def test_cli_commands_do_not_print_alembic_plugin_lines(tmp_path):
    env = dict(os.environ, APP_ENV="development", DATABASE_URL=f"sqlite:///{tmp_path}/cli.sqlite3")
    flask = Path(sys.executable).parent / "flask"
    result = subprocess.run(
        [str(flask), "--app", "wsgi", "data", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "Données de référence" in result.stdout
    assert "setup plugin" not in result.stdout + result.stderr


def test_the_banner_waits_for_the_web_server():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
        port = server.server_port
        server.server_close()  # nothing listens on `port` yet
        assert wait_until_serving(f"http://127.0.0.1:{port}/healthz", sleeper, timeout=0.5) is False
        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.BaseHTTPRequestHandler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:  # answers 501 to GET: it answers, so the banner may be printed
            assert wait_until_serving(f"http://127.0.0.1:{port}/healthz", sleeper, timeout=5) is True
        finally:
            server.shutdown()
    finally:
        sleeper.terminate()
        sleeper.wait()
    assert wait_until_serving("http://127.0.0.1:9/", sleeper, timeout=5) is False  # the web process died
