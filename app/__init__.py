"""Application factory."""

import logging

from flask import Flask

from config import Config, ProdConfig, config_from_env


def create_app(config: type[Config] | None = None, **overrides) -> Flask:
    config = config or config_from_env()
    if config is ProdConfig:
        ProdConfig.check()
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config)
    app.config.update(overrides)
    if config is ProdConfig and app.debug:
        raise RuntimeError("Production refuses to start: FLASK_DEBUG / DEBUG is on")
    logging.basicConfig(level=logging.INFO)
    # Alembic ≥ 1.16 logs one « setup plugin » INFO line per built-in plugin each time it is imported (every
    # CLI command, every start): noise for whoever reads the terminal.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    # function-level imports (here and below): importing the package, as `app.models` or `app.domain` alone
    # do in migrations, scripts and unit tests, must not pull in every extension, blueprint and command.
    from . import assets, extensions, jinja, ratelimit, security

    extensions.db.init_app(app)
    with app.app_context():
        extensions.configure_engine(extensions.db.engine)
    extensions.migrate.init_app(app, extensions.db, directory=str(app.root_path + "/../migrations"))
    extensions.csrf.init_app(app)
    extensions.login_manager.init_app(app)
    from . import (
        auth_session,
        models,  # noqa: F401  (register every model on the metadata)
    )

    auth_session.init_app(app)
    jinja.init_app(app)
    assets.init_app(app)
    security.init_app(app)
    ratelimit.init_app(app)
    _register_blueprints(app)
    _register_cli(app)
    _register_error_handlers(app)
    if app.config["AUTO_MIGRATE"] and not app.testing:
        _upgrade_database(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from .routes import BLUEPRINTS

    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def _register_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)


def _register_error_handlers(app: Flask) -> None:
    from .routes.errors import init_app

    init_app(app)


def _upgrade_database(app: Flask) -> None:
    """Development convenience: bring the schema up to date on start."""
    from pathlib import Path

    from flask_migrate import upgrade

    with app.app_context():
        uri = app.config["SQLALCHEMY_DATABASE_URI"]
        if uri.startswith("sqlite:///"):
            Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        upgrade(directory=str(Path(app.root_path).parent / "migrations"))
