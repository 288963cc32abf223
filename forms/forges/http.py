"""A small JSON-over-HTTPS client for forge APIs (urllib: no extra dependency)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

from forms.forges.base import ForgeError, ForgeRateLimited, ForgeUnavailable

# GitHub: with no header saying how long, wait at least a minute after a secondary limit.
UNTOLD_RATE_LIMIT_WAIT = 60.0


def path(*segments: str | int) -> str:
    """A URL path from segments, each percent-encoded ("submit/u/1" stays one segment)."""
    return "/" + "/".join(urllib.parse.quote(str(s), safe="") for s in segments)


class JsonClient:
    def __init__(self, base_url: str, headers: Mapping[str, str], *, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers)
        self.timeout = timeout

    def request(
        self,
        method: str,
        url_path: str,
        payload: Any = None,
        *,
        query: Mapping[str, str | int] | None = None,
    ) -> tuple[int, Any]:
        """(status, decoded JSON or None). 2xx and 3xx are returned, 4xx raise ForgeError,
        5xx, 429 and network failures raise ForgeUnavailable, a rate limit (403 or 429
        with its headers) ForgeRateLimited."""
        url = self.base_url + url_path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = {"Accept": "application/json", **self.headers}
        if payload is not None:
            data = json.dumps(payload, ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace")
            limited = rate_limit(error.code, dict(error.headers.items()), detail)
            if limited is not None:
                raise ForgeRateLimited(
                    f"{method} {url_path}: HTTP {error.code} {detail}",
                    error.code,
                    reset_at=limited[0],
                    retry_after=limited[1],
                ) from error
            if error.code >= 500 or error.code == 429:
                raise ForgeUnavailable(
                    f"{method} {url_path}: HTTP {error.code} {detail}", error.code
                ) from error
            raise ForgeError(
                f"{method} {url_path}: HTTP {error.code} {detail}", error.code
            ) from error
        except (TimeoutError, urllib.error.URLError, OSError) as error:
            raise ForgeUnavailable(f"{method} {url_path}: {error}") from error
        if not raw.strip():
            return status, None
        try:
            return status, json.loads(raw)
        except ValueError as error:
            # Usually a base URL that points at the web interface instead of the API.
            raise ForgeError(
                f"{method} {url_path}: answer is not JSON (check the forge URL)", status
            ) from error


def rate_limit(
    status: int, headers: Mapping[str, str] | None, detail: str
) -> tuple[float | None, float | None] | None:
    """(reset_at, retry_after) when a refusal is a rate limit, None otherwise.

    GitHub's primary limit: 403 or 429 with `x-ratelimit-remaining: 0` and
    `x-ratelimit-reset` (epoch seconds); GitLab's 429 with `RateLimit-Remaining: 0` and
    `RateLimit-Reset`. Secondary limits and proxies: `Retry-After`
    (seconds or an HTTP date). A 429, or a 403 saying "rate limit", without either header:
    wait a minute."""
    if status not in (403, 429):
        return None
    given = {k.lower(): v for k, v in (headers or {}).items()}
    retry_after = _retry_after(given.get("retry-after", ""))
    reset_at = None
    for prefix in ("x-ratelimit-", "ratelimit-"):  # GitHub's, GitLab's
        if given.get(prefix + "remaining", "").strip() == "0":
            try:
                reset_at = float(given.get(prefix + "reset", ""))
            except ValueError:
                reset_at = None
    if retry_after is None and reset_at is None:
        if status == 429 or "rate limit" in detail.lower():
            retry_after = UNTOLD_RATE_LIMIT_WAIT
        else:
            return None
    return reset_at, retry_after


def _retry_after(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
