"""A bare Flask endpoint that reads the event form and stores nothing: the ingest yardstick.

Usage: python scripts/bench/_bare_app.py --port P [--workers 2] [--threads 4]
Served by the same gunicorn setup as ``connector serve``.
"""

from __future__ import annotations

import argparse

from flask import Flask, Response, request

from connector.sim.runtime import serve_gunicorn


def create_app() -> Flask:
    """Build the app: POST /bomgar/events answers 200 after parsing the form."""
    app = Flask("bare")

    @app.post("/bomgar/events")
    def events() -> Response:
        form = request.form
        if not form.get("lsid"):
            return Response("missing lsid\n", status=400, mimetype="text/plain")
        return Response("OK\n", status=200, mimetype="text/plain")

    @app.get("/health")
    def health() -> Response:
        return Response("{}", mimetype="application/json")

    return app


def main() -> None:
    """Serve the bare app under gunicorn."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    args = p.parse_args()
    serve_gunicorn(
        create_app, host="127.0.0.1", port=args.port, workers=args.workers, threads=args.threads
    )


if __name__ == "__main__":
    main()
