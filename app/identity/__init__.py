"""Identity: API keys, the tables that hold them, and who a request's key belongs to.

It imports no feature package. The owners of keys (merchants, affiliates)
register how a key's hash finds its owner (``register_owner``), so that the
features depend on identity and never the other way round.
"""

from __future__ import annotations

from app.identity.auth import register_owner

__all__ = ["register_owner"]
