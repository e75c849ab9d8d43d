"""``ganrun data download``: fetch a published dataset archive, check it, unpack it safely.

The archive streams to a temporary file in the target folder while its SHA-256 is taken;
size and checksum must match the archive's registration (``ganrun_register_archives``: a
plugin publishes the archives it knows) before anything is unpacked. It unpacks into a
temporary folder beside the target, which is then renamed into place in one step, so a
failure (network, checksum, a damaged archive, Ctrl-C) never leaves a half-unpacked folder.
A kill (SIGKILL, a power cut) skips the clean-up; the next download of the same archive
removes those leftovers (``.NAME.*.part``, ``.NAME.*.tmp``) first.

``GANRUN_DATA_MIRROR``: a base URL to fetch archives from instead of their publishers
(``$GANRUN_DATA_MIRROR/<the archive's file name>``); sizes and checksums are still checked.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ganrun.errors import UserError

MIRROR_ENV = "GANRUN_DATA_MIRROR"
CHUNK = 1 << 20
TIMEOUT_S = 60


@dataclass(frozen=True)
class ArchiveSpec:
    """A published archive: where it is, its exact size and SHA-256, the folder it unpacks to."""

    name: str
    url: str
    size: int  # bytes
    sha256: str
    folder: str  # the folder the archive holds (created under --root)
    parts: tuple[str, ...] = ("trainA", "trainB", "testA", "testB")  # a complete folder has these


def archive(name: str, archives: dict[str, ArchiveSpec]) -> ArchiveSpec:
    """The registered archive ``name`` (``ganrun_register_archives``), or a one-line error."""
    if name not in archives:
        known = ", ".join(sorted(archives)) or "none registered"
        raise UserError(f"NAME: unknown dataset '{name}' (known: {known})")
    return archives[name]


def source_url(spec: ArchiveSpec) -> str:
    """The publisher's URL, or the same file name under ``$GANRUN_DATA_MIRROR``."""
    mirror = os.environ.get(MIRROR_ENV, "").strip()
    if not mirror:
        return spec.url
    return f"{mirror.rstrip('/')}/{PurePosixPath(spec.url).name}"


def missing_parts(spec: ArchiveSpec, folder: Path) -> list[str]:
    """The parts (``trainA``, ...) that ``folder`` lacks or holds empty."""
    return [p for p in spec.parts if not (folder / p).is_dir() or not any((folder / p).iterdir())]


def download(spec: ArchiveSpec, root: str | os.PathLike, *, progress: bool = True) -> Path:
    """Fetch, check and unpack ``spec`` into ``root/spec.folder``; return that folder.

    A complete folder already there is kept as it is (nothing is fetched)."""
    root = Path(root).expanduser()
    target = root / spec.folder
    if root.is_dir():
        remove_leftovers(spec, root)
    if target.exists():
        missing = missing_parts(spec, target)
        if not missing:
            return target
        raise UserError(f"{target}: exists but lacks {', '.join(missing)}; remove it and "
                        f"download again")
    root.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=root)
    os.close(fd)
    try:
        _fetch(spec, source_url(spec), Path(tmp), progress)
        _unpack(spec, Path(tmp), target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return target


def remove_leftovers(spec: ArchiveSpec, root: Path) -> int:
    """Remove what a killed download of ``spec`` left in ``root``: the ``.NAME.xxxx.part``
    files and ``.NAME.xxxx.tmp`` staging folders a SIGKILL keeps from being cleaned up.
    Says how many on stderr; returns that number."""
    stale = re.compile(rf"\.{re.escape(spec.name)}\.[a-z0-9_]+\.(part|tmp)")  # mkstemp's names
    removed = 0
    for path in [p for p in root.iterdir() if stale.fullmatch(p.name)]:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                path.unlink(missing_ok=True)
            except OSError:  # not ours to remove: left, and not counted
                continue
        removed += not path.exists()
    if removed:
        print(f"ganrun: {spec.name}: removed {removed} leftover(s) of an interrupted download "
              f"from {root}", file=sys.stderr)
    return removed


def _fetch(spec: ArchiveSpec, url: str, dest: Path, progress: bool) -> None:
    """Stream ``url`` to ``dest``; check its size and SHA-256 against ``spec``."""
    from tqdm import tqdm

    digest, got = hashlib.sha256(), 0
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response, open(dest, "wb") as out, \
                tqdm(total=spec.size, unit="B", unit_scale=True, desc=spec.name,
                     disable=None if progress else True) as bar:
            while chunk := response.read(CHUNK):
                digest.update(chunk)
                out.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
                if got > spec.size:
                    break
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        reason = e if isinstance(e, urllib.error.HTTPError) else getattr(e, "reason", e)
        raise UserError(f"{spec.name}: could not fetch {url}: {reason}") from None
    if got != spec.size:
        size = f"more than {spec.size}" if got > spec.size else str(got)
        raise UserError(f"{spec.name}: {url} gave {size} bytes, expected {spec.size}; "
                        f"nothing kept")
    if digest.hexdigest() != spec.sha256:
        raise UserError(f"{spec.name}: SHA-256 of {url} is {digest.hexdigest()}, expected "
                        f"{spec.sha256}; nothing kept")


def _unpack(spec: ArchiveSpec, archive_file: Path, target: Path) -> None:
    """Unpack into a temporary folder beside ``target``, then rename it into place."""
    staging = Path(tempfile.mkdtemp(prefix=f".{spec.name}.", suffix=".tmp", dir=target.parent))
    try:
        try:
            _extract(archive_file, staging)
        except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError, ValueError) as e:
            raise UserError(f"{spec.name}: cannot unpack the archive ({e}); nothing kept") from None
        unpacked = staging / spec.folder if (staging / spec.folder).is_dir() else staging
        missing = missing_parts(spec, unpacked)
        if missing:
            raise UserError(f"{spec.name}: the archive lacks {', '.join(missing)}; nothing kept")
        os.chmod(unpacked, 0o755)  # mkdtemp's 0700 would hide the data from others
        os.rename(unpacked, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _extract(archive_file: Path, dest: Path) -> None:
    """Unpack a zip or tar(.gz) archive into ``dest``, refusing paths that leave it."""
    if zipfile.is_zipfile(archive_file):
        with zipfile.ZipFile(archive_file) as z:
            for name in z.namelist():
                _check_inside(dest, name)
            z.extractall(dest)
    elif tarfile.is_tarfile(archive_file):
        with tarfile.open(archive_file) as t:
            if hasattr(tarfile, "data_filter"):  # Python >= 3.11.4 / 3.12
                t.extractall(dest, filter="data")
            else:
                for member in t.getmembers():
                    _check_inside(dest, member.name)
                    if not (member.isfile() or member.isdir()):
                        raise ValueError(f"{member.name}: links and devices are not unpacked")
                t.extractall(dest)
    else:
        raise ValueError("neither a zip nor a tar archive")


def _check_inside(dest: Path, name: str) -> None:
    if not (dest / name).resolve().is_relative_to(dest.resolve()):
        raise ValueError(f"{name}: a path outside the archive's folder")
