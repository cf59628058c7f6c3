"""services/portfolio: the import's preview says what import_rows does, without writing."""

import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import AuditEntry, Role
from app.services import portfolio as service
from app.services.errors import NotAllowed

ROWS = [
    (2, {"code": "M001", "brique": "Cloud renommé", "besoin": "x"}),
    (3, {"code": "M700", "brique": "Nouvelle", "besoin": ""}),
]


def test_preview_matches_the_import_and_writes_nothing(make_user):
    audits = db.session.scalar(select(func.count(AuditEntry.id)))
    preview = service.preview_import(ROWS)
    assert (preview.created, preview.updated, preview.unchanged) == (["M700"], ["M001"], [])
    assert db.session.scalar(select(func.count(AuditEntry.id))) == audits and not db.session.dirty
    done = service.import_rows(ROWS, actor=make_user(Role.SECRETARIAT))
    assert (done.created, done.updated) == (preview.created, preview.updated)
    assert service.preview_import(ROWS).unchanged == ["M001", "M700"]


def test_preview_lists_the_rejected_lines():
    report = service.preview_import([(2, {"code": "M1", "brique": "x", "besoin": ""})])
    assert report.rejected and not report.created


def test_only_the_secretariat_imports(make_user):
    with pytest.raises(NotAllowed):
        service.import_rows(ROWS, actor=make_user("dsi", ministry="MI"))
