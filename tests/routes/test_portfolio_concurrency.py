"""Two people creating an opportunity at the same instant get two distinct, consecutive codes."""

import re
import threading

from sqlalchemy import delete, select

from app.extensions import db
from app.models import AuditEntry, Opportunity, Role, User, UserRole

PARALLEL = 6


def test_concurrent_creations_get_distinct_next_codes(live_app):
    with live_app.app_context():
        before = db.session.scalar(select(db.func.max(Opportunity.number)))
        user = User(email="concurrence@example.gouv.fr", given_name="Con", usual_name="Current")
        user.roles.append(UserRole(role=Role.SECRETARIAT))
        db.session.add(user)
        db.session.commit()
        user_id = user.id

    barrier = threading.Barrier(PARALLEL)
    locations: list[str] = []

    def create(n: int) -> None:
        client = live_app.test_client()
        with client.session_transaction() as session_data:
            session_data["_user_id"] = str(user_id)
        page = client.get("/opportunites/nouvelle").get_data(as_text=True)
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        barrier.wait()
        response = client.post(
            "/opportunites/nouvelle", data={"brique": f"Concurrente {n}", "csrf_token": token}
        )
        locations.append(response.headers.get("Location", f"status {response.status_code}"))

    threads = [threading.Thread(target=create, args=(n,)) for n in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    try:
        expected = {f"/opportunites/{Opportunity.code_for(before + k)}" for k in range(1, PARALLEL + 1)}
        assert set(locations) == expected
    finally:
        with live_app.app_context():
            created = select(Opportunity.id).where(Opportunity.number > before)
            db.session.execute(delete(AuditEntry).where(AuditEntry.actor_id == user_id))
            db.session.execute(delete(Opportunity).where(Opportunity.id.in_(created)))
            db.session.execute(delete(User).where(User.id == user_id))
            db.session.commit()
