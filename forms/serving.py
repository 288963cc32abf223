"""How waitress runs the service (`plansite serve`, or `waitress-serve --call
forms.wsgi:make_app` with the same flags): limits so that idle or half-sent connections
cannot take the server.

Waitress reads requests in its event loop and hands a worker thread only a complete one, so
a slow client costs a connection, not a thread; with waitress' defaults (100 connections,
closed after 120 idle seconds) 110 half-sent requests stopped every other client for two
minutes. Here a connection that sends nothing for CHANNEL_TIMEOUT seconds is closed, far
more connections are allowed (poll() has no 1024-descriptor ceiling, unlike select()), and
headers and bodies are bounded by what the service accepts anyway.
"""

from __future__ import annotations

import logging
import resource
from typing import Any

from flask import Flask

from forms.settings import Settings

log = logging.getLogger(__name__)

CHANNEL_TIMEOUT = 30  # seconds a connection may send nothing (waitress: 120)
CLEANUP_INTERVAL = 5  # seconds between looks for such connections (waitress: 30)
CONNECTION_LIMIT = 1000  # open connections (waitress: 100)
# Descriptors per connection: its socket, sometimes a temporary file for a large body
# or answer; and a margin for databases, git objects and the site's files.
DESCRIPTORS_PER_CONNECTION = 2
DESCRIPTOR_MARGIN = 200
MAX_REQUEST_HEADER_SIZE = 64 * 1024  # all headers (waitress: 256 KiB); the session cookie is small
# Requests and answers beyond these spill into temporary files (waitress' defaults, kept):
# memory per connection stays bounded whatever is uploaded or downloaded.
INBUF_OVERFLOW = 512 * 1024
OUTBUF_OVERFLOW = 1024 * 1024


def waitress_options(
    settings: Settings, threads: int, connection_limit: int = CONNECTION_LIMIT
) -> dict[str, Any]:
    """The keyword arguments of waitress.create_server (the waitress-serve flags of
    forms/README.md say the same: `--channel-timeout=30` for channel_timeout...)."""
    return {
        "threads": threads,
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "connection_limit": connection_limit,
        "asyncore_use_poll": True,
        "max_request_header_size": MAX_REQUEST_HEADER_SIZE,
        # Bodies the application would refuse anyway are refused before they are read; the
        # margin leaves a body just over the limit to the application's Chinese 413 page.
        "max_request_body_size": settings.max_content_length + 1024 * 1024,
        "inbuf_overflow": INBUF_OVERFLOW,
        "outbuf_overflow": OUTBUF_OVERFLOW,
        # X-Forwarded-* reach the application, which alone decides whom it trusts: waitress
        # would otherwise drop them silently for any proxy it was not told about.
        "clear_untrusted_proxy_headers": False,
    }


def affordable_connections(wanted: int = CONNECTION_LIMIT) -> int:
    """Raise this process' soft limit of open files (often 1024) towards what `wanted`
    connections need, within the hard limit; the connections the limit then affords.
    Past the limit accept() fails, and waitress retries it in a busy loop."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted * DESCRIPTORS_PER_CONNECTION + DESCRIPTOR_MARGIN
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    affordable = max(1, (soft - DESCRIPTOR_MARGIN) // DESCRIPTORS_PER_CONNECTION)
    if affordable < wanted:
        log.warning("%d open files allowed: at most %d connections", soft, affordable)
    return min(wanted, affordable)


def serve(app: Flask, settings: Settings, *, host: str, port: int, threads: int) -> None:
    """Serve `app` until the process is stopped."""
    from waitress import create_server

    options = waitress_options(settings, threads, affordable_connections())
    server = create_server(app, host=host, port=port, **options)
    server.print_listen("Serving on http://{}:{}")
    server.run()
