"""What an export offers on the site's downloads page."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup

from builder.model import Content, Report
from builder.progress import Progress


@dataclass(frozen=True)
class Download:
    """One file of the downloads page: its name in the site's data/ folder and its words."""

    file: str
    label: str
    description: Markup  # trusted text of the export module (may hold <code>)
    save: bool = True  # a download link (`download` attribute), not a page to open
    # Machine-readable (codes, ISO times): listed under the downloads page's note for
    # technical readers, after the files a person opens in Excel.
    for_programs: bool = False


@dataclass(frozen=True)
class Export:
    """One kind of export: how it writes its files and what the downloads page says of them.

    `write(content, reports, progress, out_dir, forms_url)`: forms_url is where the form
    service is (absolute when the site's address is known), for exports that link to it."""

    name: str
    write: Callable[[Content, Sequence[Report], Progress, Path, str], None]
    downloads: Callable[[Content], list[Download]]
