"""Guichet forms: rules and calendar (secretariat), instructors."""

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from ..models.guichets import GuichetMode


class GuichetRulesForm(FlaskForm):
    mode = SelectField(
        "Mode", choices=[("", "Ne reçoit pas de dossiers")] + [(m.value, m.label) for m in GuichetMode]
    )
    opens_at = DateTimeLocalField(
        "Ouverture (heure de Paris)",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description="Obligatoire pour un appel à projets.",
    )
    closes_at = DateTimeLocalField(
        "Clôture (heure de Paris)",
        format="%Y-%m-%dT%H:%M",
        validators=[Optional()],
        description="Obligatoire pour un appel à projets ; au-delà, aucun dépôt.",
    )
    committee_id = SelectField("Comité qui décide", choices=[], default="")
    max_total_amount = StringField(
        "Montant total maximum du projet (€)",
        validators=[Length(max=30)],
        description="Vide : pas de plafond. Par exemple 2 000 000.",
    )
    min_cofinancing_pct = StringField(
        "Part minimale de cofinancement par le porteur (%)",
        validators=[Length(max=5)],
        description="Vide : pas de minimum. Par exemple 50.",
    )
    roi_min = StringField(
        "Retour sur investissement minimal à 3 ans (€ d'économies par € financé)",
        validators=[Length(max=10)],
        description="Vide : pas de cible (plan de relance). FTAP : 1.",
    )
    required_attachments = TextAreaField(
        "Pièces jointes obligatoires",
        validators=[Length(max=2000)],
        description="Une pièce par ligne, par exemple « Note explicative du projet ».",
    )
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])


class InstructorForm(FlaskForm):
    email = StringField("Adresse électronique de l'instructeur", validators=[Length(max=320)])
