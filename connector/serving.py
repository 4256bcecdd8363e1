"""Serve a WSGI app under gunicorn (gthread workers), for `connector serve` and the emulators."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication


def serve_gunicorn(
    app_factory: Callable[[], Flask],
    *,
    host: str,
    port: int,
    workers: int = 1,
    threads: int = 8,
    certfile: str | None = None,
    keyfile: str | None = None,
    post_worker_init: Callable[[Any], None] | None = None,
    access_log: bool = False,
    bind: str | None = None,
    on_starting: Callable[[Any], None] | None = None,
) -> None:
    """Serve the app under gunicorn (gthread workers) until interrupted."""
    options: dict[str, Any] = {
        "bind": bind or f"{host}:{port}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "timeout": 120,
        "graceful_timeout": 5,
        "keepalive": 5,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    if certfile:
        options["certfile"] = certfile
        options["keyfile"] = keyfile
    if post_worker_init:
        options["post_worker_init"] = post_worker_init
    if on_starting:
        options["on_starting"] = on_starting

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                if value is not None:
                    self.cfg.set(key, value)

        def load(self) -> Flask:
            return app_factory()

    _App().run()
