"""Benchmark of the portfolio list (issue 2, "Performance"): latency ratios against the floor route.

Usage: .venv/bin/python bench/portfolio.py [--database-url URL] [--sizes 133,1330,13300]
                                           [--requests 30] [--warmup 5] [--seed 2018]

Without --database-url a scratch SQLite file is used. With it, THE DATABASE IS WIPED (every table dropped,
or the `public` schema on PostgreSQL), then rebuilt by the migrations and the reference data.

For each N the portfolio is grown to N opportunities with realistic French text (the annex's briques and
besoins, recombined and perturbed), bulk-inserted through SQLAlchemy Core with `search_text` filled as the
model does. Then one Flask test client (anonymous, PUBLIC_PORTFOLIO on) requests, interleaved so a busy
machine slows them alike, `/opportunites` (default list, page 1), `/opportunites?q=cloud` and the floor
route `/plancher`, and the median latencies are compared. SQL statements are counted per request with a
`before_cursor_execute` listener.

Targets: list/floor ≤ 4 at every N; SQL statements per list request ≤ 10 and the same at every N;
list(largest N)/list(smallest N) ≤ 1.5; search/list ≤ 2 at the largest N (full-text search, issue 15).
Exit status 1 when a target fails.
"""

import argparse
import csv
import os
import random
import re
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.maintenance import rebuild_database  # noqa: E402
from app.models import Action, Backing, Opportunity, Organisation  # noqa: E402
from app.models.portfolio import (  # noqa: E402
    BackingRole,
    Moscow,
    OpportunityState,
    action_opportunities,
    fold,
    stems,
)
from config import Config  # noqa: E402

LIST = "/opportunites"
SEARCH = "/opportunites?q=cloud"
FLOOR = "/plancher"
TARGET_LIST_RATIO = 4.0
TARGET_QUERIES = 10
TARGET_GROWTH = 1.5
TARGET_SEARCH_RATIO = 2.0  # a search at the largest N costs at most twice the unfiltered list (issue 15)


class BenchConfig(Config):
    """Development settings without the start-up migration; the portfolio readable anonymously."""

    ENV_NAME = "bench"
    SECRET_KEY = "bench-secret-key"
    AUTO_MIGRATE = False
    PUBLIC_PORTFOLIO = True
    SCHEDULER_ENABLED = False
    WTF_CSRF_ENABLED = False


# --- schema and data ----------------------------------------------------------------------------------


def reset_schema(app) -> None:
    """Drop everything, then the migrations and the reference data."""
    rebuild_database(app)


class TextMaker:
    """Briques and besoins that read like the annex: its own sentences, recombined and slightly varied."""

    QUALIFIERS = [
        "interministériel",
        "mutualisé",
        "de l'État",
        "pour les agents",
        "en mode SaaS",
        "souverain",
        "ouvert",
        "pour les usagers",
        "territorial",
        "sécurisé",
        "national",
        "à l'échelle de la DINUM",
        "partagé entre ministères",
    ]
    PREFIXES = ["Offre", "Plateforme", "Service", "Socle", "Outil", "Portail", "Référentiel", "Catalogue"]

    def __init__(self, rng: random.Random):
        self.rng = rng
        with (ROOT / "data" / "opportunities.csv").open(encoding="utf-8", newline="") as handle:
            annex = list(csv.DictReader(handle))
        self.briques = [r["brique"] for r in annex]
        self.paragraphs = [p.strip() for r in annex for p in r["besoin"].split("\n\n") if p.strip()]
        self.sentences = [
            s.strip() for p in self.paragraphs for s in re.split(r"(?<=[.;:])\s+", p) if len(s.strip()) > 20
        ]

    def brique(self) -> str:
        rng = self.rng
        base = rng.choice(self.briques)
        roll = rng.random()
        if roll < 0.35:
            base = f"{base} {rng.choice(self.QUALIFIERS)}"
        elif roll < 0.55:
            base = f"{rng.choice(self.PREFIXES)} {base[0].lower()}{base[1:]}"
        elif roll < 0.7:
            other = rng.choice(self.briques)
            base = f"{base} et {other[0].lower()}{other[1:]}"
        return base[:200]

    def besoin(self) -> str:
        rng = self.rng
        paragraphs = [rng.choice(self.paragraphs) for _ in range(rng.choice((1, 1, 2, 2, 3)))]
        if rng.random() < 0.4:
            paragraphs.append("\n".join(f"- {rng.choice(self.sentences)}" for _ in range(rng.randint(2, 4))))
        if rng.random() < 0.3:
            paragraphs.insert(0, f"{rng.choice(self.sentences)} ({rng.choice(self.QUALIFIERS)})")
        return "\n\n".join(paragraphs)[:10_000]


STATE_WEIGHTS = {
    OpportunityState.IDENTIFIEE: 50,
    OpportunityState.EN_CRIBLAGE: 15,
    OpportunityState.RETENUE_CRIBLAGE: 5,
    OpportunityState.EN_QUALIFICATION: 5,
    OpportunityState.VALIDEE_CSIC_TECH: 5,
    OpportunityState.PROPOSEE_CSIC: 4,
    OpportunityState.LANCEE: 4,
    OpportunityState.ECARTEE: 5,
    OpportunityState.FUSIONNEE: 3,
    OpportunityState.DOUBLON: 2,
    OpportunityState.DEJA_COUVERTE: 2,
}


def grow_portfolio(app, target: int, texts: TextMaker, rng: random.Random, chunk: int = 1000) -> int:
    """Insert opportunities numbered after the current maximum until there are `target`; returns how many.

    About a third get one or two action links and a quarter one to three backings, so the list's eager loads
    have rows to fetch. Merged and duplicate ones point at an earlier opportunity (database CHECK)."""
    with app.app_context():
        count = db.session.scalar(select(func.count(Opportunity.id)))
        if count >= target:
            return 0
        start = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
        numbers = list(range(start, start + target - count))
        existing_ids = list(db.session.scalars(select(Opportunity.id)))
        organisations = list(db.session.scalars(select(Organisation.id)))
        actions = list(db.session.scalars(select(Action.id)))
        states, weights = zip(*STATE_WEIGHTS.items(), strict=True)
        now = datetime.now(UTC)
        for offset in range(0, len(numbers), chunk):
            batch = numbers[offset : offset + chunk]
            rows = []
            for number in batch:
                code = Opportunity.code_for(number)
                brique, besoin = texts.brique(), texts.besoin()
                state = rng.choices(states, weights)[0]
                needs_target = state in (OpportunityState.FUSIONNEE, OpportunityState.DOUBLON)
                when = now - timedelta(days=rng.randint(0, 2000), minutes=rng.randint(0, 1440))
                rows.append(
                    {
                        "number": number,
                        "code": code,
                        "brique": brique,
                        "besoin": besoin,
                        "status": state.value,  # the column keeps its first name
                        "status_reason": "Motif de test du banc de mesure."
                        if state in (OpportunityState.ECARTEE, OpportunityState.DEJA_COUVERTE)
                        else None,
                        "target_id": rng.choice(existing_ids) if needs_target else None,  # the annex is there
                        "priority": rng.choice([None, None, *[m.value for m in Moscow]]),
                        "search_text": fold(f"{code} {brique} {besoin}"),
                        "search_stem": " ".join(stems(f"{code} {brique} {besoin}")),
                        "version": 1,
                        "created_at": when,
                        "updated_at": when,
                        "created_by_id": None,
                    }
                )
            db.session.execute(insert(Opportunity.__table__), rows)
            new = db.session.execute(
                select(Opportunity.id, Opportunity.number).where(
                    Opportunity.number.between(batch[0], batch[-1])
                )
            ).all()
            links, backings = [], []
            for opp_id, _number in new:
                if actions and rng.random() < 0.35:
                    for action_id in rng.sample(actions, rng.randint(1, 2)):
                        links.append({"action_id": action_id, "opportunity_id": opp_id})
                if organisations and rng.random() < 0.25:
                    for org_id in rng.sample(organisations, rng.randint(1, 3)):
                        backings.append(
                            {
                                "opportunity_id": opp_id,
                                "organisation_id": org_id,
                                "role": rng.choice(list(BackingRole)).value,
                                "created_at": now,
                            }
                        )
            if links:
                db.session.execute(insert(action_opportunities), links)
            if backings:
                db.session.execute(insert(Backing.__table__), backings)
            existing_ids.extend(opp_id for opp_id, _ in new)
            db.session.commit()
        db.session.remove()
        refresh_statistics(db.engine)
        return len(numbers)


def refresh_statistics(engine) -> None:
    """What autovacuum does after a bulk insert of this size (PostgreSQL: VACUUM ANALYZE, which also sets the
    visibility map that index-only scans need); SQLite: ANALYZE."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")


# --- measurement --------------------------------------------------------------------------------------


@contextmanager
def counting(engine):
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def get(client, path: str) -> tuple[float, float]:
    """One request: (wall-clock seconds, CPU seconds of this thread, which excludes other processes' load
    and the PostgreSQL server's work)."""
    cpu, started = time.thread_time(), time.perf_counter()
    response = client.get(path)
    elapsed, cpu = time.perf_counter() - started, time.thread_time() - cpu
    if response.status_code != 200:
        raise SystemExit(f"{path} answered {response.status_code}")
    return elapsed, cpu


def measure(app, client, requests: int, warmup: int) -> dict:
    paths = (LIST, SEARCH, FLOOR)
    for _ in range(warmup):
        for path in paths:
            get(client, path)
    times: dict[str, list[float]] = {path: [] for path in paths}
    cpu: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(requests):
        for path in paths:
            elapsed, used = get(client, path)
            times[path].append(elapsed)
            cpu[path].append(used)
    with app.app_context():
        engine = db.engine
    queries = {}
    for path in (LIST, SEARCH):
        with counting(engine) as statements:
            get(client, path)
        queries[path] = len(statements)
    with app.app_context():
        total = db.session.scalar(select(func.count(Opportunity.id)))
        db.session.remove()
    body = client.get(LIST).get_data(as_text=True)
    shown = re.search(r'id="result-count"><strong>(\d+)</strong>', body)
    return {
        "n": total,
        "shown": int(shown.group(1)) if shown else None,
        **{path: statistics.median(values) * 1000 for path, values in times.items()},
        "cpu": {path: statistics.median(values) * 1000 for path, values in cpu.items()},
        "queries": queries[LIST],
        "search_queries": queries[SEARCH],
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="database to WIPE and use (default: a scratch SQLite file)")
    parser.add_argument("--sizes", default="133,1330,13300", help="portfolio sizes (default %(default)s)")
    parser.add_argument("--requests", type=int, default=30, help="timed requests per route and size")
    parser.add_argument("--warmup", type=int, default=5, help="untimed requests per route and size first")
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    scratch = None
    url = args.database_url
    if not url:
        scratch = tempfile.TemporaryDirectory(prefix="bench-portfolio-")
        url = f"sqlite:///{scratch.name}/bench.sqlite3"
    app = create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        backend = db.engine.dialect.name
    print(
        f"Banc portefeuille — base {backend} ({'fichier temporaire' if scratch else url.split('@')[-1]}), "
        f"{args.requests} requêtes mesurées après {args.warmup} d'échauffement, médianes."
    )
    load = os.getloadavg()[0]
    if load > (os.cpu_count() or 1):
        print(
            f"Attention : machine chargée (charge {load:.1f} pour {os.cpu_count()} processeurs), "
            "les latences mesurées sont bruitées."
        )
    reset_schema(app)
    rng = random.Random(args.seed)
    texts = TextMaker(rng)
    client = app.test_client()

    results = []
    for size in sizes:
        started = time.perf_counter()
        added = grow_portfolio(app, size, texts, rng)
        seeded = time.perf_counter() - started
        result = measure(app, client, args.requests, args.warmup)
        result["seed_s"] = seeded
        result["added"] = added
        results.append(result)

    header = (
        f"{'N':>7} {'liste ms':>9} {'recherche ms':>13} {'plancher ms':>12} {'liste/plancher':>15} "
        f"{'recherche/plancher':>19} {'requêtes SQL liste':>19} {'(recherche)':>11} "
        f"{'CPU liste/plancher':>19} {'CPU recherche/liste':>20}"
    )
    print()
    print(header)
    print("-" * len(header))
    for r in results:
        print(
            f"{r['n']:>7} {r[LIST]:>9.2f} {r[SEARCH]:>13.2f} {r[FLOOR]:>12.2f} {r[LIST] / r[FLOOR]:>15.2f} "
            f"{r[SEARCH] / r[FLOOR]:>19.2f} {r['queries']:>19} {r['search_queries']:>11} "
            f"{r['cpu'][LIST] / r['cpu'][FLOOR]:>19.2f} {r['cpu'][SEARCH] / r['cpu'][LIST]:>20.2f}"
        )
    growth = results[-1][LIST] / results[0][LIST]
    search_growth = results[-1][SEARCH] / results[0][SEARCH]
    print(
        "(dernière colonne, information : temps CPU de ce processus seul, insensible à la charge des "
        "autres ; sans le travail du serveur PostgreSQL)"
    )
    print()
    print(
        f"liste({results[-1]['n']}) / liste({results[0]['n']}) = {growth:.2f} ; "
        f"recherche({results[-1]['n']}) / recherche({results[0]['n']}) = {search_growth:.2f} (information)"
    )
    print()

    checks = []
    worst = max(r[LIST] / r[FLOOR] for r in results)
    checks.append(
        (
            f"liste/plancher ≤ {TARGET_LIST_RATIO:g} pour chaque N (pire : {worst:.2f})",
            worst <= TARGET_LIST_RATIO,
        )
    )
    counts = sorted({r["queries"] for r in results})
    observed = ", ".join(map(str, counts))
    checks.append(
        (
            f"requêtes SQL par page liste ≤ {TARGET_QUERIES} (observé : {observed})",
            max(counts) <= TARGET_QUERIES,
        )
    )
    checks.append(("requêtes SQL identiques pour chaque N", len(counts) == 1))
    checks.append(
        (
            f"liste({results[-1]['n']}) / liste({results[0]['n']}) ≤ {TARGET_GROWTH:g} "
            f"(observé : {growth:.2f})",
            growth <= TARGET_GROWTH,
        )
    )
    search_ratio = results[-1][SEARCH] / results[-1][LIST]
    checks.append(
        (
            f"recherche/liste ≤ {TARGET_SEARCH_RATIO:g} à N = {results[-1]['n']} "
            f"(observé : {search_ratio:.2f})",
            search_ratio <= TARGET_SEARCH_RATIO,
        )
    )
    shown_ok = all(r["shown"] == r["n"] for r in results)
    checks.append(("le compteur de la page liste affiche N", shown_ok))
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    seeding = ", ".join(f"{r['added']} ajoutées en {r['seed_s']:.1f} s" for r in results)
    print(f"(données : {seeding})")
    if scratch:
        with app.app_context():
            db.engine.dispose()
        scratch.cleanup()
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
