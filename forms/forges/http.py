"""A small JSON-over-HTTPS client for forge APIs (urllib: no extra dependency)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from forms.forges.base import ForgeError, ForgeUnavailable


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
        5xx, 429 and network failures raise ForgeUnavailable."""
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
            raise ForgeError(f"{method} {url_path}: answer is not JSON", status) from error
