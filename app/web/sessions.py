"""Member sessions live only on the members' pages.

The JSON API (Bearer keys), the tracking redirect and the offer mails' links never read or set the
session cookie, so their requests skip opening it: no signature check, no
serializer built, on the two hottest paths.
"""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSessionInterface

SESSIONLESS_PREFIXES = ("/v1/", "/c/", "/o/", "/r/")


class MemberSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request):
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.make_null_session(app)
        return super().open_session(app, request)
