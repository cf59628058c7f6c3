"""Administration by the secretariat."""

from flask import Blueprint, render_template
from sqlalchemy import select

from ..extensions import db
from ..models import User
from ..models.users import Role
from ..permissions import requires_role

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/utilisateurs")
@requires_role(Role.SECRETARIAT)
def users():
    users = db.session.scalars(select(User).order_by(User.email)).all()
    return render_template("admin/users.html", users=users)
