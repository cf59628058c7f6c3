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
    committee_id = SelectField(
        "Comité qui décide (instance de sélection d'un thème France Relance)", choices=[], default=""
    )
    owner = SelectField(
        "Porteur du thème (France Relance)",
        choices=[("", "À préciser"), ("DINUM", "DINUM"), ("DITP", "DITP")],
        default="",
        description="003_9f3bb31115a0b5f3.txt §1 : les porteurs DINUM et DITP de chaque thème sélectionnent "
        "les lauréats ; il pilote le BOP du thème.",
    )
    max_total_amount = StringField(
        "Plafond du montant total du projet (€)",
        validators=[Length(max=30)],
        description="Le total doit lui être inférieur. Vide : pas de plafond. Par exemple 2 000 000.",
    )
    min_cofinancing_pct = StringField(
        "Part de cofinancement de référence (%)",
        validators=[Length(max=5)],
        description="Vide : aucune. Par exemple 50 (« paraît pertinent », critère de sélection).",
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
