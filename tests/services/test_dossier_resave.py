"""Regression: every section saved twice with edits (issue 13 « re-save 500s »).

A section replacing its child rows (jalons, T2 staff savings, indicators…) used to let the unit of work send
the new rows' INSERTs before the old rows' DELETEs: a unique violation on PostgreSQL
(`uq_jalons_dossier_id_number`, the staff rows per category and year), so the second save answered 500.
Each save here is committed, as a request would, and run on both backends.
"""

from app.extensions import db
from app.services import dossier_sections as sections
from tests.factories import make_dossier


def _sections(edit: str) -> dict[str, dict]:
    """The data of every section; `edit` changes a text in each, and the rows keep their numbers and keys."""
    return {
        "projet": {
            "title": f"Projet {edit}",
            "start_year": "2026",
            "starts_on": "2026-01-01",
            "ends_on": "2028-12-31",
        },
        "porteurs": {
            "porteur_organisation": "DINUM",
            "porteur-projet_name": f"Référente {edit}",
            "porteur-projet_email": "referente@dinum.gouv.fr",
            "co": [
                (
                    0,
                    {
                        "organisation": "DILA",
                        "budget_name": f"Budget {edit}",
                        "budget_email": "b@dila.gouv.fr",
                    },
                )
            ],
        },
        "enjeu": {"enjeu": f"Enjeu {edit}"},
        "solution": {"solution": f"Solution {edit}"},
        "financement": {
            "rows": [
                (
                    0,
                    {
                        "nature": f"Développement {edit}",
                        "category": "T5",
                        "programme": "P349",
                        "financer": "ftap",
                        "phase": "cadrage",
                        "ae-2026": "100 000",
                        "cp-2026": "50 000",
                    },
                ),
                (
                    1,
                    {
                        "nature": "Hébergement",
                        "category": "T3",
                        "programme": "P129",
                        "financer": "co:DILA",
                        "phase": "cadrage",
                        "ae-2027": "10 000",
                        "cp-2027": "10 000",
                    },
                ),
            ]
        },
        "beneficiaires": {
            "rows": [(0, {"group": f"Agents {edit}", "population": "1000"}), (1, {"group": "Usagers"})]
        },
        "indicateurs": {
            "rows": [
                (0, {"objective": f"Objectif {edit}", "indicator": "Délai", "target_value": "10"}),
                (1, {"objective": "Adoption", "indicator": "Utilisateurs", "target_value": "500"}),
            ]
        },
        "economies": {
            "rows": [
                (0, {"nature": f"Licences {edit}", "category": "T3", "programme": "P624", "y-2027": "20 000"})
            ],
            "staff-A-cost": "80 000",
            "staff-A-2027": "2",
            "staff-B-cost": "60 000",
            "staff-B-2028": "1",
            "impact_indirect": f"Impact {edit}",
        },
        "jalons": {
            "rows": [
                (0, {"number": "1", "due_on": "2026-06-30", "description": f"Cadrage {edit}"}),
                (1, {"number": "2", "due_on": "2027-06-30", "description": "Marché", "is_procurement": "y"}),
            ]
        },
        "gouvernance": {"gouvernance": f"Gouvernance {edit}"},
    }


def test_every_section_saved_twice_with_edits(db_session, porteur):
    dossier = make_dossier(porteur, start_year=2026)
    db.session.commit()
    for round_, edit in enumerate(("v1", "v2")):
        for key, data in _sections(edit).items():
            sections.save_section(dossier, key, data, version=round_, actor=porteur)
            db.session.commit()
    db.session.expire_all()
    assert dossier.title == "Projet v2" and dossier.gouvernance == "Gouvernance v2"
    assert [j.description for j in dossier.jalons] == ["Cadrage v2", "Marché"]
    assert [
        (s.category, s.year, s.jobs) for s in sorted(dossier.staff_savings, key=lambda s: s.category)
    ] == [
        ("A", 2027, 2),
        ("B", 2028, 1),
    ]
    assert [i.objective for i in dossier.indicators] == ["Objectif v2", "Adoption"]
    assert [line.nature for line in dossier.financing_lines] == ["Développement v2", "Hébergement"]
    assert dossier.savings_lines[0].nature == "Licences v2" and dossier.impact_indirect == "Impact v2"
    assert {r.name for r in dossier.referents} == {"Référente v2", "Budget v2"}
    assert [b.group_name for b in dossier.beneficiaries] == ["Agents v2", "Usagers"]
    assert all(dossier.section_version(key) == 2 for key in _sections("v2"))


def test_jalons_renumbered_and_swapped_on_a_second_save(db_session, porteur):
    """Two jalons swapping their numbers: both rows exist under the unique (dossier, number) at all times."""
    dossier = make_dossier(porteur, start_year=2026)
    sections.save_section(dossier, "projet", _sections("a")["projet"], version=0, actor=porteur)
    sections.save_section(dossier, "jalons", _sections("a")["jalons"], version=0, actor=porteur)
    db.session.commit()
    swapped = {
        "rows": [
            (0, {"number": "2", "due_on": "2026-06-30", "description": "Cadrage"}),
            (1, {"number": "1", "due_on": "2027-06-30", "description": "Marché"}),
        ]
    }
    sections.save_section(dossier, "jalons", swapped, version=1, actor=porteur)
    db.session.commit()
    db.session.expire_all()
    assert [(j.number, j.description) for j in dossier.jalons] == [(1, "Marché"), (2, "Cadrage")]
