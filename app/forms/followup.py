"""Follow-up forms: a jalon reached, an indicator value, credits consumed, savings observed.

The forms coerce what people type (« 12 000 » → 12000, « 2027-03-31 » → a date, an id → an int) and keep
the input as typed to show it back; what is allowed (a jalon of this dossier, a date not in the future, an
explained gap with the forecast…) is decided by app/services/followup.py, whose French messages land on the
fields. Field names are the service's, ids are prefixed by the form's section (`consommation-year`), since
the four forms share one page.
"""

from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField, StringField, TextAreaField

from ..domain.followup import parse_date, parse_int


class _Typed(StringField):
    """A text input whose data is the coerced value when it reads, the text as typed otherwise (the service
    then explains what is wrong); always shown back as typed."""

    def coerce(self, text: str):
        raise NotImplementedError

    def process_formdata(self, valuelist):
        text = valuelist[0] if valuelist else ""
        try:
            self.data = self.coerce(text)
        except ValueError:
            self.data = text

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)


class IntegerText(_Typed):
    def coerce(self, text: str) -> int:
        return parse_int(text)


class DateText(_Typed):
    def coerce(self, text: str) -> date:
        return parse_date(text, label="")


def _id_or_text(value):
    """A select's value: the row id, or the text as sent (the service refuses an unknown one)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


class _FollowUpForm(FlaskForm):
    section = ""  # the anchor of the page's section, prefix of the field ids


class JalonForm(_FollowUpForm):
    section = "jalon"
    jalon = SelectField("Jalon atteint", id="jalon-jalon", coerce=_id_or_text, validate_choice=False)
    achieved_on = DateText("Date d'atteinte", id="jalon-achieved_on")
    proof = StringField("Preuve", id="jalon-proof", description="Livrable, procès-verbal de recette, lien…")
    proof_file = FileField("Fichier de preuve (facultatif)", id="jalon-proof_file")


class DelayForm(_FollowUpForm):
    section = "retard"
    jalon = SelectField("Jalon en retard", id="retard-jalon", coerce=_id_or_text, validate_choice=False)
    new_due_on = DateText("Nouvelle date prévue", id="retard-new_due_on")
    reason = StringField("Raison du retard", id="retard-reason")


class IndicatorForm(_FollowUpForm):
    section = "indicateur"
    indicator = SelectField(
        "Indicateur", id="indicateur-indicator", coerce=_id_or_text, validate_choice=False
    )
    reported_on = DateText("Date de la mesure", id="indicateur-reported_on")
    value = StringField("Valeur mesurée", id="indicateur-value")
    comment = StringField("Commentaire (facultatif)", id="indicateur-comment")


class ConsumptionForm(_FollowUpForm):
    section = "consommation"
    year = IntegerText("Année", id="consommation-year")
    ae = IntegerText("AE consommées (€)", id="consommation-ae")
    cp = IntegerText("CP consommés (€)", id="consommation-cp")
    explanation = StringField(
        "Explication d'un dépassement",
        id="consommation-explanation",
        description="Obligatoire quand les crédits consommés dépassent les crédits accordés pour l'année.",
    )


class SavingsForm(_FollowUpForm):
    section = "economies"
    year = IntegerText("Année", id="economies-year")
    nature = SelectField("Nature des économies", id="economies-nature", validate_choice=False)
    amount = IntegerText(
        "Économies constatées (€)",
        id="economies-amount",
        description="Saisir à nouveau une année et une nature corrige leur montant.",
    )
    explanation = StringField(
        "Explication de l'écart avec la prévision",
        id="economies-explanation",
        description="Obligatoire quand le montant constaté diffère du montant prévu.",
    )


FORMS = {form.section: form for form in (JalonForm, DelayForm, IndicatorForm, ConsumptionForm, SavingsForm)}


class ReviewForm(FlaskForm):
    """The instructeur's reading of one report (the report is named by the URL)."""

    verdict = RadioField(
        "Votre lecture", choices=[("valide", "Valider"), ("questionne", "Questionner")], validate_choice=False
    )
    comment = StringField("Commentaire au porteur", description="Obligatoire pour questionner.")


class SignForm(FlaskForm):
    signed_on = DateText("Date de signature", id="contract-signed_on")
    signatories = TextAreaField("Signataires (nom et qualité)", id="contract-signatories")
    signed_file = FileField("Convention signée (PDF)", id="contract-signed_file")


class CloseForm(FlaskForm):
    assessment = TextAreaField("Bilan final du projet", id="close-assessment")
    reason = TextAreaField(
        "Raison de la clôture",
        id="close-reason",
        description="Obligatoire si des jalons en retard ne sont pas atteints.",
    )


class ProposeForm(FlaskForm):
    reason = TextAreaField("Commentaire pour le comité (facultatif)", id="propose-reason")


class ActionForm(FlaskForm):
    """A one-click action (CSRF only); `contract` carries the refusal of the action."""

    contract = HiddenField()


# --- tranches and avenants (the secretariat's forms; app/services/tranches.py, app/services/avenants.py) --

QUARTERS = [("1", "1er trimestre"), ("2", "2e trimestre"), ("3", "3e trimestre"), ("4", "4e trimestre")]


class TrancheForm(FlaskForm):
    """A tranche planned: amount, quarter, conditions of its release."""

    planned_amount = IntegerText("Montant prévu (€)", id="tranche-planned_amount")
    planned_year = IntegerText("Année", id="tranche-planned_year")
    planned_quarter = SelectField(
        "Trimestre", id="tranche-planned_quarter", choices=QUARTERS, validate_choice=False
    )
    conditions = StringField(
        "Conditions du déblocage (facultatif)",
        id="tranche-conditions",
        description="Par exemple : atteinte du jalon n° 2, transmission des indicateurs.",
    )


class ReleaseForm(FlaskForm):
    """The tranche released: the definitive amount and the date of the decision (one form per tranche,
    prefixed by its id)."""

    amount = IntegerText("Montant arrêté (€)", description="Vide : le montant prévu.")
    released_on = DateText("Date de la décision")


class ReasonForm(FlaskForm):
    """Suspend, cancel or resume a tranche, abandon an avenant: the reason (prefixed by the row)."""

    reason = StringField("Raison")


class AvenantForm(FlaskForm):
    """An avenant in project: its object and what it will change once signed."""

    object = TextAreaField("Objet de l'avenant", id="avenant-object")
    new_amount = IntegerText(
        "Nouveau montant total accordé (€, facultatif)",
        id="avenant-new_amount",
        description="Vide : le montant accordé ne change pas.",
    )
    new_ends_on = DateText("Nouvelle date de fin du projet (facultatif)", id="avenant-new_ends_on")
    jalon = SelectField(
        "Jalon dont la date change (facultatif)",
        id="avenant-jalon",
        coerce=_id_or_text,
        validate_choice=False,
    )
    jalon_new_due_on = DateText("Nouvelle date du jalon", id="avenant-jalon_new_due_on")


class AvenantSignForm(FlaskForm):
    """The avenant signed: date and signed file (prefixed by the avenant's id)."""

    signed_on = DateText("Date de signature")
    signed_file = FileField("Avenant signé (PDF)")
