"""Bomgar / BeyondTrust Remote Support ↔ ServiceNow connector.

The Flask app factory is ``connector.app.create_app``; ``wsgi.py`` serves it.
"""

__version__ = "0.1.0"
