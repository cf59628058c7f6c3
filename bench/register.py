"""The decision register at 1 000 and 10 000 decisions against the floor route (issue « Performance at
scale »: « Register: … the page is paginated; ≤ 4 × floor at 10 000 decisions »).

Usage: .venv/bin/python bench/register.py [--database-url URL] [--sizes 1000,10000] [--series 5]
       [--requests 3]

Without --database-url a scratch SQLite file is used. With it, THE DATABASE IS WIPED (as bench/pages.py).

The data: bench/pages.py's world and its small data set (bench/dataset.py at 0.01: the past sessions and the
dossiers they decide on), then the decisions grown to each size (`decide_up_to`, dossier items decided and
published), every one inscribed in the register with its chained hashes, and the chain verified once
(services.register.record_verification, as the daily job does: the page shows that result). Per size, the
register's first and last pages and `/plancher` requested `--requests` times per series, interleaved, as the
secretariat; the CPU time of this thread, median over the series of each series' median, and ×floor, the
median of the series' ratios to the floor of the same series; SQL statements per request (one request,
counted). Goals: ≤ 4 × floor at every size, the statements the same at every size and page. Exit status 1
when one fails.
"""

import argparse
import os
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from dataset import decide_up_to, targets, top_up  # noqa: E402
from pages import FLOOR, bench_app, clients, timed  # noqa: E402
from portfolio import TextMaker, counting, grow_portfolio, refresh_statistics  # noqa: E402

from app.extensions import db  # noqa: E402
from app.maintenance import rebuild_database  # noqa: E402
from app.models import User  # noqa: E402
from app.models.register import RegisterEntry  # noqa: E402
from app.queries.committees import REGISTER_PAGE_SIZE  # noqa: E402
from app.services import register  # noqa: E402
from tests.routes.test_statement_counts import build_world, grow  # noqa: E402

TARGET_RATIO = 4.0
REGISTER = "/comites/registre"


def measure(app, engine, client, urls: dict, series: int, requests: int) -> dict:
    """{name: (cpu ms, ×floor, statements)} for the register's pages and the floor."""
    for _ in range(requests):
        for url in urls.values():
            timed(client, url)
    cpu = {name: [] for name in urls}
    ratios = {name: [] for name in urls}
    for _ in range(series):
        this = {name: [] for name in urls}
        for _ in range(requests):
            for name, url in urls.items():
                this[name].append(timed(client, url)[1])
        floor = statistics.median(this["/plancher"])
        for name in urls:
            cpu[name].append(statistics.median(this[name]))
            ratios[name].append(statistics.median(this[name]) / floor)
    result = {}
    for name, url in urls.items():
        with counting(engine) as sent:
            timed(client, url)
        statements = len([s for s in sent if not s.lstrip().upper().startswith(("BEGIN", "SAVEPOINT"))])
        result[name] = (statistics.median(cpu[name]) * 1000, statistics.median(ratios[name]), statements)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--sizes", default="1000,10000", help="numbers of decisions in the register")
    parser.add_argument("--series", type=int, default=5)
    parser.add_argument("--requests", type=int, default=3)
    args = parser.parse_args(argv)
    app, url, scratch = bench_app(args.database_url)
    rows = []
    try:
        rebuild_database(app)
        with app.app_context():
            world = build_world()
            grow(world, 1)
            user_ids = {role: user.id for role, user in world["users"].items()}
            db.session.remove()
        rng = random.Random(2018)
        grow_portfolio(app, targets(0.01)["opportunities"], TextMaker(rng), rng)
        with app.app_context():
            world["users"] = {role: db.session.get(User, user_id) for role, user_id in user_ids.items()}
        top_up(app, world, 0.01, rng)
        for size in (int(n) for n in args.sizes.split(",")):
            with app.app_context():
                world["users"] = {role: db.session.get(User, user_id) for role, user_id in user_ids.items()}
            decide_up_to(app, world, size)
            with app.app_context():
                verified = register.record_verification(trigger="cli", actor=None).ok
                entries = db.session.scalar(db.select(db.func.count(RegisterEntry.id)))
                db.session.commit()
                db.session.remove()
                refresh_statistics(db.engine)
                engine = db.engine
            if not verified:
                raise SystemExit(f"the register built does not verify at {size} decisions")
            last = max(1, -(-entries // REGISTER_PAGE_SIZE))
            urls = {"first page": REGISTER, "last page": f"{REGISTER}?page={last}", "/plancher": FLOOR}
            client = clients(app, {"secretariat": user_ids["secretariat"]})["secretariat"]
            print(f"{entries} register entries (chain verified): measuring", file=sys.stderr)
            rows.append((size, entries, measure(app, engine, client, urls, args.series, args.requests)))
    finally:
        if scratch:
            os.unlink(scratch.name)
    return report(rows, url.split(":")[0])


def report(rows, backend: str) -> int:
    print(f"\nbackend: {backend}; CPU ms of the app thread, median of series; ×floor against /plancher")
    header = f"{'decisions':>9} {'entries':>7} {'page':12} {'cpu':>7} {'×floor':>7} {'SQL':>4}  goals"
    print(header)
    print("-" * len(header))
    failed = False
    counts = set()
    for size, entries, measured in rows:
        for name, (cpu, ratio, statements) in measured.items():
            verdict = ""
            if name != "/plancher":
                counts.add(statements)
                verdict = "PASS" if ratio <= TARGET_RATIO else f"FAIL ×floor>{TARGET_RATIO}"
                failed |= ratio > TARGET_RATIO
            print(f"{size:9} {entries:7} {name:12} {cpu:7.2f} {ratio:7.1f} {statements:4}  {verdict}")
    if len(counts) > 1:
        print("FAIL: the statements per request differ between sizes or pages")
        failed = True
    print("\n" + ("a goal failed" if failed else "every goal met"))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
