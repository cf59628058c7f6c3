"""Administration of users: search, grant a role, confirm an action (no database writes here)."""

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from ..models.users import COMMITTEE_FUNCTIONS, ROLE_LABELS

REQUIRED = "Ce champ est obligatoire."
AUDIT_ACTIONS = {
    "": "Toutes les actions",
    "user.registered": "Inscription",
    "user.logged_in": "Connexion",
    "login.failed": "Connexion refusée",
    "role.granted": "Rôle attribué",
    "role.revoked": "Rôle retiré",
    "user.deactivated": "Compte désactivé",
    "user.reactivated": "Compte réactivé",
}


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form

    q = StringField(
        "Rechercher un agent",
        description="Nom, adresse électronique ou organisation.",
        validators=[Optional(), Length(max=200, message="200 caractères au maximum.")],
    )


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False

    action = SelectField(
        "Action", choices=list(AUDIT_ACTIONS.items()), validators=[Optional()], validate_choice=False
    )


class GrantRoleForm(FlaskForm):
    # Choices are not checked here (WTForms' message is English): the service refuses unknown codes in French.
    role = SelectField(
        "Rôle",
        validators=[InputRequired(REQUIRED)],
        validate_choice=False,
        choices=[("", "Choisir un rôle")] + [(r.value, t) for r, t in ROLE_LABELS.items()],
    )
    ministry = SelectField(
        "Ministère (membre DSI)", choices=[], validators=[Optional()], validate_choice=False
    )
    guichet = SelectField("Guichet (instructeur)", choices=[], validators=[Optional()], validate_choice=False)
    committee = SelectField(
        "Comité (membre de comité)", choices=[], validators=[Optional()], validate_choice=False
    )
    function = SelectField(
        "Fonction au comité",
        validators=[Optional()],
        validate_choice=False,
        choices=[("", "—")] + list(COMMITTEE_FUNCTIONS.items()),
    )


class ConfirmForm(FlaskForm):
    """CSRF-only form for the revoke / deactivate / reactivate buttons."""
