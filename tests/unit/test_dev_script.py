"""dev.py, the quick start's script: a second demo refuses to start before it touches anything."""

from __future__ import annotations

import importlib.util
import socket
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_dev():
    spec = importlib.util.spec_from_file_location("dev_script", ROOT / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_demo_on_a_taken_port_refuses_before_touching_the_database(tmp_path, monkeypatch, capsys):
    dev = load_dev()
    database = tmp_path / "demo.sqlite3"
    database.write_bytes(b"the running demo's data")
    monkeypatch.setattr(dev, "DEMO_DB", database)
    monkeypatch.setattr(dev, "ensure_installed", lambda extras: (_ for _ in ()).throw(AssertionError("installed")))
    with socket.socket() as running:
        running.bind(("127.0.0.1", 0))
        running.listen()
        monkeypatch.setenv("PORT", str(running.getsockname()[1]))

        code = dev.demo()

    assert code == 1
    assert "is taken" in capsys.readouterr().err
    assert database.read_bytes() == b"the running demo's data"


def test_a_port_that_is_not_a_number_is_refused(monkeypatch):
    dev = load_dev()
    monkeypatch.setenv("PORT", "50x0")

    assert dev.demo() == 2


def test_a_free_port_is_free_and_a_listening_one_is_taken():
    dev = load_dev()
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        taken = listening.getsockname()[1]
        assert dev.port_taken(taken)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    assert not dev.port_taken(free)
