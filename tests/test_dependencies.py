"""What the dependency list promises: no `.env` is read by `flask`, and every runtime dependency is used."""

import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK = Path(sys.executable).with_name("flask")

PROBE = """
import os
from flask import Flask

app = Flask(__name__)


@app.cli.command("probe")
def probe():
    print("probe=" + os.environ.get("DOTENV_PROBE", "absent"))
"""


def test_flask_commands_do_not_read_a_dot_env_file(tmp_path):
    """README: « a `.env` file is not read ». A `.env` and a `.flaskenv` beside the app change nothing."""
    (tmp_path / "probe_app.py").write_text(PROBE)
    (tmp_path / ".env").write_text("DOTENV_PROBE=read\n")
    (tmp_path / ".flaskenv").write_text("DOTENV_PROBE=read\n")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [str(FLASK), "--app", "probe_app", "probe"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "probe=absent" in result.stdout


def test_every_runtime_dependency_is_imported_by_the_app():
    """A dependency installed and configured but never used (as flask-htmx was) is not listed."""
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {re.split(r"[\[=<>]", spec)[0].lower().replace("_", "-") for spec in dependencies}
    source = "\n".join(p.read_text() for p in [*ROOT.joinpath("app").rglob("*.py"), ROOT / "config.py"])
    imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", source, re.M))
    used = set()
    for module, distributions in packages_distributions().items():
        if module in imported:
            used |= {d.lower().replace("_", "-") for d in distributions}
    # Drivers and servers loaded by name (URL scheme, command line), plugins loaded by their host library.
    loaded_by_name = {"psycopg", "gunicorn", "brotli"}
    assert names - used - loaded_by_name == set()
    assert "flask-htmx" not in names and "python-dotenv" not in names
