"""Every mail kind, rendered on its own and read as a mail client reads it.

The kinds come from the code, not from this file: the notification registry (`notifications.KINDS`, which
the reminder engine fills too) and the templates in app/templates/emails/. A world is built through the
services — the living demo (`app/demo_scenario.py`), then the steps it does not take (contract, follow-up,
DNUM visa, rectified decision, compléments answered, a call for projects closing) and the reminder sweep's
own `process()` for each reminder kind — so every mail is rendered by its real code path with realistic
context. Each outbox row then becomes the message the outbox sends (`mail.message_of`), serialised and
parsed again with `email.policy.strict`, and is checked for what a user or a mail client would notice.

A kind declared without a way to reach it here fails `test_every_declared_kind_is_rendered`: add its step
to `build_world()`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from email import policy
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

import app.services  # noqa: F401 - registers every kind, as the app does
from app import demo_scenario
from app.extensions import db
from app.formatting import PARIS, paris_today
from app.models import AgendaItem, Committee, Guichet, OutboxMail, Reminder, Role, User
from app.models.dossiers import Dossier, DossierState
from app.models.followup import JalonReport
from app.models.guichets import GuichetMode
from app.models.reminders import ReminderStatus
from app.services import committees as committee_service
from app.services import (
    contracts,
    decisions,
    dossier_endorsements,
    dossiers,
    export_jobs,
    followup,
    mail,
    meetings,
    notifications,
    reminders,
)

EMAILS = Path(__file__).resolve().parents[2] / "app" / "templates" / "emails"
# What the registry holds once the services are imported, before any test runs: a kind declared only when
# its first mail goes out would be missing from the preferences page until then.
DECLARED_AT_IMPORT = set(notifications.KINDS)
# Kinds told in the app only (never by mail), with the reason.
IN_APP_ONLY = {"mail.delivery_failed": "the mail is what failed: the secretariat is told in the app"}
# Links to other sites that mails may carry (the demo meetings' visio).
EXTERNAL_HOSTS = {"webconf.numerique.gouv.fr"}
MONTHS = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
WORDS = r"jours?|opportunités?|brouillons?|documents?|jalons?|dossiers?|points?|minutes?"
URL = re.compile(r"https?://[^\s<>\"'»)]+")
HREF = re.compile(r"""(?:href|src)\s*=\s*["']([^"']*)["']""", re.I)
RELATIVE_IN_TEXT = re.compile(r"(?:^|[\s:(«])(/[a-z][\w\-/.?=&#%]*)", re.M)
SLIPS = [
    (re.compile(rf"(?<![\d,])1 (?:{MONTHS})\b"), "« 1 <mois> » au lieu de « 1er <mois> »"),
    (re.compile(r"\bdans 0 jours?\b|\bil y a 0 jours?\b"), "« dans 0 jour » au lieu de « aujourd'hui »"),
    (re.compile(rf"(?<![\d,.])\b[01] (?:{WORDS.replace('s?', 's')})\b"), "pluriel après 0 ou 1"),
    (re.compile(rf"(?<![\d,.])\b(?:[2-9]|\d\d+) (?:{WORDS.replace('s?', '')})\b"), "singulier après 2+"),
    (re.compile(r"(?<![\d/])\d/\d{1,2}/\d{4}\b"), "date écrite à la main (« 1/06/2027 »)"),
    (re.compile(r"\bNone\b"), "« None »"),
    (re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}"), "Jinja non rendu"),
    (re.compile(r"Undefined|jinja2|Traceback"), "erreur de rendu"),
]


def templates_on_disk() -> set[str]:
    names = {p.stem for p in EMAILS.glob("*.txt") if not p.name.startswith("_")}
    assert names == {p.stem for p in EMAILS.glob("*.html") if not p.name.startswith("_")}, "txt/html pairs"
    return names


# --- the world -----------------------------------------------------------------------------------------


def paris_at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=PARIS).astimezone(UTC)


def first_of_month_ahead(today: date, months: int = 2) -> date:
    month = today.month - 1 + months
    return date(today.year + month // 12, month % 12 + 1, 1)


def by_email(address: str) -> User:
    return db.session.scalar(select(User).where(User.email == address))


def dossier_titled(title: str) -> Dossier:
    return db.session.scalar(select(Dossier).where(Dossier.title == title))


def committee(code: str) -> Committee:
    return db.session.scalar(select(Committee).where(Committee.code == code))


def build_world(app) -> dict[str, list[str]]:
    """Every step that sends a mail, through the services; returns the template names rendered."""
    rendered: list[str] = []
    real_render = mail.render

    def spy(name, **context):
        rendered.append(name)
        return real_render(name, **context)

    mail.render = spy
    try:
        _steps(app)
    finally:
        mail.render = real_render
    return rendered


def _steps(app) -> None:
    app.test_cli_runner().invoke(args=["demo", "accounts"])
    demo_scenario.run()
    db.session.flush()
    secretariat = by_email("secretariat@demo.gouv.fr")
    porteur = by_email("porteur@demo.gouv.fr")
    instructeur = by_email("instructeur@demo.gouv.fr")
    ftap_members = [m.user for m in committee_service.members(committee("COMITE-INVEST-FTAP"))]

    # the next FTAP committee is held: its dossier is decided, the contract prepared, signed, followed, closed
    proposed = dossier_titled("Suite collaborative des services déconcentrés")
    meeting = db.session.scalar(select(AgendaItem).where(AgendaItem.dossier_id == proposed.id)).meeting
    meetings.open_meeting(meeting, actor=secretariat)
    for member in ftap_members:
        meetings.record_attendance(meeting, user=member, status="present", actor=secretariat)
    year = proposed.start_year
    for item in meeting.items:
        decisions.record_decision(
            item,
            mode="consensus",
            outcome="accepte",
            motivation="Projet mutualisable.",
            amounts=[decisions.AmountLine(str(year), "400000", "400000")],
            actor=secretariat,
        )
    demo_scenario.minutes_service.save(
        meeting,
        notes="Un dossier examiné.",
        item_notes={},
        version=meeting.minutes.version,
        actor=secretariat,
    )
    demo_scenario.minutes_service.review(meeting, actor=secretariat)
    demo_scenario.minutes_service.publish(meeting, actor=secretariat)
    decision = meeting.items[0].decision
    decisions.rectify_decision(
        decision,
        motivation="Erreur matérielle sur le motif.",
        amounts=[decisions.AmountLine(str(year), "400000", "400000")],
        actor=secretariat,
    )
    contracts.prepare(proposed, actor=secretariat)
    contracts.sign(
        proposed,
        signed_on=datetime.now(PARIS).date(),
        signatories="Mme Girard, présidente ; M. Moreau, DSI",
        signed_file=("convention.pdf", demo_scenario.PDF),
        actor=secretariat,
    )
    contracts.start_follow_up(proposed, actor=secretariat)

    # the follow-up's reviews and closing, on the demo's followed dossier
    followed = dossier_titled("Hub de services aux usagers")
    report = db.session.scalar(select(JalonReport).where(JalonReport.dossier_id == followed.id))
    followup.review(followed, what="jalon", report_id=report.id, verdict="valide", actor=instructeur)
    contracts.close(
        followed,
        assessment="Objectifs atteints.",
        reason="Le dernier jalon est livré hors contrat.",
        actor=secretariat,
    )

    # the DNUM visa of a France Relance dossier, by a DSI member of the porteur's ministry
    dnum = demo_scenario._account("dnum@demo.gouv.fr", "Claire", "Petit", Role.DSI, ministry="DINUM")
    relance = next(
        d
        for d in db.session.scalars(select(Dossier).order_by(Dossier.id))
        if d.needs_endorsement and d.state != DossierState.BROUILLON and dossier_endorsements.dnum_members(d)
    )
    dossier_endorsements.request_endorsement(relance)
    dossier_endorsements.endorse(relance, decision="vise", comment="", actor=dnum)

    # a call for projects that closes on the 1st of a month, with the demo's draft on it
    draft = db.session.scalar(select(Dossier).where(Dossier.state == DossierState.BROUILLON))
    guichet = db.session.get(Guichet, draft.guichet_id)
    guichet.mode, guichet.closes_at = (
        GuichetMode.APPEL_A_PROJETS,
        paris_at(first_of_month_ahead(paris_today()), 18),
    )
    guichet.opens_at = datetime.now(UTC) - timedelta(days=30)
    db.session.flush()

    # two CSIC-Tech meetings: one on the 1st of a month (convocation, eve → « demain »), one today
    # (its eve reminder sent late the same day → « aujourd'hui »), and one with no agenda yet
    csic = committee("CSIC-TECH")
    first = paris_at(first_of_month_ahead(paris_today()), 14)
    later = meetings.plan_meeting(
        csic, starts_at=first, duration_minutes=90, place="Ségur", actor=secretariat
    )
    meetings.add_item(
        later,
        kind="libre",
        title="Feuille de route 2027",
        proposal="Adopter la feuille de route.",
        actor=secretariat,
    )
    meetings.publish_agenda(later, actor=secretariat)
    meetings.plan_meeting(csic, starts_at=first + timedelta(days=7), duration_minutes=60, actor=secretariat)
    db.session.flush()

    # every reminder kind, processed by the sweep's own code at its due time (at most two rows a kind)
    reminders.replan_all(datetime.now(UTC))
    db.session.flush()
    rows = db.session.scalars(
        select(Reminder).where(Reminder.status == ReminderStatus.PENDING).order_by(Reminder.due_at)
    ).all()
    done: dict[str, int] = defaultdict(int)
    for row in rows:
        if done[row.kind] >= 2:
            continue
        report = reminders.SweepReport()
        reminders.process(row, max(row.due_at, datetime.now(UTC) - timedelta(days=3650)), report)
        done[row.kind] += len(report.sent)
    eve = db.session.scalar(
        select(Reminder).where(
            Reminder.kind == "session.eve",
            Reminder.object_id == later.id,
            Reminder.status == ReminderStatus.SENT,
        )
    )
    if eve is None:  # not sent by the loop above: send one at its due time, the day before
        eve = db.session.scalar(
            select(Reminder).where(Reminder.kind == "session.eve", Reminder.object_id == later.id)
        )
        reminders.process(eve, eve.due_at, reminders.SweepReport())
    # the same kind, its reminder handed over late, on the meeting's own day
    eve.status = ReminderStatus.PENDING
    eve.sent_at = None
    reminders.process(eve, first - timedelta(hours=3), reminders.SweepReport())

    # compléments answered (after their reminder went out): the porteur deposits the dossier again
    asked = dossier_titled("Plateforme de données des politiques sociales")
    dossiers.submit(asked, actor=porteur)
    db.session.flush()

    # a large export prepared in the background: its requester is told once the file is ready
    export_jobs.request_export(
        path="/exports/opportunites.xlsx",
        fmt="xlsx",
        title="Opportunités",
        filename="opportunites.xlsx",
        actor=secretariat,
        session_token=None,
    )
    db.session.commit()
    export_jobs.run_pending()


# --- the checks ----------------------------------------------------------------------------------------


def problems_of(row: OutboxMail, base_url: str) -> tuple[list[str], str]:
    """What is wrong with the message an outbox row becomes; and its text (both parts) for the wording."""
    raw = mail.message_of(row).as_bytes(policy=policy.SMTP)
    wrong: list[str] = []
    try:
        message = BytesParser(policy=policy.strict).parsebytes(raw)
    except Exception as error:  # noqa: BLE001 - a defect in strict mode is the finding
        return [f"RFC 5322 strict : {error}"], ""
    if message["Date"] is None or parsedate_to_datetime(str(message["Date"])).tzinfo is None:
        wrong.append(f"Date absente ou sans fuseau : {message['Date']!r}")
    host = urlsplit(base_url).hostname
    if not re.fullmatch(rf"<[^@<>\s]+@{re.escape(host)}>", str(message["Message-ID"] or "").strip()):
        wrong.append(f"Message-ID hors domaine : {message['Message-ID']!r}")
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    if plain is None or html is None:
        return [*wrong, "partie texte ou HTML absente"], ""
    text, markup = plain.get_content(), html.get_content()
    for href in HREF.findall(markup):
        if not href.startswith(("https://", "http://", "mailto:")):
            wrong.append(f"lien relatif (HTML) : {href}")
    if found := RELATIVE_IN_TEXT.findall(text):
        wrong.append(f"lien relatif (texte) : {found}")
    for link in {*URL.findall(text), *URL.findall(markup), *HREF.findall(markup)}:
        if link.startswith("mailto:"):
            continue
        link_host = urlsplit(link).hostname
        if link_host != host and link_host not in EXTERNAL_HOSTS:
            wrong.append(f"lien hors BASE_URL : {link}")
    declared = notifications.KINDS.get(row.kind)
    optional = declared is not None and not declared.mandatory and row.recipient is not None
    unsubscribe = message["List-Unsubscribe"]
    if optional:
        expected = f"<{base_url}/notifications/preferences/desabonnement/"
        if unsubscribe is None or not str(unsubscribe).startswith(expected):
            wrong.append(f"List-Unsubscribe absent ou faux : {unsubscribe!r}")
        if str(message["List-Unsubscribe-Post"] or "") != "List-Unsubscribe=One-Click":
            wrong.append("List-Unsubscribe-Post absent")
    elif unsubscribe is not None or message["List-Unsubscribe-Post"] is not None:
        wrong.append("List-Unsubscribe sur un courriel obligatoire")
    words = "\n".join([str(message["Subject"]), text, re.sub(r"<[^>]+>", " ", markup)])
    for pattern, label in SLIPS:
        if found := pattern.findall(words):
            wrong.append(f"{label} : {sorted(set(found))[:3]}")
    return wrong, words


def test_every_mail_kind_is_rendered_and_reads_right_in_a_mail_client(app, db_session, monkeypatch):
    """One world (built once: it takes a while), two findings: coverage of the kinds, then each mail."""
    monkeypatch.setitem(app.config, "BASE_URL", "https://mutualisation.example.gouv.fr")
    rendered = set(build_world(app))
    by_kind: dict[str, list[OutboxMail]] = defaultdict(list)
    for row in db.session.scalars(select(OutboxMail).order_by(OutboxMail.id)):
        by_kind[row.kind].append(row)
    check_coverage(by_kind, rendered)
    check_each_mail(by_kind, app.config["BASE_URL"].rstrip("/"))


def check_coverage(by_kind, rendered) -> None:
    assert set(by_kind) <= DECLARED_AT_IMPORT, "kinds declared only when first sent"
    missing = set(notifications.KINDS) - set(by_kind) - set(IN_APP_ONLY)
    assert not missing, f"no mail of these kinds was rendered: add their step to build_world(): {missing}"
    assert not set(IN_APP_ONLY) & set(by_kind), "an in-app-only kind was mailed"
    assert templates_on_disk() <= rendered, f"templates never rendered: {templates_on_disk() - rendered}"
    assert {kind.template for kind in reminders.KINDS.values()} <= templates_on_disk()


def check_each_mail(by_kind, base_url: str) -> None:
    failures: dict[str, list[str]] = {}
    words: dict[str, str] = {}
    for kind, rows in sorted(by_kind.items()):
        for row in rows:
            wrong, text = problems_of(row, base_url)
            words[f"{kind} #{row.id}"] = text
            if wrong:
                failures.setdefault(kind, []).extend(f"« {row.subject} » : {w}" for w in wrong)
    assert not failures, "\n".join(f"{kind}:\n  " + "\n  ".join(w[:4]) for kind, w in failures.items())
    every = "\n".join(words.values())
    # the French rules show where they apply: « 1er » of the meeting and the call for projects, the eve
    # reminder « demain » the day before and « aujourd'hui » on the day
    assert re.search(rf"\b1er (?:{MONTHS})\b", every)
    eve = "\n".join(t for k, t in words.items() if k.startswith("session.eve"))
    assert "a lieu demain" in eve and "a lieu aujourd'hui" in eve
