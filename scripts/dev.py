"""`make run`: migrate, load the reference data, the demo accounts and the demo scenario, start every local
service, serve.

Local services (all on 127.0.0.1): the ProConnect-compatible test provider, the mail catcher,
the scheduler and the web server. Ctrl-C stops them all.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))


def flask(*args: str, env: dict) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, check=True)


def banner(base_url: str) -> str:
    """What a developer needs once everything is up: the URL, how to log in, the demo accounts, the mails."""
    from app.demo import DEMO_ACCOUNTS

    width = max(len(a["email"]) for a in DEMO_ACCOUNTS)
    accounts = "\n".join(f"    {a['email']:<{width}}  {a['label']}" for a in DEMO_ACCOUNTS)
    return (
        f"\n  Mutualisation DSI : {base_url}\n"
        "  Connexion : « S’identifier avec ProConnect », puis choisir l'un de ces comptes\n"
        f"  sur la page du fournisseur de test (« Comptes de démonstration ») :\n{accounts}\n"
        f"  Courriels envoyés : {base_url}/dev/courriels\n"
    )


def wait_until_serving(url: str, web: subprocess.Popen, timeout: float = 60.0) -> bool:
    """True once `url` answers (any HTTP status), False if the web process died or `timeout` passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except urllib.error.HTTPError:
            return True  # it answers, even if not with 200
        except OSError:
            time.sleep(0.2)
    return False


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    options = parser.parse_args()
    env = dict(os.environ, PORT=str(options.port), APP_ENV=os.environ.get("APP_ENV", "development"))
    env["FLASK_SKIP_DOTENV"] = "1"  # the dev tools pull python-dotenv in; no .env is read all the same
    env.setdefault("BASE_URL", f"http://127.0.0.1:{options.port}")

    from scripts.services import die_with_parent, start_local_services

    flask("data", "load", env=env)  # the app migrates the database on start in development
    processes = start_local_services(env, preexec_fn=die_with_parent)
    flask("demo", "accounts", env=env)
    # The living demo (loaded once; its mails go to the catcher). A database edited by hand may refuse it:
    # say so and serve anyway.
    demo = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "demo", "scenario"], cwd=ROOT, env=env)
    if demo.returncode:
        print("Scénario de démonstration non chargé (voir le message ci-dessus).", file=sys.stderr)
    web = subprocess.Popen(
        [
            str(BIN / "flask"),
            "--app",
            "wsgi",
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(options.port),
            "--with-threads",
        ],
        cwd=ROOT,
        env=env,
        preexec_fn=die_with_parent,
    )
    processes.append(web)
    # The banner comes last, once the web server answers, so that it is not buried under its start-up lines.
    if wait_until_serving(f"http://127.0.0.1:{options.port}/healthz", web):
        print(banner(env["BASE_URL"]), flush=True)
    else:
        print("Le serveur web ne répond pas (voir les messages ci-dessus).", file=sys.stderr)

    def stop(*_):
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while all(p.poll() is None for p in processes):
        time.sleep(1)
    print("Un des services s'est arrêté ; arrêt des autres.", file=sys.stderr)
    stop()


if __name__ == "__main__":
    main()
