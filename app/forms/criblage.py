from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..models.criblage import COMMENT_MAX, MATURITY_LABELS, TITLE_MAX, VALUE_LABELS
from ..models.portfolio import OpportunityState

REQUIRED = "Ce champ est obligatoire."


class OpenForm(FlaskForm):
    """A new criblage: its title and the filters choosing the opportunities it reviews."""

    title = StringField(
        "Intitulé",
        description="Par exemple « Criblage du 2e trimestre 2027 ».",
        validators=[
            DataRequired(REQUIRED),
            Length(max=TITLE_MAX, message=f"{TITLE_MAX} caractères au maximum."),
        ],
    )
    states = SelectMultipleField(
        "Statut",
        description="Aucun coché : identifiées, en criblage et écartées (hors sujets ATE).",
        choices=[(s.value, s.label) for s in OpportunityState if s in OpportunityState.SCREENABLE],
        validators=[Optional()],
    )
    chantier = SelectField("Chantier", choices=[], validators=[Optional()])
    ministere = SelectField("Soutenue par le ministère", choices=[], validators=[Optional()])
    not_screened_since = DateField(
        "Non criblée depuis le",
        description="Laisse de côté les opportunités notées depuis cette date.",
        validators=[Optional()],
        format="%Y-%m-%d",
    )


class ScoreForm(FlaskForm):
    maturity = RadioField(
        "Maturité",
        choices=[(str(k), f"{k} — {v}") for k, v in MATURITY_LABELS.items()],
        validators=[InputRequired("Choisissez la maturité (de 1 à 4).")],
    )
    value = RadioField(
        "Valeur",
        choices=[(str(k), f"{k} — {v}") for k, v in VALUE_LABELS.items()],
        validators=[InputRequired("Choisissez la valeur (de 1 à 4).")],
    )
    comment = TextAreaField(
        "Commentaire",
        validators=[Optional(), Length(max=COMMENT_MAX, message=f"{COMMENT_MAX} caractères au maximum.")],
    )


class RetainForm(FlaskForm):
    items = SelectMultipleField("Sujets retenus", coerce=int, choices=[], validators=[Optional()])


class ActForm(FlaskForm):
    """A button without fields (close, launch a campaign): its CSRF token only."""
