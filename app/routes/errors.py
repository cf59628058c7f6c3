"""DSFR error pages (HTML) and JSON errors for the API."""

import logging

from flask import render_template, request
from flask_wtf.csrf import CSRFError
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
    500: (
        "Erreur inattendue",
        "Désolé, le service rencontre un problème, "
        "nous travaillons pour le résoudre le plus rapidement possible.",
    ),
}


def render_error(code: int, detail: str | None = None):
    title, text = MESSAGES.get(code, MESSAGES[500])
    if request.path.startswith("/api/"):
        return {"error": title, "detail": detail or text, "status": code}, code
    return render_template("errors/error.html", code=code, title=title, text=detail or text), code


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
        log.exception("Unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        return render_error(500)
