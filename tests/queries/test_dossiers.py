"""One dossier's rows read for a page: the same rows, in the same order, as lazy loading reads, and nothing
left for the page to load."""

import pytest

from app.extensions import db
from app.models import Role
from app.queries import dossiers
from tests.factories import complete_dossier, make_dossier, make_hub_dossier, make_user

COLLECTIONS = sorted({name for names in dossiers.SECTION_ROWS.values() for name in names})


def _snapshot(dossier) -> dict:
    """Each collection as (id, and the ids of what comes with each row), in the page's order."""
    shot = {name: [row.id for row in getattr(dossier, name)] for name in COLLECTIONS}
    shot["amounts"] = [
        [a.id for a in line.amounts] for line in (*dossier.financing_lines, *dossier.savings_lines)
    ]
    shot["targets"] = [[t.id for t in indicator.targets] for indicator in dossier.indicators]
    shot["rules"] = [rule.id for rule in dossier.guichet.rules]
    return shot


@pytest.fixture
def porteur(db_session):
    return make_user(Role.PORTEUR)


def test_the_rows_read_for_a_page_are_those_lazy_loading_reads(porteur, queries):
    dossier_id = complete_dossier(make_dossier(porteur), porteur).id
    db.session.commit()
    db.session.expire_all()
    lazily = _snapshot(dossiers.by_id(porteur, dossier_id))
    db.session.expire_all()

    loaded = dossiers.by_id(porteur, dossier_id)
    dossiers.load_rows(loaded)
    with queries() as sent:
        assert _snapshot(loaded) == lazily
    assert sent == []  # every section's rows and the guichet's rules were read before
    assert all(lazily[name] for name in ("financing_lines", "indicators", "jalons", "referents", "rules"))


def test_a_step_reads_the_rows_of_its_sections_only(porteur, queries):
    dossier_id = make_hub_dossier(porteur).id
    db.session.commit()
    db.session.expire_all()
    loaded = dossiers.by_id(porteur, dossier_id)
    with queries() as sent:
        dossiers.load_rows(loaded, ("financement",))
    assert len(sent) == 2  # the financing lines with their amounts, the guichet's rules
    assert "financing_lines" not in db.inspect(loaded).unloaded
    assert {"savings_lines", "jalons", "attachments"} <= db.inspect(loaded).unloaded
