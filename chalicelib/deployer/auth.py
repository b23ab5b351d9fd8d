"""API authentication: bearer tokens checked against their sha256 digests.

Owns: token_allowed, used by app.py's Chalice custom authorizer. Only
digests are configured (FLOWDROP_API_TOKEN_HASHES), so the Lambda's
environment never holds a usable token. Answers, as API Gateway gives them:
no Authorization header -> 401 (API Gateway refuses before the authorizer
runs); a header with an unknown or malformed token -> 403 (the authorizer
allows no route). With FLOWDROP_API_AUTH=iam the routes use IAM (SigV4)
instead and this module is not used.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

AUTH_MODES = ("token", "iam")


def token_digest(token: str) -> str:
    """The sha256 hex digest a token is configured as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def token_allowed(header: str | None, digests: Iterable[str]) -> bool:
    """True when the header carries a token whose digest is configured (constant-time comparison)."""
    token = bearer_token(header)
    if token is None:
        return False
    digest = token_digest(token)
    allowed = False
    for known in digests:  # compare against all: timing does not reveal which one matched
        allowed |= hmac.compare_digest(digest, known)
    return allowed
