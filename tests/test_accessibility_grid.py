"""The RGAA self-audit grid (docs/rgaa/grid.yaml) and the statement generated from it (/accessibilite).

- the grid holds the 106 criteria of RGAA 4.1.2, each once, in their 13 themes, with a status and its evidence
  on every page of the sample; the sample covers every main page type of issue « Journeys without friction »;
- the statement page shows the rate computed from the grid (RGAA's rule), each non-conform criterion, the
  sample, the audit date, the technologies, the contact and the Défenseur des droits recourse.
"""

import re
from collections import Counter

import pytest

from app import accessibility
from app.formatting import format_date

# RGAA 4.1.2: criteria per theme (« Critères et tests »), 106 in all.
PER_THEME = {
    "Images": 9,
    "Cadres": 2,
    "Couleurs": 3,
    "Multimédia": 13,
    "Tableaux": 8,
    "Liens": 2,
    "Scripts": 5,
    "Éléments obligatoires": 10,
    "Structuration de l’information": 4,
    "Présentation de l’information": 14,
    "Formulaires": 13,
    "Navigation": 11,
    "Consultation": 12,
}
# The main page types the grid must cover (issue 19 « Accessibility statement kept true »).
PAGE_TYPES = {
    "home_dsi",
    "home_porteur",
    "home_instructeur",
    "home_comite",
    "home_secretariat",
    "portfolio",
    "opportunity",
    "ballot",
    "results",
    "dossier",
    "dossier_steps",
    "instruction",
    "meeting",
    "live",
    "minutes",
    "register",
    "followup",
    "admin",
}


@pytest.fixture
def grid():
    return accessibility.grid()


def test_every_criterion_is_in_the_grid_exactly_once(grid):
    ids = [c.id for c in grid.criteria]
    assert len(ids) == 106
    assert [i for i, n in Counter(ids).items() if n > 1] == []
    expected = [
        f"{theme}.{n}" for theme, count in enumerate(PER_THEME.values(), 1) for n in range(1, count + 1)
    ]
    assert ids == expected
    assert Counter(c.theme for c in grid.criteria) == PER_THEME
    for criterion in grid.criteria:
        assert int(criterion.id.split(".")[0]) == list(PER_THEME).index(criterion.theme) + 1
        assert criterion.title.endswith("?"), criterion.id
    assert grid.problems == []


def test_the_grid_covers_every_page_type_with_a_status_and_evidence(grid):
    keys = [p.key for p in grid.pages]
    assert set(keys) == PAGE_TYPES and len(keys) == len(PAGE_TYPES)
    for criterion in grid.criteria:
        assert set(criterion.cells) == PAGE_TYPES
        for cell in criterion.cells.values():
            assert cell.status in ("C", "NC", "NA") and cell.evidence.strip()


def test_the_rate_follows_rgaa_rules(grid):
    data = {
        "audit": {"date": "2026-12-01"},
        "pages": [{"key": "a", "title": "A", "url": "/a"}, {"key": "b", "title": "B", "url": "/b"}],
        "criteria": [
            {"id": "1.1", "theme": "Images", "title": "?", "status": "C", "evidence": "x"},
            {"id": "1.2", "theme": "Images", "title": "?", "status": "NA", "evidence": "x"},
            {
                "id": "1.3",
                "theme": "Images",
                "title": "?",
                "status": "NA",
                "evidence": "x",
                "pages": {"b": {"status": "C", "evidence": "y"}},
            },  # fmt: skip
            {
                "id": "1.4",
                "theme": "Images",
                "title": "?",
                "status": "C",
                "evidence": "x",
                "pages": {"a": {"status": "NC", "evidence": "why"}},
            },  # fmt: skip
        ],
    }
    small = accessibility.parse(data)
    assert [c.status for c in small.criteria] == ["C", "NA", "C", "NC"]
    assert small.rate == pytest.approx(100 * 2 / 3)
    assert small.page_rate("a") == pytest.approx(50) and small.page_rate("b") == 100
    assert small.conformity == "partiellement conforme"
    assert grid.count("C") + grid.count("NC") + grid.count("NA") == 106


def test_the_statement_page_is_generated_from_the_grid(client, grid):
    response = client.get("/accessibilite")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    shown = re.search(r'id="taux-conformite">([\d,]+) %', html).group(1)
    assert float(shown.replace(",", ".")) == round(grid.rate, 1)
    assert f"{grid.count('C')} critères conformes, {grid.count('NC')} non conformes" in html
    assert f"est {grid.conformity} avec le référentiel" in html
    listed = re.findall(r"<strong>Critère (\d+\.\d+)</strong>", html)
    assert listed == [c.id for c in grid.non_conform] and listed
    for page in grid.pages:
        assert page.title in html.replace("&#39;", "'")
    assert f"établie le {format_date(grid.audit_date)}" in html
    assert "HTML5" in html and "Défenseur des droits" in html and "Libre réponse 71120" in html
    assert "Aucune." in html  # no derogation claimed
    # the footer of every page says the same
    assert f"Accessibilité : {grid.conformity}" in client.get("/mentions-legales").get_data(as_text=True)
