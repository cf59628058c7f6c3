"""Dossier sections: bad input refused at the field with nothing saved, amounts, dates, conflicts, audit."""

import pytest

from app.extensions import db
from app.models import Role
from app.services import dossier_sections as sections
from app.services.errors import ValidationFailed
from tests.factories import audit_entries, make_dossier, make_user

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def test_bad_amounts_are_refused_at_the_field_and_nothing_is_saved(porteur):
    dossier = make_dossier(porteur, start_year=2026)
    rows = [
        (
            0,
            {
                "nature": "Dev",
                "category": "T5",
                "programme": "P349",
                "financer": "ftap",
                "phase": "cadrage",
                "ae-2026": "abc",
                "cp-2026": "-5",
                "ae-2031": "10",
            },
        )
    ]
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(dossier, "financement", {"rows": rows}, version=0, actor=porteur)
    errors = error.value.errors
    assert errors["rows-0-ae-2026"].startswith("AE 2026 : Saisissez un montant en euros entiers")
    assert errors["rows-0-cp-2026"] == "CP 2026 : Le montant ne peut pas être négatif."
    assert errors["rows-0-ae-2031"] == "Année 2031 hors de la période du projet (2026–2029)."
    db.session.expire_all()
    assert dossier.financing_lines == [] and dossier.section_version("financement") == 0


def test_cp_above_ae_over_the_whole_project_is_refused(porteur):
    dossier = make_dossier(porteur, start_year=2026)
    rows = [
        (
            0,
            {
                "nature": "Dev",
                "category": "T5",
                "programme": "349",
                "financer": "ftap",
                "phase": "cadrage",
                "ae-2026": "100 000",
                "cp-2026": "60 000",
                "cp-2027": "60 000",
            },
        )
    ]
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(dossier, "financement", {"rows": rows}, version=0, actor=porteur)
    assert (
        "total des CP (120\u202f000\u00a0€) dépasse le total des AE (100\u202f000\u00a0€)"
        in error.value.errors["total"]
    )


def test_amounts_accept_french_spacing_and_programme_without_p(porteur):
    dossier = make_dossier(porteur, start_year=2026)
    rows = [
        (
            0,
            {
                "nature": "Dev",
                "category": "T5",
                "programme": "349",
                "financer": "ftap",
                "phase": "cadrage",
                "ae-2026": "1 275 000",
                "cp-2026": "1\u202f275\u202f000 €",
            },
        )
    ]
    sections.save_section(dossier, "financement", {"rows": rows}, version=0, actor=porteur)
    line = dossier.financing_lines[0]
    assert line.programme == "P349" and (line.amounts[0].ae, line.amounts[0].cp) == (1_275_000, 1_275_000)


def test_jalon_outside_project_dates_is_refused(porteur):
    dossier = make_dossier(porteur, start_year=2026)
    sections.save_section(
        dossier,
        "projet",
        {"title": "T", "start_year": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
        version=0,
        actor=porteur,
    )
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(
            dossier,
            "jalons",
            {"rows": [(0, {"number": "1", "due_on": "2027-03-01", "description": "Trop tard"})]},
            version=0,
            actor=porteur,
        )
    assert error.value.errors["rows-0-due_on"] == (
        "La date doit être comprise dans la période du projet (01/01/2026 – 31/12/2026)."
    )


def test_a_jalon_carries_its_budget_consumption_milestone(porteur):
    """[000] §5.2: « Les jalons clés du projet doivent, autant que faire se peut, être traduits en jalons de
    consommation budgétaires » — AE and CP expected consumed at the jalon's date, cumulated, optional."""
    dossier = make_dossier(porteur, start_year=2026)
    sections.save_section(
        dossier,
        "projet",
        {"title": "T", "start_year": "2026", "starts_on": "2026-01-01", "ends_on": "2026-12-31"},
        version=0,
        actor=porteur,
    )
    row = {"number": "1", "due_on": "2026-06-30", "description": "Recette", "ae_planned": "dix"}
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(
            dossier, "jalons", {"rows": [(0, row | {"cp_planned": "500 000"})]}, version=0, actor=porteur
        )
    assert error.value.errors["rows-0-ae_planned"].startswith("Saisissez un montant en euros entiers")
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(
            dossier,
            "jalons",
            {"rows": [(0, row | {"ae_planned": "100 000", "cp_planned": "500 000"})]},
            version=0,
            actor=porteur,
        )
    assert error.value.errors["rows-0-cp_planned"].startswith("Les CP consommés à cette date ne peuvent pas")
    rows = [
        (0, row | {"ae_planned": "400 000", "cp_planned": "150 000"}),
        (1, {"number": "2", "due_on": "2026-12-01", "description": "Bilan"}),
    ]
    sections.save_section(dossier, "jalons", {"rows": rows}, version=0, actor=porteur)
    first, second = dossier.jalons
    assert (first.ae_planned, first.cp_planned, second.ae_planned, second.cp_planned) == (
        400_000,
        150_000,
        None,
        None,
    )


def test_changing_start_year_with_amounts_outside_is_refused(hub, porteur):
    with pytest.raises(ValidationFailed) as error:
        sections.save_section(
            hub, "projet", {"title": hub.title, "start_year": "2021"}, version=0, actor=porteur
        )
    assert "2019, 2020" in error.value.errors["start_year"]


def test_second_save_of_a_stale_section_is_a_conflict(porteur):
    co = make_user(Role.PORTEUR)
    dossier = make_dossier(porteur)
    sections.save_section(
        dossier,
        "porteurs",
        {
            "porteur_organisation": "DINUM",
            "co": [(0, {"organisation": "DILA", "projet_name": "Co Porteur", "projet_email": co.email})],
        },
        version=0,
        actor=porteur,
    )
    sections.save_section(dossier, "enjeu", {"enjeu": "Version du porteur"}, version=0, actor=porteur)
    with pytest.raises(sections.SectionConflict):
        sections.save_section(dossier, "enjeu", {"enjeu": "Version du co-porteur"}, version=0, actor=co)
    db.session.expire_all()
    assert dossier.enjeu == "Version du porteur" and dossier.section_version("enjeu") == 1
    sections.save_section(dossier, "enjeu", {"enjeu": "Version du co-porteur"}, version=1, actor=co)
    assert dossier.enjeu == "Version du co-porteur" and dossier.section_version("enjeu") == 2


def test_section_save_is_audited(porteur):
    dossier = make_dossier(porteur)
    sections.save_section(dossier, "enjeu", {"enjeu": "x"}, version=0, actor=porteur)
    assert len(audit_entries(dossier, "dossier.section_saved")) == 1


# --- life cycle: every transition and refusal ---------------------------------------------------------
