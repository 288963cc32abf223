"""The production entry point `forms.wsgi:app`, configured only by the environment."""

from __future__ import annotations

import importlib
from datetime import date
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


def fresh_wsgi_module():
    """forms.wsgi re-imported with no app built yet (reload keeps the module's names)."""
    module = importlib.import_module("forms.wsgi")
    vars(module).pop("app", None)
    return importlib.reload(module)


def test_wsgi_app_counts_progress_to_the_site_s_date_unless_as_of_is_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Like `plansite serve`: the portal and the published site count to the same day."""
    repo = make_repository(tmp_path / "repo")
    (repo / "mkdocs.yml").write_text(
        "site_name: x\nplugins:\n  - plansite: {as_of: 2025-08-01}\n", encoding="utf-8"
    )
    monkeypatch.setenv("PLANSITE_ROOT", str(repo))
    monkeypatch.setenv("PLANSITE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("PLANSITE_SYNC_INTERVAL", "3600")
    wsgi = fresh_wsgi_module()
    assert wsgi.app.extensions["plansite"].as_of == date(2025, 8, 1)

    monkeypatch.setenv("PLANSITE_AS_OF", "2025-09-30")
    wsgi = fresh_wsgi_module()
    assert wsgi.app.extensions["plansite"].as_of == date(2025, 9, 30)
