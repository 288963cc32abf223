"""What the reviewer sees before deciding: main's approved reports, read and evaluated once
per main commit, and what one submission would change (builder.impact) or what it
changes against the reports before it (forms.changes).

Reading and evaluating every approved report takes seconds at thousands of units; one
unit evaluated again takes milliseconds. So the evaluated main is kept per process for
the commit main is at (and the as-of date), and each preview only evaluates its unit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from builder.impact import Impact, report_impact
from builder.model import Content, Report
from builder.progress import Progress, evaluate
from builder.reporting import progress_date, submission_order
from forms.submissions import SubmissionService


@dataclass(frozen=True)
class MainState:
    """main at one commit: its approved reports by unit and their progress."""

    commit: str
    reports: dict[str, list[Report]]  # by unit
    progress: Progress

    def slot(self, unit: str, form: str, period: str) -> list[Report]:
        """The slot's approved reports, oldest first."""
        found = [r for r in self.reports.get(unit, ()) if (r.form, r.period) == (form, period)]
        return sorted(found, key=submission_order)


class MainProgress:
    """The evaluated main of the service's copy, cached for the commit it is at."""

    def __init__(
        self,
        content: Content,
        submissions: SubmissionService,
        as_of: date | None,
        today: Callable[[], date] = date.today,
    ):
        self.content = content
        self.submissions = submissions
        self.as_of = as_of
        self.today = today
        self._lock = threading.Lock()
        self._state: MainState | None = None

    def state(self, including: Sequence[Report] = ()) -> MainState | None:
        """main as it is now (None before the service has a copy of main); `including`
        are reports whose dates the as-of date must reach (see progress_date)."""
        commit = self.submissions.main_commit()
        if commit is None:
            return None
        with self._lock:
            state = self._state
            if state is not None and state.commit == commit:
                as_of = progress_date(self.as_of, including, state.progress.as_of)
                if as_of == state.progress.as_of:
                    return state
            reports = self.submissions.reports_on_main(commit)
            as_of = progress_date(self.as_of, [*reports, *including], self.today())
            by_unit: dict[str, list[Report]] = {}
            for report in reports:
                by_unit.setdefault(report.unit, []).append(report)
            state = MainState(commit, by_unit, evaluate(self.content, reports, as_of))
            self._state = state
            return state

    def impact(self, report: Report) -> Impact | None:
        """What approving `report` changes, None when it cannot be told (no main yet, or
        a unit the plan does not have)."""
        if all(unit.id != report.unit for unit in self.content.units):
            return None
        state = self.state([report])
        if state is None:
            return None
        return report_impact(
            self.content, state.progress, state.reports.get(report.unit, []), report
        )
