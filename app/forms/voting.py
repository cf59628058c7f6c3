"""Forms of the MoSCoW campaigns (no database writes: choices are filled by the routes)."""

from datetime import UTC, datetime

from flask_wtf import FlaskForm
from wtforms import (
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateTimeLocalField
from wtforms.validators import InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from ..formatting import PARIS
from ..models.portfolio import Moscow
from ..models.voting import DESCRIPTION_MAX, JUSTIFICATION_MAX, REASON_MAX, TITLE_MAX, Visibility

REQUIRED = "Ce champ est obligatoire."


class ParisDateTimeField(DateTimeLocalField):
    """A date-time typed in Paris time (the browser's datetime-local), stored as aware UTC."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, format="%Y-%m-%dT%H:%M", **kwargs)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        text = valuelist[0].strip().replace(" ", "T")[:16]
        try:
            local = datetime.strptime(text, "%Y-%m-%dT%H:%M")
        except ValueError:
            self.data = None
            raise ValueError("Date et heure invalides : utilisez le format JJ/MM/AAAA HH:MM.") from None
        self.data = local.replace(tzinfo=PARIS).astimezone(UTC)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.astimezone(PARIS).strftime("%Y-%m-%dT%H:%M") if self.data else ""


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()

    def pre_validate(self, form):
        pass  # unknown ids are reported by the service in French


class CampaignForm(FlaskForm):
    title = StringField(
        "Titre",
        validators=[
            InputRequired(REQUIRED),
            Length(max=TITLE_MAX, message=f"{TITLE_MAX} caractères au maximum."),
        ],
    )
    description = TextAreaField(
        "Description",
        description="Markdown : objet de la campagne, consignes aux votants, calendrier.",
        validators=[
            Optional(),
            Length(max=DESCRIPTION_MAX, message=f"{DESCRIPTION_MAX} caractères au maximum."),
        ],
    )
    opens_at = ParisDateTimeField(
        "Ouverture du vote", description="Heure de Paris. La campagne s'ouvre seule à cette date."
    )
    closes_at = ParisDateTimeField(
        "Clôture du vote",
        description="Heure de Paris. Le vote se ferme seul à cette date et les résultats sont figés.",
    )
    visibility = RadioField(
        "Visibilité des résultats",
        choices=[(v.value, v.label) for v in Visibility],
        default=Visibility.ANONYMOUS.value,
        validators=[InputRequired("Choisissez la règle de visibilité des résultats.")],
        description="Fixée dès l'ouverture de la campagne.",
    )
    must_budget = IntegerField(
        "Nombre maximal de « Must » par votant",
        description="Facultatif : laissez vide pour ne pas limiter.",
        validators=[
            Optional(),
            NumberRange(min=1, message="Indiquez un nombre entier supérieur ou égal à 1."),
        ],
    )
    ministries = CheckboxesField(
        "Ministères appelés à voter", coerce=int, description="Aucun coché : tous les membres DSI votent."
    )
    version = IntegerField(widget=HiddenInput(), validators=[Optional()])
    opportunities = CheckboxesField(
        "Opportunités soumises au vote",
        coerce=int,
        description="Par défaut, celles en criblage ou qualifiées.",
    )

    def process(self, *args, **kwargs):
        super().process(*args, **kwargs)
        # IntegerField's English message for a non-number
        if self.must_budget.process_errors:
            self.must_budget.process_errors = ["Indiquez un nombre entier."]


class VoteForm(FlaskForm):
    value = HiddenField()  # filled by the clicked button (name="value")
    justification = StringField(
        "Justification (facultative)",
        validators=[Length(max=JUSTIFICATION_MAX, message=f"{JUSTIFICATION_MAX} caractères au maximum.")],
    )
    contexte = HiddenField()  # "ballot": the reply is a row of the campaign's ballot, else a portfolio cell
    next = HiddenField()  # without JavaScript: where to go back after the vote (checked by safe_next)


class TransitionForm(FlaskForm):
    to = HiddenField(validators=[InputRequired(REQUIRED)])
    reason = TextAreaField(
        "Commentaire (facultatif)",
        validators=[Length(max=REASON_MAX, message=f"{REASON_MAX} caractères au maximum.")],
    )


class OverrideForm(FlaskForm):
    code = HiddenField(
        filters=[lambda v: (v or "").strip().upper()]
    )  # the opportunity (a select in the page)
    value = SelectField(
        "Priorité retenue", choices=[(m.value, m.label) for m in Moscow], validators=[InputRequired(REQUIRED)]
    )
    reason = TextAreaField(
        "Motif de la correction",
        validators=[Length(max=REASON_MAX, message=f"{REASON_MAX} caractères au maximum.")],
    )
