"""The composition root of the form service: Settings -> Services.

`build_services` is the one place the service is wired (`plansite serve`, the WSGI entry
and the tests use it); `forms.app.create_app(services)` builds the Flask app around the
result. The services live on app.extensions (no global state); views reach them with
`services()`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from flask import current_app

from builder.model import Content, Report
from forms import repository
from forms.accounts import AccountStore
from forms.drafts import DraftStore
from forms.forges.base import ForgeConfig, ReportLabels
from forms.notifications import make_notifiers
from forms.notifications.runs import Reminders
from forms.preview import MainProgress
from forms.private_files import make_private_folder
from forms.quotas import Quotas
from forms.rebuild import Build, SiteRebuilder
from forms.settings import Settings, instance_secret_key
from forms.submissions import GitConfig, SubmissionService, embedded_config
from forms.throttle import Throttle

EXTENSION = "plansite"


@dataclass
class Services:
    settings: Settings
    secret_key: str
    content: Content
    accounts: AccountStore
    throttle: Throttle
    drafts: DraftStore
    submissions: SubmissionService
    rebuilder: SiteRebuilder | None  # None when the site is built and served elsewhere
    main_progress: MainProgress  # main's reports evaluated once per commit (review previews)
    # The time (seconds since the epoch) that login throttling and session lifetimes read;
    # tests pass a fake one so that nothing sleeps for real.
    clock: Callable[[], float] = time.time
    # Reminders and notices of decisions (forms/notifications); None in apps built
    # without build_services.
    reminders: Reminders | None = None

    @property
    def root(self) -> Path:
        return self.settings.root

    @property
    def instance(self) -> Path:
        return self.settings.instance

    @property
    def as_of(self) -> date | None:
        return self.settings.as_of

    def decision_made(self) -> None:
        """A reviewer approved or returned a report: its unit is told in the background
        (forms/notifications), so the decision never waits for or fails with a notice."""
        if self.reminders is not None:
            self.reminders.decided()

    def start_reminders(self) -> None:
        """The background loop of reminders (forms.notifications.runs), in this process:
        decisions told at once, the day's reminders from REMIND_HOUR."""
        if self.reminders is not None:
            settings = self.settings
            self.reminders.start_background(
                settings.remind_hour, settings.notify_interval, lambda: reminder_date(settings)
            )

    @property
    def quotas(self) -> Quotas:
        return Quotas(self.settings.submissions_per_hour, self.settings.evidence_bytes_per_period)


def services() -> Services:
    """The services of the app handling the current request."""
    services: Services = current_app.extensions[EXTENSION]
    return services


def build_services(
    settings: Settings,
    *,
    content: Content | None = None,
    rebuild_site: bool = True,
    build: Build | None = None,
    clock: Callable[[], float] = time.time,
) -> Services:
    """Open everything the service uses in the instance folder.

    Raises builder.model.ContentError when the plan in ROOT does not load. `rebuild_site`:
    a rebuild worker builds main into instance/sites after every merge (with `build`,
    default MkDocs); without it, merges rebuild nothing.
    """
    instance = settings.instance
    make_private_folder(instance)
    if content is None:
        from builder.plan import load_content

        content = load_content(settings.root)
    submissions = SubmissionService(git_config(settings), labels=report_labels(content))
    rebuilder = None
    if rebuild_site:
        rebuilder = SiteRebuilder(
            Path(submissions.config.remote),
            settings.sites_dir,
            build,
            branch=submissions.config.main_branch,
        )
        submissions.on_merged(rebuilder.trigger)
    database = instance / "accounts.sqlite"
    return Services(
        settings=settings,
        secret_key=settings.secret_key or instance_secret_key(instance),
        content=content,
        accounts=AccountStore(database),
        throttle=Throttle(database, clock),
        drafts=DraftStore(instance / "drafts.sqlite"),
        submissions=submissions,
        rebuilder=rebuilder,
        main_progress=MainProgress(content, submissions, settings.as_of),
        clock=clock,
        reminders=Reminders(content, submissions, instance, make_notifiers(settings)),
    )


def reminder_date(settings: Settings) -> date:
    """The day reminders are worked out for: AS_OF when one is set (a demo evaluated on a
    fixed day), else today."""
    return settings.as_of or date.today()


def git_config(settings: Settings) -> GitConfig:
    """Where submissions go: REMOTE and FORGE, or without a REMOTE the embedded default
    (forms.submissions.embedded_config)."""
    instance = settings.instance
    if not settings.remote:
        return embedded_config(instance, settings.root)
    return GitConfig(
        instance_dir=instance,
        service_repo=instance / "service.git",
        remote=settings.remote,
        main_branch=settings.main_branch,
        forge=ForgeConfig(
            kind=settings.forge,
            api_url=settings.forge_url,
            owner=settings.forge_owner,
            repo=settings.forge_repo,
            token=settings.forge_token,
            webhook_secret=settings.webhook_secret,
        ),
        committer=repository.Identity(settings.committer_name, settings.committer_email),
        remote_username=settings.remote_user,
        remote_password=settings.remote_token,
    )


def report_labels(content: Content) -> Callable[[Report], ReportLabels]:
    """The human names of a report's identifiers, for pull request titles and bodies."""
    units = {unit.id: unit.name for unit in content.units}
    forms = {form.id: form for form in content.forms}
    periods = {period.id: period.title for period in content.periods}

    def labels(report: Report) -> ReportLabels:
        known = forms.get(report.form)
        return ReportLabels(
            unit_name=units.get(report.unit, report.unit),
            form_title=known.title if known else report.form,
            period_title=periods.get(report.period, report.period),
            field_titles={f.name: f.title for f in known.fields} if known else {},
            timezone=content.plan.timezone,
        )

    return labels
