"""The issue's data sets, bulk-inserted through SQLAlchemy Core (issue « Performance at scale »).

LARGE is the data set the issue measured on: 13 300 opportunities, 5 campaigns × 300 voters × 133 votes,
2 000 dossiers, 100 sessions / 990 decisions, 50 000 audit entries, 100 000 reminders, 5 000 notifications.
`top_up(app, world, scale, ...)` grows the database to `scale` × LARGE (0.01 is the small data set: 133
opportunities, 5 campaigns × 3 voters × 133 votes, 20 dossiers, 1 session / 10 decisions, 500 audit
entries, 1 000 reminders, 50 notifications); called again with a larger scale it adds the difference.

Rows are cloned from the world's objects (built by the ORM factories of tests/routes/test_statement_counts.py,
so every NOT NULL column and CHECK constraint holds) or written column by column, in chunks of executemany
inserts: the large data set is built in about a minute on SQLite instead of hours through the factories.
The world's own objects get their share, so that the pages the bench opens list more at the large size:
the porteur carries 4 in 15 dossiers (533 of 2 000; the issue measured « porteur 530 »), the SNAP4
instructeur sees a third of them, the world's opportunity has 2 % of the audit entries, the world's meeting
carries `scale` × 50 items, the three users share a tenth of the reminders and a third of the
notifications, the world's two campaigns have 133 opportunities and the voters. Every decision is inscribed
in the register, chained as services.register.append writes it (the chain verifies); `decide_up_to` grows
the decisions alone (bench/register.py: 10 000).
"""

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import AgendaItem, AuditEntry, Campaign, Dossier, Meeting, Opportunity, Organisation, User
from app.models.committees import Decision
from app.models.register import RegisterEntry
from app.models.reminders import Notification, Reminder
from app.models.users import UserRole
from app.models.voting import Vote, campaign_opportunities
from app.services import register

LARGE = {
    "opportunities": 13_300,
    "campaigns": 5,
    "voters": 300,
    "ballot": 133,  # opportunities per campaign (one vote each per voter)
    "dossiers": 2_000,
    "meetings": 100,
    "decisions": 990,
    "meeting_items": 50,  # on the world's meeting (the issue's « committee session page, 50 items »)
    "audit": 50_000,
    "reminders": 100_000,
    "notifications": 5_000,
}
CHUNK = 5_000


def targets(scale: float) -> dict:
    sized = {key: max(1, round(value * scale)) for key, value in LARGE.items()}
    sized["campaigns"] = LARGE["campaigns"]  # five campaigns of 133 at every size; the voters scale
    sized["ballot"] = LARGE["ballot"]
    return sized


def _insert(table, rows) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(insert(table), rows[start : start + CHUNK])


def _count(column, *where) -> int:
    return db.session.scalar(select(func.count(column)).where(*where)) or 0


def _clone(model, template_id: int, count: int, vary) -> list[int]:
    """`count` copies of one row (without its id), `vary(i)` overriding columns; returns the new ids."""
    table = model.__table__
    row = dict(db.session.execute(select(table).where(table.c.id == template_id)).mappings().one())
    row.pop("id")
    top = db.session.scalar(select(func.max(table.c.id))) or 0
    _insert(table, [{**row, **vary(i)} for i in range(count)])
    return list(db.session.scalars(select(table.c.id).where(table.c.id > top).order_by(table.c.id)))


def top_up(app, world: dict, scale: float, rng: random.Random) -> dict:
    """Grow everything but the opportunities (bench/portfolio.py's generator does those) to scale × LARGE."""
    want = targets(scale)
    now = datetime.now(UTC)
    with app.app_context():
        users = world["users"]
        user_ids = [users[role].id for role in ("secretariat", "porteur", "instructeur")]
        ministries = list(db.session.scalars(select(Organisation.id).where(Organisation.kind == "ministere")))
        ministries = ministries or list(db.session.scalars(select(Organisation.id)))

        # voters: DSI users of a ministry
        voters = list(
            db.session.execute(
                select(User.id, UserRole.organisation_id)
                .join(UserRole, UserRole.user_id == User.id)
                .where(User.email.like("votant%@bench.gouv.fr"))
                .order_by(User.id)
            ).all()
        )
        missing = want["voters"] - len(voters)
        if missing > 0:
            first = len(voters)
            rows = [
                {
                    "email": f"votant{first + i}@bench.gouv.fr",
                    "given_name": "Votant",
                    "usual_name": f"Banc{first + i}",
                    "calendar_token": f"bench-{first + i}",
                }
                for i in range(missing)
            ]
            top = db.session.scalar(select(func.max(User.id))) or 0
            _insert(User.__table__, rows)
            new = list(db.session.scalars(select(User.id).where(User.id > top).order_by(User.id)))
            _insert(
                UserRole.__table__,
                [
                    {"user_id": uid, "role": "dsi", "organisation_id": ministries[i % len(ministries)]}
                    for i, uid in enumerate(new)
                ],
            )
            voters += [(uid, ministries[i % len(ministries)]) for i, uid in enumerate(new)]

        # campaigns: the world's open and closed ones, then clones of the closed one; 133 opportunities each
        campaign_ids = [world["campaign"], world["closed"]]
        extra = list(
            db.session.scalars(
                select(Campaign.id).where(Campaign.title.like("Campagne du banc%")).order_by(Campaign.id)
            )
        )
        if len(campaign_ids) + len(extra) < want["campaigns"]:
            extra += _clone(
                Campaign,
                world["closed"],
                want["campaigns"] - len(campaign_ids) - len(extra),
                lambda i: {"title": f"Campagne du banc {i + 1}"},
            )
        campaign_ids += extra
        ballot_pool = list(
            db.session.scalars(select(Opportunity.id).order_by(Opportunity.number).limit(want["ballot"] * 3))
        )
        values = ["must", "should", "could", "wont"]
        for index, campaign_id in enumerate(campaign_ids):
            ballot = list(
                db.session.scalars(
                    select(campaign_opportunities.c.opportunity_id).where(
                        campaign_opportunities.c.campaign_id == campaign_id
                    )
                )
            )
            chosen = set(ballot)
            candidates = [o for o in ballot_pool[index * 7 :] + ballot_pool if o not in chosen]
            while len(ballot) < want["ballot"] and candidates:
                opportunity = candidates.pop(0)
                if opportunity not in chosen:
                    chosen.add(opportunity)
                    ballot.append(opportunity)
                    db.session.execute(
                        insert(campaign_opportunities),
                        {"campaign_id": campaign_id, "opportunity_id": opportunity},
                    )
            voted = set(
                db.session.scalars(select(Vote.voter_id).where(Vote.campaign_id == campaign_id).distinct())
            )
            rows = []
            for voter, organisation in voters[: want["voters"]]:
                if voter in voted:
                    continue
                for opportunity in ballot:
                    rows.append(
                        {
                            "campaign_id": campaign_id,
                            "voter_id": voter,
                            "opportunity_id": opportunity,
                            "organisation_id": organisation,
                            "value": rng.choice(values),
                            "justification": "",
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
            _insert(Vote.__table__, rows)
        db.session.commit()

        # dossiers: thirds of the world's draft (SNAP4), a submitted SNAP4 one and the instructed one; the
        # world's porteur carries 4 in 15 (the issue measured « porteur 530 »), the voters the rest
        have = _count(Dossier.id, Dossier.title.like("Dossier du banc%"))
        others = [voter for voter, _organisation in voters]
        missing = want["dossiers"] - have
        if missing > 0:
            templates = [world["dossier"], world["submitted"], world["followed"]]
            for k, template in enumerate(templates):
                share = missing // 3 + (1 if k < missing % 3 else 0)
                _clone(
                    Dossier,
                    template,
                    share,
                    lambda i, k=k: {
                        "title": f"Dossier du banc {k}-{have + i}",
                        "created_by_id": users["porteur"].id  # 4 in 15: 533 of 2 000
                        if (have + i) % 15 < 4
                        else others[(have + i) % len(others)],
                        "created_at": now - timedelta(minutes=i),
                        "updated_at": now - timedelta(minutes=i),
                    },
                )
        db.session.commit()
        dossier_pool = _dossier_pool()

        # the world's meeting: its agenda grows to meeting_items
        items = _count(AgendaItem.id, AgendaItem.meeting_id == world["meeting"])
        position = (
            db.session.scalar(
                select(func.max(AgendaItem.position)).where(AgendaItem.meeting_id == world["meeting"])
            )
            or 0
        )
        rows = []
        for i in range(want["meeting_items"] - items):
            position += 1
            rows.append(_dossier_item(world["meeting"], position, dossier_pool[i % len(dossier_pool)], now))
        _insert(AgendaItem.__table__, rows)

        # past sessions, ~10 decided items each (990 decisions over 100 sessions)
        past = _past_sessions()
        if len(past) < want["meetings"]:
            past += _clone(
                Meeting,
                world["meeting"],
                want["meetings"] - len(past),
                lambda i: {
                    "title": f"Séance du banc {len(past) + i + 1}",
                    "starts_at": now - timedelta(days=14 * (len(past) + i + 1)),
                    "state": "tenue",
                    "occurrence": None,
                },
            )
        _decide_up_to(world, past, dossier_pool, want["decisions"], now)
        db.session.commit()

        # audit entries: 2 % on the world's opportunity, the rest over the portfolio
        opportunities = list(db.session.scalars(select(Opportunity.id)))
        have = _count(AuditEntry.id)
        actions = ["opportunity.updated", "opportunity.state_changed", "dossier.updated", "vote.cast"]
        rows = []
        for i in range(want["audit"] - have):
            own = i % 50 == 0
            rows.append(
                {
                    "created_at": now - timedelta(minutes=i),
                    "actor_id": user_ids[i % 3] if i % 4 else voters[i % len(voters)][0],
                    "action": "opportunity.updated" if own else actions[i % len(actions)],
                    "object_type": "opportunities",
                    "object_id": str(world["opportunity"] if own else opportunities[i % len(opportunities)]),
                    "summary": f"Modification du banc {have + i}",
                }
            )
        _insert(AuditEntry.__table__, rows)
        db.session.commit()

        # reminders: a tenth to the world's three users, most of them sent
        have = _count(Reminder.id)
        rows = []
        for i in range(want["reminders"] - have):
            n = have + i
            recipient = user_ids[n % 3] if n % 10 == 0 else voters[n % len(voters)][0]
            due = now - timedelta(days=n % 700, minutes=n % 1440)
            sent = n % 5 != 0
            rows.append(
                {
                    "kind": "bench",
                    "object_type": "opportunities",
                    "object_id": n,
                    "recipient_id": recipient,
                    "due_at": due,
                    "due_date": due.date(),
                    "status": "sent" if sent else "pending",
                    "sent_at": due if sent else None,
                    "attempts": 1 if sent else 0,
                    "emailed": sent,
                    "subject": f"Rappel du banc {n}",
                    "created_at": due,
                    "updated_at": due,
                }
            )
        _insert(Reminder.__table__, rows)

        # notifications: a third to the world's three users
        have = _count(Notification.id)
        rows = []
        for i in range(want["notifications"] - have):
            n = have + i
            rows.append(
                {
                    "user_id": user_ids[n % 3] if n % 3 == 0 else voters[n % len(voters)][0],
                    "kind": "bench",
                    "subject": f"Avis du banc {n}",
                    "body": "",
                    "url": "/",
                    "created_at": now - timedelta(minutes=n),
                    "read_at": now if n % 2 else None,
                }
            )
        _insert(Notification.__table__, rows)
        db.session.commit()
        db.session.remove()
    return want


def decide_up_to(app, world: dict, total: int) -> None:
    """Grow the past sessions' decisions to `total` (their register with them): bench/register.py's sizes."""
    with app.app_context():
        _decide_up_to(world, _past_sessions(), _dossier_pool(), total, datetime.now(UTC))
        db.session.commit()
        db.session.remove()


def _decide_up_to(world: dict, past: list[int], dossier_pool: list[int], total: int, now) -> None:
    """Decided dossier items on the past sessions (one decision each, published) up to `total` decisions, each
    inscribed in the register as services.register.append writes it (a chain that verifies)."""
    users = world["users"]
    committee_id = db.session.scalar(select(Meeting.committee_id).where(Meeting.id == world["meeting"]))
    decided = _count(Decision.id, Decision.meeting_id.in_(past))
    missing = total - decided
    if missing > 0:
        top = db.session.scalar(select(func.max(AgendaItem.id))) or 0
        rows, spots = [], []
        for i in range(missing):
            meeting = past[(decided + i) % len(past)]
            position = 1000 + decided + i
            spots.append(meeting)
            dossier_id = dossier_pool[(decided + i) % len(dossier_pool)]
            rows.append(_dossier_item(meeting, position, dossier_id, now))
        _insert(AgendaItem.__table__, rows)
        new_items = list(
            db.session.scalars(select(AgendaItem.id).where(AgendaItem.id > top).order_by(AgendaItem.id))
        )
        _insert(
            Decision.__table__,
            [
                {
                    "item_id": item,
                    "session_id": meeting,
                    "committee_id": committee_id,
                    "outcome": "accepte",
                    "mode": "consensus",
                    "motivation": "Projet conforme aux critères du guichet.",
                    "locked": True,
                    "recorded_by_id": users["secretariat"].id,
                    "recorded_at": now,
                }
                for item, meeting in zip(new_items, spots, strict=True)
            ],
        )
    _register_unregistered()


def _register_unregistered() -> None:
    """A « recorded » register entry for every decision without one, chained after the last entry as
    services.register.append chains them (its `chained_entry`), written in one flush."""
    last = db.session.scalar(select(RegisterEntry).order_by(RegisterEntry.position.desc()).limit(1))
    pending = (
        select(Decision)
        .where(Decision.id.not_in(select(RegisterEntry.decision_id)))
        .order_by(Decision.id)
        .options(
            selectinload(Decision.amounts), selectinload(Decision.item).joinedload(AgendaItem.opportunity)
        )
    )
    entries = []
    for decision in db.session.scalars(pending).all():
        last = register.chained_entry(decision, "recorded", after=last)
        last.created_at = decision.recorded_at
        entries.append(last)
    db.session.add_all(entries)
    db.session.flush()


def _past_sessions() -> list[int]:
    """The held sessions the data set decides on (cloned from the world's meeting)."""
    held = select(Meeting.id).where(Meeting.title.like("Séance du banc%")).order_by(Meeting.id)
    return list(db.session.scalars(held))


def _dossier_pool() -> list[int]:
    """The dossiers the data set's agenda items are about."""
    pool = select(Dossier.id).where(Dossier.title.like("Dossier du banc 2-%")).order_by(Dossier.id)
    return list(db.session.scalars(pool))


def _dossier_item(meeting_id: int, position: int, dossier_id: int, now) -> dict:
    """An agenda item about a dossier, as a row."""
    return {
        "session_id": meeting_id,
        "position": position,
        "kind": "dossier",
        "title": f"Point {position}",
        "dossier_id": dossier_id,
        "proposal": "",
        "followup_flags": [],
        "notes": "",
        "created_at": now,
    }
