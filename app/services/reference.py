"""Load the reference data in data/ (idempotent: a second run changes nothing)."""

import csv
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import select

from ..extensions import db
from ..models import Action, BodyKind, Chantier, Committee, Guichet, Opportunity, Organisation, Programme
from ..models.chantiers import NOT_GIVEN
from ..models.portfolio import Moscow
from ..queries.portfolio import forget_options
from . import audit
from . import guichets as guichet_rules
from .committees import apply_reference_rules
from .portfolio import import_rows


@dataclass
class LoadReport:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, kind: str, outcome: str) -> None:
        self.counts.setdefault(kind, {"créés": 0, "mis à jour": 0, "inchangés": 0})[outcome] += 1

    def lines(self) -> list[str]:
        return [
            f"{kind} : " + ", ".join(f"{n} {label}" for label, n in outcomes.items())
            for kind, outcomes in self.counts.items()
        ]


def _read(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _upsert(model, key: str, values: dict, report: LoadReport, kind: str, actor):
    obj = db.session.scalar(select(model).where(getattr(model, key) == values[key]))
    if obj is None:
        obj = model(**values)
        db.session.add(obj)
        audit.record(
            f"{model.__tablename__[:-1]}.imported", obj, actor=actor, summary=f"{values[key]} importé"
        )
        report.add(kind, "créés")
        return obj
    changes = audit.diff(obj, values)
    if changes:
        for name, value in values.items():
            setattr(obj, name, value)
        audit.record(
            f"{model.__tablename__[:-1]}.updated",
            obj,
            actor=actor,
            summary=f"{values[key]} mis à jour par le chargement",
            changes=changes,
        )
        report.add(kind, "mis à jour")
    else:
        report.add(kind, "inchangés")
    return obj


def load_all(data_dir: Path, *, actor=None) -> LoadReport:
    report = LoadReport()
    for row in _read(data_dir / "organisations.csv"):
        _upsert(
            Organisation,
            "code",
            {"code": row["code"], "name": row["name"], "kind": row["kind"]},
            report,
            "organisations",
            actor,
        )
    rows = list(enumerate(_read(data_dir / "opportunities.csv"), start=2))
    portfolio = import_rows(rows, actor=actor)
    report.counts["opportunités"] = {
        "créés": len(portfolio.created),
        "mis à jour": len(portfolio.updated),
        "inchangés": len(portfolio.unchanged),
    }
    chantiers = _load_chantiers(data_dir, report, actor)
    _load_actions(data_dir, report, actor, chantiers)
    _load_guichets(data_dir, report, actor)
    for row in _read(data_dir / "committees.csv"):
        # The body's kind (committee, one-off meeting, person or role, working group), a one-off meeting's
        # record and a project body's project and end date, as the sources give them (data/committees.csv).
        values = {k: row[k] for k in ("code", "name", "role", "cadence", "members", "source", "participants")}
        values |= {
            "kind": BodyKind(row["kind"].strip() or BodyKind.COMITE).value,
            "outcomes": row["outcomes"],
            "project": row["project"],
            "held_on": date.fromisoformat(row["held_on"]) if row["held_on"].strip() else None,
            "ends_on": date.fromisoformat(row["ends_on"]) if row["ends_on"].strip() else None,
        }
        committee = _upsert(Committee, "code", values, report, "comités", actor)
        db.session.flush()
        apply_reference_rules(committee, actor=actor)  # default recurrence, stages, guichets (until edited)
    db.session.flush()
    for guichet in db.session.scalars(select(Guichet).order_by(Guichet.code)):
        guichet_rules.apply_reference_rules(
            guichet, actor=actor
        )  # mode, committee, eligibility (until edited)
    db.session.flush()
    forget_options()
    return report


def _load_chantiers(data_dir: Path, report: LoadReport, actor) -> dict[str, Chantier]:
    """Programmes and chantiers of `002_…txt` §2–5 (data/programmes.csv, data/chantiers.csv): the visée is the
    document's paragraph of « La visée stratégique du chantier (2022) »; portage, cost, duration and MoSCoW
    are quoted where the document states them for the chantier, « non précisé » where it gives them only
    per action (each action keeps its own, data/actions.csv)."""
    programmes = {}
    for row in _read(data_dir / "programmes.csv"):
        values = {k: row[k].strip() for k in ("code", "title", "kind", "source")}
        programmes[values["code"]] = _upsert(Programme, "code", values, report, "programmes", actor)
    db.session.flush()
    chantiers = {}
    for row in _read(data_dir / "chantiers.csv"):
        values = {
            k: row[k].strip() for k in ("code", "title", "visee", "portage", "cost", "duration", "source")
        }
        for name in ("visee", "portage", "cost", "duration"):
            values[name] = values[name] or NOT_GIVEN
        values["moscow"] = Moscow(row["moscow"].strip().lower()).value if row["moscow"].strip() else None
        values["position"] = Chantier.position_of(values["code"])
        values["programme_id"] = programmes[row["programme"].strip()].id
        chantiers[values["code"]] = _upsert(Chantier, "code", values, report, "chantiers", actor)
    db.session.flush()
    return chantiers


def _load_actions(data_dir: Path, report: LoadReport, actor, chantiers: dict[str, Chantier]) -> None:
    by_code = {o.code: o for o in db.session.scalars(select(Opportunity))}
    for row in _read(data_dir / "actions.csv"):
        moscow = row["moscow"].strip().lower() or None
        values = {
            k: row[k].strip() for k in ("code", "chantier", "title", "detail", "portage", "cost", "duration")
        }
        values["moscow"] = Moscow(moscow).value if moscow else None
        chantier = chantiers.get(Chantier.code_of(values["chantier"]))
        values["chantier_id"] = chantier.id if chantier else None
        action = _upsert(Action, "code", values, report, "actions", actor)
        wanted = [by_code[c] for c in row["opportunities"].split() if c in by_code]
        if [o.code for o in action.opportunities] != [o.code for o in wanted]:
            action.opportunities = wanted


def _load_guichets(data_dir: Path, report: LoadReport, actor) -> None:
    rows = _read(data_dir / "guichets.csv")
    loaded = {}
    for row in rows:
        # "mode" belongs to the guichet's rules (services.guichets.apply_reference_rules, then the
        # secretariat).
        values = {
            k: row[k].strip()
            for k in ("code", "name", "fund", "description", "criteria", "amounts", "source")
        }
        loaded[row["code"]] = _upsert(Guichet, "code", values, report, "guichets", actor)
    db.session.flush()
    for row in rows:
        parent = loaded.get(row["parent"].strip()) if row["parent"].strip() else None
        guichet = loaded[row["code"]]
        if guichet.parent_id != (parent.id if parent else None):
            guichet.parent = parent
