"""One place that turns errors into HTTP answers."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from connector.errors import ConnectorError, DataError, RemoteError, error_body

log = logging.getLogger(__name__)


def _json(status: int, message: str, detail: object = None) -> Response:
    response = jsonify(error_body(status, message, detail))
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Answer API errors in the JSON envelope and everything else as plain text."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/api/"):
            return _json(exc.code or 500, exc.name, exc.description)
        return Response(f"{exc.code} {exc.name}\n", status=exc.code or 500, mimetype="text/plain")

    @app.errorhandler(DataError)
    def data_error(exc: DataError) -> Response:
        return _json(400, str(exc))

    @app.errorhandler(RemoteError)
    def remote_error(exc: RemoteError) -> Response:
        log.warning("remote call failed: %s", exc)
        status = 504 if exc.status is None else 502
        return _json(status, f"{exc.service or 'remote system'} call failed", str(exc))

    @app.errorhandler(ConnectorError)
    def connector_error(exc: ConnectorError) -> Response:
        log.error("request failed: %s", exc)
        return _json(500, "internal error", str(exc))
