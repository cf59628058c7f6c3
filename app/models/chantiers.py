"""The 2018 strategy's programmes and chantiers (`docs/sources/002_…txt` §2–5): programme →
chantiers → actions.

A programme is a top-level section of the strategy (2 « Quatre programmes prioritaires », 3 « Six chantiers
complémentaires », 4 the mutualisation policy, 5 the accompaniment); a chantier one of its sub-sections
(2.1 FranceConnect-Plateforme…), or the section itself where it has none (4, 5). Each chantier keeps its
« visée stratégique (2022) » as the document writes it, its portage, cost, duration and MoSCoW class at the
chantier's level — « non précisé » where the document gives them only per action (`data/chantiers.csv`).
"""

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.moscow import Moscow
from ..extensions import db

NOT_GIVEN = "non précisé"


def _sort_key(code: str) -> list[int]:
    return [int(part) for part in code.split(".")]


class Programme(db.Model):
    __tablename__ = "programmes"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(80))  # the label of its chantiers: « Programme prioritaire »…
    source: Mapped[str] = mapped_column(Text, default="")

    chantiers: Mapped[list["Chantier"]] = relationship(
        back_populates="programme", order_by="Chantier.position"
    )


class Chantier(db.Model):
    __tablename__ = "chantiers"
    __table_args__ = (
        CheckConstraint(
            "moscow IS NULL OR moscow IN (" + ", ".join(f"'{m.value}'" for m in Moscow) + ")",
            name="moscow_known",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(ForeignKey("programmes.id"), index=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    position: Mapped[int] = mapped_column(default=0)  # 2.1 → 201, 3.6 → 306, 5 → 500: the document's order
    title: Mapped[str] = mapped_column(String(200))
    visee: Mapped[str] = mapped_column(Text, default=NOT_GIVEN)
    portage: Mapped[str] = mapped_column(Text, default=NOT_GIVEN)
    cost: Mapped[str] = mapped_column(Text, default=NOT_GIVEN)
    duration: Mapped[str] = mapped_column(Text, default=NOT_GIVEN)
    moscow: Mapped[str | None] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(Text, default="")

    programme: Mapped[Programme] = relationship(back_populates="chantiers", lazy="joined")
    actions = relationship("Action", back_populates="parent_chantier", order_by="Action.code")

    @property
    def label(self) -> str:
        """« 2.2 France-Cloud »: the value the portfolio's chantier filter takes (`Action.chantier`)."""
        return f"{self.code} {self.title}"

    @property
    def kind(self) -> str:
        return self.programme.kind

    @property
    def moscow_enum(self) -> Moscow | None:
        return Moscow(self.moscow) if self.moscow else None

    @staticmethod
    def position_of(code: str) -> int:
        parts = _sort_key(code) + [0]
        return parts[0] * 100 + parts[1]

    @staticmethod
    def code_of(label: str) -> str:
        """« 2.2 France-Cloud » → « 2.2 »."""
        return label.split(" ", 1)[0]
