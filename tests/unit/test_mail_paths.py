"""Every mail the platform writes goes through a known path: the service mails
(sign-in links, expiry notices) and, for everything that promotes (offers, contests),
the one consent check of app.audience. A new call of the mail layer elsewhere fails
here, so no promotional mail can skip the member's consent."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
# Who may queue a mail, and why.
ALLOWED = {
    "app/members/sign_in.py": "the sign-in link the member asked for",
    "app/members/services.py": "the notice that the member's points expire",
    "app/audience/services.py": "send_with_consent: offers and contests, only with the purpose's consent",
}


def _mail_sends(path: Path) -> list[int]:
    """Lines calling the mail layer's ``send`` (``mail.send(...)`` or a ``send`` imported from app.mail)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    imported = {
        alias.asname or alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "app.mail"
        for alias in node.names
        if alias.name == "send"
    }
    lines = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "send" and isinstance(func.value, ast.Name):
            if func.value.id == "mail":
                lines.append(node.lineno)
        elif isinstance(func, ast.Name) and func.id in imported:
            lines.append(node.lineno)
    return lines


def test_only_the_known_paths_queue_mail():
    found = {}
    for path in sorted(APP.rglob("*.py")):
        relative = path.relative_to(APP.parent).as_posix()
        if relative == "app/mail.py":
            continue
        lines = _mail_sends(path)
        if lines:
            found[relative] = lines
    assert set(found) == set(ALLOWED), {k: v for k, v in found.items() if k not in ALLOWED}


def test_the_audience_queues_mail_only_inside_send_with_consent():
    tree = ast.parse((APP / "audience" / "services.py").read_text())
    senders = [
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "send"
            for call in ast.walk(node)
        )
    ]
    assert senders == ["send_with_consent"]
