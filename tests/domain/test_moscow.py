"""MoSCoW statistics, hand-computed: pure functions, no database."""

import pytest

from app.domain import moscow
from app.domain.moscow import Moscow

M, S, C, W = Moscow.MUST, Moscow.SHOULD, Moscow.COULD, Moscow.WONT


def counts(must=0, should=0, could=0, wont=0):
    return {M: must, S: should, C: could, W: wont}


# --- arithmetic, hand-computed ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("distribution", "expected"),
    [
        (counts(), None),
        (counts(must=1), M),
        (counts(must=1, wont=1), W),  # W, M → even: lower of the two middles
        (counts(must=1, should=1, could=1, wont=1), C),  # W, C, S, M → C
        (counts(must=2, should=1), M),  # S, M, M → M
        (counts(must=2, wont=2), W),  # W, W, M, M → W
        (counts(must=3, could=2, wont=2), C),  # W, W, C, C, M, M, M → 4th = C
        (counts(must=5, could=2), M),  # C, C, M, M, M, M, M → 4th = M
        (counts(should=2, could=1, wont=1), C),  # W, C, S, S → 2nd = C
    ],
)
def test_majority_median_takes_the_lower_middle_vote(distribution, expected):
    assert moscow.majority_median(distribution) == expected


def test_dispersion_is_the_interquartile_distance_in_classes():
    assert moscow.dispersion(counts()) == 0
    assert moscow.dispersion(counts(must=4)) == 0
    # W, C, S, M: Q1 = 1st vote (W), Q3 = 3rd vote (S) → 3 − 1 = 2 classes
    assert moscow.dispersion(counts(must=1, should=1, could=1, wont=1)) == 2
    # W, M, M, M, M, M, M, M (n = 8): Q1 = 2nd vote (M), Q3 = 6th (M) → 0: one outlier does not count
    assert moscow.dispersion(counts(must=7, wont=1)) == 0
    # W, W, M, M: Q1 = 1st (W), Q3 = 3rd (M) → 3
    assert moscow.dispersion(counts(must=2, wont=2)) == 3


def test_modal_share_and_share_at_or_above_the_median():
    distribution = counts(must=2, should=1, could=1)
    assert moscow.modal_share(distribution) == 0.5
    assert moscow.majority_median(distribution) == S  # C, S, M, M → 2nd = S
    assert moscow.share_at_or_above(distribution, S) == 0.75  # S, M, M out of 4
    assert moscow.modal_share(counts()) == 0.0


def test_median_of_ministry_medians():
    assert moscow.median_of([M, C, C]) == C
    assert moscow.median_of([M, S]) == S
    assert moscow.median_of([]) is None


def test_ranking_orders_by_median_then_share_at_or_above_then_code():
    a = counts(must=1, should=1, could=1)  # median S, at or above 2/3
    b = counts(must=2, could=1)  # median M, 2/3
    c = counts(should=3)  # median S, 3/3
    d = counts()  # no vote
    ranked = sorted(
        [("A", a, 1), ("B", b, 2), ("C", c, 3), ("D", d, 0)],
        key=lambda r: moscow.rank_key(moscow.majority_median(r[1]), r[1], r[2]),
    )
    assert [r[0] for r in ranked] == ["B", "C", "A", "D"]


def test_ministry_medians_leave_out_voters_without_a_ministry():
    by_ministry = {(1, 10): counts(must=2, wont=1), (1, 11): counts(could=1), (1, None): counts(wont=5)}
    assert moscow.ministry_medians(by_ministry) == {1: {10: M, 11: C}}


def test_totals_percentages_and_empty_distribution():
    assert moscow.total(counts(must=1, should=2, could=3, wont=4)) == 10
    assert moscow.empty() == counts()
    assert moscow.percent(1, 3) == 33 and moscow.percent(2, 0) == 0
    assert moscow.distribution_totals([counts(must=1), counts(must=2, wont=1)]) == counts(must=3, wont=1)
    assert moscow.share_at_or_above(counts(), M) == 0.0
    assert moscow.share_at_or_above(counts(must=1), None) == 0.0
