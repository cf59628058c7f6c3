"""Domain errors raised by services and turned into French messages by the routes."""


class DomainError(Exception):
    """A rule of the domain refused the action. `message` is French and shown to the user."""

    status_code = 422

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationFailed(DomainError):
    """Input rejected; `errors` maps field names to French messages."""

    def __init__(self, errors: dict[str, str]):
        super().__init__(" ".join(errors.values()))
        self.errors = errors


class NotAllowed(DomainError):
    status_code = 403


class StaleVersion(DomainError):
    """Somebody saved the record since the form was loaded."""

    status_code = 409

    def __init__(self, current):
        super().__init__(
            "Cette fiche a été modifiée par quelqu'un d'autre depuis que vous l'avez ouverte. "
            "Votre texte est conservé ci-dessous ; "
            "comparez-le avec la version actuelle puis enregistrez à nouveau."
        )
        self.current = current


class Conflict(DomainError):
    """A concurrent request changed the same row first (a double click, another tab, another person): the
    database refused the second write (a stale version or a unique index). Nothing is recorded twice."""

    status_code = 409

    def __init__(self):
        super().__init__(
            "Cette action vient d'être enregistrée par une autre demande (double clic, autre onglet ou autre "
            "personne) : elle n'a pas été faite une seconde fois. Rechargez la page pour voir l'état actuel."
        )
