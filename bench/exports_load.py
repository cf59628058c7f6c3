"""Four large exports at once: does the floor route stay fast? (issue « Performance at scale », exports)

    .venv/bin/python bench/exports_load.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench_exports

**`--database-url` wipes that database** (it is created when missing). The script:

1. builds the schema and grows the portfolio to `--portfolio` opportunities (bench/portfolio.py's generator);
2. for each mode, starts gunicorn as production does (`--worker-class gthread`, `--workers`, `--threads`)
   on that database, and in the `job` mode the scheduler process (`flask scheduler run`) beside it:
   - `inline`: `EXPORT_JOB_ROWS=0`, every export is written in its web request (the situation before
     background exports, on gthread workers);
   - `job`: the default threshold, the exports above it are written by the scheduler process, one at a
     time, and each client posts the form of the page its export answers with (« Préparer l'export »),
     polls the job's page every 2 s as the browser does, then downloads the file;
3. measures `/plancher` with `wrk --latency` (p99) idle, then while four large exports are asked at once
   (`/exports/opportunites.xlsx` twice, `/exports/opportunites.ods`, `/exports/donnees/portefeuille.xlsx`,
   anonymous: the portfolio and the open data are public here).

Prints, per mode: idle p99, p99 under load, their ratio (goal ≤ 2 in the `job` mode), how long each export
took to reach its user. Exit status 1 when the goal fails. Needs `wrk` (Debian: `apt-get install wrk`).
"""

import argparse
import html
import http.cookiejar
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from portfolio import BenchConfig, TextMaker, grow_portfolio, refresh_statistics  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.maintenance import rebuild_database  # noqa: E402

EXPORTS = [
    "/exports/opportunites.xlsx",
    "/exports/opportunites.xlsx?tri=code",
    "/exports/opportunites.ods",
    "/exports/donnees/portefeuille.xlsx",
]
GOAL = 2.0
BIN = Path(sys.executable).parent


def ensure_database(url: str) -> None:
    if not url.startswith("postgresql"):
        sys.exit("--database-url: a PostgreSQL URL (the bench measures the production set-up)")
    import psycopg

    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0].replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def environment(url: str, export_dir: str, threshold: int) -> dict:
    env = dict(os.environ)
    env.update(
        APP_ENV="development",
        DATABASE_URL=url,
        SECRET_KEY="bench-secret-key",
        AUTO_MIGRATE="false",
        PUBLIC_PORTFOLIO="true",
        PUBLIC_API="true",
        SCHEDULER_ENABLED="false",
        EXPORT_JOB_ROWS=str(threshold),
        EXPORT_DIR=export_dir,
        UPLOAD_DIR=export_dir,
    )
    env.pop("REDIS_URL", None)  # sessions in the database, as without Redis
    return env


def wait_until_up(base: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/plancher", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"gunicorn did not answer on {base}")


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk_p99(url: str, seconds: int, connections: int) -> tuple[float, int]:
    """(p99 in ms, requests) of `wrk --latency` on `url`."""
    out = subprocess.run(
        ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", out, re.MULTILINE)
    requests = re.search(r"(\d+) requests in", out)
    if not match:
        raise RuntimeError(f"no p99 in wrk output:\n{out}")
    return float(match.group(1)) * UNITS[match.group(2)], int(requests.group(1)) if requests else 0


PREPARE_FORM = re.compile(
    r'<form method="post" action="([^"]+)"[^>]*>\s*<input type="hidden" name="csrf_token" value="([^"]+)">'
    r'\s*<button[^>]*id="export-job-prepare"'
)


def fetch_export(base: str, path: str, results: dict) -> None:
    """As a browser: ask the export; if it answers with the page offering a background job, post its form
    (the job is queued, its page opens), poll that page every 2 s, then download."""
    started = time.monotonic()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    try:
        with opener.open(base + path, timeout=600) as response:
            body = response.read()
            final = response.geturl()
        if form := PREPARE_FORM.search(body.decode("utf-8", "replace")):
            action, token = html.unescape(form.group(1)), form.group(2)
            data = urllib.parse.urlencode({"csrf_token": token}).encode()
            with opener.open(urllib.request.Request(base + action, data=data), timeout=600) as response:
                body = response.read()  # the job's page, after the 303
                final = response.geturl()
        how = "requête"
        if "/exports/travaux/" in final:
            how = "travail"
            while b"est pr\xc3\xaat" not in body and "échoué".encode() not in body:
                time.sleep(2)
                request = urllib.request.Request(final, headers={"HX-Request": "true"})
                with opener.open(request, timeout=60) as response:
                    body = response.read()
            with opener.open(final + "/fichier", timeout=600) as response:
                body = response.read()
        results[path] = (time.monotonic() - started, len(body), how)
    except Exception as error:  # noqa: BLE001 - reported in the table
        results[path] = (time.monotonic() - started, 0, f"erreur {error}")


def run_mode(mode: str, args, url: str) -> dict:
    port = args.port
    base = f"http://127.0.0.1:{port}"
    export_dir = tempfile.mkdtemp(prefix="bench-exports-")
    env = environment(url, export_dir, 0 if mode == "inline" else args.threshold)
    # built once before the workers start (each worker would otherwise build them at start, concurrently)
    subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", "assets", "build"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    processes = [
        subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                "--worker-class",
                "gthread",
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
                "--timeout",
                "120",
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
    ]
    if mode == "job":
        processes.append(
            subprocess.Popen(
                [str(BIN / "flask"), "--app", "wsgi", "scheduler", "run"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    try:
        wait_until_up(base)
        floor = base + "/plancher"
        wrk_p99(floor, 3, args.connections)  # warm-up
        idle, idle_requests = wrk_p99(floor, args.idle, args.connections)
        results: dict = {}
        threads = [threading.Thread(target=fetch_export, args=(base, p, results)) for p in EXPORTS]
        load: dict = {}

        def measure_load():
            load["p99"], load["requests"] = wrk_p99(floor, args.duration, args.connections)

        meter = threading.Thread(target=measure_load)
        meter.start()
        time.sleep(1)
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        meter.join()
        return {
            "mode": mode,
            "idle": idle,
            "idle_requests": idle_requests,
            "load": load["p99"],
            "load_requests": load["requests"],
            "exports": results,
        }
    finally:
        for process in processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(export_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="PostgreSQL database to WIPE and use")
    parser.add_argument("--portfolio", type=int, default=13300, help="opportunities (default %(default)s)")
    parser.add_argument("--modes", default="inline,job")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--connections", type=int, default=4, help="wrk connections on /plancher")
    parser.add_argument("--idle", type=int, default=15, help="seconds of idle measure")
    parser.add_argument("--duration", type=int, default=40, help="seconds of measure under load")
    parser.add_argument("--threshold", type=int, default=5000, help="EXPORT_JOB_ROWS of the job mode")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=2018)
    parser.add_argument("--keep-data", action="store_true", help="reuse the database as it is")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is missing (Debian: apt-get install wrk)")
    ensure_database(args.database_url)
    if not args.keep_data:
        app = create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=args.database_url)
        rebuild_database(app)
        rng = random.Random(args.seed)
        grow_portfolio(app, args.portfolio, TextMaker(rng), rng)
        with app.app_context():
            refresh_statistics(db.engine)
            db.engine.dispose()
    print(
        f"Exports sous charge — PostgreSQL, {args.portfolio} opportunités, gunicorn gthread "
        f"{args.workers} × {args.threads}, wrk {args.connections} connexions sur /plancher, "
        f"charge moyenne {os.getloadavg()[0]:.1f} pour {os.cpu_count()} processeurs"
    )
    rows, failed = [], False
    for mode in args.modes.split(","):
        result = run_mode(mode, args, args.database_url)
        ratio = result["load"] / result["idle"] if result["idle"] else float("inf")
        rows.append((result, ratio))
        if mode == "job" and ratio > GOAL:
            failed = True
    print(f"{'mode':7} {'p99 idle ms':>12} {'p99 load ms':>12} {'load/idle':>10}  exports (s, size, how)")
    for result, ratio in rows:
        exports = "; ".join(
            f"{path.split('/')[-1]} {seconds:.1f} s {size // 1024} ko {how}"
            for path, (seconds, size, how) in sorted(result["exports"].items())
        )
        print(f"{result['mode']:7} {result['idle']:12.1f} {result['load']:12.1f} {ratio:10.2f}  {exports}")
        print(f"{'':7} requests: {result['idle_requests']} idle, {result['load_requests']} under load")
    verdict = "FAIL" if failed else "PASS"
    print(f"{verdict} job mode: p99 under load ≤ {GOAL} × idle p99")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
