"""Names that no other test uses: the run shares one database and never cleans up."""

from __future__ import annotations

import uuid


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def unique_email() -> str:
    return f"{unique('member')}@example.com"
