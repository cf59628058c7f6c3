"""Login with ProConnect (OIDC), logout. (Being completed: see issue 3.)"""

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import logout_user

from ..permissions import public

bp = Blueprint("auth", __name__)


@bp.get("/connexion")
@public
def login():
    return render_template("auth/login.html", next=request.args.get("next", ""))


@bp.post("/deconnexion")
@public
def logout():
    logout_user()
    return redirect(url_for("main.home"), 303)
