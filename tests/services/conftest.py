"""Fixtures shared by the service tests of the dossier rooms (dossiers, sections, attachments, messages)."""

import pytest

from app.models import Role
from tests.factories import make_hub_dossier, make_user


@pytest.fixture
def porteur(db_session):
    return make_user(Role.PORTEUR)


@pytest.fixture
def hub(porteur):
    return make_hub_dossier(porteur)
