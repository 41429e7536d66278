"""Downloads against a local HTTP server on 127.0.0.1: good, truncated, wrong checksum, 404."""

import dataclasses
import hashlib
import io
import tarfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from datafiles import isolate, tiny_cifar, tiny_mnist

from resnetlab.data import load_dataset
from resnetlab.data.sets import sources
from resnetlab.data.sets.download import DownloadError, download_file

BODY = bytes(range(256)) * 1000  # 256 kB
MD5 = hashlib.md5(BODY).hexdigest()


class Server:
    """Serves self.files[path] = (bytes, mode); mode: ok | truncate_once | truncate | norange."""

    def __init__(self):
        self.files: dict[str, tuple[bytes, str]] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                if self.path not in server.files:
                    self.send_error(404)
                    return
                body, mode = server.files[self.path]
                start = int(rng[6:].split("-")[0]) if rng and mode != "norange" else 0
                if start >= len(body) and rng:
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                part = body[start:]
                if mode == "truncate" or (mode == "truncate_once" and not start):
                    part = part[: len(part) // 2]
                    self.close_connection = True
                self.wfile.write(part)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()


def fetch(server, name, dest, md5=MD5, **kw):
    kw.setdefault("backoff", 0)
    return download_file(f"{server.url}/{name}", dest, md5, progress=False, **kw)


def test_good_file(server, tmp_path):
    server.files["/good"] = (BODY, "ok")
    dest = fetch(server, "good", tmp_path / "sub" / "good.bin")
    assert dest.read_bytes() == BODY
    assert [p.name for p in dest.parent.iterdir()] == ["good.bin"]  # no .part, no temp files


def test_truncated_download_resumes_with_range(server, tmp_path):
    server.files["/t"] = (BODY, "truncate_once")
    dest = fetch(server, "t", tmp_path / "t.bin")
    assert dest.read_bytes() == BODY
    assert server.requests == [("/t", None), ("/t", f"bytes={len(BODY) // 2}-")]


def test_always_truncated_fails_and_leaves_no_file(server, tmp_path):
    server.files["/t"] = (BODY, "truncate")
    with pytest.raises(DownloadError, match="connection closed after"):
        fetch(server, "t", tmp_path / "t.bin", retries=2)
    assert not (tmp_path / "t.bin").exists()
    assert len(server.requests) == 2 and server.requests[1][1] is not None


def test_server_without_range_restarts_from_zero(server, tmp_path):
    server.files["/n"] = (BODY, "norange")
    (tmp_path / "n.bin.part").write_bytes(b"garbage that is not the start")
    assert fetch(server, "n", tmp_path / "n.bin").read_bytes() == BODY


def test_wrong_checksum_is_refused(server, tmp_path):
    server.files["/bad"] = (BODY[:-1] + b"x", "ok")
    with pytest.raises(DownloadError, match=f"checksum mismatch .*expected {MD5}"):
        fetch(server, "bad", tmp_path / "bad.bin", retries=2)
    assert list(tmp_path.iterdir()) == []
    assert len(server.requests) == 2


def test_404_is_not_retried_and_next_mirror_is_used(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        fetch(server, "missing", tmp_path / "m.bin")
    assert len(server.requests) == 1
    server.files["/mirror/m"] = (BODY, "ok")
    dest = download_file([f"{server.url}/missing", f"{server.url}/mirror/m"], tmp_path / "m.bin",
                         MD5, progress=False, backoff=0)
    assert dest.read_bytes() == BODY


def _serve_source(monkeypatch, server, name, layout):
    src = sources.SOURCES[name]
    monkeypatch.setitem(sources.SOURCES, name, dataclasses.replace(src, layouts=(layout,)))


def test_load_dataset_downloads_idx_files(server, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    x = tiny_mnist(tmp_path / "upstream")
    remotes = []
    for f in sorted((tmp_path / "upstream").iterdir()):
        server.files[f"/mnist/{f.name}"] = (f.read_bytes(), "ok")
        md5 = hashlib.md5(f.read_bytes()).hexdigest()
        remotes.append(sources.Remote(f.name, md5, (f"{server.url}/mnist/{f.name}",)))
    layout = dataclasses.replace(sources.SOURCES["mnist"].layouts[0], remotes=tuple(remotes))
    _serve_source(monkeypatch, server, "mnist", layout)
    ds = load_dataset("mnist", root=tmp_path / "data", progress=False)
    assert ds.labels.tolist() == x[1].tolist()
    assert sorted(p.name for p in (tmp_path / "data" / "mnist").iterdir()) == [
        r.filename for r in sorted(remotes, key=lambda r: r.filename)]


def test_load_dataset_downloads_and_extracts_cifar_archive(server, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    splits, names = tiny_cifar(tmp_path / "upstream", "bin", n=3)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(tmp_path / "upstream" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    server.files["/c.tgz"] = (buf.getvalue(), "ok")
    layout = sources.SOURCES["cifar10"].layouts[0]
    archive = sources.Remote("cifar-10-binary.tar.gz", hashlib.md5(buf.getvalue()).hexdigest(),
                             (f"{server.url}/c.tgz",))
    _serve_source(monkeypatch, server, "cifar10", dataclasses.replace(layout, archive=archive))
    ds = load_dataset("cifar10", "test", root=tmp_path / "data", progress=False)
    np.testing.assert_array_equal(ds.images.numpy(), splits["test"][0])
    assert ds.classes == names
    assert (tmp_path / "data" / "cifar10" / "cifar-10-batches-bin" / "test_batch.bin").is_file()


def test_unsafe_archive_member_is_refused(server, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    server.files["/evil.tgz"] = (buf.getvalue(), "ok")
    layout = sources.SOURCES["cifar10"].layouts[0]
    archive = sources.Remote("cifar-10-binary.tar.gz", hashlib.md5(buf.getvalue()).hexdigest(),
                             (f"{server.url}/evil.tgz",))
    _serve_source(monkeypatch, server, "cifar10", dataclasses.replace(layout, archive=archive))
    with pytest.raises(ValueError, match="corrupt or unsafe archive"):
        load_dataset("cifar10", root=tmp_path / "data", progress=False)
    assert not (tmp_path / "data" / "escaped.txt").exists()


def test_download_failure_becomes_clear_offline_error(server, tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    layout = sources.SOURCES["fashion-mnist"].layouts[0]
    gone = tuple(dataclasses.replace(r, urls=(f"{server.url}/{r.filename}",))
                 for r in layout.remotes)
    _serve_source(monkeypatch, server, "fashion-mnist", dataclasses.replace(layout, remotes=gone))
    with pytest.raises(FileNotFoundError) as e:
        load_dataset("fashion-mnist", root=tmp_path / "d", progress=False)
    msg = str(e.value)
    assert "HTTP 404" in msg and "train-images-idx3-ubyte.gz" in msg
    assert "apt-get install dataset-fashion-mnist" in msg and str(tmp_path / "d") in msg


def test_dropped_in_archive_is_verified_and_extracted(tmp_path, monkeypatch):
    isolate(monkeypatch, tmp_path)
    tiny_cifar(tmp_path / "up", "py", n=2)
    d = tmp_path / "root" / "cifar10"
    d.mkdir(parents=True)
    with tarfile.open(d / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "up" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    with pytest.raises(ValueError, match="MD5 differs from the official"):
        load_dataset("cifar10", root=tmp_path / "root", download=False)
    src = sources.SOURCES["cifar10"]
    md5 = hashlib.md5((d / "cifar-10-python.tar.gz").read_bytes()).hexdigest()
    py = dataclasses.replace(src.layouts[1], archive=dataclasses.replace(src.layouts[1].archive,
                                                                         md5=md5))
    monkeypatch.setitem(sources.SOURCES, "cifar10",
                        dataclasses.replace(src, layouts=(src.layouts[0], py)))
    assert len(load_dataset("cifar10", root=tmp_path / "root", download=False)) == 10
