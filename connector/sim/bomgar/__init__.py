"""Emulator of a Bomgar / BeyondTrust Remote Support appliance, with real outbound-event delivery.

``create_app(options)`` returns a Flask app whose state lives in
``app.extensions["bomgar_sim"]`` (a ``SimState``); call ``close_app(app)`` (or
``app.extensions["bomgar_sim"].close()``) to stop the event-delivery threads.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from connector.sim.bomgar.options import NAMESPACES, SimOptions
from connector.sim.bomgar.state import SimState

__all__ = ["NAMESPACES", "SimOptions", "SimState", "close_app", "create_app"]


def create_app(options: dict[str, Any] | None = None) -> Flask:
    """Build the emulator app and start its outbound-event delivery threads."""
    from connector.sim.bomgar import (
        command_api,
        config_api,
        control,
        oauth,
        public_site,
        reporting_api,
    )
    from connector.sim.bomgar.hooks import install_hooks

    opts = SimOptions.from_dict(options)
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    sim_state = SimState(opts)
    app.extensions["bomgar_sim"] = sim_state
    install_hooks(app)
    for api in (oauth, command_api, reporting_api, public_site, config_api, control):
        app.register_blueprint(api.bp)
    # Threads start here: under gunicorn the factory runs in the worker (no preload), so the
    # delivery threads live in the process that holds the state.
    sim_state.delivery.start()
    return app


def close_app(app: Flask) -> None:
    """Stop the app's background threads."""
    app.extensions["bomgar_sim"].close()
