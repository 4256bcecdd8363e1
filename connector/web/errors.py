"""One place that turns errors into HTTP answers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import BadRequest, HTTPException

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

from connector.errors import ConnectorError, DataError, RemoteError, error_body

log = logging.getLogger(__name__)


class ApiProblem(Exception):
    """Raise in an API view to answer the caller with a 4xx/5xx JSON error and nothing written."""

    def __init__(self, status: int, message: str, detail: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def json_error(status: int, message: str, detail: object = None) -> Response:
    """Answer with ``status`` and the JSON error envelope."""
    response = jsonify(error_body(status, message, detail))
    response.status_code = status
    return response


def authentication_required() -> Response:
    """Answer 401 naming the schemes the API accepts."""
    response = json_error(
        401, "authentication required", "send a bearer token or Basic credentials"
    )
    response.headers["WWW-Authenticate"] = 'Bearer realm="connector", Basic realm="connector"'
    return response


def json_body() -> dict[str, Any]:
    """Return the request's JSON object body, or raise ApiProblem(400)."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:
        # json refuses nesting deeper than the interpreter's recursion limit this way.
        raise ApiProblem(
            400, "expected a JSON object body", "the JSON is nested too deeply"
        ) from None
    if not isinstance(data, dict):
        raise ApiProblem(400, "expected a JSON object body")
    return data


class _GuardedInput:
    """A request body whose read errors are the client's fault: 400, never a 500 and traceback."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def _guard(self, read: Callable[..., Any], *args: Any) -> Any:
        try:
            return read(*args)
        except HTTPException:
            raise
        except Exception as exc:  # e.g. gunicorn's InvalidChunkSize on a malformed chunked body
            log.info("request body unreadable: %s: %s", type(exc).__name__, exc)
            raise BadRequest("the request body could not be read") from exc

    def read(self, *args: Any) -> bytes:
        return self._guard(self._stream.read, *args)

    def readline(self, *args: Any) -> bytes:
        return self._guard(self._stream.readline, *args)

    def readlines(self, *args: Any) -> list[bytes]:
        return self._guard(self._stream.readlines, *args)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.readline, b"")


def guard_request_bodies(wsgi_app: WSGIApplication) -> WSGIApplication:
    """Wrap a WSGI app so that a body the server cannot read is answered with 400."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if "wsgi.input" in environ:
            environ["wsgi.input"] = _GuardedInput(environ["wsgi.input"])
        return wsgi_app(environ, start_response)

    return app


def register_error_handlers(app: Flask) -> None:
    """Answer API errors in the JSON envelope and everything else as plain text."""
    app.wsgi_app = guard_request_bodies(app.wsgi_app)  # type: ignore[method-assign,assignment]

    @app.errorhandler(ApiProblem)
    def api_problem(exc: ApiProblem) -> Response:
        return json_error(exc.status, exc.message, exc.detail)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if request.path.startswith("/api/"):
            return json_error(exc.code or 500, exc.name, exc.description)
        return Response(f"{exc.code} {exc.name}\n", status=exc.code or 500, mimetype="text/plain")

    @app.errorhandler(DataError)
    def data_error(exc: DataError) -> Response:
        return json_error(400, str(exc))

    @app.errorhandler(RemoteError)
    def remote_error(exc: RemoteError) -> Response:
        log.warning("remote call failed: %s", exc)
        status = 504 if exc.status is None else 502
        return json_error(status, f"{exc.service or 'remote system'} call failed", str(exc))

    @app.errorhandler(ConnectorError)
    def connector_error(exc: ConnectorError) -> Response:
        log.error("request failed: %s", exc)
        return json_error(500, "internal error", str(exc))
