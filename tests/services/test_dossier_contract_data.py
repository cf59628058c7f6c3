"""The contract's remaining content saved through the sections service: signatories with their dates,
yearly indicator targets ([001] §5.2), savings AE/CP ([001] §3), redeployed T2 jobs ([000] annex II),
additional revenue ([000] §4.2.3). French input, French messages at the fields, nothing saved on error."""

from datetime import date, timedelta

import pytest

from app.extensions import db
from app.formatting import paris_today
from app.services import dossier_sections as sections
from app.services import dossiers as service
from app.services.errors import ValidationFailed
from tests.factories import (
    HUB_INDICATORS,
    HUB_SIGNATORIES,
    LEAN_SIGNATURE,
    audit_entries,
    hub_indicator_rows,
    hub_signatory_rows,
    make_dossier,
)


def _save(dossier, key, data, actor):
    sections.save_section(dossier, key, data, version=dossier.section_version(key), actor=actor)
    db.session.commit()


def test_hub_indicators_keep_their_target_for_each_year_and_resave_unchanged(hub, porteur):
    for _ in range(2):  # saved twice with the same input: the same rows, a new version each time
        _save(hub, "indicateurs", {"rows": hub_indicator_rows()}, porteur)
    assert hub.section_version("indicateurs") == 2
    assert [i.indicator for i in hub.indicators] == [name for name, _, _ in HUB_INDICATORS]
    transferred, files = hub.indicators
    assert [(t.year, t.value) for t in transferred.targets] == [
        (2019, "0"),
        (2020, "1"),
        (2021, "12"),
        (2022, "32"),
    ]
    assert files.target_for(2020) == "123 000 (25 % du volume total de CertDC)"
    assert files.target_for(2022).startswith("430 000 (100 % de CertDC)")
    assert len(audit_entries(hub, "dossier.section_saved")) >= 2
    missing, _ = service.checks(hub)
    assert missing["indicateurs"] == []


def test_a_single_indicator_is_a_missing_content_on_the_ftap_guichet(hub, porteur):
    _save(hub, "indicateurs", {"rows": hub_indicator_rows()[:1]}, porteur)
    missing, verdicts = service.checks(hub)
    assert missing["indicateurs"] == ["au moins deux indicateurs de résultat (001_2adfa08b7d751e30.txt §5.2)"]
    assert any(v.level == "error" and v.section == "indicateurs" for v in verdicts)


def test_a_target_outside_the_years_of_the_project_is_refused_at_its_field(hub, porteur):
    rows = hub_indicator_rows()
    rows[0][1]["target-2030"] = "40"
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(hub, "indicateurs", {"rows": rows}, version=0, actor=porteur)
    assert error.value.errors == {
        "rows-0-target-2030": "Année 2030 hors de la période du projet (2019–2022)."
    }


def test_hub_signatories_saved_with_their_functions_and_dates(hub, porteur):
    _save(hub, "signataires", {"rows": hub_signatory_rows(dict([LEAN_SIGNATURE]))}, porteur)
    _save(hub, "signataires", {"rows": hub_signatory_rows(dict([LEAN_SIGNATURE]))}, porteur)
    assert [(s.side, s.function, s.name) for s in hub.signatories] == [
        (a, c, d) for a, _, c, d in HUB_SIGNATORIES
    ]
    assert hub.signatories[2].signed_on == date(2023, 7, 31) and hub.signatories[0].signed_on is None
    assert hub.section_version("signataires") == 2


def test_signatories_refuse_a_future_date_a_missing_name_and_an_unknown_party(hub, porteur):
    rows = hub_signatory_rows({"Nadi BOU HANNA": (paris_today() + timedelta(days=40)).strftime("%d/%m/%Y")})
    rows[1][1]["name"] = ""
    rows[2][1]["side"] = "tiers"
    rows[3][1]["signed_on"] = "31/02/2024"
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(hub, "signataires", {"rows": rows}, version=0, actor=porteur)
    errors = error.value.errors
    assert (
        errors["rows-0-signed_on"].startswith("Date de signature : le ")
        and "pas encore arrivé" in errors["rows-0-signed_on"]
    )
    assert errors["rows-1-name"] == "Nom du signataire : à renseigner."
    assert errors["rows-2-side"] == "Choisissez la partie."
    assert errors["rows-3-signed_on"] == "Date de signature : date invalide (format JJ/MM/AAAA)."
    db.session.rollback()
    assert hub.signatories == []


def test_savings_cp_typed_apart_from_ae_and_blank_cp_is_the_years_ae(hub, porteur):
    rows = [(0, {"nature": "Coûts de gestion", "category": "T3", "programme": "P624",
                 "y-2022": "290 000", "cp-2022": "145 000", "y-2023": "580 000"})]  # fmt: skip
    _save(hub, "economies", {"rows": rows}, porteur)
    (line,) = hub.savings_lines
    assert [(a.year, a.ae, a.cp) for a in line.amounts] == [
        (2022, 290_000, 145_000),
        (2023, 580_000, 580_000),
    ]
    fig = service.figures(hub)
    assert fig.savings_cp_by_year[2022] == 145_000 and fig.savings_by_year[2022] == 290_000


def test_redeployed_jobs_are_part_of_the_jobs_saved(hub, porteur):
    data = {"staff-A-cost": "62 000", "staff-A-2023": "1,5", "staff-A-r-2023": "0,5"}
    _save(hub, "economies", data, porteur)
    (row,) = hub.staff_savings
    assert (str(row.jobs), str(row.redeployed)) == ("1.50", "0.50")
    assert service.figures(hub).staff[2023] == 93_000  # redeployed jobs change no euro of the savings
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(hub, "economies", data | {"staff-A-r-2023": "2"}, version=1, actor=porteur)
    assert error.value.errors == {
        "staff-A-r-2023": "ETP redéployés catégorie A en 2023 : ils font partie des ETP économisés (1,5) "
        "et ne peuvent pas les dépasser."
    }


def test_additional_revenue_by_year_in_french_numbers_and_bad_input_at_its_field(hub, porteur):
    revenue = {
        "nature": "Abonnements des partenaires",
        "programme": "624",
        "y-2022": "100 000",
        "y-2023": "1 250 000",
    }
    _save(hub, "economies", {"revenues": [(0, revenue)]}, porteur)
    (line,) = hub.revenue_lines
    assert line.programme == "P624" and [(a.year, a.amount) for a in line.amounts] == [
        (2022, 100_000),
        (2023, 1_250_000),
    ]
    fig = service.figures(hub, revenues=True)
    assert fig.revenues_total == 1_350_000 and fig.roi_savings == 0  # never in the ROI ([004] §3)
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(
            hub, "economies", {"revenues": [(0, revenue | {"y-2023": "1,2 M€"})]}, version=1, actor=porteur
        )
    assert error.value.errors == {
        "revenues-0-y-2023": "Recette 2023 : Saisissez un montant en euros entiers, chiffres seulement "
        "(par exemple 1 275 000)."
    }


def test_moving_the_first_year_past_the_yearly_targets_is_refused_and_nothing_is_lost(porteur):
    hub = make_dossier(porteur, "FTAP", title="HUB, indicateurs seuls", start_year=2019)
    _save(hub, "indicateurs", {"rows": hub_indicator_rows()}, porteur)
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(
            hub, "projet", {"title": hub.title, "start_year": "2021"}, version=0, actor=porteur
        )
    assert "hors de la période 2021–2024" in error.value.errors["start_year"]
    db.session.rollback()
    assert [t.year for t in hub.indicators[0].targets] == [2019, 2020, 2021, 2022]
