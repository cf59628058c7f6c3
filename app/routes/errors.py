"""DSFR error pages (HTML) and JSON errors for the API.

The 500 and 503 pages touch no table: they are rendered by Jinja alone (Flask-Login's context processor
would load the user from the database), so they show while the database is away. A database that does not
answer (OperationalError, InterfaceError) is a 503 with Retry-After. The reverse proxy serves the static
twin, app/static/indisponible.html, while the application itself is down (README, Deployment).
"""

import logging

from flask import current_app, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from ..extensions import db

log = logging.getLogger(__name__)

MESSAGES = {
    400: ("Requête invalide", "La requête n'a pas pu être traitée. Rechargez la page puis réessayez."),
    403: (
        "Accès refusé",
        "Vous n'avez pas les droits nécessaires pour accéder à cette page ou faire cette action.",
    ),
    404: (
        "Page non trouvée",
        "La page que vous cherchez est introuvable. Excusez-nous pour la gêne occasionnée.",
    ),
    405: ("Méthode non autorisée", "Cette adresse ne s'utilise pas ainsi."),
    413: ("Fichier trop volumineux", "Le fichier envoyé dépasse la taille autorisée."),
    422: ("Données invalides", "Les informations envoyées ne peuvent pas être traitées."),
    429: ("Trop de tentatives", "Trop de tentatives en peu de temps. Patientez une minute puis réessayez."),
    503: (
        "Service momentanément indisponible",
        "Le service est momentanément indisponible (maintenance ou incident). Vos données sont conservées : "
        "réessayez dans quelques minutes.",
    ),
    500: (
        "Erreur inattendue",
        "Désolé, le service rencontre un problème, "
        "nous travaillons pour le résoudre le plus rapidement possible.",
    ),
}


def render_error(code: int, detail: str | None = None):
    title, text = MESSAGES.get(code, MESSAGES[500])
    if request.path.startswith("/api/"):
        response = current_app.json.response({"error": title, "detail": detail or text, "status": code})
        response.status_code = code
    elif code >= 500:
        response = _without_database(code, title, detail or text)
    else:
        return render_template("errors/error.html", code=code, title=title, text=detail or text), code
    if code == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


RETRY_AFTER_SECONDS = 60


def _without_database(code: int, title: str, text: str):
    """The page rendered by Jinja alone: no context processor (current_user), no table."""
    body = current_app.jinja_env.get_template("errors/unavailable.html").render(
        code=code, title=title, text=text
    )
    return current_app.response_class(body, status=code, mimetype="text/html")


def init_app(app) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return render_error(
            400,
            "Le jeton de sécurité du formulaire est absent ou a expiré. "
            "Rechargez la page puis envoyez à nouveau le formulaire.",
        )

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        return render_error(error.code or 500, getattr(error, "detail_fr", None))

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        unavailable = isinstance(error, OperationalError | InterfaceError)
        log.exception(
            "%s on %s %s",
            "Database unavailable" if unavailable else "Unhandled error",
            request.method,
            request.path,
        )
        try:
            db.session.rollback()
        except Exception:  # noqa: BLE001 - the database is away: nothing to roll back on our side
            log.warning("rollback after the error failed", exc_info=True)
        return render_error(503 if unavailable else 500)
