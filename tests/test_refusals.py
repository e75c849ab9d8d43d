"""Bad input a new user found: each is exit 2, one line on stderr, and nothing written."""
from __future__ import annotations

import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganrun import mlflow_store
from ganrun.cli import main
from ganrun.errors import UserError
from tests.conftest import RECIPES, TINY, free_port, train_once


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    return err


def nothing_written(folder: Path) -> bool:
    return not (folder / "runs").exists() and not (folder / "mlruns").exists()


def unaligned_root(tmp_path: Path) -> Path:
    """A published-layout folder with 3 images per domain and split."""
    for folder in ("trainA", "trainB", "testA", "testB"):
        (tmp_path / "h2z" / folder).mkdir(parents=True)
        for k in range(3):
            Image.new("RGB", (8, 8), (40 * k,) * 3).save(tmp_path / "h2z" / folder / f"{k}.png")
    return tmp_path / "h2z"


# every method, on its own recipe: (recipe, extra overrides, training-set size)
EVERY_METHOD = [
    ("quickstart.yaml", [], 4000),
    ("cgan_mnist.yaml", [], 4000),
    ("cyclegan_mnist_strokes.yaml", [], 2000),
    ("cyclegan_horse2zebra.yaml", ["data.root={root}", "train.device=cpu"], 3),
    ("cam_mnist_canvas.yaml", [], 4000),
]


@pytest.mark.parametrize("recipe, extra, size", EVERY_METHOD, ids=[r for r, _, _ in EVERY_METHOD])
def test_batch_larger_than_the_training_set_is_refused_before_anything_is_made(
        workdir, capsys, recipe, extra, size):
    root = unaligned_root(workdir)
    args = [str(RECIPES / recipe), "train.batch_size=100000",
            *(a.format(root=root) for a in extra)]
    assert main(args) == 2
    err = one_line(capsys)
    assert f"train.batch_size: 100000 is larger than the training set ({size} images" in err
    assert nothing_written(workdir)


def test_batch_of_the_whole_training_set_trains(tiny_recipe, workdir):
    # the limit is the training set: a batch of all 256 images is one step an epoch
    s = train_once(workdir, [str(tiny_recipe(epochs=1)), "train.batch_size=256"])
    assert s["status"] == "FINISHED"


# ------------------------------------------------------------------ ganrun sample --out


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> str:
    work = tmp_path_factory.mktemp("run")
    recipe = work / "tiny.yaml"
    recipe.write_text(TINY.format(base=RECIPES / "quickstart.yaml", epochs=1, every=0))
    return train_once(work, [str(recipe), "track.enabled=false"])["generator"]


@pytest.mark.parametrize("name, magic", [("a.png", b"\x89PNG"), ("a.PNG", b"\x89PNG"),
                                         ("a.jpg", b"\xff\xd8\xff"), ("a.jpeg", b"\xff\xd8\xff")])
def test_sample_writes_the_format_its_extension_names(generator, tmp_path, name, magic):
    out = tmp_path / name
    assert main(["sample", generator, "--n", "4", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(magic)
    with Image.open(out) as im:
        assert im.format == ("PNG" if magic == b"\x89PNG" else "JPEG")
        assert im.size == (2 * 3 * 28 + 3 * 2, 2 * 3 * 28 + 3 * 2)  # 2x2 grid, x3, padded
    assert [p.name for p in tmp_path.iterdir()] == [name]  # no temporary file left


def test_sample_npz_holds_the_raw_images(generator, tmp_path):
    out = tmp_path / "raw.npz"
    assert main(["sample", generator, "--n", "5", "--out", str(out)]) == 0
    with np.load(out) as f:
        assert f["images"].shape == (5, 1, 28, 28) and np.abs(f["images"]).max() <= 1
    assert [p.name for p in tmp_path.iterdir()] == ["raw.npz"]


@pytest.mark.parametrize("name", ["x.gif", "x.webp", "x", "x.png.tmp"])
def test_sample_refuses_an_extension_it_does_not_write(generator, tmp_path, capsys, name):
    assert main(["sample", generator, "--out", str(tmp_path / name)]) == 2
    assert f"--out: '{tmp_path / name}' must end in .png, .jpg, .jpeg" in one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_sample_refuses_a_folder_as_out(generator, tmp_path, capsys):
    (tmp_path / "grid.png").mkdir()
    assert main(["sample", generator, "--out", str(tmp_path / "grid.png")]) == 2
    assert "is a folder" in one_line(capsys)


# ------------------------------------------------------------------ track.uri


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers: a hung server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_no_server_at_track_uri_is_refused_in_seconds(tiny_recipe, workdir, capsys):
    uri = f"http://127.0.0.1:{free_port()}/"
    assert main([str(tiny_recipe()), f"track.uri={uri}"]) == 2
    err = one_line(capsys)
    assert err.startswith(f"ganrun: error: track.uri: no tracking server answers at {uri}")
    assert not (workdir / "runs").exists()


def test_a_hung_server_is_refused_after_the_timeout(tiny_recipe, workdir, capsys, silent_port,
                                                    monkeypatch):
    import time

    monkeypatch.setattr(mlflow_store, "ANSWER_WITHIN_S", 0.5)
    started = time.monotonic()
    assert main([str(tiny_recipe()), f"track.uri=http://127.0.0.1:{silent_port}"]) == 2
    assert time.monotonic() - started < 10
    assert "track.uri: no tracking server answers" in one_line(capsys)
    assert not (workdir / "runs").exists()


def test_a_dead_database_server_is_refused(tiny_recipe, workdir, capsys):
    uri = f"postgresql://u:p@127.0.0.1:{free_port()}/mlflow"
    assert main([str(tiny_recipe()), f"track.uri={uri}"]) == 2
    assert "track.uri: no tracking server answers" in one_line(capsys)


def test_sample_from_a_dead_server_names_the_option(tmp_path, capsys):
    uri = f"http://127.0.0.1:{free_port()}"
    args = ["sample", "0123456789abcdef", "--tracking-uri", uri, "--out", str(tmp_path / "a.png")]
    assert main(args) == 2
    assert "--tracking-uri: no tracking server answers" in one_line(capsys)


class _Answers(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (http.server's name)
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b"OK")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status", [200, 404, 401])
def test_a_server_that_answers_passes_the_check(status):
    handler = type("Handler", (_Answers,), {"status": status})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        mlflow_store.check_server(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()


def test_local_stores_are_not_probed(tmp_path):
    mlflow_store.check_server(f"sqlite:///{tmp_path / 'nothing' / 'mlflow.db'}")
    mlflow_store.check_server(str(tmp_path / "mlruns"))
    with pytest.raises(UserError, match="track.uri"):
        mlflow_store.check_server(f"https://127.0.0.1:{free_port()}")
