"""Benchmark: /api/v1/opportunities?per_page=200 against the floor route /plancher, same process, same run.

Usage: .venv/bin/python bench/api.py [--rounds 60] [--max-ratio 4]
Uses a scratch SQLite database (or DATABASE_URL if given) built by the migrations and the reference data, then
grows the portfolio to N opportunities (each with backings and action links) for two values of N.

Checks, exit status 1 when one fails:
- latency of the API page ≤ max-ratio × latency of /plancher, both requested over HTTP from a real WSGI
  server on 127.0.0.1 (what a client sees), interleaved so a busy machine slows both alike; the ratio
  compares the medians (minima printed for information);
- SQL statements per API request are the same for both N (no per-row query).
The in-process ratio (Flask test client, no socket) is printed too, for information: it leaves out the
connection and transfer costs that both routes share, so it is the stricter of the two.
"""

import argparse
import http.client
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import event, func, insert, select  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.models import Action, Backing, Opportunity, Organisation  # noqa: E402
from app.models.portfolio import action_opportunities  # noqa: E402
from app.services.reference import load_all  # noqa: E402
from config import TestConfig  # noqa: E402

API = "/api/v1/opportunities?per_page=200"
FLOOR = "/plancher"


def build_app():
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{tempfile.mkdtemp(prefix='bench-api-')}/bench.sqlite3"
    app = create_app(TestConfig, SQLALCHEMY_DATABASE_URI=url, PUBLIC_API=True)
    with app.app_context():
        upgrade(directory=str(ROOT / "migrations"))
        if not db.session.scalar(select(func.count(Opportunity.id))):
            load_all(ROOT / "data")
        db.session.commit()
    return app


def grow_portfolio(app, target: int) -> None:
    """Add opportunities (with two backings and two action links each) until there are `target`."""
    with app.app_context():
        current = db.session.scalar(select(func.max(Opportunity.number))) or 0
        organisations = db.session.scalars(select(Organisation.id).order_by(Organisation.id)).all()
        actions = db.session.scalars(select(Action.id).order_by(Action.id)).all()
        for number in range(current + 1, target + 1):
            opportunity = Opportunity(
                number=number,
                code=Opportunity.code_for(number),
                brique=f"Brique {number}",
                besoin="Besoin de mesure. " * 20,
                priority=("must", "should", None)[number % 3],
            )
            db.session.add(opportunity)
            db.session.flush()
            for k in range(2):
                db.session.add(
                    Backing(
                        opportunity_id=opportunity.id,
                        role="contributeur",
                        organisation_id=organisations[(number + k) % len(organisations)],
                    )
                )
                db.session.execute(
                    insert(action_opportunities).values(
                        action_id=actions[(number + 3 * k) % len(actions)], opportunity_id=opportunity.id
                    )
                )
        db.session.commit()


def statements_per_request(app, client, path: str) -> int:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, response.status_code
    return len(seen)


def latencies(get, rounds: int) -> tuple[list[float], list[float]]:
    api, floor = [], []
    for _ in range(5):  # warm-up: compiled statements, templates
        get(API)
        get(FLOOR)
    for _ in range(rounds):
        for path, sink in ((FLOOR, floor), (API, api)):
            start = time.perf_counter()
            status = get(path)
            sink.append(time.perf_counter() - start)
            assert status == 200, (path, status)
    return api, floor


def over_http(app):
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)

    def get(path: str) -> int:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status

    return server, get


def report(label: str, api: list[float], floor: list[float]) -> float:
    """Print medians and minima; return the ratio of the medians."""
    api_ms, floor_ms = statistics.median(api) * 1000, statistics.median(floor) * 1000
    best_api, best_floor = min(api) * 1000, min(floor) * 1000
    ratio = api_ms / floor_ms
    print(
        f"{label}: {API} median {api_ms:.2f} ms (min {best_api:.2f}), {FLOOR} median {floor_ms:.2f} ms "
        f"(min {best_floor:.2f}); ratio of medians {ratio:.2f}, of minima {best_api / best_floor:.2f}"
    )
    return ratio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--max-ratio", type=float, default=4.0)
    args = parser.parse_args()

    app = build_app()
    client = app.test_client()
    counts = {}
    for n in (250, 500):
        grow_portfolio(app, n)
        counts[n] = statements_per_request(app, client, API)
        body = client.get(API).get_json()
        assert len(body["data"]) == 200 and body["meta"]["total"] >= n, body["meta"]
    in_process = report("in process", *latencies(lambda path: client.get(path).status_code, args.rounds))
    server, get = over_http(app)
    try:
        ratio = report("over HTTP", *latencies(get, args.rounds))
    finally:
        server.shutdown()
    print(
        f"gate: HTTP ratio {ratio:.2f} <= {args.max_ratio} "
        f"(in-process ratio {in_process:.2f}, for information)"
    )
    print("SQL statements per API request: " + ", ".join(f"N={n}: {c}" for n, c in counts.items()))
    ok = ratio <= args.max_ratio and len(set(counts.values())) == 1
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
