"""One blueprint per domain (the register and the minutes are nested in the committees blueprint: their
pages live under /comites)."""

from . import (
    admin_exports,  # noqa: F401 - declares the export routes of the admin blueprint
    dossier_exports,  # noqa: F401 - declares the export routes of the dossiers blueprint
    meetings,  # noqa: F401 - declares the meeting routes of the committees blueprint
    portfolio_import,  # noqa: F401 - declares the import routes of the portfolio blueprint
)
from .admin import bp as admin_bp
from .admin_reminders import bp as reminders_admin_bp
from .admin_reminders import dev_bp as dev_mail_bp
from .api import bp as api_bp
from .auth import bp as auth_bp
from .chantiers import bp as chantiers_bp
from .committees import bp as committees_bp
from .criblage import bp as criblage_bp
from .dashboard import bp as dashboard_bp
from .dossiers import bp as dossiers_bp
from .export_jobs import bp as export_jobs_bp
from .exports import bp as exports_bp
from .followup import bp as followup_bp
from .guichets import bp as guichets_bp
from .main import bp as main_bp
from .minutes import bp as minutes_bp
from .notifications import bp as notifications_bp
from .portfolio import bp as portfolio_bp
from .register import bp as register_bp
from .voting import bp as voting_bp

committees_bp.register_blueprint(register_bp)
committees_bp.register_blueprint(minutes_bp)

BLUEPRINTS = [
    main_bp,
    auth_bp,
    portfolio_bp,
    criblage_bp,
    chantiers_bp,
    admin_bp,
    voting_bp,
    committees_bp,
    notifications_bp,
    reminders_admin_bp,
    dev_mail_bp,
    guichets_bp,
    dossiers_bp,
    followup_bp,
    dashboard_bp,
    exports_bp,
    export_jobs_bp,
    api_bp,
]
