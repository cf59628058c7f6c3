"""Follow-up services: the clawback flags, the four reports (jalon, indicator, credits, savings) with their
refusals and audit rows, the savings forecast next to the savings reported, the flags a committee reviews."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.domain.followup import numeric
from app.extensions import db
from app.formatting import paris_today
from app.models import AuditEntry, Committee
from app.models.dossiers import (
    DossierIndicator,
    DossierTransition,
    Jalon,
    SavingsAmount,
    SavingsLine,
    StaffSaving,
)
from app.models.followup import OTHER_SAVINGS, SavingsReport
from app.services import followup as service
from app.services import meetings
from app.services.dossiers import Figures
from app.services.errors import DomainError, NotAllowed, ValidationFailed
from tests.factories import make_committee_meeting, make_instructed_dossier


@pytest.fixture
def secretariat(make_user):
    return make_user("secretariat")


def committee(code):
    return db.session.scalar(select(Committee).where(Committee.code == code))


def _followed_dossier(porteur, signed_days_ago: int, secretariat):
    dossier = make_instructed_dossier(porteur, state="conventionne", decision_outcome="accepte")
    dossier.jalons = [
        Jalon(number=1, due_on=paris_today() - timedelta(days=10), description="Recette du lot 1"),
        Jalon(number=2, due_on=paris_today() + timedelta(days=60), description="Mise en service"),
    ]
    dossier.indicators = [
        DossierIndicator(
            position=1,
            objective="Adoption",
            indicator="Agents utilisateurs",
            current_value="0",
            target_value="5000",
        )
    ]
    db.session.add(
        DossierTransition(
            dossier_id=dossier.id,
            from_state="decide",
            to_state="conventionne",
            created_at=datetime.now(UTC) - timedelta(days=signed_days_ago),
        )
    )
    db.session.commit()
    return dossier


def test_followup_flags_follow_the_clawback_triggers(secretariat, make_user):
    porteur = make_user("porteur")
    dossier = _followed_dossier(porteur, signed_days_ago=400, secretariat=secretariat)
    kinds = [f.kind for f in service.followup(dossier).flags]
    assert kinds == ["jalon_late", "indicator_missing", "credits_not_consumed"]
    recent = _followed_dossier(porteur, signed_days_ago=100, secretariat=secretariat)
    assert [f.kind for f in service.followup(recent).flags] == ["jalon_late"]  # < 6 months, < 12 months
    with pytest.raises(NotAllowed):
        service.report_consumption(dossier, year=2027, ae=1, cp=0, actor=make_user("dsi"))
    with pytest.raises(ValidationFailed) as error:
        service.report_consumption(dossier, year="2027", ae="-1", cp="abc", actor=porteur)
    assert set(error.value.errors) == {"ae", "cp"}
    service.report_consumption(dossier, year="2027", ae="12 000", cp="0", actor=porteur)
    jalon = dossier.jalons[0]
    service.report_jalon(
        dossier,
        jalon_id=jalon.id,
        achieved_on=paris_today().isoformat(),
        proof="PV de recette",
        actor=porteur,
    )
    indicator = dossier.indicators[0]
    service.report_indicator(
        dossier, indicator_id=indicator.id, reported_on=paris_today().isoformat(), value="1200", actor=porteur
    )
    follow = service.followup(dossier)
    assert follow.flags == []
    assert follow.charts[indicator.id] == ([paris_today().isoformat()], [1200.0], 5000.0)
    assert (numeric("1 200,5 %"), numeric("bon")) == (1200.5, None)
    assert [status for _, _, status in follow.jalons][1] == "À venir"
    with pytest.raises(ValidationFailed, match="déjà déclaré atteint"):
        service.report_jalon(
            dossier, jalon_id=jalon.id, achieved_on=paris_today().isoformat(), proof="x", actor=porteur
        )


def _with_savings_forecast(dossier, *years_amounts):
    """Two natures of savings; each (year, amount) is split 2/3 – 1/3 between them."""

    licences = SavingsLine(position=1, nature="Licences", category="T3", programme="129")
    staff = SavingsLine(position=2, nature="Masse salariale", category="T2", programme="129")
    licences.amounts = [SavingsAmount(year=y, amount=a * 2 // 3) for y, a in years_amounts]
    staff.amounts = [SavingsAmount(year=y, amount=a - a * 2 // 3) for y, a in years_amounts]
    dossier.savings_lines = [licences, staff]
    db.session.commit()


def test_reported_savings_sit_next_to_the_forecast_by_year_and_nature(secretariat, make_user):
    porteur = make_user("porteur")
    dossier = _followed_dossier(porteur, signed_days_ago=100, secretariat=secretariat)
    _with_savings_forecast(dossier, (2027, 150_000), (2028, 300_000))
    assert service.savings_natures(dossier) == ["Licences", "Masse salariale", OTHER_SAVINGS]
    service.report_savings(
        dossier,
        year="2027",
        nature="Licences",
        amount="80 000",
        explanation="Renégociation décalée de trois mois",
        actor=porteur,
    )
    service.report_savings(dossier, year=2027, nature="Masse salariale", amount="50 000", actor=porteur)
    service.report_savings(
        dossier,
        year=2029,
        nature=OTHER_SAVINGS,
        amount=10_000,
        explanation="Hébergement mutualisé",
        actor=secretariat,
    )
    db.session.commit()
    years = service.followup(dossier).savings
    assert [(y.year, y.forecast, y.reported, y.gap, y.unreported) for y in years] == [
        (2027, 150_000, 130_000, -20_000, []),
        (2028, 300_000, None, None, ["Licences", "Masse salariale"]),
        (2029, 0, 10_000, 10_000, []),
    ]
    assert [(n.nature, n.forecast, n.reported, n.explanation) for n in years[0].natures] == [
        ("Licences", 100_000, 80_000, "Renégociation décalée de trois mois"),
        ("Masse salariale", 50_000, 50_000, ""),
    ]
    # entering a year and nature again corrects it, and the audit trail keeps both figures
    service.report_savings(dossier, year=2027, nature="Licences", amount="100000", actor=porteur)
    db.session.commit()
    assert service.followup(dossier).savings[0].reported == 150_000
    changes = db.session.scalars(
        select(AuditEntry.changes).where(AuditEntry.action == "savings.reported").order_by(AuditEntry.id)
    ).all()
    assert [c["savings"] for c in changes] == [
        [None, 80_000],
        [None, 50_000],
        [None, 10_000],
        [80_000, 100_000],
    ]


def test_the_t2_helper_row_is_a_nature_of_its_own_with_its_forecast(secretariat, make_user):
    """The follow-up reads the same savings table as the dossier page: lines plus the T2 helper's row."""

    porteur = make_user("porteur")
    dossier = _followed_dossier(porteur, signed_days_ago=100, secretariat=secretariat)
    _with_savings_forecast(dossier, (2027, 150_000))
    dossier.staff_savings = [StaffSaving(category="B", year=2027, jobs=2, average_cost=45_000)]
    db.session.commit()
    assert service.savings_natures(dossier) == [
        "Licences",
        "Masse salariale",
        Figures.STAFF_NATURE,
        OTHER_SAVINGS,
    ]
    service.report_savings(dossier, year=2027, nature=Figures.STAFF_NATURE, amount="90 000", actor=porteur)
    db.session.commit()
    (year,) = service.followup(dossier).savings
    assert (year.forecast, year.reported, year.unreported) == (
        240_000,
        90_000,
        ["Licences", "Masse salariale"],
    )


def test_reported_savings_refuse_bad_input_unexplained_gaps_and_other_people(secretariat, make_user):

    porteur = make_user("porteur")
    dossier = _followed_dossier(porteur, signed_days_ago=100, secretariat=secretariat)
    _with_savings_forecast(dossier, (2027, 150_000))
    with pytest.raises(ValidationFailed) as error:
        service.report_savings(dossier, year="1990", nature="Loyers", amount="-5", actor=porteur)
    assert error.value.errors == {
        "year": "L'année doit être au moins 2000.",
        "amount": "Le montant des économies constatées ne peut pas être négatif.",
        "nature": "Choisissez une nature d'économies du contrat.",
    }
    with pytest.raises(ValidationFailed) as error:
        service.report_savings(dossier, year="2027", nature="Licences", amount="3 000 000 000", actor=porteur)
    assert error.value.errors["amount"].endswith("ne peut pas dépasser 2\u202f000\u202f000\u202f000.")
    with pytest.raises(ValidationFailed) as error:
        service.report_savings(dossier, year="2027", nature="Licences", amount="90 000", actor=porteur)
    assert error.value.errors == {
        "explanation": "Expliquez l'écart avec la prévision du contrat (100\u202f000\u00a0€ prévus en 2027 "
        "pour « Licences »)."
    }
    with pytest.raises(NotAllowed):
        service.report_savings(dossier, year=2027, nature="Licences", amount=1, actor=make_user("dsi"))
    not_signed = make_instructed_dossier(porteur)
    with pytest.raises(DomainError, match="une fois le dossier conventionné"):
        service.report_savings(not_signed, year=2027, nature=OTHER_SAVINGS, amount=1, actor=porteur)
    assert db.session.scalar(select(func.count(SavingsReport.id))) == 0


def test_followup_flags_are_offered_once_to_the_deciding_committee(secretariat, make_user):
    porteur = make_user("porteur")
    dossier = _followed_dossier(porteur, signed_days_ago=400, secretariat=secretariat)
    flags = service.flags_for_committee(committee("COMITE-INVEST-FTAP"))
    assert {f.dossier_id for f in flags} == {dossier.id} and len(flags) == 3
    assert service.flags_for_committee(committee("CSIC-TECH")) == []
    meeting = make_committee_meeting("COMITE-INVEST-FTAP")
    assert meetings.followup_candidates(meeting) == flags
    item = meetings.add_item(
        meeting,
        kind="suivi",
        dossier_id=dossier.id,
        followup_flags=[f.text for f in flags],
        actor=secretariat,
    )
    assert item.title == f"Revue de suivi — dossier {dossier.reference}" and len(item.followup_flags) == 3
    assert service.flags_for_committee(committee("COMITE-INVEST-FTAP")) == []


def test_the_clawback_hypotheses_of_section_8_are_flagged(secretariat, make_user):
    """[000] §8 « Le contrat prendra fin, et les fonds repris »: no consumption in six months (above), the CP
    sequence not respected (yearly and at a jalon translated into a budget milestone, §5.2), no progress for
    a significant time; the flags reach the deciding committee's agenda proposals."""
    from tests.factories import make_followed_dossier

    porteur = make_user("porteur")
    last_year = paris_today().year - 1
    jalon = Jalon(
        number=1,
        due_on=date(last_year, 6, 30),
        description="Recette",
        ae_planned=300_000,
        cp_planned=200_000,
    )
    dossier = make_followed_dossier(
        porteur,
        amounts={last_year: (600_000, 400_000)},
        signed_days_ago=400,
        jalons=[jalon],
        starts_on=date(last_year, 1, 1),
        ends_on=date(last_year + 2, 12, 31),
    )
    service.report_consumption(dossier, year=last_year, ae="320 000", cp="100 000", actor=porteur)
    flags = {f.kind: f.text for f in service.followup(dossier).flags}
    assert {"cp_sequence", "budget_lag", "no_progress"} <= set(flags)
    assert (
        "séquence de CP prévue au contrat non respectée (000_fdd5893ed6c59cba.txt §8)" in flags["cp_sequence"]
    )
    assert "jalon de consommation budgétaire (000_fdd5893ed6c59cba.txt §5.2)" in flags["budget_lag"]
    assert "« la non-avancée du projet durant une période de temps significatif »" in flags["no_progress"]
    milestone = service.followup(dossier).milestones[jalon.id]
    assert (milestone.ae_lagging, milestone.cp_lagging) == (False, True)
    committee_flags = service.flags_for_committee(committee("COMITE-INVEST-FTAP"))
    assert {f.kind for f in committee_flags} >= {"cp_sequence", "budget_lag", "no_progress"}
    # consumption caught up and the jalon reached: the three go
    service.report_consumption(dossier, year=last_year, ae="600 000", cp="380 000", actor=porteur)
    service.report_jalon(
        dossier,
        jalon_id=jalon.id,
        achieved_on=paris_today().isoformat(),
        proof="PV de recette",
        actor=porteur,
    )
    kinds = {f.kind for f in service.followup(dossier).flags}
    assert not kinds & {"cp_sequence", "budget_lag", "no_progress"}


def test_the_followups_of_many_dossiers_read_at_once_are_those_read_one_by_one(secretariat, make_user):
    """services.followup.followups (the meeting page's « Alertes de suivi », the hourly job) gives each
    dossier the follow-up that followup() reads for it alone, savings aside: late jalon, missing indicator,
    no credit consumed, CP sequence and budget milestone, no progress, nothing."""
    from app.models import Dossier
    from tests.factories import make_followed_dossier

    porteur = make_user("porteur")
    last_year = paris_today().year - 1
    late = _followed_dossier(
        porteur, signed_days_ago=400, secretariat=secretariat
    )  # jalon, indicator, credits
    recent = _followed_dossier(porteur, signed_days_ago=100, secretariat=secretariat)  # a late jalon only
    lagging = make_followed_dossier(
        porteur,
        amounts={last_year: (600_000, 400_000), last_year + 1: (100_000, 100_000)},
        signed_days_ago=400,
        jalons=[
            Jalon(
                number=1,
                due_on=date(last_year, 6, 30),
                description="Recette",
                ae_planned=300_000,
                cp_planned=200_000,
            )
        ],
        starts_on=date(last_year, 1, 1),
        ends_on=date(last_year + 2, 12, 31),
    )
    service.report_consumption(lagging, year=last_year, ae="320 000", cp="100 000", actor=porteur)
    up_to_date = make_followed_dossier(porteur, signed_days_ago=10)  # nothing to flag
    service.report_jalon_late(
        recent,
        jalon_id=recent.jalons[1].id,
        new_due_on=(paris_today() + timedelta(days=90)).isoformat(),
        reason="Fournisseur en retard",
        actor=porteur,
    )
    db.session.commit()
    dossiers = [late, recent, lagging, up_to_date]
    one_by_one = {d.id: service.followup(d) for d in dossiers}
    db.session.expire_all()
    loaded = db.session.scalars(
        select(Dossier)
        .where(Dossier.id.in_([d.id for d in dossiers]))
        .options(*service.FOLLOWUP_LOADING)
        .order_by(Dossier.id)
    ).unique()
    at_once = service.followups(list(loaded))
    assert list(at_once) == [d.id for d in dossiers]
    kinds = {id_: [f.kind for f in follow.flags] for id_, follow in at_once.items()}
    assert kinds == {
        late.id: ["jalon_late", "indicator_missing", "credits_not_consumed"],
        recent.id: ["jalon_late", "jalon_late"],
        lagging.id: ["jalon_late", "cp_sequence", "budget_lag", "no_progress"],
        up_to_date.id: [],
    }
    for id_, follow in one_by_one.items():
        batch = at_once[id_]
        assert batch.flags == follow.flags
        assert (batch.signed_on, batch.consumption, batch.milestones) == (
            follow.signed_on,
            follow.consumption,
            follow.milestones,
        )
        assert [(j.id, r and r.id, s) for j, r, s in batch.jalons] == [
            (j.id, r and r.id, s) for j, r, s in follow.jalons
        ]
        assert [j.id for j in batch.late] == [j.id for j in follow.late]
        assert [(w, r.id, d) for w, r, d in batch.to_review] == [(w, r.id, d) for w, r, d in follow.to_review]
        assert batch.targets == follow.targets and batch.charts == follow.charts
    assert service.followups([]) == {}
