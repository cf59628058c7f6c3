"""Dossier figures and eligibility checks as pure rules: values in, values out, no database."""

from datetime import UTC, datetime

from app.domain.dossier_figures import (
    Check,
    Contents,
    FinancingRow,
    RuleItem,
    Rules,
    blocking,
    checks,
    completeness,
    figures,
)

YEARS = [2026, 2027, 2028, 2029]
SAVINGS_YEARS = list(range(2026, 2033))
KEYS = [
    "projet",
    "porteurs",
    "enjeu",
    "solution",
    "financement",
    "beneficiaires",
    "indicateurs",
    "economies",
    "jalons",
    "gouvernance",
    "pieces",
]
LABELS = {key: key.capitalize() for key in KEYS}
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _figures(ftap=(600_000, 500_000), porteur=(600_000, 600_000), savings=None, staff=()):
    return figures(
        years=YEARS,
        financing=[
            FinancingRow("ftap line", "dont financement FTAP", True, {2026: ftap}),
            FinancingRow("porteur line", "dont financement porteur (DINUM)", False, {2027: porteur}),
        ],
        savings_years=SAVINGS_YEARS,
        savings=[("savings line", savings or {2027: 100_000, 2028: 400_000})],
        staff=staff,
    )


def test_totals_by_line_year_and_financer():
    fig = _figures()
    assert (fig.total_ae, fig.total_cp) == (1_200_000, 1_100_000)
    assert fig.year_totals == {2026: (600_000, 500_000), 2027: (600_000, 600_000), 2028: (0, 0), 2029: (0, 0)}
    assert [(lf.line, lf.ae, lf.cp) for lf in fig.lines] == [
        ("ftap line", 600_000, 500_000),
        ("porteur line", 600_000, 600_000),
    ]
    assert [(label, ae, cp) for label, _, ae, cp in fig.financers] == [
        ("dont financement FTAP", 600_000, 500_000),
        ("dont financement porteur (DINUM)", 600_000, 600_000),
    ]
    assert (fig.ftap_ae, fig.ftap_cp, fig.ftap_share_pct) == (600_000, 500_000, 50.0)


def test_roi_counts_three_years_after_the_last_ftap_year_with_the_staff_helper():
    fig = _figures(staff=[(2029, 2, 50_000)])
    assert fig.staff[2029] == 100_000
    assert fig.roi_years == [2027, 2028, 2029]
    assert fig.roi_savings == 100_000 + 400_000 + 100_000
    assert fig.roi_cents == 100  # 600 000 of savings for 600 000 funded: 1 € per €
    assert fig.savings_total == 600_000


def test_no_ftap_no_share_no_roi():
    fig = figures(years=YEARS, financing=[], savings_years=SAVINGS_YEARS, savings=[], staff=[])
    assert (fig.ftap_share_pct, fig.roi_cents, fig.roi_years) == (None, None, [])


def test_completeness_lists_what_each_section_misses():
    missing = completeness(
        Contents(title="Projet"), Rules(roi_min_cents=100, required_attachments=["Note"]), KEYS
    )
    assert missing["projet"] == ["dates de début et de fin"]
    assert missing["economies"] == [
        "économies prévisionnelles (le guichet fixe un retour sur investissement)"
    ]
    assert missing["pieces"] == ["Note"]
    full = Contents(
        title="P",
        has_dates=True,
        has_porteur=True,
        has_porteur_projet_referent=True,
        enjeu="e",
        solution="s",
        financing_lines=1,
        beneficiaries=1,
        indicators=2,
        has_savings=True,
        jalons=1,
        gouvernance="g",
        attachment_kinds=frozenset({"Note"}),
    )
    assert not any(completeness(full, Rules(roi_min_cents=100, required_attachments=["Note"]), KEYS).values())


def test_completeness_of_some_sections_only():
    """A step page asks for the sections it shows: only those come back, the others' contents unread."""
    missing = completeness(
        Contents(beneficiaries=1), Rules(fund="France Relance"), ["beneficiaires", "indicateurs"]
    )
    assert missing == {"beneficiaires": [], "indicateurs": ["au moins un indicateur"]}


LEAN = [
    RuleItem("max_total", "blocking", "Montant total inférieur à 2 M€", "004 §4.3"),
    RuleItem("cofinancing_present", "blocking", "Cofinancement par le porteur", "004 §4.3"),
    RuleItem("cofinancing_share", "criterion", "Part du cofinancement", "004 §2"),
]


def _lean(fig, **contents):
    return checks(
        fig=fig,
        rules=Rules(mode="x", max_total_amount=2_000_000, min_cofinancing_pct=50, items=LEAN),
        missing={},
        section_labels=LABELS,
        indicators=2,
        draft=False,
        now=NOW,
        contents=Contents(**contents),
    )


def test_lean_70_30_is_not_blocked_and_shows_its_share_as_a_criterion():
    """[004] §2: co-financing « à hauteur de 50 % paraît pertinent », a selection criterion, not a minimum."""
    fig = _figures(ftap=(1_050_000, 1_050_000), porteur=(450_000, 450_000))
    verdicts = _lean(fig)
    assert blocking(verdicts) == []
    share = next(c for c in verdicts if c.message.startswith("part de cofinancement"))
    assert share.level == "criterion" and share.label == "Critère" and share.source == "004 §2"
    assert share.message.startswith(
        "part de cofinancement 30\u00a0% (450\u202f000\u00a0€ sur 1\u202f500\u202f000"
    )
    assert "référence 50\u00a0%" in share.message
    assert verdicts[0].message.startswith("part FTAP 70\u00a0%")


def test_lean_cap_is_strict_and_cofinancing_must_be_present():
    """[004] §4.3: « est inférieur à 2 M€ »; « font l'objet d'un cofinancement »."""
    exactly = _lean(_figures(ftap=(1_000_000, 1_000_000), porteur=(1_000_000, 1_000_000)))
    cap = next(c for c in exactly if c.message.startswith("montant total"))
    assert cap.level == "error" and cap.source == "004 §4.3"
    assert cap.message.startswith("montant total 2\u202f000\u202f000\u00a0€ ≥ 2\u202f000\u202f000\u00a0€")
    below = _lean(_figures(ftap=(999_999, 999_999), porteur=(1_000_000, 1_000_000)))
    assert blocking(below) == []
    alone = _lean(_figures(ftap=(500_000, 500_000), porteur=(0, 0)))
    assert [c.message.split(" —")[0] for c in blocking(alone)] == ["cofinancement par le porteur : 0\u00a0€"]


def test_numeric_parameters_without_rows_take_their_default_kinds():
    fig = _figures()
    verdicts = checks(
        fig=fig,
        rules=Rules(mode="x", max_total_amount=1_000_000, min_cofinancing_pct=60),
        missing={},
        section_labels=LABELS,
        indicators=2,
        draft=False,
        now=NOW,
    )
    assert [c.level for c in verdicts] == ["ok", "error", "criterion"]
    assert blocking(verdicts) == verdicts[1:2]


def test_france_relance_wording_and_declarations():
    rule = RuleItem("declaration", "blocking", "Pas d'équipements terminaux", "003 §2", id=7)
    rules = Rules(mode="x", items=[rule], fund="France Relance")
    args = dict(fig=_figures(), missing={}, section_labels=LABELS, indicators=2, draft=False, now=NOW)
    undeclared = checks(rules=rules, **args)
    assert undeclared[0].message.startswith("part France Relance 50\u00a0%")
    assert not any("FTAP" in c.message for c in undeclared)
    assert [c.source for c in blocking(undeclared)] == ["003 §2"]
    declared = checks(rules=rules, contents=Contents(declared=frozenset({7})), **args)
    assert blocking(declared) == []


def test_roi_below_target_is_a_warning_that_names_the_derogation():
    fig = _figures(ftap=(100_000, 100_000), porteur=(0, 0), savings={2027: 10_000})
    rules = Rules(mode="x", roi_min_cents=100)
    args = dict(fig=fig, rules=rules, missing={}, section_labels=LABELS, indicators=2, draft=False, now=NOW)
    roi = next(c for c in checks(**args) if c.message.startswith("retour"))
    assert roi.level == "warning" and "une dérogation exceptionnelle peut être demandée" in roi.message
    asked = checks(contents=Contents(roi_derogation="Portefeuille globalement conforme"), **args)
    roi = next(c for c in asked if c.message.startswith("retour"))
    assert roi.level == "warning" and roi.message.endswith(
        "dérogation demandée : Portefeuille globalement conforme"
    )


def test_cp_paying_next_year_what_ae_committed_is_no_warning():
    """The contracts' own profile ([000] §3: AE 3 M€ in N, CP 2 M€ in N and 1 M€ in N+1)."""
    fig = figures(
        years=YEARS,
        financing=[
            FinancingRow(
                "l", "dont financement FTAP", True, {2026: (3_000_000, 2_000_000), 2027: (0, 1_000_000)}
            )
        ],
        savings_years=SAVINGS_YEARS,
        savings=[],
        staff=(),
    )
    verdicts = checks(
        fig=fig, rules=Rules(mode="x"), missing={}, section_labels=LABELS, indicators=2, draft=False, now=NOW
    )
    assert not any(c.message.startswith("CP") for c in verdicts)


def test_guichet_calendar_only_matters_for_a_draft():
    rules = Rules(mode="appel_a_projets", closes_at=datetime(2026, 2, 1, tzinfo=UTC))
    fig = _figures()
    draft = checks(fig=fig, rules=rules, missing={}, section_labels=LABELS, indicators=2, draft=True, now=NOW)
    assert draft[0].level == "error" and draft[0].message.startswith(
        "L'appel à projets est clos depuis le 1er"
    )
    deposited = checks(
        fig=fig, rules=rules, missing={}, section_labels=LABELS, indicators=2, draft=False, now=NOW
    )
    assert not any(c.section == "projet" for c in deposited)
    closed = checks(
        fig=fig, rules=Rules(), missing={}, section_labels=LABELS, indicators=2, draft=True, now=NOW
    )
    assert closed[0] == Check("error", "Ce guichet ne reçoit pas de dossiers.", "projet")


def test_cp_above_ae_roi_warning_one_indicator_and_completeness_verdicts():
    fig = _figures(ftap=(100_000, 300_000), porteur=(0, 0), savings={2027: 10_000})
    verdicts = checks(
        fig=fig,
        rules=Rules(mode="x", roi_min_cents=100, fund="France Relance"),  # FTAP: a missing content
        missing={"jalons": ["au moins un jalon"]},
        section_labels=LABELS,
        indicators=1,
        draft=False,
        now=NOW,
    )
    messages = [c.message for c in verdicts]
    assert any(
        m.startswith("retour sur investissement à 3 ans : 0,10\u00a0€ par € investi, minimum 1\u00a0€")
        for m in messages
    )
    assert any(
        m.startswith("CP cumulés > AE cumulés fin 2026 (300\u202f000\u00a0€ de CP pour 100") for m in messages
    )
    assert verdicts[-3].level == "error" and verdicts[-3].message.startswith(
        "CP (300\u202f000\u00a0€) supérieurs aux AE"
    )
    assert verdicts[-2] == Check(
        "warning", "un seul indicateur : au moins deux indicateurs de résultat sont attendus", "indicateurs"
    )
    assert verdicts[-1] == Check(
        "error", "Jalons : à compléter (au moins un jalon)", "jalons", kind="completeness"
    )
