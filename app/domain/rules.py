"""Deliberation rules of a committee: the quorum of a meeting and the majority verdict of a vote.

Plain values in, values out (no database): the services count the members and the votes, these rules decide.
"""

import enum
from dataclasses import dataclass


class QuorumRule(enum.StrEnum):
    AUCUN = "aucun"
    TIERS = "tiers"
    MOITIE = "moitie"
    MAJORITE = "majorite"
    DEUX_TIERS = "deux_tiers"

    @property
    def label(self) -> str:
        return {
            "aucun": "Aucun quorum (au moins un membre votant présent)",
            "tiers": "Au moins un tiers des membres votants",
            "moitie": "Au moins la moitié des membres votants",
            "majorite": "Plus de la moitié des membres votants",
            "deux_tiers": "Au moins deux tiers des membres votants",
        }[self.value]

    def required(self, voting_members: int) -> int:
        """Smallest number of voting members present (or represented) that reaches the quorum."""
        n = voting_members
        if n <= 0:
            return 1
        return {
            "aucun": 1,
            "tiers": -(-n // 3),
            "moitie": -(-n // 2),
            "majorite": n // 2 + 1,
            "deux_tiers": -(-2 * n // 3),
        }[self.value]


class MajorityRule(enum.StrEnum):
    SIMPLE = "simple"
    ABSOLUE = "absolue"
    DEUX_TIERS = "deux_tiers"

    @property
    def label(self) -> str:
        return {
            "simple": "Majorité simple (plus de voix pour que contre, abstentions non comptées)",
            "absolue": "Majorité absolue (plus de la moitié des membres votants présents ou représentés)",
            "deux_tiers": "Majorité des deux tiers des suffrages exprimés (pour + contre)",
        }[self.value]

    @property
    def short(self) -> str:
        return {
            "simple": "Majorité simple",
            "absolue": "Majorité absolue",
            "deux_tiers": "Majorité des deux tiers",
        }[self.value]


class VoteChoice(enum.StrEnum):
    POUR = "pour"
    CONTRE = "contre"
    ABSTENTION = "abstention"

    @property
    def label(self) -> str:
        return {"pour": "Pour", "contre": "Contre", "abstention": "Abstention"}[self.value]


@dataclass(frozen=True)
class Quorum:
    voting_members: int
    present: int
    represented: int
    counted: int
    required: int
    rule: QuorumRule
    proxies_count: bool

    @property
    def reached(self) -> bool:
        return self.voting_members > 0 and self.counted >= self.required

    @property
    def text(self) -> str:
        base = (
            f"{self.present} membre(s) votant(s) présent(s)"
            + (f" et {self.represented} représenté(s)" if self.represented else "")
            + f" sur {self.voting_members} ; quorum requis : {self.required}"
            + (" (mandats comptés)" if self.proxies_count else " (mandats non comptés)")
        )
        return ("Quorum atteint — " if self.reached else "Quorum non atteint — ") + base


def compute_quorum(
    rule: QuorumRule, voting_members: int, present: int, represented: int, proxies_count: bool
) -> Quorum:
    counted = present + (represented if proxies_count else 0)
    return Quorum(
        voting_members, present, represented, counted, rule.required(voting_members), rule, proxies_count
    )


@dataclass(frozen=True)
class Verdict:
    adopted: bool
    text: str


def majority_verdict(
    rule: MajorityRule,
    *,
    pour: int,
    contre: int,
    abstention: int,
    participants: int,
    casting_vote: bool = False,
    president_choice: str | None = None,
) -> Verdict:
    """Apply the committee's majority rule to a tally; `participants` = voting members present or represented.

    simple: more pour than contre (abstentions not counted); absolue: pour > participants / 2;
    deux_tiers: pour ≥ 2/3 of pour + contre. On an exact tie (pour = contre, and for the absolute rule
    pour = participants / 2) the président's vote decides when the committee gives it a casting vote.
    """
    counts = f"{pour} pour, {contre} contre, {abstention} abstention(s)"
    casting = casting_vote and president_choice in (VoteChoice.POUR, VoteChoice.CONTRE)

    def tie(condition: str) -> Verdict:
        if casting:
            adopted = president_choice == VoteChoice.POUR
            return Verdict(
                adopted,
                f"{rule.short} : {counts} — partage égal des voix ({condition}), voix "
                f"prépondérante du président ({president_choice}) : "
                + ("adopté." if adopted else "non adopté."),
            )
        return Verdict(
            False,
            f"{rule.short} : {counts} — partage égal des voix ({condition}), sans voix "
            "prépondérante : non adopté.",
        )

    if rule is MajorityRule.SIMPLE:
        if pour == contre:
            if pour == 0:
                return Verdict(False, f"{rule.short} : {counts} — aucun suffrage exprimé : non adopté.")
            return tie(f"{pour} = {contre}")
        adopted = pour > contre
        sign = ">" if adopted else "≤"
        return Verdict(
            adopted,
            f"{rule.short} : {counts} — {pour} {sign} {contre} : "
            + ("adopté." if adopted else "non adopté."),
        )
    if rule is MajorityRule.ABSOLUE:
        needed = participants // 2 + 1
        if pour == contre and pour * 2 == participants and pour > 0:
            return tie(f"{pour} = {contre} sur {participants}")
        adopted = pour >= needed
        return Verdict(
            adopted,
            f"{rule.short} : {counts} — {pour} voix pour, {needed} requises sur "
            f"{participants} membres votants présents ou représentés : "
            + ("adopté." if adopted else "non adopté."),
        )
    exprimes = pour + contre
    adopted = exprimes > 0 and 3 * pour >= 2 * exprimes
    needed = -(-2 * exprimes // 3)
    return Verdict(
        adopted,
        f"{rule.short} : {counts} — {pour} voix pour, {needed} requises sur {exprimes} "
        "suffrages exprimés : " + ("adopté." if adopted else "non adopté."),
    )
