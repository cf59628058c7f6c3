from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ..models.portfolio import BESOIN_MAX, BRIQUE_MAX, BackingRole

REQUIRED = "Ce champ est obligatoire."


class OpportunityForm(FlaskForm):
    brique = StringField(
        "Brique",
        description="Nom court de la brique mutualisable, par exemple « Signature électronique ».",
        validators=[
            DataRequired(REQUIRED),
            Length(max=BRIQUE_MAX, message=f"{BRIQUE_MAX} caractères au maximum."),
        ],
    )
    besoin = TextAreaField(
        "Besoin (cible / ambition)",
        description="Texte libre en Markdown : paragraphes séparés par une ligne vide, listes avec « - ».",
        validators=[Optional(), Length(max=BESOIN_MAX, message=f"{BESOIN_MAX} caractères au maximum.")],
    )
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])


class StateForm(FlaskForm):
    # The service checks the move (and says in French why « validée CSIC-Tech » is never a manual one).
    state = SelectField(
        "Nouveau statut", validators=[InputRequired(REQUIRED)], choices=[], validate_choice=False
    )
    reason = TextAreaField(
        "Motif",
        description="Obligatoire pour « Écartée », « Fusionnée », « Doublon » et « Déjà couverte ».",
        validators=[Length(max=2000, message="2000 caractères au maximum.")],
    )
    target_code = StringField(
        "Opportunité cible",
        description="Obligatoire pour « Fusionnée » et « Doublon », par exemple M102.",
        validators=[Length(max=8, message="Code trop long.")],
    )


class AteForm(FlaskForm):
    ate = HiddenField()


class CommentForm(FlaskForm):
    body = TextAreaField(
        "Votre commentaire",
        description="Markdown accepté.",
        validators=[DataRequired(REQUIRED), Length(max=5000, message="5000 caractères au maximum.")],
    )


class BackingForm(FlaskForm):
    organisation = SelectField("Ministère", validators=[InputRequired(REQUIRED)], choices=[])
    role = RadioField(
        "Rôle",
        choices=[(r.value, r.label) for r in BackingRole],
        default=BackingRole.INTERESSE.value,
        validators=[InputRequired(REQUIRED)],
    )
