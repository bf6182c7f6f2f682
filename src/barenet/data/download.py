"""Verified downloads from a list of mirrors, with urllib only.

A file is streamed to a temporary name in the destination directory, checked,
and renamed into place with ``os.replace``; on any failure the temporary file
is removed, so the cache never holds a partial or unverified file.

Checks, in order: the byte count against ``Content-Length`` (a connection cut
short is caught), the ``md5`` of the file as served when one is known, then a
caller-supplied ``validate(path)`` (for IDX files: magic, dtype, dimensions and
exact payload length, plus the SHA-256 of the uncompressed contents).
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import tempfile
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DownloadError", "FileSpec", "download_file", "cache_dir"]

_CHUNK = 1 << 20


class DownloadError(RuntimeError):
    """Every mirror failed for a file; the message lists each URL and why."""


@dataclass(frozen=True)
class FileSpec:
    """A file to fetch: its name on the mirrors and what it must hash to.

    ``sha256`` is the SHA-256 of the *uncompressed* contents (stable whatever
    gzip settings a mirror or a distribution used); ``md5`` is the MD5 of the
    file exactly as the mirrors serve it. Either may be ``None`` (unknown).
    """

    name: str
    sha256: str | None = None
    md5: str | None = None


def cache_dir() -> Path:
    """barenet's dataset cache: ``$BARENET_DATA`` or ``~/.cache/barenet``."""
    env = os.environ.get("BARENET_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "barenet"


def _fetch(url: str, tmp: Path, timeout: float) -> str:
    """Stream ``url`` into ``tmp``; return the hex MD5 of what was received."""
    md5 = hashlib.md5(usedforsecurity=False)
    with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
        length = resp.headers.get("Content-Length")
        received = 0
        while True:
            chunk = resp.read(_CHUNK)
            if not chunk:
                break
            out.write(chunk)
            md5.update(chunk)
            received += len(chunk)
        if length is not None and received != int(length):
            raise ValueError(f"truncated download: got {received} of {length} bytes")
        if received == 0:
            raise ValueError("empty response")
    return md5.hexdigest()


def download_file(
    spec: FileSpec,
    mirrors: Sequence[str],
    dest_dir: str | os.PathLike,
    *,
    validate: Callable[[Path], None] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``spec.name`` from the first mirror that serves a valid copy.

    ``mirrors`` are base URLs tried in order (``base + name``); ``validate``
    raises ``ValueError`` for a bad file. Returns ``dest_dir / spec.name``.
    Raises ``DownloadError`` listing every URL tried and its failure.
    """
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / spec.name
    failures: list[str] = []
    for base in mirrors:
        url = base.rstrip("/") + "/" + spec.name
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=dest_dir)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            got_md5 = _fetch(url, tmp, timeout)
            if spec.md5 is not None and got_md5 != spec.md5.lower():
                raise ValueError(f"MD5 mismatch: expected {spec.md5}, got {got_md5}")
            if validate is not None:
                validate(tmp)
            os.replace(tmp, target)
            return target
        except (OSError, ValueError, http.client.HTTPException) as e:  # URLError is an OSError
            failures.append(f"  {url}: {type(e).__name__}: {e}")
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
    tried = "\n".join(failures) if failures else "  (no mirrors configured)"
    raise DownloadError(f"could not download {spec.name}; mirrors tried:\n{tried}")
