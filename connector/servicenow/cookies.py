"""A cookie policy that refuses every cookie, for the client's shared requests session.

The instance ties a ``JSESSIONID`` to one session and serialises that session's requests: a
client whose threads shared the cookie would queue behind itself and get 202s with empty bodies.
"""

from __future__ import annotations

import http.cookiejar
from typing import Any


class NoCookies(http.cookiejar.CookiePolicy):
    """Refuse every cookie: a shared session cookie serialises requests on the instance."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        """Refuse to store a cookie."""
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        """Refuse to send a cookie."""
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        """Refuse to send cookies for any domain."""
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        """Refuse to send cookies for any path."""
        return False
