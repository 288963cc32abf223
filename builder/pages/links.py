"""Links between the generated pages, relative as MkDocs writes them, and to the form service."""

from __future__ import annotations

import posixpath
from functools import cache

from builder.model import is_identifier


@cache  # the pages ask for the URLs of a few thousand files tens of thousands of times
def page_url(path: str, directory_urls: bool = True) -> str:
    """The URL (relative to the site root) MkDocs gives a docs file."""
    if not path.endswith(".md"):
        return path  # a static file keeps its path
    stem = path.removesuffix(".md")
    if not directory_urls:
        return stem + ".html"
    if stem == "index":
        return ""
    if stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def url_base(from_path: str, directory_urls: bool = True) -> str:
    """The folder (site URL) that a page's relative links start from."""
    here = page_url(from_path, directory_urls)
    return here if here == "" or here.endswith("/") else posixpath.dirname(here)


class PageLinks:
    """The relative links of one page to the site's other docs files and static files."""

    def __init__(self, from_path: str, directory_urls: bool = True):
        self.directory_urls = directory_urls
        self._folders = [part for part in url_base(from_path, directory_urls).split("/") if part]
        self._top = self._folders[0] if self._folders else None
        self._root = "../" * len(self._folders)

    def __call__(self, to_path: str) -> str:
        target = page_url(to_path, self.directory_urls)
        if target.partition("/")[0] != self._top:
            # No folder in common (a unit page's link to a task page): up to the site's
            # root, then down to the target.
            return self._root + target or "./"
        parts = [part for part in target.split("/") if part]
        common = 0
        for mine, theirs in zip(self._folders, parts, strict=False):
            if mine != theirs:
                break
            common += 1
        rel = "/".join([".."] * (len(self._folders) - common) + parts[common:]) or "."
        if target == "" or target.endswith("/"):
            return "./" if rel == "." else rel + "/"
        return rel


def relative_url(from_path: str, to_path: str, directory_urls: bool = True) -> str:
    """A link from one docs file to another (or to a static file), relative, as MkDocs would."""
    return PageLinks(from_path, directory_urls)(to_path)


def form_link(forms_url: str, unit: str, form: str, period: str) -> str | None:
    """The form service's page for one unit x form x period; None for a non-identifier."""
    if not all(is_identifier(v) for v in (unit, form, period)):
        return None
    base = forms_url if forms_url.endswith("/") else forms_url + "/"
    return f"{base}units/{unit}/{form}/{period}/"


def portal_link(forms_url: str, unit: str) -> str | None:
    """The form service's page of one unit: all its forms; None for a non-identifier."""
    if not is_identifier(unit):
        return None
    base = forms_url if forms_url.endswith("/") else forms_url + "/"
    return f"{base}units/{unit}/"
