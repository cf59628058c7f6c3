"""The auth_sessions migration adds a table and keeps every row (SQLite, and PostgreSQL with
TEST_BACKEND=postgres) and downgrades."""

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from app.extensions import db
from tests.test_migrations import MIGRATIONS, insert, scratch  # noqa: F401  (the scratch database)

BEFORE = "5c961da024bd"  # register verifications, meetings.updated_at
SESSIONS = "5e55c0a1d2b3"


def test_auth_sessions_upgrade_keeps_rows_and_downgrades(scratch):  # noqa: F811
    upgrade(directory=MIGRATIONS, revision=BEFORE)
    with db.engine.begin() as connection:
        user = insert(
            connection,
            "users",
            email="session.migration@test.gouv.fr",
            given_name="Sam",
            usual_name="Session",
            active=True,
            created_at="2027-03-01 09:00:00",
            calendar_token="t" * 43,
        )
    upgrade(directory=MIGRATIONS, revision=SESSIONS)
    with db.engine.begin() as connection:
        assert connection.execute(text("SELECT email FROM users WHERE id = :id"), {"id": user}).scalar() == (
            "session.migration@test.gouv.fr"
        )
        insert(
            connection,
            "auth_sessions",
            key_hash="a" * 64,
            user_id=user,
            data="{}",
            created_at="2027-03-01 09:00:00",
            last_seen_at="2027-03-01 09:00:00",
            user_agent="",
            ip_address="",
        )
    downgrade(directory=MIGRATIONS, revision=BEFORE)
    upgrade(directory=MIGRATIONS, revision=SESSIONS)
    with db.engine.begin() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 1
        assert connection.execute(text("SELECT count(*) FROM auth_sessions")).scalar() == 0
