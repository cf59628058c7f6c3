"""MoSCoW statistics: pure functions on the four counts of a distribution {class: count}.

No database session: values in, values out, so each rule can be checked by hand (tests/domain/test_moscow.py).
The services freeze the results with them at a campaign's close; the queries, the pages and the exports
show what they computed.
"""

import enum


class Moscow(enum.StrEnum):
    MUST = "must"
    SHOULD = "should"
    COULD = "could"
    WONT = "wont"

    @property
    def label(self) -> str:
        return {"must": "Must", "should": "Should", "could": "Could", "wont": "Won't"}[self.value]

    @property
    def badge(self) -> str:
        """DSFR badge modifier class for this priority."""
        return {
            "must": "fr-badge--error",
            "should": "fr-badge--warning",
            "could": "fr-badge--info",
            "wont": "",
        }[self.value]


# Ordered scale, best first; the rank is used by the median and the dispersion (Won't = 1 … Must = 4).
SCALE = [Moscow.MUST, Moscow.SHOULD, Moscow.COULD, Moscow.WONT]
ASCENDING = [Moscow.WONT, Moscow.COULD, Moscow.SHOULD, Moscow.MUST]  # worst first
RANK = {Moscow.WONT: 1, Moscow.COULD: 2, Moscow.SHOULD: 3, Moscow.MUST: 4}

Counts = dict[Moscow, int]


def empty() -> Counts:
    return dict.fromkeys(ASCENDING, 0)


def total(counts: Counts) -> int:
    return sum(counts.get(m, 0) for m in ASCENDING)


def nth_ascending(counts: Counts, position: int) -> Moscow:
    """The class of the vote at `position` (1-based) when the votes are sorted from Won't up to Must."""
    seen = 0
    for value in ASCENDING:
        seen += counts.get(value, 0)
        if position <= seen:
            return value
    raise ValueError("position beyond the number of votes")


def majority_median(counts: Counts) -> Moscow | None:
    """Majority judgment's median class: with n votes sorted from Won't up to Must, the vote at position
    ⌈n/2⌉; for an even n that is the LOWER of the two middle votes (the class that at least half of the
    voters give or exceed and at least half give or go below). No votes → None."""
    n = total(counts)
    return nth_ascending(counts, (n + 1) // 2) if n else None


def median_of(values: list[Moscow]) -> Moscow | None:
    """Lower median of a list of classes (same rule as majority_median)."""
    counts = empty()
    for value in values:
        counts[value] += 1
    return majority_median(counts)


def modal_share(counts: Counts) -> float:
    """Share of the most frequent class (1.0 = unanimity)."""
    n = total(counts)
    return max(counts.get(m, 0) for m in ASCENDING) / n if n else 0.0


def dispersion(counts: Counts) -> int:
    """Interquartile distance in classes (0 … 3): Q3 − Q1, quartiles by nearest rank on the ascending
    order (Q1 = vote at position ⌈n/4⌉, Q3 = vote at position ⌈3n/4⌉)."""
    n = total(counts)
    if not n:
        return 0
    q1 = nth_ascending(counts, -(-n // 4))
    q3 = nth_ascending(counts, -(-3 * n // 4))
    return RANK[q3] - RANK[q1]


def share_at_or_above(counts: Counts, value: Moscow | None) -> float:
    """Share of the votes at or above `value` (the consensus around the median)."""
    n = total(counts)
    if not n or value is None:
        return 0.0
    return sum(counts.get(m, 0) for m in ASCENDING if RANK[m] >= RANK[value]) / n


def percent(count: int, of: int) -> int:
    """Rounded percentage, 0 when there is nothing to divide."""
    return round(100 * count / of) if of else 0


def rank_key(median: Moscow | None, counts: Counts, number: int) -> tuple:
    """Ranked list order: median class (Must first), then share of votes at or above it, then code."""
    return (-(RANK[median] if median else 0), -share_at_or_above(counts, median), number)


def ministry_medians(by_ministry: dict[tuple[int, int | None], Counts]) -> dict[int, dict[int, Moscow]]:
    """{opportunity: {ministry: median class of that ministry's voters}}; voters without a ministry are left
    out."""
    medians: dict[int, dict[int, Moscow]] = {}
    for (opportunity_id, organisation_id), counts in by_ministry.items():
        if organisation_id is not None:
            medians.setdefault(opportunity_id, {})[organisation_id] = majority_median(counts)
    return medians


def distribution_totals(distributions: list[Counts]) -> Counts:
    """The sum of several distributions, class by class."""
    summed = empty()
    for counts in distributions:
        for value in ASCENDING:
            summed[value] += counts.get(value, 0)
    return summed
