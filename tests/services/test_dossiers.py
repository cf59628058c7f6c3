"""Dossier services: figures from the sources, checks, every transition, refusals, instruction, and the
hooks the committees domain calls (sections, attachments and messages have their own test modules)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models.base import utcnow
from app.models.dossiers import DossierState, DossierTransition
from app.services import dossier_sections as sections
from app.services import dossiers as service
from app.services.errors import DomainError, NotAllowed, ValidationFailed
from tests.factories import (
    audit_entries,
    complete_dossier,
    guichet_by_code,
    make_dossier,
    make_instructor,
)

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


# --- figures: hand-checked against the HUB contract [001] §2 and §3 ----------------------------------------


def test_hub_totals_match_the_contract(hub):
    fig = service.figures(hub)
    assert fig.years == [2019, 2020, 2021, 2022]
    assert (fig.total_ae, fig.total_cp) == (3_850_000, 3_850_000)  # "TOTAL … 3850 3850"
    assert (fig.ftap_ae, fig.ftap_cp) == (1_275_000, 1_275_000)  # "TOTAL Financement FTAP … 1275 1275"
    assert fig.year_totals == {
        2019: (200_000, 0),
        2020: (2_125_000, 1_375_000),
        2021: (1_150_000, 1_800_000),
        2022: (375_000, 675_000),
    }  # "TOTAL 200 2125 1375 1150 1800 375 675"
    financers = {label: (ae, cp) for label, _, ae, cp in fig.financers}
    assert financers["dont financement Co-porteur DILA"] == (
        1_800_000,
        1_800_000,
    )  # "TOTAL Fi DILA … 1800 1800"
    assert financers["dont financement Co-porteur DGS"] == (300_000, 300_000)  # "TOTAL Fi DGS … 300 300"
    assert financers["dont financement FTAP"] == (1_275_000, 1_275_000)
    assert financers["dont financement porteur (DINUM)"] == (475_000, 475_000)
    dila = next(
        lf
        for lf in fig.lines
        if lf.line.nature.endswith("— DILA")
        and lf.line.programme == "P624"
        and lf.line.nature.startswith("Investissement")
    )
    assert (dila.ae, dila.cp) == (1_225_000, 1_225_000)


def test_hub_savings_and_roi(hub):
    fig = service.figures(hub)
    assert [fig.savings_by_year[y] for y in (2022, 2023, 2024)] == [638_000, 1_275_000, 1_275_000]  # [001] §3
    # FTAP money is spent in 2020–2021: the ROI looks at 2022–2024, 3 188 000 € of savings for 1 275 000 €.
    assert fig.roi_years == [2022, 2023, 2024]
    assert fig.roi_savings == 3_188_000
    assert fig.roi_cents == 250
    assert round(fig.ftap_share_pct, 1) == 33.1


def test_completeness_of_a_step_is_the_dossiers_for_its_sections(hub, porteur):
    """A step page badges its sections from their rows only: the same verdict as the whole dossier's."""
    for dossier in (hub, make_dossier(porteur)):
        whole = service.completeness(dossier)
        for step in sections.steps():
            assert service.completeness(dossier, step.sections) == {key: whole[key] for key in step.sections}


def test_hub_verdicts_show_the_computation(hub):
    _, verdicts = service.checks(hub)
    messages = [c.message for c in verdicts if c.kind == "eligibility"]
    roi = next(m for m in messages if m.startswith("retour sur investissement"))
    assert "2,50\u00a0€ par € investi, minimum 1\u00a0€" in roi
    assert "3\u202f188\u202f000\u00a0€" in roi and "1\u202f275\u202f000\u00a0€" in roi
    # CP paying in N+1 what AE committed in N is the contract's own profile: no CP/AE warning
    assert not any(m.startswith("CP") for m in messages)
    assert any(
        m.startswith("part FTAP 33\u00a0% (1\u202f275\u202f000\u00a0€ sur 3\u202f850\u202f000")
        for m in messages
    )


def test_staff_savings_helper_is_carried_into_the_savings_total(porteur):
    dossier = make_dossier(porteur, start_year=2026)
    sections.save_section(
        dossier,
        "economies",
        {
            "rows": [],
            "staff-A-cost": "80 000",
            "staff-A-2027": "3",
            "staff-C-cost": "45000",
            "staff-C-2027": "1,5",
        },
        version=0,
        actor=porteur,
    )
    fig = service.figures(dossier)
    assert fig.staff[2027] == 3 * 80_000 + 67_500  # fractional ETP, typed the French way
    assert fig.savings_by_year[2027] == 307_500


def test_lean_70_30_is_deposited_with_its_share_as_a_criterion(porteur):
    """[004] §2 and §4.3: co-financing present (blocking), its share weighed (criterion), total < 2 M€."""
    dossier = complete_dossier(
        make_dossier(porteur, "FTAP-LEAN"), porteur, ftap_ae=1_050_000, porteur_ae=450_000
    )
    _, verdicts = service.checks(dossier)
    assert service.blocking(verdicts) == []
    share = next(c for c in verdicts if c.message.startswith("part de cofinancement"))
    assert share.level == "criterion" and share.message.startswith("part de cofinancement 30\u00a0%")
    assert share.source == "004_937e479d7f054f91.txt §2"
    service.submit(dossier, actor=porteur)
    assert dossier.state == DossierState.DEPOSE


def test_lean_dossier_of_exactly_two_million_is_refused_on_the_cap(porteur):
    """[004] §4.3: « Le montant total du projet (financement FTAP et cofinancement) est inférieur à 2 M€ »."""
    dossier = complete_dossier(
        make_dossier(porteur, "FTAP-LEAN"), porteur, ftap_ae=1_400_000, porteur_ae=600_000
    )
    _, verdicts = service.checks(dossier)
    assert [c.message.split(" (")[0] for c in service.blocking(verdicts)] == [
        "montant total 2\u202f000\u202f000\u00a0€ ≥ 2\u202f000\u202f000\u00a0€"
    ]
    with pytest.raises(ValidationFailed) as error:
        service.submit(dossier, actor=porteur)
    assert "montant total 2\u202f000\u202f000\u00a0€ ≥" in error.value.errors["submit"]
    assert dossier.state == DossierState.BROUILLON


def test_max_total_and_roi_rules(porteur):
    guichet = guichet_by_code("SNAP4")
    guichet.max_total_amount, guichet.roi_min_cents = 900_000, 100
    dossier = complete_dossier(
        make_dossier(porteur, start_year=2026), porteur, ftap_ae=600_000, porteur_ae=400_000
    )
    _, verdicts = service.checks(dossier)
    messages = {c.message.split(" (")[0]: c.level for c in verdicts}
    assert messages["montant total 1\u202f000\u202f000\u00a0€ ≥ 900\u202f000\u00a0€"] == "error"
    # FTAP in 2026 → savings 2027–2029: 700 000 + 700 000 = 1 400 000 € for 600 000 € → 2,33 €
    assert messages["retour sur investissement à 3 ans : 2,33\u00a0€ par € investi, minimum 1\u00a0€"] == "ok"


def test_roi_below_minimum_is_a_warning_not_a_block(porteur):
    guichet = guichet_by_code("SNAP4")
    guichet.roi_min_cents = 100
    dossier = complete_dossier(make_dossier(porteur), porteur, ftap_ae=2_000_000, porteur_ae=2_000_000)
    _, verdicts = service.checks(dossier)
    roi = next(c for c in verdicts if c.message.startswith("retour sur"))
    assert roi.level == "warning" and "0,70\u00a0€ par € investi, minimum 1\u00a0€" in roi.message
    service.submit(dossier, actor=porteur)
    assert dossier.state == DossierState.DEPOSE


# --- sections: bad input, nothing saved partially, conflicts ------------------------------------------


@pytest.fixture
def submitted(porteur):
    dossier = complete_dossier(make_dossier(porteur), porteur)
    service.submit(dossier, actor=porteur)
    return dossier


@pytest.fixture
def instructor(db_session):
    return make_instructor("SNAP4")


def _states(dossier):
    rows = db.session.scalars(
        select(DossierTransition)
        .where(DossierTransition.dossier_id == dossier.id)
        .order_by(DossierTransition.id)
    )
    return [(r.from_state, r.to_state) for r in rows]


def test_submit_requires_complete_sections(porteur):
    dossier = make_dossier(porteur)
    with pytest.raises(ValidationFailed) as error:
        service.submit(dossier, actor=porteur)
    assert "4.1.2 Objectifs d'impact et indicateurs : à compléter" in error.value.errors["submit"]


def test_submit_then_instruct_then_avis(submitted, instructor):
    assert submitted.state == "depose" and submitted.submitted_at is not None
    service.start_instruction(submitted, actor=instructor)
    service.record_avis(submitted, avis="favorable", motivation="Projet solide.", actor=instructor)
    assert submitted.state == "instruit" and submitted.avis == "favorable"
    assert _states(submitted) == [
        ("brouillon", "depose"),
        ("depose", "en_instruction"),
        ("en_instruction", "instruit"),
    ]
    assert len(audit_entries(submitted, "dossier.instructed")) == 1


def test_complements_reopen_only_the_chosen_sections(submitted, porteur, instructor):
    with pytest.raises(NotAllowed):
        sections.save_section(submitted, "enjeu", {"enjeu": "après dépôt"}, version=1, actor=porteur)
    service.request_complements(
        submitted,
        sections=["financement"],
        reason="incomplet",
        message="Détaillez la phase de généralisation.",
        actor=instructor,
    )
    assert submitted.state == "complements_demandes"
    with pytest.raises(NotAllowed):
        sections.save_section(submitted, "enjeu", {"enjeu": "non rouverte"}, version=1, actor=porteur)
    data = {
        "rows": [
            (
                0,
                {
                    "nature": "Développement",
                    "category": "T5",
                    "programme": "P349",
                    "financer": "ftap",
                    "phase": "generalisation",
                    "ae-2026": "500000",
                    "cp-2026": "500000",
                },
            )
        ]
    }
    sections.save_section(
        submitted, "financement", data, version=submitted.section_version("financement"), actor=porteur
    )
    service.submit(submitted, actor=porteur)
    assert submitted.state == "depose" and submitted.complement_requests[0].answered_at is not None
    assert ("complements_demandes", "depose") in _states(submitted)


def test_complements_need_sections_reason_and_message(submitted, instructor):
    with pytest.raises(ValidationFailed) as error:
        service.request_complements(submitted, sections=[], reason="faux", message=" ", actor=instructor)
    assert set(error.value.errors) == {"sections", "reason", "message"}
    assert submitted.state == "depose"


def test_avis_needs_a_motivation_and_an_instructor(submitted, instructor, porteur):
    with pytest.raises(ValidationFailed) as error:
        service.record_avis(submitted, avis="favorable", motivation="", actor=instructor)
    assert error.value.errors["motivation"] == "La motivation de l'avis est obligatoire."
    with pytest.raises(NotAllowed):
        service.record_avis(submitted, avis="favorable", motivation="Moi-même", actor=porteur)
    other = make_instructor("SNAP1")
    with pytest.raises(NotAllowed):
        service.start_instruction(submitted, actor=other)


def test_instructor_of_a_parent_guichet_instructs(submitted):
    volet = make_instructor("SNAP")
    service.start_instruction(submitted, actor=volet)
    assert submitted.state == "en_instruction"


def test_dismiss_needs_motivation(submitted, instructor):
    with pytest.raises(ValidationFailed):
        service.dismiss(submitted, motivation="", actor=instructor)
    service.dismiss(submitted, motivation="Hors du périmètre du thème.", actor=instructor)
    assert submitted.state == "classe_sans_suite" and submitted.state_reason == "Hors du périmètre du thème."
    with pytest.raises(NotAllowed):
        service.start_instruction(submitted, actor=instructor)


def test_withdraw_by_porteur_only_before_decision(submitted, porteur, instructor):
    with pytest.raises(NotAllowed):
        service.withdraw(submitted, actor=instructor)
    service.withdraw(submitted, actor=porteur, reason="Projet abandonné")
    assert submitted.state == "retire"
    with pytest.raises(NotAllowed):
        service.submit(submitted, actor=porteur)


def test_withdraw_from_brouillon(porteur):
    dossier = make_dossier(porteur)
    service.withdraw(dossier, actor=porteur)
    assert dossier.state == "retire"


def test_submission_after_the_call_closed_is_refused(porteur):
    guichet = guichet_by_code("SNAP4")
    dossier = complete_dossier(make_dossier(porteur), porteur)
    guichet.mode = "appel_a_projets"
    guichet.opens_at, guichet.closes_at = utcnow() - timedelta(days=30), utcnow() - timedelta(hours=1)
    with pytest.raises(ValidationFailed) as error:
        service.submit(dossier, actor=porteur)
    assert "L'appel à projets est clos depuis le" in error.value.errors["submit"]
    assert dossier.state == "brouillon"


def test_create_refused_on_closed_guichet(porteur):
    with pytest.raises(ValidationFailed) as error:
        service.create_dossier(guichet=guichet_by_code("SNAP"), title="X", start_year="2026", actor=porteur)
    assert error.value.errors["guichet"] == "Ce guichet ne reçoit pas de dossiers."
    with pytest.raises(ValidationFailed) as error:
        service.create_dossier(
            guichet=guichet_by_code("SNAP4"),
            title="",
            start_year="20x6",
            actor=porteur,
            opportunity_code="M999",
        )
    assert set(error.value.errors) == {"title", "start_year", "opportunity_code"}


def test_bulk_instruction_skips_what_does_not_apply(submitted, instructor, porteur):
    draft = complete_dossier(make_dossier(porteur, title="Autre"), porteur)
    service.submit(draft, actor=porteur)
    service.start_instruction(draft, actor=instructor)
    done, skipped = service.bulk([submitted, draft], action="instruire", actor=instructor)
    assert done == [submitted] and skipped[0][0] is draft
    assert submitted.state == "en_instruction"
    done, _ = service.bulk([submitted, draft], action="suivre", actor=instructor)
    assert service.is_followed(submitted, instructor) and service.is_followed(draft, instructor)


# --- committees hooks ------------------------------------------------------------------------------


@pytest.fixture
def instruit(submitted, instructor):
    service.record_avis(submitted, avis="reserve", motivation="À surveiller.", actor=instructor)
    return submitted


def test_committee_hooks_walk_the_rest_of_the_life_cycle(instruit, instructor):
    info = service.describe(instruit.id)
    assert (info.reference, info.state, info.state_label) == (instruit.reference, "instruit", "Instruit")
    assert info.schedulable
    assert service.requested_ae(instruit.id) == 600_000
    service.mark_on_agenda(instruit.id, actor=instructor)
    assert instruit.state == "inscrit_comite"
    service.mark_on_agenda(instruit, actor=instructor)  # idempotent
    service.apply_decision(instruit, "accepte_sous_conditions", actor=instructor)
    assert (instruit.state, instruit.decision_outcome) == ("decide", "accepte_sous_conditions")
    service.apply_decision(instruit, "accepte", actor=instructor, rectification=True)
    assert (
        instruit.decision_outcome == "accepte"
        and len(audit_entries(instruit, "dossier.decision_rectified")) == 1
    )
    service.mark_contracted(instruit, actor=instructor)
    service.start_follow_up(instruit, actor=instructor)
    service.close(instruit, actor=instructor)
    assert [t for _, t in _states(instruit)][-6:] == [
        "instruit",
        "inscrit_comite",
        "decide",
        "conventionne",
        "en_suivi",
        "clos",
    ]


def test_ajourne_goes_back_on_the_agenda_and_refuse_is_not_contracted(instruit, instructor):
    service.mark_on_agenda(instruit, actor=instructor)
    assert not service.describe(instruit.id).schedulable
    service.apply_decision(instruit, "ajourne", actor=instructor)
    assert service.describe(instruit.id).schedulable
    with pytest.raises(DomainError):
        service.close(instruit, actor=instructor)
    service.mark_on_agenda(instruit, actor=instructor)
    service.apply_decision(instruit, "refuse", actor=instructor)
    with pytest.raises(DomainError):
        service.mark_contracted(instruit, actor=instructor)
    service.close(instruit, actor=instructor)
    assert instruit.state == "clos"


def test_decision_refused_when_not_on_agenda(instruit, instructor):
    with pytest.raises(DomainError):
        service.apply_decision(instruit, "accepte", actor=instructor)
    assert instruit.decision_outcome is None
    with pytest.raises(DomainError):
        service.mark_on_agenda(make_dossier(), actor=instructor)


def test_decided_by_and_porteurs(instruit, porteur):
    from app.models import Committee

    cosinum = db.session.scalar(select(Committee).where(Committee.code == "COSINUM"))
    copil = db.session.scalar(select(Committee).where(Committee.code == "COPIL-SUITE"))
    # [003] §1: the COSINUM only received the note; the theme's owners select the laureates
    assert not service.decided_by(cosinum, service.describe(instruit.id))
    assert not service.decided_by(copil, instruit)
    instruit.guichet.committee = copil  # the secretariat sets SNAP4's selection body
    db.session.flush()
    assert service.decided_by(copil, service.describe(instruit.id))
    assert porteur in service.porteurs(instruit.id)


# --- messages, annotations, attachments -----------------------------------------------------------
