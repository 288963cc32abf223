"""The production entry point `forms.wsgi:app`, configured only by the environment."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from tests.app_fixtures import make_repository


def test_wsgi_app_is_built_from_plansite_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = make_repository(tmp_path / "repo")
    instance = tmp_path / "instance"
    monkeypatch.setenv("PLANSITE_ROOT", str(repo))
    monkeypatch.setenv("PLANSITE_INSTANCE", str(instance))
    monkeypatch.setenv("PLANSITE_SYNC_INTERVAL", "3600")
    wsgi = importlib.reload(importlib.import_module("forms.wsgi"))
    assert "app" not in vars(wsgi)  # built on first access, not at import
    app = wsgi.app
    assert app.extensions["plansite"].root == repo.resolve()
    assert (instance / "remote.git").is_dir() and (instance / "secret_key").is_file()
    response = app.test_client().get("/forms/login")
    assert response.status_code == 200
    assert "2025年校园安全工作计划" in response.get_data(as_text=True)
