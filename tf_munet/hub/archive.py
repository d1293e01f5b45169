"""Fetching and unpacking a released model archive, refusing anything incomplete.

A download goes to a temporary file beside its destination and is checked against the
release's `checksum.json` (sha256 per model, as Spleeter's own provider does) before it is
used; a local archive is checked by gzip's and tar's own integrity checks while it is read,
and its checkpoint by TensorFlow's per-tensor checksums. Members that would land outside the
extraction folder (absolute paths, `..`, links) are refused (tarfile's "data" filter).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tarfile
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from tf_munet.errors import UserError, atomic_path, one_line

CHECKSUMS = "checksum.json"
_CHUNK = 1 << 20


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


class Unreachable(UserError):
    """A release file that could not be fetched (no network, refused, not found)."""


def _open(url: str, timeout: float):
    try:
        return urllib.request.urlopen(url, timeout=timeout)  # http(s) and file URLs
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise Unreachable(f"{url}: cannot download ({one_line(getattr(exc, 'reason', exc))})") from None


def download(url: str, dest: str | Path, *, timeout: float = 60.0) -> Path:
    """Download `url` to `dest` (written to a temporary name, renamed when complete).

    A response shorter than its Content-Length is refused (a cut connection)."""
    dest = Path(dest)
    with _open(url, timeout) as response, atomic_path(dest) as tmp:
        expected = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        size = 0
        with open(tmp, "wb") as out:
            while block := response.read(_CHUNK):
                out.write(block)
                size += len(block)
        if expected is not None and expected.isdigit() and size != int(expected):
            raise UserError(f"{url}: download truncated ({size} of {expected} bytes)")
    return dest


def release_checksum(base_url: str, name: str, *, timeout: float = 60.0) -> str:
    """The sha256 the release's checksum.json lists for `name`."""
    url = f"{base_url.rstrip('/')}/{CHECKSUMS}"
    with _open(url, timeout) as response:
        try:
            index = json.loads(response.read().decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UserError(f"{url}: not a checksum index (invalid JSON)") from None
    if not isinstance(index, dict) or name not in index:
        raise UserError(f"{url}: no checksum for model {name!r}")
    return str(index[name])


def fetch_release(base_url: str, name: str, dest_dir: str | Path, *, timeout: float = 60.0) -> Path:
    """Download `<base_url>/<name>.tar.gz` into dest_dir and check it against checksum.json."""
    url = f"{base_url.rstrip('/')}/{name}.tar.gz"
    expected = release_checksum(base_url, name, timeout=timeout)
    path = download(url, Path(dest_dir) / f"{name}.tar.gz", timeout=timeout)
    actual = sha256(path)
    if actual != expected:
        path.unlink()
        raise UserError(f"{url}: corrupt or incomplete download (sha256 {actual[:12]}..., "
                        f"the release lists {expected[:12]}...)")
    return path


def extract(archive: str | Path, dest: str | Path) -> Path:
    """Unpack a .tar.gz (or .tar) into dest; a UserError names a corrupt or truncated archive."""
    archive, dest = Path(archive), Path(dest)
    if not archive.is_file():
        raise UserError(f"{archive}: no such archive")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        shutil.rmtree(dest, ignore_errors=True)
        if isinstance(exc, tarfile.FilterError):
            raise UserError(f"{archive}: unsafe member in archive ({one_line(exc)})") from None
        raise UserError(f"{archive}: corrupt or truncated archive ({one_line(exc)})") from None
    return dest
