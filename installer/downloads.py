"""Downloading a file: fail fast when its host cannot be reached, resume from a ``.part`` file (HTTP Range), stop on
a stalled transfer, refuse HTML pages, show progress."""

from __future__ import annotations

import http.client
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Callable, Optional

from .report import Reporter

CONNECT_TIMEOUT_S = 10.0  # reachability pre-check before any download
DOWNLOAD_TIMEOUT_S = 15.0  # per socket operation: a stalled transfer stops, the .part file is kept


class DownloadError(Exception):
    """A download did not complete; the message says why (the ``.part`` file is kept for resuming)."""


def reachability_problem(url: str, timeout: float = CONNECT_TIMEOUT_S) -> Optional[str]:
    """Why ``url``'s host (or the configured proxy) cannot be reached, or None if a TCP connect works."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        host, port = proxy_parts.hostname or host, proxy_parts.port or 80
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except socket.timeout:
        return f"cannot reach {host}:{port} (no answer within {timeout:.0f} s)"
    except OSError as err:
        return f"cannot reach {host}:{port} ({err.strerror or err})"


def reachability_problems(urls: list[str], timeout: float = CONNECT_TIMEOUT_S) -> dict[str, str]:
    """{url: problem} for the URLs that cannot be reached, all checked at once in at most ~``timeout`` s
    (threads, because a hanging DNS lookup is not bounded by the socket timeout)."""
    results: dict[str, Optional[str]] = {}

    def probe(url: str) -> None:
        results[url] = reachability_problem(url, timeout)

    threads = [threading.Thread(target=probe, args=(u,), daemon=True) for u in dict.fromkeys(urls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout + 1.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return {u: results.get(u) or f"cannot reach {urllib.parse.urlsplit(u).hostname} (no answer within "
            f"{timeout:.0f} s)" for u in dict.fromkeys(urls) if results.get(u, "pending") is not None}


def download(url: str, part: Path, progress: Optional[Callable[[int, Optional[int]], None]] = None,
             timeout: float = DOWNLOAD_TIMEOUT_S, chunk_size: int = 1 << 20) -> int:
    """Download ``url`` into ``part``, resuming from what ``part`` already holds (HTTP Range).

    Returns the number of bytes in the complete file. Raises :class:`DownloadError` (``part`` kept, so
    running again resumes) on network errors, stalls, HTML pages instead of files, or short transfers.
    """
    have = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": "tcmr-mocap-install_deps/1", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: complete if the sizes agree
            total = _content_range_total(err.headers.get("Content-Range", ""))
            if total == have:
                return have
            part.unlink()
            return download(url, part, progress, timeout, chunk_size)
        raise DownloadError(f"the server answered HTTP {err.code} ({err.reason})") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", None) or repr(err)
        raise DownloadError(f"cannot connect ({reason})") from None
    with response:
        if response.headers.get("Content-Type", "").startswith("text/html"):
            raise DownloadError("the server sent an HTML page instead of the file (download quota exceeded, "
                                "or a sign-in/confirmation page)")
        length = response.headers.get("Content-Length")
        if response.status == 206:
            start = _content_range_start(response.headers.get("Content-Range", ""))
            if start != have:
                raise DownloadError(f"the server resumed at byte {start}, not {have}; delete {part} and retry")
            total = _content_range_total(response.headers.get("Content-Range", ""))
            mode = "ab"
        else:  # 200: the server sends everything (it ignored or does not support Range)
            have, mode = 0, "wb"
            total = int(length) if length and length.isdigit() else None
        done = have
        try:
            with open(part, mode) as fh:
                while True:
                    data = response.read(chunk_size)
                    if not data:
                        break
                    fh.write(data)
                    done += len(data)
                    if progress:
                        progress(done, total)
        except (socket.timeout, TimeoutError):
            raise DownloadError(f"the transfer stalled (no data for {timeout:.0f} s)") from None
        except (OSError, http.client.HTTPException) as err:
            raise DownloadError(f"the transfer broke off ({getattr(err, 'strerror', None) or err!r})") from None
    if total is not None and done != total:
        raise DownloadError(f"got {done} of {total} bytes")
    return done


def _content_range_start(value: str) -> Optional[int]:
    match = re.match(r"bytes (\d+)-", value)
    return int(match.group(1)) if match else None


def _content_range_total(value: str) -> Optional[int]:
    match = re.search(r"/(\d+)\s*$", value)
    return int(match.group(1)) if match else None


def download_with_progress(url: str, target: Path, label: str, reporter: Reporter, timeout: float,
                            keep_part: bool = False) -> None:
    """Download to ``target.part``; rename to ``target`` unless ``keep_part`` (caller validates first)."""
    part = target.with_name(target.name + ".part")
    reporter.stage("download", 0.0, f"downloading {label} from {url}")

    def show(done: int, total: Optional[int]) -> None:
        fraction = done / total if total else None
        amount = f"{done / 1e6:.0f} MB" + (f" of {total / 1e6:.0f} MB" if total else "")
        reporter.progress("download", fraction, f"  {label}: {amount}")

    size = download(url, part, show, timeout=timeout)
    reporter.progress("download", 1.0, f"  {label}: {size / 1e6:.1f} MB done")
    if not keep_part:
        os.replace(part, target)
