"""ServiceNow instance emulator: a Flask app that pysnow and PySNC use unchanged.

``create_app(options)`` builds one independent instance; its state lives in
``app.extensions["servicenow_sim"]`` (a :class:`~connector.sim.servicenow.state.SimState`).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.sim.servicenow.state import SimState


def create_app(options: dict[str, Any] | None = None) -> Flask:
    """Build one emulated instance from options (user, password, schema_files, faults, ...)."""
    from connector.sim.servicenow import (
        attachment_api,
        batch_api,
        control,
        email_api,
        import_api,
        oauth,
        table_api,
    )
    from connector.sim.servicenow.hooks import MethodOverride, install_hooks

    app = Flask(__name__)
    sim = SimState(options)
    app.extensions["servicenow_sim"] = sim
    # Werkzeug refuses bodies over this (413) even without Content-Length; mapped to the real 400.
    app.config["MAX_CONTENT_LENGTH"] = sim.options.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.strict_slashes = False
    for api in (table_api, batch_api, attachment_api, email_api, import_api, oauth, control):
        app.register_blueprint(api.bp)
    install_hooks(app)
    app.wsgi_app = MethodOverride(app.wsgi_app)  # type: ignore[method-assign]
    return app


__all__ = ["create_app", "SimState"]
