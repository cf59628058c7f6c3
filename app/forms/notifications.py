"""Notification preferences and reminder settings (no database writes here)."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectMultipleField, StringField


class PreferencesForm(FlaskForm):
    """The kinds a user wants by e-mail (one checkbox per kind, all named `email`)."""

    email = SelectMultipleField("Recevoir par courriel", choices=[], validate_choice=False)


def reminder_settings_form(kind_names, **kwargs) -> FlaskForm:
    """The secretariat's settings: for each reminder kind, its offset in days (`offset_<kind>`, the service
    checks it) and whether it is sent (`enabled_<kind>`)."""
    fields = {}
    for name in kind_names:
        fields[f"offset_{name}"] = StringField("Délai (jours)")
        fields[f"enabled_{name}"] = BooleanField("Envoyer ce rappel")
    form = type("ReminderSettingsForm", (FlaskForm,), fields)(**kwargs)
    form.kinds = list(kind_names)
    return form
