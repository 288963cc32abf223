"""Configuration of the form service: defaults, a config file, PLANSITE_* environment variables.

Precedence (last wins): defaults < file named by PLANSITE_CONFIG (TOML or Python) <
environment variables < the dict passed to create_app (tests, `plansite serve`).
The session secret never lives in the repository: it comes from PLANSITE_SECRET_KEY or is
generated once into the instance folder.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

MEGABYTE = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "ROOT": ".",  # the repository working tree holding content/ and schemas/
    "INSTANCE_PATH": "instance",  # accounts, drafts, git state, built sites; never in git
    "SESSION_COOKIE_NAME": "plansite_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_SECURE": False,  # set true behind HTTPS
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "WTF_CSRF_TIME_LIMIT": 8 * 3600,
    "EVIDENCE_MAX_FILES": 5,
    "EVIDENCE_MAX_BYTES": 10 * MEGABYTE,
    # One request carries at most all evidence files plus the form fields.
    "MAX_CONTENT_LENGTH": 5 * 10 * MEGABYTE + MEGABYTE,
    "LOGIN_FREE_ATTEMPTS": 3,  # failures per account before delays start
    "LOGIN_IP_FREE_ATTEMPTS": 20,  # failures per client address before delays start
    "LOGIN_BASE_DELAY": 30,  # seconds, doubled with every further failure
    "LOGIN_MAX_DELAY": 3600,
    "LOGIN_FAILURE_WINDOW": 3600,  # failures older than this are forgotten
    "AS_OF": None,  # date the portal evaluates progress at (default: today)
    "TIMEZONE": None,  # IANA name for submitted_at (default: the server's local zone)
    "EMAIL_DOMAIN": "plansite.invalid",  # commit author e-mail = <account>@<domain>
    "SYNC_INTERVAL": 30,  # seconds between background sync() runs in `plansite serve`
}

# Environment variables are strings; these keys are converted.
_BOOLEAN_KEYS = {"SESSION_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "TESTING"}
_INTEGER_KEYS = {
    "PERMANENT_SESSION_LIFETIME",
    "WTF_CSRF_TIME_LIMIT",
    "EVIDENCE_MAX_FILES",
    "EVIDENCE_MAX_BYTES",
    "MAX_CONTENT_LENGTH",
    "LOGIN_FREE_ATTEMPTS",
    "LOGIN_IP_FREE_ATTEMPTS",
    "LOGIN_BASE_DELAY",
    "LOGIN_MAX_DELAY",
    "LOGIN_FAILURE_WINDOW",
    "SYNC_INTERVAL",
}


class ConfigError(Exception):
    pass


def read_config_file(path: Path) -> dict[str, Any]:
    """A TOML file (keys at the top level, any case) or a Python file (UPPERCASE names)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.suffix == ".toml":
        with path.open("rb") as handle:
            data = tomllib.load(handle)
        return {key.upper(): value for key, value in data.items()}
    if path.suffix == ".py":
        namespace: dict[str, Any] = {"__file__": str(path)}
        exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
        return {key: value for key, value in namespace.items() if key.isupper()}
    raise ConfigError(f"config file must be .toml or .py: {path}")


def _convert(key: str, value: str) -> Any:
    if key in _BOOLEAN_KEYS:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key in _INTEGER_KEYS:
        return int(value)
    return value


def read_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    """PLANSITE_FOO=bar -> {"FOO": "bar"}; PLANSITE_CONFIG and PLANSITE_INSTANCE are special."""
    result: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith("PLANSITE_") or name == "PLANSITE_CONFIG":
            continue
        key = name.removeprefix("PLANSITE_")
        if key == "INSTANCE":
            key = "INSTANCE_PATH"
        result[key] = _convert(key, value)
    return result


def load_config(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    config = dict(DEFAULTS)
    config_file = (overrides or {}).get("CONFIG_FILE") or environ.get("PLANSITE_CONFIG")
    if config_file:
        config.update(read_config_file(Path(config_file)))
    config.update(read_environment(environ))
    config.update(overrides or {})
    config["ROOT"] = str(Path(config["ROOT"]).resolve())
    config["INSTANCE_PATH"] = str(Path(config["INSTANCE_PATH"]).resolve())
    return config


def instance_secret_key(instance: Path) -> str:
    """The session secret, generated once into the instance folder (mode 0600)."""
    path = instance / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Written to a temporary file and linked into place: when several workers start at once,
    # exactly one link wins and nobody ever reads a half-written key.
    temporary = instance / f".secret_key.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    try:
        os.link(temporary, path)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
    finally:
        temporary.unlink()
    return key
