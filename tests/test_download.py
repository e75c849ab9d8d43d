"""``ganrun data download``: archives served from a local HTTP server on 127.0.0.1 (no internet)."""
from __future__ import annotations

import functools
import hashlib
import http.server
import io
import sys
import tarfile
import threading
import types
import zipfile

import pytest

from ganrun import hookimpl
from ganrun.cli import main
from ganrun.data.download import ArchiveSpec, download
from ganrun.data.unaligned import UnalignedConfig, load_unaligned
from ganrun.errors import UserError


def _png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


def _members() -> dict[str, bytes]:
    """A tiny CycleGAN layout under tiny/: one image in each of the four folders."""
    return {f"tiny/{part}/{i}.png": _png() for i, part in
            enumerate(("trainA", "trainB", "testA", "testB"))}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return out.getvalue()


def _tar_gz(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return out.getvalue()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/served over HTTP on 127.0.0.1; ``put(name, bytes)`` -> its URL."""
    served = tmp_path / "served"
    served.mkdir()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(served)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    def put(name: str, data: bytes) -> str:
        (served / name).write_bytes(data)
        return f"{base}/{name}"

    put.base = base
    yield put
    httpd.shutdown()
    httpd.server_close()


def _spec(url: str, data: bytes, **changes) -> ArchiveSpec:
    fields = dict(name="tiny", url=url, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                  folder="tiny")
    return ArchiveSpec(**{**fields, **changes})


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "datasets"
    path.mkdir()
    return path


def _nothing_left(root) -> bool:
    return not any(root.iterdir())  # no folder, no temp file, no staging folder


@pytest.mark.parametrize("pack, suffix", [(_zip, "zip"), (_tar_gz, "tar.gz")])
def test_good_archive_unpacks_and_is_not_fetched_twice(server, root, pack, suffix):
    data = pack(_members())
    spec = _spec(server(f"tiny.{suffix}", data), data)
    path = download(spec, root, progress=False)
    assert path == root / "tiny"
    assert sorted(p.name for p in root.iterdir()) == ["tiny"]  # no temp files left
    assert sorted(p.name for p in path.iterdir()) == ["testA", "testB", "trainA", "trainB"]
    ds = load_unaligned(UnalignedConfig(root=str(path), load_size=8, crop_size=8), "train")
    assert ds[0]["A"].shape == (3, 8, 8)
    gone = _spec(f"{server.base}/missing.zip", data)  # would fail if fetched
    assert download(gone, root, progress=False) == path


def test_truncated_download_leaves_nothing(server, root):
    data = _zip(_members())
    spec = _spec(server("tiny.zip", data[: len(data) // 2]), data)
    with pytest.raises(UserError, match=f"gave {len(data) // 2} bytes, expected {len(data)}") as e:
        download(spec, root, progress=False)
    assert "\n" not in str(e.value)
    assert _nothing_left(root)


def test_wrong_checksum_leaves_nothing(server, root):
    data = _zip(_members())
    spec = _spec(server("tiny.zip", data), data, sha256="0" * 64)
    with pytest.raises(UserError, match=f"SHA-256 .* is {hashlib.sha256(data).hexdigest()}, "
                                        f"expected 0000"):
        download(spec, root, progress=False)
    assert _nothing_left(root)


def test_archive_that_breaks_midway_leaves_no_half_folder(server, root):
    data = bytearray(_zip(_members()))
    last = _png()
    at = data.rindex(last)  # corrupt the last member: the first ones unpack, then CRC fails
    data[at + len(last) // 2] ^= 0xFF
    data = bytes(data)
    spec = _spec(server("tiny.zip", data), data)  # size and checksum of the damaged file
    with pytest.raises(UserError, match="tiny: cannot unpack the archive"):
        download(spec, root, progress=False)
    assert _nothing_left(root)
    truncated = _zip(_members())[:-40]  # the zip's directory is cut off
    spec = _spec(server("cut.zip", truncated), truncated)
    with pytest.raises(UserError, match="cannot unpack"):
        download(spec, root, progress=False)
    assert _nothing_left(root)


def test_archive_without_the_layout_is_refused(server, root):
    data = _zip({"tiny/trainA/0.png": _png()})
    spec = _spec(server("tiny.zip", data), data)
    with pytest.raises(UserError, match="the archive lacks trainB, testA, testB"):
        download(spec, root, progress=False)
    assert _nothing_left(root)


def test_network_errors_are_one_line(server, root):
    data = _zip(_members())
    with pytest.raises(UserError, match="could not fetch .*HTTP Error 404"):
        download(_spec(f"{server.base}/missing.zip", data), root, progress=False)
    with pytest.raises(UserError, match="could not fetch http://127.0.0.1:9/"):
        download(_spec("http://127.0.0.1:9/tiny.zip", data), root, progress=False)
    assert _nothing_left(root)


def register_archive(monkeypatch, spec: ArchiveSpec) -> None:
    """Publish ``spec`` the way a third-party plugin would (ganrun_register_archives)."""
    module = types.ModuleType("tiny_archive_plugin")
    module.ganrun_register_archives = hookimpl(lambda: [spec])
    monkeypatch.setitem(sys.modules, "tiny_archive_plugin", module)
    monkeypatch.setenv("GANRUN_PLUGINS", "tiny_archive_plugin")


def test_cli_download_through_the_mirror(server, root, monkeypatch, capsys):
    data = _zip(_members())
    server("tiny.zip", data)
    # the publisher's URL is unreachable; GANRUN_DATA_MIRROR points at the local server
    register_archive(monkeypatch, _spec("http://publisher.invalid/x/tiny.zip", data))
    monkeypatch.setenv("GANRUN_DATA_MIRROR", server.base + "/")
    assert main(["data", "list"]) == 0
    assert f"tiny  0 MB  {server.base}/tiny.zip" in capsys.readouterr().out
    assert main(["data", "download", "tiny", "--root", str(root), "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(root / "tiny")
    assert (root / "tiny" / "trainB").is_dir()

    other = root.parent / "other"
    register_archive(monkeypatch, _spec("http://publisher.invalid/x/tiny.zip", data,
                                        sha256="f" * 64))
    assert main(["data", "download", "tiny", "--root", str(other), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ganrun: error: tiny: SHA-256") and err.count("\n") == 1
    assert not (other / "tiny").exists()
    assert main(["data", "download", "nothing", "--root", str(other)]) == 2
    assert "unknown dataset 'nothing'" in capsys.readouterr().err


def test_known_archives_are_pinned(registry):
    archives = registry.archives  # the cyclegan plugin's, through ganrun_register_archives
    spec = archives["horse2zebra"]
    assert spec.url == "http://efrosgans.eecs.berkeley.edu/cyclegan/datasets/horse2zebra.zip"
    assert spec.size == 116_867_962 and len(spec.sha256) == 64
    assert all(s.folder and s.size > 0 and len(s.sha256) == 64 for s in archives.values())


def test_leftovers_of_a_killed_download_are_removed_on_the_next(server, root, capsys):
    # what a SIGKILL mid-download leaves: mkstemp's part file and mkdtemp's staging folder
    (root / ".tiny.k3j_9x2a.part").write_bytes(b"half an archive")
    staging = root / ".tiny.q0w9e8r7.tmp"
    (staging / "tiny" / "trainA").mkdir(parents=True)
    (staging / "tiny" / "trainA" / "0.png").write_bytes(_png())
    others = [root / ".tinyx.k3j_9x2a.part", root / ".other.k3j_9x2a.part", root / "tiny.part"]
    for path in others:  # another archive's, or not ours: kept
        path.write_bytes(b"x")
    data = _zip(_members())
    path = download(_spec(server("tiny.zip", data), data), root, progress=False)
    err = capsys.readouterr().err
    assert f"ganrun: tiny: removed 2 leftover(s) of an interrupted download from {root}" in err
    assert sorted(p.name for p in root.iterdir()) == sorted([p.name for p in others] + ["tiny"])
    assert (path / "trainA").is_dir()
    (root / ".tiny.abcdefgh.part").write_bytes(b"")  # a complete folder: still cleaned
    assert download(_spec(f"{server.base}/missing.zip", data), root, progress=False) == path
    assert not (root / ".tiny.abcdefgh.part").exists()
    assert "removed 1 leftover(s)" in capsys.readouterr().err


def test_a_real_kill_mid_download_is_cleaned_up_by_the_next(server, root, capsys):
    import subprocess
    import time

    data = _zip(_members())
    sent, release = threading.Event(), threading.Event()

    class Stalls(_Quiet):  # sends half the archive, then hangs until the test ends
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            sent.set()
            release.wait(30)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stalls)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/tiny.zip"
    spec = _spec(url, data)
    code = (f"from ganrun.data.download import ArchiveSpec, download\n"
            f"download(ArchiveSpec(**{spec.__dict__!r}), {str(root)!r}, progress=False)\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not (sent.is_set() and any(root.glob(".tiny.*.part"))):
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.05)
        child.kill()  # SIGKILL: no finally block runs
        child.wait()
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
    assert [p.suffix for p in root.iterdir()] == [".part"]  # the leftover
    download(_spec(server("tiny.zip", data), data), root, progress=False)
    assert "removed 1 leftover(s)" in capsys.readouterr().err
    assert [p.name for p in root.iterdir()] == ["tiny"]
