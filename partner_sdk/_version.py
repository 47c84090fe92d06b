"""The SDK's version, in one place: the package, the User-Agent and pyproject.toml agree on it."""

from __future__ import annotations

__version__: str = "0.8.0"
