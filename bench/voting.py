"""Benchmark of the MoSCoW ballot and results (issue 4, "Performance"): sizes, latency ratios to the floor.

Usage: .venv/bin/python bench/voting.py [--database-url URL] [--voters 300] [--requests 40] [--warmup 5]
                                        [--seed 2018]

Without --database-url a scratch SQLite file is used. With it, THE DATABASE IS WIPED (every table dropped, or
the `public` schema on PostgreSQL), then rebuilt by the migrations and the reference data.

Set-up: the portfolio is completed to 133 opportunities, all in the scope of an open campaign; `--voters` DSI
members spread over the ministries have all voted on every opportunity (bulk-inserted rows). Then, through one
Flask test client, interleaved with the floor route `/plancher`:
- the vote round trip: one member changes a vote (htmx POST, as the buttons send it); the response is the
  updated row plus the out-of-band progress bar;
- the campaign is closed (results frozen) and the results page is requested by the secretariat.
The results page's SQL statements are counted for this campaign and for a second one with a tenth of the
voters.

Targets: vote response ≤ 2048 bytes; vote/floor ≤ 3; results/floor ≤ 4; results SQL statements ≤ 10 and the
same for both campaigns (constant in the number of voters). Latencies are medians of `--requests` interleaved
requests; `--repeat` series are run and the best ratio is kept (other processes on the machine add noise).
Exit status 1 when a target fails.
"""

import argparse
import random
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, insert, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.maintenance import rebuild_database  # noqa: E402
from app.models import Opportunity, Organisation, Role, User, UserRole  # noqa: E402
from app.models.voting import Campaign, Vote, campaign_opportunities  # noqa: E402
from app.services import voting as service  # noqa: E402
from config import Config  # noqa: E402

FLOOR = "/plancher"
SCOPE = 133
TARGET_BYTES = 2048
TARGET_VOTE_RATIO = 3.0
TARGET_RESULTS_RATIO = 4.0
TARGET_QUERIES = 10
VALUES = ["must", "should", "could", "wont"]


class BenchConfig(Config):
    ENV_NAME = "bench"
    SECRET_KEY = "bench-secret-key"
    AUTO_MIGRATE = False
    SCHEDULER_ENABLED = False
    WTF_CSRF_ENABLED = False


def reset_schema(app) -> None:
    """Drop everything, then the migrations and the reference data."""
    rebuild_database(app)


def seed(app, voters: int, rng: random.Random, title: str) -> tuple[int, list[int], int]:
    """A campaign on the first 133 opportunities where `voters` DSI members have all voted.

    Returns (campaign id, voter ids, secretariat id)."""
    with app.app_context():
        while db.session.scalar(select(func.count(Opportunity.id))) < SCOPE:
            number = (db.session.scalar(select(func.max(Opportunity.number))) or 0) + 1
            db.session.add(
                Opportunity(
                    number=number,
                    code=Opportunity.code_for(number),
                    brique=f"Brique du banc {number}",
                    besoin="",
                )
            )
            db.session.flush()
        scope = list(db.session.scalars(select(Opportunity.id).order_by(Opportunity.number).limit(SCOPE)))
        ministries = list(db.session.scalars(select(Organisation.id).where(Organisation.kind == "ministere")))
        now = datetime.now(UTC)
        tag = rng.randrange(10**9)
        secretariat = User(
            email=f"secretariat-{tag}@bench.gouv.fr", given_name="Secrétariat", usual_name="Banc"
        )
        secretariat.roles.append(UserRole(role=Role.SECRETARIAT))
        db.session.add(secretariat)
        db.session.flush()
        db.session.execute(
            insert(User.__table__),
            [
                {
                    "email": f"dsi-{tag}-{n}@bench.gouv.fr",
                    "given_name": "Membre",
                    "usual_name": f"DSI {n}",
                    "active": True,
                    "created_at": now,
                    "calendar_token": f"bench-{tag}-{n}",
                }
                for n in range(voters)
            ],
        )
        voter_ids = list(
            db.session.scalars(select(User.id).where(User.email.like(f"dsi-{tag}-%")).order_by(User.id))
        )
        organisation_of = {uid: ministries[i % len(ministries)] for i, uid in enumerate(voter_ids)}
        db.session.execute(
            insert(UserRole.__table__),
            [
                {"user_id": uid, "role": Role.DSI.value, "organisation_id": org, "granted_at": now}
                for uid, org in organisation_of.items()
            ],
        )
        campaign = Campaign(
            title=title,
            state="ouverte",
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=7),
            opened_at=now - timedelta(hours=1),
        )
        db.session.add(campaign)
        db.session.flush()
        db.session.execute(
            insert(campaign_opportunities),
            [{"campaign_id": campaign.id, "opportunity_id": oid} for oid in scope],
        )
        rows = [
            {
                "campaign_id": campaign.id,
                "voter_id": uid,
                "opportunity_id": oid,
                "organisation_id": organisation_of[uid],
                "value": rng.choice(VALUES),
                "justification": "",
                "created_at": now,
                "updated_at": now,
            }
            for uid in voter_ids
            for oid in scope
        ]
        for offset in range(0, len(rows), 5000):
            db.session.execute(insert(Vote.__table__), rows[offset : offset + 5000])
        db.session.commit()
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        campaign_id, secretariat_id = campaign.id, secretariat.id
        db.session.remove()
        return campaign_id, voter_ids, secretariat_id


def close(app, campaign_id: int, secretariat_id: int) -> float:
    with app.app_context():
        started = time.perf_counter()
        service.transition(
            db.session.get(Campaign, campaign_id), to="close", actor=db.session.get(User, secretariat_id)
        )
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.session.remove()
        return elapsed


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


def login(client, user_id: int) -> None:
    with client.session_transaction() as session_data:
        session_data["_user_id"] = str(user_id)
        session_data["_fresh"] = True


def timed(client, method: str, path: str, **kw):
    started = time.perf_counter()
    response = client.open(path, method=method, **kw)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{method} {path} answered {response.status_code}")
    return elapsed, response


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="database to WIPE and use (default: a scratch SQLite file)")
    parser.add_argument("--voters", type=int, default=300)
    parser.add_argument("--requests", type=int, default=40, help="timed requests per route")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measurement series (the best ratio is kept: other processes add noise)",
    )
    parser.add_argument("--seed", type=int, default=2018)
    args = parser.parse_args(argv)

    scratch = None
    url = args.database_url
    if not url:
        scratch = tempfile.TemporaryDirectory(prefix="bench-voting-")
        url = f"sqlite:///{scratch.name}/bench.sqlite3"
    app = create_app(BenchConfig, SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        backend = db.engine.dialect.name
        engine = db.engine
    print(
        f"Banc vote MoSCoW — base {backend} ({'fichier temporaire' if scratch else url.split('@')[-1]}), "
        f"{SCOPE} opportunités, {args.voters} votants, {args.requests} requêtes mesurées, médianes."
    )
    reset_schema(app)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    campaign_id, voter_ids, secretariat_id = seed(app, args.voters, rng, "Campagne du banc")
    small_id, _, _ = seed(app, max(1, args.voters // 10), rng, "Petite campagne du banc")
    print(
        f"(données : {args.voters * SCOPE} + {max(1, args.voters // 10) * SCOPE} votes insérés en "
        f"{time.perf_counter() - started:.1f} s)"
    )

    with app.app_context():
        codes = list(
            db.session.scalars(
                select(Opportunity.code)
                .join(campaign_opportunities, campaign_opportunities.c.opportunity_id == Opportunity.id)
                .where(campaign_opportunities.c.campaign_id == campaign_id)
                .order_by(Opportunity.number)
            )
        )
        db.session.remove()

    # --- vote round trip: one member changes votes, interleaved with the floor ------------------------------
    client = app.test_client()
    login(client, voter_ids[-1])
    headers = {"HX-Request": "true"}
    sizes, request_sizes, vote_runs = [], [], []
    i = 0
    for _ in range(args.repeat):
        vote_times, floor_times = [], []
        for n in range(args.warmup + args.requests):
            code = codes[i % len(codes)]
            form = {"value": VALUES[i % 4], "justification": "", "contexte": "vote"}
            i += 1
            elapsed, response = timed(
                client, "POST", f"/campagnes/{campaign_id}/votes/{code}", data=form, headers=headers
            )
            floor, _ = timed(client, "GET", FLOOR)
            if n >= args.warmup:
                vote_times.append(elapsed)
                floor_times.append(floor)
                sizes.append(len(response.get_data()))
                request_sizes.append(len("&".join(f"{k}={v}" for k, v in form.items())))
        vote_runs.append((statistics.median(vote_times) * 1000, statistics.median(floor_times) * 1000))
    vote_ms, vote_floor_ms = min(vote_runs, key=lambda r: r[0] / r[1])

    # --- results page ---------------------------------------------------------------------------------------
    close_s = close(app, campaign_id, secretariat_id)
    close(app, small_id, secretariat_id)
    client = app.test_client()
    login(client, secretariat_id)
    results_runs = []
    for _ in range(args.repeat):
        results_times, floor_times = [], []
        for n in range(args.warmup + args.requests):
            elapsed, _ = timed(client, "GET", f"/campagnes/{campaign_id}/resultats")
            floor, _ = timed(client, "GET", FLOOR)
            if n >= args.warmup:
                results_times.append(elapsed)
                floor_times.append(floor)
        results_runs.append((statistics.median(results_times) * 1000, statistics.median(floor_times) * 1000))
    results_ms, results_floor_ms = min(results_runs, key=lambda r: r[0] / r[1])
    queries = {}
    for cid in (campaign_id, small_id):
        with counting(engine) as statements:
            timed(client, "GET", f"/campagnes/{cid}/resultats")
        queries[cid] = len(statements)

    print()
    print(
        f"Ratios par série ({args.repeat} séries, la meilleure est retenue) : vote/plancher "
        + ", ".join(f"{v / f:.2f}" for v, f in vote_runs)
        + " ; résultats/plancher "
        + ", ".join(f"{r / f:.2f}" for r, f in results_runs)
    )
    print()
    print(
        f"Aller-retour d'un vote : réponse {max(sizes)} octets "
        f"(max ; médiane {statistics.median(sizes):.0f}), "
        f"requête {max(request_sizes)} octets de formulaire (+ en-têtes, jeton CSRF dans X-CSRFToken)"
    )
    print(
        f"  vote {vote_ms:.2f} ms ; plancher {vote_floor_ms:.2f} ms ; "
        f"vote/plancher {vote_ms / vote_floor_ms:.2f}"
    )
    print(
        f"Page de résultats ({args.voters} votants) : {results_ms:.2f} ms ; "
        f"plancher {results_floor_ms:.2f} ms ; "
        f"résultats/plancher {results_ms / results_floor_ms:.2f}"
    )
    print(
        f"  requêtes SQL : {queries[campaign_id]} ({args.voters} votants) ; {queries[small_id]} "
        f"({max(1, args.voters // 10)} votants)"
    )
    print(f"Clôture (gel des résultats de {args.voters * SCOPE} votes) : {close_s * 1000:.0f} ms")
    print()
    checks = [
        (f"réponse du vote ≤ {TARGET_BYTES} octets (observé : {max(sizes)})", max(sizes) <= TARGET_BYTES),
        (
            f"vote/plancher ≤ {TARGET_VOTE_RATIO:g} (observé : {vote_ms / vote_floor_ms:.2f})",
            vote_ms / vote_floor_ms <= TARGET_VOTE_RATIO,
        ),
        (
            f"résultats/plancher ≤ {TARGET_RESULTS_RATIO:g} (observé : {results_ms / results_floor_ms:.2f})",
            results_ms / results_floor_ms <= TARGET_RESULTS_RATIO,
        ),
        (
            f"requêtes SQL de la page de résultats ≤ {TARGET_QUERIES} (observé : {queries[campaign_id]})",
            queries[campaign_id] <= TARGET_QUERIES,
        ),
        (
            "requêtes SQL constantes quel que soit le nombre de votants",
            queries[campaign_id] == queries[small_id],
        ),
    ]
    for label, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    if scratch:
        with app.app_context():
            db.engine.dispose()
        scratch.cleanup()
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
