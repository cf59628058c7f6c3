"""Committee forms. Amounts and dates are typed as text and checked by the service or here, so that bad input
gets a French message at the field and is shown back."""

from datetime import UTC, date, datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    IntegerField,
    RadioField,
    SearchField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..formatting import PARIS, paris, paris_today
from ..models.committees import (
    AttendanceStatus,
    DecisionMode,
    ItemKind,
    MajorityRule,
    MemberFunction,
    QuorumRule,
    VoteChoice,
)
from ..models.portfolio import OpportunityState

REQUIRED = "Ce champ est obligatoire."


def parse_local(text: str | None) -> datetime | None:
    """ "2026-12-01T14:00" (or with a space) read in Europe/Paris → aware UTC; None when unreadable."""
    text = (text or "").strip().replace(" ", "T")
    for pattern in ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=PARIS).astimezone(UTC)
        except ValueError:
            continue
    return None


def local_value(moment: datetime | None) -> str:
    return paris(moment).strftime("%Y-%m-%dT%H:%M") if moment else ""


class MeetingForm(FlaskForm):
    title = StringField(
        "Intitulé (facultatif)",
        description="Par défaut : le comité et la date.",
        validators=[Length(max=200, message="200 caractères au maximum.")],
    )
    starts_at = StringField(
        "Date et heure (heure de Paris)",
        description="Format : 2026-12-01T14:00.",
        validators=[DataRequired(REQUIRED)],
    )
    duration_minutes = StringField("Durée (minutes)", default="120")
    place = StringField("Lieu", validators=[Length(max=500, message="500 caractères au maximum.")])
    visio_url = StringField(
        "Lien de visioconférence",
        description="Adresse https://…",
        validators=[Length(max=500, message="500 caractères au maximum.")],
    )
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])

    def validate_starts_at(self, field):
        if field.data and parse_local(field.data) is None:
            raise ValidationError(
                "Date et heure attendues au format AAAA-MM-JJTHH:MM, par exemple 2026-12-01T14:00."
            )

    @property
    def starts_at_utc(self) -> datetime | None:
        return parse_local(self.starts_at.data)


class GenerateForm(FlaskForm):
    until = StringField(
        "Générer jusqu'au", description="Format : AAAA-MM-JJ.", validators=[DataRequired(REQUIRED)]
    )

    def validate_until(self, field):
        try:
            value = date.fromisoformat((field.data or "").strip())
        except ValueError:
            raise ValidationError("Date attendue au format AAAA-MM-JJ, par exemple 2027-06-30.") from None
        if (value - paris_today()).days > 3 * 366:
            raise ValidationError("Générez au plus trois ans à l'avance.")


class CancelForm(FlaskForm):
    reason = TextAreaField(
        "Motif de l'annulation",
        validators=[
            DataRequired("Indiquez le motif de l'annulation."),
            Length(max=2000, message="2000 caractères au maximum."),
        ],
    )


class RulesForm(FlaskForm):
    quorum_rule = SelectField("Quorum", choices=[(r.value, r.label) for r in QuorumRule])
    proxies_count_for_quorum = BooleanField("Les membres représentés (pouvoir) comptent pour le quorum")
    majority_rule = SelectField("Majorité", choices=[(r.value, r.label) for r in MajorityRule])
    casting_vote = BooleanField("Voix prépondérante du président en cas de partage égal")
    recurrence = StringField(
        "Récurrence des séances",
        description="Par exemple FREQ=MONTHLY;BYDAY=1TU (premier mardi du mois), "
        "FREQ=WEEKLY;BYDAY=WE. Laisser vide si pas de séances régulières.",
        validators=[Length(max=100, message="100 caractères au maximum.")],
    )
    recurrence_time = StringField(
        "Heure des séances (heure de Paris)", description="HH:MM, par exemple 14:00."
    )
    meeting_minutes = StringField("Durée habituelle (minutes)")
    default_place = StringField("Lieu habituel")
    opportunity_stages = SelectMultipleField(
        "Étapes d'opportunité sur lesquelles le comité décide",
        choices=[
            (s.value, s.label)
            for s in (
                OpportunityState.RETENUE_CRIBLAGE,
                OpportunityState.EN_QUALIFICATION,
                OpportunityState.PROPOSEE_CSIC,
            )
        ],
    )
    guichets = SelectMultipleField("Guichets sur lesquels le comité décide", coerce=int, choices=[])


class MemberForm(FlaskForm):
    email = StringField(
        "Adresse électronique de l'agent",
        validators=[DataRequired(REQUIRED), Length(max=320, message="Adresse trop longue.")],
    )
    function = SelectField("Fonction", choices=[(f.value, f.label) for f in MemberFunction], default="membre")


class ItemForm(FlaskForm):
    kind = RadioField(
        "Type de point",
        choices=[(k.value, k.label) for k in ItemKind],
        validators=[InputRequired(REQUIRED)],
        default=ItemKind.OPPORTUNITE.value,
    )
    # The agenda builder searches the candidates (a GET of their own, not posted with the point) and offers
    # the first matches as radios: their choices are set by the view (routes/meetings.py).
    opportunity_search = SearchField(
        "Rechercher une opportunité", description="Son code (M042) ou des mots de sa brique ou de son besoin."
    )
    opportunity = RadioField("Opportunité", choices=[], validate_choice=False)
    dossier_search = SearchField(
        "Rechercher un dossier", description="Sa référence (D0042) ou des mots de son intitulé."
    )
    dossier = RadioField("Dossier", choices=[], validate_choice=False)
    flags = SelectMultipleField("Alertes de suivi à examiner", choices=[], validate_choice=False)
    title = StringField(
        "Intitulé",
        description="Obligatoire pour un point libre ; proposé sinon.",
        validators=[Length(max=300, message="300 caractères au maximum.")],
    )
    proposal = TextAreaField(
        "Proposition soumise au comité",
        validators=[Length(max=10_000, message="10 000 caractères au maximum.")],
    )


class DocumentForm(FlaskForm):
    label = StringField(
        "Intitulé du document",
        validators=[DataRequired(REQUIRED), Length(max=200, message="200 caractères au maximum.")],
    )
    url = StringField(
        "Adresse (https://…)", validators=[Length(max=500, message="500 caractères au maximum.")]
    )


class AttendanceForm(FlaskForm):
    user_id = IntegerField(widget=HiddenField.widget, validators=[InputRequired(REQUIRED)])
    status = SelectField("Présence", choices=[(s.value, s.label) for s in AttendanceStatus])
    proxy = SelectField("Pouvoir donné à", choices=[], validate_choice=False)


class VoteForm(FlaskForm):
    voter_id = IntegerField(widget=HiddenField.widget, validators=[InputRequired(REQUIRED)])
    choice = RadioField(
        "Vote",
        choices=[(c.value, c.label) for c in VoteChoice],
        validators=[InputRequired("Choisissez pour, contre ou abstention.")],
    )


class AmountForm(Form):
    year = StringField("Année")
    ae = StringField("AE (€)")
    cp = StringField("CP (€)")


class DecisionForm(FlaskForm):
    outcome = RadioField(
        "Issue", choices=[], validators=[InputRequired("Choisissez l'issue de la décision.")]
    )
    mode = RadioField(
        "Mode", choices=[(m.value, m.label) for m in DecisionMode], default=DecisionMode.VOTE.value
    )
    motivation = TextAreaField(
        "Motivation", description="Obligatoire pour une issue défavorable. Markdown accepté."
    )
    conditions = TextAreaField("Conditions", description="Obligatoire pour « accepté sous conditions ».")
    expectations = TextAreaField("Ce qui est attendu", description="Obligatoire pour « ajourné ».")
    amounts = FieldList(FormField(AmountForm), min_entries=3)
    confirm_above_request = BooleanField("Je confirme accorder plus que le montant demandé")


class RectifyForm(DecisionForm):
    pass


class MinutesForm(FlaskForm):
    notes = TextAreaField(
        "Notes générales (Markdown)", validators=[Length(max=50_000, message="50 000 caractères au maximum.")]
    )
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])


def minutes_form(items, **kwargs) -> MinutesForm:
    """The minutes form with one notes field per agenda item, posted as `item-<id>`."""
    fields = {
        f"item-{item.id}": TextAreaField(f"Notes sur le point {item.position} (Markdown)") for item in items
    }
    return type("MeetingMinutesForm", (MinutesForm,), fields)(**kwargs)


class EmptyForm(FlaskForm):
    """A CSRF-only form for buttons (publish, open, review…)."""
