"""The redirect is HTML, not part of the JSON API: it has no request or answer schemas.
Click statistics are reported through app/commissions (the affiliate report)."""
