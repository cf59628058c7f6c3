"""The decision register: an append-only chain of hashed entries (each stores the previous entry's hash), and
its verification (`flask committees verify-register`, the register page).

content_hash = SHA-256(canonical JSON of the payload);
entry_hash = SHA-256(position | prev_hash | content_hash).
The immutability guard (app/models/register.py) refuses any change to a published decision or an entry.
"""

import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from ..extensions import db
from ..models.base import utcnow
from ..models.committees import Decision
from ..models.register import RegisterEntry, RegisterVerification

log = logging.getLogger(__name__)

GENESIS = "0" * 64


def canonical(payload: dict) -> str:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(position: int, prev_hash: str, content_hash: str) -> str:
    return sha256(f"{position}|{prev_hash}|{content_hash}")


def _lock_register() -> None:
    """Serialise appends: PostgreSQL transaction-level advisory lock (SQLite already has one writer)."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(func.pg_advisory_xact_lock(0x5245474953)))  # "REGIS"


def append(decision: Decision, event: str) -> RegisterEntry:
    """Append the decision's canonical content to the chain (event: recorded | amended | rectified)."""
    _lock_register()
    last = db.session.scalar(select(RegisterEntry).order_by(RegisterEntry.position.desc()).limit(1))
    if last is not None and not _seals_itself(last):
        # Chaining onto a tampered entry would hide it: the decision is still recorded (a committee's work is
        # never blocked), and the failed verification is what the register page shows until it is repaired.
        log.error("register entry %s no longer matches its hashes", last.position)
        record_verification(trigger="write", actor=None)
    entry = chained_entry(decision, event, after=last)
    db.session.add(entry)
    db.session.flush()
    return entry


def chained_entry(decision: Decision, event: str, *, after: RegisterEntry | None) -> RegisterEntry:
    """The entry inscribing the decision's canonical content right after `after` (None: the first entry)."""
    position = (after.position + 1) if after else 1
    prev = after.entry_hash if after else GENESIS
    payload = canonical({"event": event, **decision.content()})
    content = sha256(payload)
    return RegisterEntry(
        position=position,
        decision_id=decision.id,
        event=event,
        payload=payload,
        content_hash=content,
        prev_hash=prev,
        entry_hash=entry_hash(position, prev, content),
    )


def _seals_itself(entry: RegisterEntry) -> bool:
    """The entry's content and its place in the chain still give the hashes it stores."""
    return sha256(entry.payload) == entry.content_hash and entry.entry_hash == entry_hash(
        entry.position, entry.prev_hash, entry.content_hash
    )


@dataclass
class RegisterCheck:
    entries: int = 0
    problems: list[tuple[int, str]] = field(default_factory=list)  # (position, French message)
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems


def verify() -> RegisterCheck:
    """Recompute every hash, check the chain, and compare each decision with its latest register entry."""
    check = RegisterCheck()
    prev = GENESIS
    expected_position = 1
    latest: dict[int, RegisterEntry] = {}
    for entry in db.session.scalars(select(RegisterEntry).order_by(RegisterEntry.position)):
        check.entries += 1
        if entry.position != expected_position:
            check.problems.append((entry.position, f"Entrée manquante avant la position {entry.position}."))
        expected_position = entry.position + 1
        if sha256(entry.payload) != entry.content_hash:
            check.problems.append((entry.position, "Contenu modifié : son empreinte ne correspond plus."))
        if entry.prev_hash != prev:
            check.problems.append(
                (entry.position, "Chaînage rompu : l'empreinte précédente ne correspond pas.")
            )
        if entry_hash(entry.position, entry.prev_hash, entry.content_hash) != entry.entry_hash:
            check.problems.append((entry.position, "Empreinte de l'entrée incorrecte."))
        try:
            if json.loads(entry.payload).get("decision") != entry.decision_id:
                check.problems.append((entry.position, "L'entrée ne désigne plus la même décision."))
        except ValueError:
            check.problems.append((entry.position, "Contenu illisible."))
        prev = entry.entry_hash
        latest[entry.decision_id] = entry
    check.last_hash = prev
    decisions = db.session.scalars(select(Decision).order_by(Decision.id)).all()
    for decision in decisions:
        entry = latest.get(decision.id)
        if entry is None:
            check.problems.append((0, f"La décision n° {decision.id} n'est pas inscrite au registre."))
            continue
        payload = json.loads(entry.payload)
        payload.pop("event", None)
        if canonical(payload) != canonical(decision.content()):
            check.problems.append(
                (entry.position, f"La décision n° {decision.id} a été modifiée hors registre.")
            )
    return check


def record_verification(*, trigger: str, actor, now: datetime | None = None) -> RegisterVerification:
    """Verify the whole chain and keep the result (trigger: job, manual, cli, write)."""
    check = verify()
    row = RegisterVerification(
        checked_at=now or utcnow(),
        trigger=trigger,
        actor_id=actor.id if actor is not None else None,
        entries=check.entries,
        ok=check.ok,
        last_hash=check.last_hash,
        problems=[list(problem) for problem in check.problems],
    )
    db.session.add(row)
    db.session.flush()
    if not check.ok:
        log.error("decision register altered: %s problem(s)", len(check.problems))
    return row


def scheduled_verification(now: datetime) -> str:
    """The scheduler's job (app/jobs.py): one verification a day."""
    row = record_verification(trigger="job", actor=None, now=now)
    return f"{row.entries} entrée(s), {'intègre' if row.ok else f'{len(row.problems)} anomalie(s)'}"
