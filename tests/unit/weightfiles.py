"""Test helpers for published weights: a fake catalogue entry and a local file server.

The server (http.server on 127.0.0.1, in a thread) serves the files of one folder, honours
HTTP Range requests, records every request, and can cut its first response short
(`cut_first`), as a dropped connection would.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from resnetlab import create_model
from resnetlab.weights import catalog
from resnetlab.weights.cache import cache_path


def idelbayev_file(path: Path, depth: int = 8, seed: int = 0) -> bytes:
    """A small net saved the way Idelbayev's files are: {'state_dict': {'module.…',
    'module.linear.…'}, 'best_prec1': …}. Returns the file's bytes."""
    torch.manual_seed(seed)
    sd = create_model(f"resnet{depth}").state_dict()
    sd = {"module." + ("linear." + k[3:] if k.startswith("fc.") else k): v
          for k, v in sd.items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": sd, "best_prec1": 90.0}, path)
    return path.read_bytes()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """A private weights cache and torch hub folder, and no mirror unless a test sets one
    (autouse in the modules that import it)."""
    monkeypatch.setenv("RESNETLAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("RESNETLAB_WEIGHTS_URL", raising=False)


def fake_entry(monkeypatch, body: bytes, name: str = "cifar10-resnet8", depth: int = 8,
               filename: str | None = None) -> catalog.PublishedWeights:
    """Add a catalogue entry for BODY (an Idelbayev-format file), checksum from its bytes."""
    digest = hashlib.sha256(body).hexdigest()[:8]
    base = catalog.CATALOG["cifar10-resnet20"]
    entry = replace(base, name=name, model=f"resnet{depth}", checksum=digest,
                    url=f"https://example.invalid/{filename or f'resnet{depth}-{digest}.th'}")
    monkeypatch.setitem(catalog.CATALOG, name, entry)
    return entry


def cached_entry(tmp_path: Path, monkeypatch) -> tuple[catalog.PublishedWeights, Path]:
    """(entry, file): a published 'cifar10-resnet8' whose file is already in the cache."""
    src = tmp_path / "resnet8.th"
    entry = fake_entry(monkeypatch, idelbayev_file(src))
    cache_path(entry).parent.mkdir(parents=True)
    shutil.copy(src, cache_path(entry))
    return entry, src


class FolderServer:
    """Serves ROOT/<name> at http://127.0.0.1:PORT/<name> with Range support."""

    def __init__(self, root: Path):
        self.root = root
        self.requests: list[tuple[str, str | None]] = []
        self.cut_first = False  # send half of the first full response, then hang up
        self.delay = 0.0  # seconds to wait before answering (to overlap two clients)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                time.sleep(server.delay)
                path = server.root / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                body = path.read_bytes()
                start = int(rng.removeprefix("bytes=").split("-")[0]) if rng else 0
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range",
                                     f"bytes {start}-{len(body) - 1}/{len(body)}")
                self.send_header("Content-Length", str(len(body) - start))
                self.end_headers()
                if server.cut_first and not start:
                    server.cut_first = False
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                    return
                self.wfile.write(body[start:])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
