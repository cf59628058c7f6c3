"""The contract's remaining figures ([000] annex II, [001] §3 and §5.2, [004] §3): savings in AE and CP,
additional revenue beside (never inside) the ROI, at least two result indicators on FTAP guichets."""

from app.domain.dossier_figures import Contents, Rules, completeness, figures
from tests.factories import HUB_SAVINGS

SECTIONS = [
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
    "signataires",
    "pieces",
]


def _hub(revenues=()):
    # [001] §2: the FTAP line, 1 275 000 € of AE in 2020 (CP 637 500 in 2020 and 2021)
    from app.domain.dossier_figures import FinancingRow

    return figures(
        years=[2019, 2020, 2021, 2022],
        financing=[FinancingRow("FTAP", "FTAP", True, {2020: (1_275_000, 637_500), 2021: (0, 637_500)})],
        savings_years=list(range(2019, 2026)),
        # [001] §3 « AE CP »: 638 638 1275 1275 1275 1275 (k€), the same figure in AE and CP each year
        savings=[(n, {y: (v, v) for y, v in amounts.items()}) for n, amounts in HUB_SAVINGS],
        staff=[],
        revenues=revenues,
    )


def test_hub_savings_table_gives_the_same_ae_and_cp_by_year():
    fig = _hub()
    assert [fig.savings_by_year[y] for y in (2022, 2023, 2024)] == [638_000, 1_275_000, 1_275_000]
    assert [fig.savings_cp_by_year[y] for y in (2022, 2023, 2024)] == [638_000, 1_275_000, 1_275_000]
    assert fig.savings_total == fig.savings_cp_total == 3_188_000
    assert fig.roi_years == [2022, 2023, 2024] and fig.roi_cents == 250  # 3 188 000 / 1 275 000


def test_cp_of_savings_may_differ_from_ae_and_the_roi_counts_the_ae():
    fig = figures(
        years=[2026],
        financing=[],
        savings_years=[2026, 2027],
        savings=[("Licences", {2026: (100_000, 40_000), 2027: (0, 60_000)})],
        staff=[(2027, 2, 50_000)],  # T2: counted in AE and CP alike
    )
    assert fig.savings_by_year == {2026: 100_000, 2027: 100_000}
    assert fig.savings_cp_by_year == {2026: 40_000, 2027: 160_000}
    assert fig.savings_cp[0] == ({2026: 40_000, 2027: 60_000}, 100_000)


def test_additional_revenue_is_summed_by_year_but_stays_out_of_the_roi():
    """[004] §3: « un euro d'économies pérennes au bout de trois ans pour chaque euro investi »."""
    fig = _hub(revenues=[("Abonnements des partenaires", {2022: 100_000, 2023: 250_000})])
    assert fig.revenues_by_year[2023] == 250_000 and fig.revenues_total == 350_000
    assert fig.roi_savings == 3_188_000 and fig.roi_cents == 250


def test_ftap_guichets_need_two_result_indicators_france_relance_does_not():
    """[001] §5.2: « remplir le tableau ci-dessous avec au moins deux indicateurs de résultat »."""
    one = Contents(indicators=1)
    ftap = completeness(one, Rules(), SECTIONS)["indicateurs"]
    assert ftap == ["au moins deux indicateurs de résultat (001_2adfa08b7d751e30.txt §5.2)"]
    assert completeness(Contents(indicators=2), Rules(), SECTIONS)["indicateurs"] == []
    assert completeness(one, Rules(fund="France Relance"), SECTIONS)["indicateurs"] == []
    assert completeness(Contents(), Rules(fund="France Relance"), SECTIONS)["indicateurs"] == [
        "au moins un indicateur"
    ]
