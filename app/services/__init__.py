"""Services: the only code that changes state. They flush, never commit; callers commit once.

Each domain's reminder kinds are declared beside its service (`<room>_reminders.py`) and register
themselves with the engine (`reminders.py`) when imported: they are imported here, so that every kind is
registered wherever a service is used (app factory, CLI, scheduler, tests). The order is the order of the
kinds on the settings and preferences pages.
"""

# isort: off
from . import voting_reminders  # noqa: F401
from . import committees_reminders  # noqa: F401
from . import dossiers_reminders  # noqa: F401
from . import followup_reminders  # noqa: F401

# What each domain's moves tell people (notification kinds, transition listeners):
from . import dossiers_notifications  # noqa: F401
from . import voting_notifications  # noqa: F401
from . import followup_notifications  # noqa: F401

# isort: on
