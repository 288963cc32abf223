"""The form service's settings: one reader, from a settings file and the environment.

Precedence (last wins): the defaults below < the file named by PLANSITE_CONFIG (TOML, keys
in any case, or Python, UPPERCASE names) < PLANSITE_<KEY> environment variables < the
overrides the caller passes (`plansite serve`'s options, tests). Every setting is a field
of `Settings`, named as its key in lower case; its type says how a text value (from the
environment) is read. Other UPPERCASE keys of the file or the overrides are Flask settings
(`SECRET_KEY_FALLBACKS`, `PREFERRED_URL_SCHEME`...) and reach the app as they are.
The session secret never lives in the repository: it comes from PLANSITE_SECRET_KEY or is
generated once into the instance folder (`instance_secret_key`).
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from forms.private_files import make_private_folder

MEGABYTE = 1024 * 1024


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class Settings:
    root: Path = Path(".")  # the repository working tree holding content/ and schemas/
    instance_path: Path = Path("instance")  # accounts, drafts, git state, built sites
    secret_key: str | None = None  # default: generated once into the instance folder
    session_cookie_name: str = "plansite_session"
    session_cookie_httponly: bool = True
    session_cookie_samesite: str = "Lax"
    session_cookie_secure: bool = False  # set true behind HTTPS
    permanent_session_lifetime: int = 8 * 3600  # seconds after the last activity
    session_absolute_lifetime: int = 12 * 3600  # seconds after login, however active
    wtf_csrf_time_limit: int = 8 * 3600
    evidence_max_files: int = 5
    evidence_max_bytes: int = 10 * MEGABYTE
    # One request carries at most all evidence files plus the form fields (the fill page's
    # uploads); every other request at most max_form_bytes (forms.limits).
    max_content_length: int = 5 * 10 * MEGABYTE + MEGABYTE
    max_form_bytes: int = 256 * 1024
    submissions_per_hour: int = 30  # per unit (forms.quotas)
    evidence_bytes_per_period: int = 200 * MEGABYTE  # per unit and period, every state
    # Login throttling (forms/throttle.py): delays start after the free failures, then
    # double with every further failure.
    login_free_attempts: int = 3  # per account from one address (or one known device)
    login_account_free_attempts: int = 10  # per account, from the clients it does not know
    login_ip_free_attempts: int = 20  # per client address, for the accounts not known there
    login_base_delay: int = 30  # seconds, doubled with every further failure
    login_max_delay: int = 3600
    login_failure_window: int = 3600  # failures older than this are forgotten
    # A browser or address stays known to an account this long after its last login there.
    login_known_client_lifetime: int = 90 * 24 * 3600
    # Reverse proxies whose X-Forwarded-For is believed: addresses or networks, separated by
    # commas ("127.0.0.1, 10.0.0.0/8"). Empty: the header is ignored (forms/proxies.py).
    trusted_proxies: str = ""
    as_of: date | None = None  # date the portal evaluates progress at (default: today)
    timezone: str | None = None  # IANA name for submitted_at (default: the plan's timezone)
    email_domain: str = "plansite.invalid"  # commit author e-mail = <account>@<domain>
    sync_interval: int = 30  # seconds between background sync() runs
    testing: bool = False
    # Where submissions go. No remote: the embedded default, a local bare
    # instance/remote.git seeded from ROOT's committed HEAD, reviewed in the service.
    remote: str = ""  # path of a bare repository, or an https URL
    remote_user: str = ""  # https push: user and token (never put them in the URL)
    remote_token: str = ""
    main_branch: str = "main"
    forge: str = "local"  # a name in forms.forges.FORGES: local, gitea, github
    forge_url: str = ""
    forge_owner: str = ""
    forge_repo: str = ""
    forge_token: str = ""
    webhook_secret: str = ""
    committer_name: str = "plansite form service"
    committer_email: str = "plansite@localhost"
    # Reminders and notices (forms/notifications): the SMTP server e-mail goes through,
    # the timeout of every send, when the service's loop sends the daily reminders.
    smtp_host: str = ""  # empty: e-mail contacts fail (and are retried) until it is set
    smtp_port: int = 587
    smtp_security: str = "starttls"  # starttls | ssl | none
    smtp_user: str = ""  # no login when empty
    smtp_password: str = ""
    smtp_sender: str = "plansite@localhost"
    smtp_ca_file: str = ""  # PEM of the CA the server's certificate is checked against
    notify_timeout: int = 10  # seconds per send (SMTP dialogue, robot webhook)
    remind_hour: int = 8  # local hour of the daily reminders in `plansite serve`; -1: none
    notify_interval: int = 60  # seconds between the loop's looks for decisions to tell
    flask: Mapping[str, Any] = field(default_factory=dict)  # other UPPERCASE keys

    @property
    def instance(self) -> Path:
        return self.instance_path

    @property
    def sites_dir(self) -> Path:
        return self.instance_path / "sites"

    def flask_config(self, secret_key: str) -> dict[str, Any]:
        """The settings Flask and its extensions read, then the other UPPERCASE keys."""
        return {
            "SECRET_KEY": secret_key,
            "SESSION_COOKIE_NAME": self.session_cookie_name,
            "SESSION_COOKIE_HTTPONLY": self.session_cookie_httponly,
            "SESSION_COOKIE_SAMESITE": self.session_cookie_samesite,
            "SESSION_COOKIE_SECURE": self.session_cookie_secure,
            "PERMANENT_SESSION_LIFETIME": timedelta(seconds=self.permanent_session_lifetime),
            "WTF_CSRF_TIME_LIMIT": self.wtf_csrf_time_limit,
            "MAX_CONTENT_LENGTH": self.max_content_length,
            "TESTING": self.testing,
            **self.flask,
        }


def load_settings(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}
    config_file = overrides.get("CONFIG_FILE") or environ.get("PLANSITE_CONFIG")
    if config_file:
        values.update(read_config_file(Path(config_file)))
    values.update(read_environment(environ))
    values.update({key: value for key, value in overrides.items() if key != "CONFIG_FILE"})
    return settings_from(values)


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


def read_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """PLANSITE_FOO=bar -> {"FOO": "bar"}; PLANSITE_CONFIG names the file, not a setting."""
    return {
        name.removeprefix("PLANSITE_"): value
        for name, value in environ.items()
        if name.startswith("PLANSITE_") and name != "PLANSITE_CONFIG"
    }


def settings_from(values: Mapping[str, Any]) -> Settings:
    """Settings from UPPERCASE keys (INSTANCE is INSTANCE_PATH); text values are read as
    the field's type says, paths are made absolute."""
    hints = typing.get_type_hints(Settings)
    known: dict[str, Any] = {}
    flask: dict[str, Any] = {}
    for key, value in values.items():
        name = "instance_path" if key == "INSTANCE" else key.lower()
        if name in hints and name != "flask":
            known[name] = _converted(hints[name], value)
        else:
            flask[key] = value
    settings = Settings(**known, flask=flask)
    return dataclasses.replace(
        settings, root=settings.root.resolve(), instance_path=settings.instance_path.resolve()
    )


def _boolean(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return bool(value)


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


_READERS: dict[Any, Callable[[Any], Any]] = {
    bool: _boolean,
    int: int,
    str: str,
    Path: Path,
    date: _date,
}


def _converted(hint: Any, value: Any) -> Any:
    arguments = typing.get_args(hint)
    if isinstance(hint, types.UnionType) and type(None) in arguments:
        if value is None or value == "":
            return None
        hint = next(argument for argument in arguments if argument is not type(None))
    return _READERS[hint](value)


def instance_secret_key(instance: Path) -> str:
    """The session secret, generated once into the instance folder (mode 0600)."""
    path = instance / "secret_key"
    if path.is_file():
        return path.read_text(encoding="ascii").strip()
    make_private_folder(instance)
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


def with_site_date(settings: Settings) -> Settings:
    """The settings with AS_OF defaulting to the site's date (the `plansite` plugin's
    `as_of` in ROOT's mkdocs.yml), so that the portal and the published site count
    progress to the same day; unchanged when AS_OF is set or the root has no mkdocs.yml."""
    if settings.as_of is not None or not (settings.root / "mkdocs.yml").is_file():
        return settings
    from builder.build import configured_as_of  # MkDocs' side, only when needed

    return dataclasses.replace(settings, as_of=configured_as_of(settings.root))
