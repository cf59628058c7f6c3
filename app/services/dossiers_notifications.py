"""What a dossier's way through the app tells people, in the app and by e-mail (the « notice » mail, text +
HTML, absolute links on BASE_URL), through the notification centre and the one outbox: queued in the
caller's transaction, sent after its commit, never if it rolls back.

- The life-cycle moves are heard from `transitions.on_applied(Dossier, …)`: deposit (to the guichet's
  instructeurs, and an acknowledgement with the deposit date and the dossier's PDF to the porteur and
  co-porteurs), taken into instruction, compléments requested (what is asked and by when), compléments
  answered, instruction ended (porteurs; the avis itself to the secretariat, who builds the agendas).
- `message_posted()` (called by `dossier_messages.post_message`): a message to the other side.
- `decision_communicated()` (called by `minutes.publish`): the committee's decision reaches the porteurs
  once the minutes are published, when it is final, with the amounts, conditions and a link.

Being put on an agenda is told by the committee's agenda publication (`committee.agenda_published`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from ..extensions import db
from ..formatting import format_date, format_datetime, format_euros, paris, plural
from ..models import Role, User, UserRole
from ..models.dossiers import Dossier, DossierMessage, DossierState
from ..pdf import dossier_pdf
from . import dossiers, mail, notifications, reminders, transitions
from .dossier_sections import SECTION_LABELS
from .dossiers_reminders import dossier_porteurs

S = DossierState

KINDS = {
    "dossier.deposited": (
        "Nouveau dossier déposé sur un guichet que vous instruisez",
        False,
        "Instructeurs du guichet",
    ),
    "dossier.receipt": ("Accusé de réception du dépôt de votre dossier", True, "Porteur et co-porteurs"),
    "dossier.instruction_started": ("Votre dossier passe en instruction", False, "Porteur et co-porteurs"),
    "dossier.complements_requested": (
        "Compléments demandés sur votre dossier",
        True,
        "Porteur et co-porteurs",
    ),
    "dossier.complements_answered": (
        "Compléments apportés sur un dossier que vous instruisez",
        False,
        "Instructeurs du guichet",
    ),
    "dossier.message": ("Nouveau message sur un dossier", False, "Porteurs et instructeurs du dossier"),
    "dossier.instructed": ("Instruction de votre dossier terminée", False, "Porteur et co-porteurs"),
    "dossier.avis_given": ("Avis rendu sur un dossier (à inscrire en comité)", False, "Secrétariat"),
    "dossier.decision_communicated": (
        "Décision du comité sur votre dossier (à la publication du procès-verbal)",
        True,
        "Porteur et co-porteurs",
    ),
}
for _name, (_label, _mandatory, _audience) in KINDS.items():
    notifications.declare_kind(_name, _label, mandatory=_mandatory, audience=_audience)


# --- who ----------------------------------------------------------------------------------------------


def instructors(dossier: Dossier) -> list[User]:
    """Active instructeurs of the dossier's guichet or of one of its ancestors, by id."""
    guichet_ids = [dossier.guichet_id, *(g.id for g in dossier.guichet.ancestors())]
    return list(
        db.session.scalars(
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .where(
                UserRole.role == Role.INSTRUCTEUR, UserRole.guichet_id.in_(guichet_ids), User.active.is_(True)
            )
            .distinct()
            .order_by(User.id)
        )
    )


def _link(dossier: Dossier) -> str:
    return mail.link("dossiers.show", dossier_id=dossier.id)


def _named(dossier: Dossier) -> str:
    return f"{dossier.reference} « {dossier.title} »"


def _who(actor) -> str:
    return actor.full_name if actor is not None else "Mutualisation DSI"


def _guichet(dossier: Dossier) -> str:
    return f"{dossier.guichet.code} — {dossier.guichet.name}"


# --- the life cycle -----------------------------------------------------------------------------------


def _transitioned(dossier: Dossier, old: DossierState, to: DossierState, *, actor, reason=None) -> None:
    if to == S.DEPOSE and old == S.COMPLEMENTS_DEMANDES:
        complements_answered(dossier, actor=actor)
    elif to == S.DEPOSE:
        deposited(dossier, actor=actor)
    elif to == S.EN_INSTRUCTION:
        instruction_started(dossier, actor=actor)
    elif to == S.COMPLEMENTS_DEMANDES:
        complements_requested(dossier, actor=actor)
    elif to == S.INSTRUIT and old in S.AVIS_PENDING:
        instructed(dossier, actor=actor)


transitions.on_applied(Dossier, _transitioned)


def deposited(dossier: Dossier, *, actor) -> None:
    when = format_datetime(dossier.submitted_at)
    fig = dossiers.figures(dossier)
    details = [("Guichet", _guichet(dossier)), ("Déposé le", when)]
    if dossier.porteur_organisation is not None:
        details.append(("Porteur", dossier.porteur_organisation.code))
    details.append(("Financement demandé au fonds (AE)", format_euros(fig.ftap_ae)))
    notifications.notify_all(
        instructors(dossier),
        "dossier.deposited",
        dossier,
        subject=f"Nouveau dossier déposé : {_named(dossier)}",
        intro=[f"{_who(actor)} a déposé le dossier {_named(dossier)} sur un guichet que vous instruisez."],
        details=details,
        url=_link(dossier),
        link_label="Ouvrir le dossier pour l'instruire",
    )
    receipt = mail.Attachment(f"recepisse-{dossier.reference}.pdf", "application/pdf", dossier_pdf(dossier))
    notifications.notify_all(
        dossier_porteurs(dossier),
        "dossier.receipt",
        dossier,
        subject=f"Accusé de réception : dossier {dossier.reference} déposé le "
        f"{format_date(dossier.submitted_at)}",
        intro=[
            f"Votre dossier « {dossier.title} » a bien été déposé le {when} sur le guichet "
            f"{_guichet(dossier)}. Sa référence est {dossier.reference}.",
            "L'équipe d'instruction en est informée. Vous serez prévenu·e de chaque étape : passage en "
            "instruction, demande de compléments, inscription en comité, décision.",
        ],
        details=[("Référence", dossier.reference), ("Date de dépôt", when)],
        url=_link(dossier),
        link_label="Suivre votre dossier",
        attachments=[receipt],
        attachment_note="Le dossier tel que déposé est joint en PDF : il vaut récépissé de dépôt.",
    )


def instruction_started(dossier: Dossier, *, actor) -> None:
    notifications.notify_all(
        dossier_porteurs(dossier),
        "dossier.instruction_started",
        dossier,
        subject=f"Votre dossier {dossier.reference} est en instruction",
        intro=[
            f"{_who(actor)} a commencé l'instruction de votre dossier « {dossier.title} » "
            f"(guichet {_guichet(dossier)}).",
            "Si des compléments sont nécessaires, ils vous seront demandés par message.",
        ],
        url=_link(dossier),
        link_label="Voir le dossier",
    )


def complements_deadline(request) -> str | None:
    """« by when »: the day of the compléments reminder (J+N, set by the secretariat), None if it is off."""
    setting = reminders.setting("dossier.complements")
    if not setting.enabled:
        return None
    return format_date(paris(request.created_at) + timedelta(days=setting.offset_days))


def complements_requested(dossier: Dossier, *, actor) -> None:
    request = dossier.open_request
    if request is None:
        return
    details = [
        ("Motif", request.reason_enum.label),
        ("Sections à compléter", ", ".join(SECTION_LABELS.get(k, k) for k in request.section_keys)),
    ]
    if deadline := complements_deadline(request):
        details.append(
            ("À apporter d'ici le", f"{deadline} (sans réponse, un rappel vous sera envoyé ce jour-là)")
        )
    notifications.notify_all(
        dossier_porteurs(dossier),
        "dossier.complements_requested",
        dossier,
        subject=f"Compléments demandés sur votre dossier {dossier.reference}",
        intro=[
            f"{_who(actor)} demande des compléments sur votre dossier « {dossier.title} ». L'instruction est "
            "suspendue jusqu'à ce que vous déposiez à nouveau le dossier complété.",
        ],
        details=details,
        quote=request.message,
        quote_label="Ce qui est attendu",
        url=_link(dossier),
        link_label="Compléter le dossier",
    )


def complements_answered(dossier: Dossier, *, actor) -> None:
    request = dossier.complement_requests[-1] if dossier.complement_requests else None
    people = instructors(dossier)
    if request is not None and request.requested_by is not None:
        people = [request.requested_by, *people]
    details = []
    if request is not None:
        details = [
            ("Demande du", format_datetime(request.created_at)),
            ("Sections rouvertes", ", ".join(SECTION_LABELS.get(k, k) for k in request.section_keys)),
        ]
    notifications.notify_all(
        people,
        "dossier.complements_answered",
        dossier,
        subject=f"Compléments apportés : {_named(dossier)}",
        intro=[
            f"{_who(actor)} a déposé à nouveau le dossier {_named(dossier)} avec les compléments demandés."
        ],
        details=details,
        url=_link(dossier),
        link_label="Reprendre l'instruction",
    )


def instructed(dossier: Dossier, *, actor) -> None:
    notifications.notify_all(
        dossier_porteurs(dossier),
        "dossier.instructed",
        dossier,
        subject=f"Instruction terminée : dossier {dossier.reference}",
        intro=[
            f"L'instruction de votre dossier « {dossier.title} » est terminée. Il sera examiné par le comité "
            "qui décide sur le guichet : vous serez prévenu·e de son inscription à l'ordre du jour, puis de "
            "la décision à la publication du procès-verbal.",
        ],
        url=_link(dossier),
        link_label="Voir le dossier",
    )
    avis = dossier.avis_enum.label.lower() if dossier.avis else ""
    notifications.notify_all(
        notifications.secretariat(),
        "dossier.avis_given",
        dossier,
        subject=f"Avis {avis} sur le dossier {_named(dossier)}",
        intro=[
            f"{_who(actor)} a rendu un avis {avis} sur le dossier {_named(dossier)} (guichet "
            f"{_guichet(dossier)}) : il peut être inscrit à l'ordre du jour du comité.",
        ],
        quote=dossier.avis_motivation or "",
        quote_label="Motivation de l'avis",
        url=_link(dossier),
        link_label="Voir le dossier",
    )


# --- messages and decisions ---------------------------------------------------------------------------


def message_posted(message: DossierMessage, *, actor) -> None:
    """A message reaches the other side: the instructeurs when a porteur writes, the porteurs otherwise."""
    dossier = db.session.get(Dossier, message.dossier_id)
    porteurs = dossier_porteurs(dossier)
    from_porteur = any(p.id == actor.id for p in porteurs)
    people = instructors(dossier) if from_porteur else porteurs
    files = len(message.attachments)
    notifications.notify_all(
        [p for p in people if p.id != actor.id],
        "dossier.message",
        dossier,
        subject=f"Nouveau message sur le dossier {_named(dossier)}",
        intro=[f"{_who(actor)} vous a écrit au sujet du dossier {_named(dossier)}."],
        details=[("Pièces jointes", plural(files, "fichier"))] if files else [],
        quote=message.body,
        quote_label="Message",
        url=_link(dossier) + "#messages",
        link_label="Lire et répondre",
    )


def decision_communicated(dossier_id: int, decision, *, minutes_url: str) -> None:
    """The decision in force on the dossier, told to its porteurs once the minutes are published."""
    dossier = db.session.get(Dossier, dossier_id)
    if dossier is None:
        return
    meeting = decision.meeting
    outcome = decision.outcome_enum
    details = [("Décision", outcome.label), ("Séance", meeting.label)]
    if decision.amounts:
        details.append(
            (
                "Montant accordé",
                f"{format_euros(decision.total_ae)} en AE, {format_euros(decision.total_cp)} en CP",
            )
        )
    if decision.conditions:
        details.append(("Conditions", decision.conditions))
    if decision.expectations:
        details.append(("Attendus pour un nouvel examen", decision.expectations))
    table = None
    if decision.amounts:
        table = {
            "caption": "Montants accordés par année",
            "headers": ["Année", "AE", "CP"],
            "rows": [[str(a.year), format_euros(a.ae), format_euros(a.cp)] for a in decision.amounts],
        }
    notifications.notify_all(
        dossier_porteurs(dossier),
        "dossier.decision_communicated",
        dossier,
        subject=f"Décision du {meeting.committee.name} sur votre dossier {dossier.reference} : "
        f"{outcome.label}",
        intro=[
            f"Le procès-verbal de la séance « {meeting.label} » est publié : la décision sur votre dossier "
            f"« {dossier.title} » est définitive.",
            f"Procès-verbal : {minutes_url}",
        ],
        details=details,
        quote=decision.motivation or "",
        quote_label="Motivation",
        table=table,
        url=_link(dossier),
        link_label="Voir le dossier",
    )
