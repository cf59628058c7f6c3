"""Quorum and majority rules (app/domain/rules.py), computed by hand: no database."""

import pytest

from app.domain import rules
from app.domain.rules import MajorityRule, QuorumRule


@pytest.mark.parametrize(
    "rule, members, expected",
    [
        (QuorumRule.MOITIE, 4, 2),
        (QuorumRule.MOITIE, 5, 3),
        (QuorumRule.MAJORITE, 4, 3),
        (QuorumRule.MAJORITE, 5, 3),
        (QuorumRule.TIERS, 7, 3),
        (QuorumRule.DEUX_TIERS, 7, 5),
        (QuorumRule.DEUX_TIERS, 6, 4),
        (QuorumRule.AUCUN, 9, 1),
    ],
)
def test_quorum_required_by_rule(rule, members, expected):
    assert rule.required(members) == expected


def test_quorum_counts_proxies_only_when_the_committee_says_so():
    with_proxies = rules.compute_quorum(QuorumRule.MOITIE, 5, present=2, represented=1, proxies_count=True)
    without = rules.compute_quorum(QuorumRule.MOITIE, 5, present=2, represented=1, proxies_count=False)
    assert (with_proxies.counted, with_proxies.required, with_proxies.reached) == (3, 3, True)
    assert (without.counted, without.reached) == (2, False)
    assert without.text.startswith(
        "Quorum non atteint — 2 membre(s) votant(s) présent(s) et 1 représenté(s) sur 5"
    )


@pytest.mark.parametrize(
    "rule, pour, contre, abst, participants, casting, president, adopted",
    [
        # simple: more pour than contre, abstentions ignored
        (MajorityRule.SIMPLE, 3, 2, 4, 9, False, None, True),
        (MajorityRule.SIMPLE, 2, 2, 1, 5, False, "pour", False),  # tie without casting vote
        (MajorityRule.SIMPLE, 2, 2, 1, 5, True, "pour", True),  # président breaks the tie
        (MajorityRule.SIMPLE, 2, 2, 1, 5, True, "contre", False),
        (
            MajorityRule.SIMPLE,
            2,
            2,
            1,
            5,
            True,
            "abstention",
            False,
        ),  # an abstaining président has no casting vote
        (MajorityRule.SIMPLE, 0, 0, 3, 3, True, "abstention", False),  # nobody expressed a vote
        # absolute: pour > half of the participants (abstentions weigh against)
        (MajorityRule.ABSOLUE, 3, 1, 2, 6, True, "pour", False),  # 3 of 6 is not more than half
        (MajorityRule.ABSOLUE, 4, 1, 1, 6, False, None, True),
        (MajorityRule.ABSOLUE, 3, 3, 0, 6, True, "pour", True),  # exact tie, casting vote
        (MajorityRule.ABSOLUE, 3, 3, 0, 6, False, "pour", False),
        # two thirds of pour + contre
        (MajorityRule.DEUX_TIERS, 4, 2, 5, 11, True, "pour", True),  # 4 ≥ 2/3 × 6
        (MajorityRule.DEUX_TIERS, 5, 3, 0, 8, True, "pour", False),  # 5 < 2/3 × 8 (needs 6), no casting vote
        (MajorityRule.DEUX_TIERS, 0, 0, 2, 2, False, None, False),
    ],
)
def test_majority_verdicts(rule, pour, contre, abst, participants, casting, president, adopted):
    verdict = rules.majority_verdict(
        rule,
        pour=pour,
        contre=contre,
        abstention=abst,
        participants=participants,
        casting_vote=casting,
        president_choice=president,
    )
    assert verdict.adopted is adopted
    assert verdict.text.startswith(rule.short)
    assert f"{pour} pour, {contre} contre" in verdict.text


def test_verdict_text_names_the_rule_and_the_casting_vote():
    verdict = rules.majority_verdict(
        MajorityRule.SIMPLE,
        pour=2,
        contre=2,
        abstention=0,
        participants=4,
        casting_vote=True,
        president_choice="pour",
    )
    assert verdict.text == (
        "Majorité simple : 2 pour, 2 contre, 0 abstention(s) — partage égal des voix (2 = 2), "
        "voix prépondérante du président (pour) : adopté."
    )
