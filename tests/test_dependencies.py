"""What the dependency list promises: no `.env` is read by `flask`, and every runtime dependency is used."""

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
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


def _name(spec: str) -> str:
    return re.split(r"[\s\[=<>;!~]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _runtime_dependencies() -> set[str]:
    return {_name(s) for s in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}


def test_a_production_install_cannot_read_a_dot_env_file():
    """Flask reads `.env` only when python-dotenv is importable: no runtime dependency brings it in."""
    seen, todo = set(), list(_runtime_dependencies())
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            needed = requires(name) or []
        except PackageNotFoundError:
            continue
        todo += [_name(r) for r in needed if "extra ==" not in r]
    assert "python-dotenv" not in seen


def test_the_documented_commands_do_not_read_a_dot_env_file(tmp_path):
    """With the dev extras (python-dotenv comes with openapi-spec-validator), `make` and scripts/dev.py set
    FLASK_SKIP_DOTENV: a real `flask` command beside a `.env` and a `.flaskenv` does not read them."""
    assert re.search(r"^export FLASK_SKIP_DOTENV := 1$", (ROOT / "Makefile").read_text(), re.M)
    assert 'env["FLASK_SKIP_DOTENV"] = "1"' in (ROOT / "scripts" / "dev.py").read_text()
    (tmp_path / "probe_app.py").write_text(PROBE)
    (tmp_path / ".env").write_text("DOTENV_PROBE=read\n")
    (tmp_path / ".flaskenv").write_text("DOTENV_PROBE=read\n")
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FLASK_SKIP_DOTENV": "1"}
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
    names = _runtime_dependencies()
    source = "\n".join(p.read_text() for p in [*ROOT.joinpath("app").rglob("*.py"), ROOT / "config.py"])
    imported = set(re.findall(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", source, re.M))
    used = set()
    for module, distributions in packages_distributions().items():
        if module in imported:
            used |= {d.lower().replace("_", "-") for d in distributions}
    # Loaded by name, not imported: the database driver (URL scheme), the server (command line), the
    # Brotli codec (whitenoise's compressor looks it up).
    loaded_by_name = {"psycopg", "gunicorn", "brotli"}
    assert names - used - loaded_by_name == set()
    assert "flask-htmx" not in names and "python-dotenv" not in names
