"""The Flask app factory: config, services, one blueprint per job, the error handlers.

It sits above the web layer (it registers the blueprints), which is why it is not in the
package's ``__init__``: every module that reads ``connector.__version__`` would otherwise import
the whole web side with it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector import config as config_module
from connector.config import Config
from connector.logs import configure_logging
from connector.services import Services
from connector.web import api, health, support, tpa, webhooks
from connector.web.errors import register_error_handlers


def create_app(
    config: Config | str | None = None, *, overrides: dict[str, Any] | None = None
) -> Flask:
    """Build the connector's Flask app from a Config, a config file path, or $CONNECTOR_CONFIG."""
    if not isinstance(config, config_module.Config):
        config = config_module.load(config, overrides=overrides)
    configure_logging(config.logging.level, config.logging.format)
    app = Flask(__name__)
    # Werkzeug refuses larger form bodies with 413 before the view parses them.
    app.config["MAX_CONTENT_LENGTH"] = max(config.webhook.max_body_bytes, 1024 * 1024)
    app.config["MAX_FORM_MEMORY_SIZE"] = config.webhook.max_body_bytes
    services = Services(config)
    app.extensions["connector"] = services
    services.store  # noqa: B018 - open (and migrate) the store at start, not on the first event
    app.register_blueprint(webhooks.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(support.bp)
    app.register_blueprint(tpa.bp)  # 3PA: /api/v1/3pa (answers 404 unless tpa.enabled)
    register_error_handlers(app)
    return app
