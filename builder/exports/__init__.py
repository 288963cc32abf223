"""The site's downloads, written beside the pages: a registry of exports.

Each export is one module holding an `EXPORT` (how it writes its files, what the downloads
page says of them); `EXPORTS` lists them in the order of the downloads page. Adding an
export is adding its module and its line here. Every export writes text formula-safe
(builder.exports.tables says how).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from builder.exports import calendars, datapackage, readable_csv, workbook
from builder.exports.datapackage import DATAPACKAGE, csv_text, write_data_package
from builder.exports.downloads import Download, Export
from builder.exports.tables import FORMULA_TRIGGERS, neutralise
from builder.exports.workbook import WORKBOOK, sheet_title, write_workbook
from builder.model import Content, Report
from builder.progress import Progress

EXPORTS: tuple[Export, ...] = (
    workbook.EXPORT,
    readable_csv.EXPORT,
    datapackage.EXPORT,
    calendars.EXPORT,
)

__all__ = [
    "DATAPACKAGE",
    "EXPORTS",
    "FORMULA_TRIGGERS",
    "WORKBOOK",
    "Download",
    "Export",
    "csv_text",
    "downloads",
    "export_repository",
    "neutralise",
    "sheet_title",
    "write_data_package",
    "write_exports",
    "write_workbook",
]


def write_exports(
    content: Content,
    reports: Sequence[Report],
    progress: Progress,
    out_dir: Path,
    forms_url: str = "/forms/",
) -> None:
    """Write every export's files into out_dir; `forms_url`: where the form service is
    (exports link to it when it is absolute)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for export in EXPORTS:
        export.write(content, reports, progress, out_dir, forms_url)


def downloads(content: Content) -> list[Download]:
    """The files of the downloads page, in the exports' order."""
    return [download for export in EXPORTS for download in export.downloads(content)]


def export_repository(
    root: Path, as_of: date | None, out_dir: Path, forms_url: str = "/forms/"
) -> None:
    """Load the repository, evaluate progress at `as_of` (None: today, as
    builder.reporting.progress_date decides it) and write every export to out_dir.

    The entry point of the export process the MkDocs plugin starts beside the page build
    (builder.plugin.ExportJob): progress cannot be pickled (read-only mappings), so the
    process loads the repository again."""
    from builder.plan import load_content
    from builder.progress import evaluate
    from builder.reporting import progress_date
    from builder.reports import load_reports

    content = load_content(root)
    reports = load_reports(root, content)
    progress = evaluate(content, reports, progress_date(as_of, reports, date.today()))
    write_exports(content, reports, progress, out_dir, forms_url)
