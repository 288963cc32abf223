"""The downloads page: the files every export (builder.exports) writes with the site."""

from __future__ import annotations

from builder.exports import downloads
from builder.pages.page import GeneratedPage
from builder.pages.site import Site


def data_page(site: Site) -> GeneratedPage:
    return site.render("data.md", "data.md", "数据下载", downloads=downloads(site.content))
