"""The operator page: its HTML, script and style sheet, answered as they are by the deployer.

Owns: the page's files (package data beside this module: index.html,
page.js, page.css) and how each is answered: its content type and a
Content-Security-Policy under which the page loads nothing but itself and
talks to nothing but the API it came from. Does not own: the routes
(deployer/app.py) or any data: the script asks the JSON API for everything,
with the bearer token the user enters (kept in sessionStorage).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

CONTENT_TYPES = {
    "index.html": "text/html; charset=utf-8",
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}

# Nothing from elsewhere, no inline script or style, no frames, no form posts: the page is
# three files of its own, and its script only fetches the API of the origin it was served from.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",  # a new deployer version is seen on the next load
}


@functools.cache
def asset_text(name: str) -> str:
    """The text of one of the page's files (KeyError for any other name)."""
    if name not in CONTENT_TYPES:
        raise KeyError(name)
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")


def asset_response(name: str) -> dict[str, Any]:
    """Keyword arguments of the HTTP response for `name`: body, status code and headers (404 when unknown)."""
    if name not in CONTENT_TYPES:
        return {"body": {"error": f"no page asset {name[:80]!r}; there are: {', '.join(sorted(CONTENT_TYPES))}"},
                "status_code": 404}
    return {"body": asset_text(name), "status_code": 200, "headers": {"Content-Type": CONTENT_TYPES[name], **HEADERS}}
