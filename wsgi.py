"""WSGI entry point for gunicorn: ``gunicorn wsgi:app`` (config from $CONNECTOR_CONFIG)."""

from connector.app import create_app

app = create_app()
