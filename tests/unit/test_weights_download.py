"""The weights cache: file:// mirror, local HTTP server, Range resume, corrupt files, offline."""

import hashlib
import threading

import pytest
from weightfiles import FolderServer, fake_entry, idelbayev_file, isolated  # noqa: F401 (autouse fixture)

from resnetlab.cli import main
from resnetlab.weights import (
    ChecksumError,
    WeightsNotAvailable,
    cache_dir,
    cache_path,
    fetch,
    find_cached,
)


@pytest.fixture
def published(tmp_path, monkeypatch):
    """(entry, bytes, folder): a small Idelbayev-format file in a 'publisher' folder."""
    folder = tmp_path / "publisher"
    folder.mkdir()
    body = idelbayev_file(tmp_path / "r8.th")
    entry = fake_entry(monkeypatch, body)
    (folder / entry.filename).write_bytes(body)
    return entry, body, folder


@pytest.fixture
def server(published, monkeypatch):
    s = FolderServer(published[2])
    monkeypatch.setenv("RESNETLAB_WEIGHTS_URL", s.url)
    yield s
    s.close()


def cache_files():
    """The cache's files, but the hidden download locks."""
    if not cache_dir().exists():
        return []
    return sorted(p.name for p in cache_dir().iterdir() if not p.name.startswith("."))


def test_file_url_mirror_fills_the_cache(published, monkeypatch):
    entry, body, folder = published
    monkeypatch.setenv("RESNETLAB_WEIGHTS_URL", folder.as_uri())
    path = fetch(entry.name, progress=False, backoff=0)
    assert path == cache_path(entry) and path.read_bytes() == body
    assert cache_files() == [entry.filename]  # no .part, .unverified or temp file left


def test_http_download_then_cache_hit_without_a_request(published, server):
    entry, body, _ = published
    assert fetch(entry.name, progress=False).read_bytes() == body
    assert server.requests == [(f"/{entry.filename}", None)]
    assert fetch(entry.name, progress=False, download=False).read_bytes() == body
    assert len(server.requests) == 1


def test_dropped_connection_is_resumed_with_a_range_request(published, server):
    entry, body, _ = published
    server.cut_first = True
    path = fetch(entry.name, progress=False, backoff=0)
    assert path.read_bytes() == body
    assert server.requests == [(f"/{entry.filename}", None),
                               (f"/{entry.filename}", f"bytes={len(body) // 2}-")]
    assert cache_files() == [entry.filename]


def test_download_cut_every_time_keeps_the_part_for_the_next_try(published, server):
    entry, body, _ = published
    server.cut_first = True
    with pytest.raises(WeightsNotAvailable, match=r"(?s)connection closed after .*bytes received "
                                                  r"are kept in .*\.part"):
        fetch(entry.name, progress=False, retries=1)
    assert fetch(entry.name, progress=False).read_bytes() == body
    assert server.requests[-1] == (f"/{entry.filename}", f"bytes={len(body) // 2}-")


def test_partial_file_of_an_earlier_run_is_resumed(published, server):
    entry, body, _ = published
    part = cache_path(entry).with_name(entry.filename + ".unverified.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(body[:1000])
    assert fetch(entry.name, progress=False).read_bytes() == body
    assert server.requests == [(f"/{entry.filename}", "bytes=1000-")]


def test_corrupt_download_names_both_checksums_and_is_removed(published, server):
    entry, body, folder = published
    bad = body[:-10] + b"0123456789"
    (folder / entry.filename).write_bytes(bad)
    with pytest.raises(ChecksumError) as e:
        fetch(entry.name, progress=False)
    msg = str(e.value)
    assert entry.checksum in msg and hashlib.sha256(bad).hexdigest() in msg and "removed" in msg
    assert cache_files() == []


def test_corrupt_cached_file_is_removed_and_fetched_again(published, server):
    entry, body, _ = published
    cached = cache_path(entry)
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"not the weights")
    with pytest.raises(ChecksumError, match=entry.checksum):
        find_cached(entry.name)
    assert not cached.exists()
    assert fetch(entry.name, progress=False).read_bytes() == body


def test_offline_names_the_url_and_the_file_to_put_in_the_cache(published):
    entry, _, _ = published
    with pytest.raises(WeightsNotAvailable) as e:
        fetch(entry.name, download=False)
    assert entry.url in str(e.value) and str(cache_path(entry)) in str(e.value)
    assert cache_files() == []


def test_failed_download_says_why_and_where_the_file_goes(published, server, tmp_path):
    entry, _, folder = published
    (folder / entry.filename).unlink()  # the server answers 404
    with pytest.raises(WeightsNotAvailable) as e:
        fetch(entry.name, progress=False, backoff=0)
    msg = str(e.value)
    assert "HTTP 404" in msg and f"{server.url}/{entry.filename}" in msg
    assert str(cache_path(entry)) in msg and ".unverified" not in msg


def test_torch_hub_copy_is_used_in_place(published, tmp_path):
    entry, body, _ = published
    hub = tmp_path / "torch" / "hub" / "checkpoints" / entry.filename
    hub.parent.mkdir(parents=True)
    hub.write_bytes(body)
    assert fetch(entry.name, download=False) == hub
    hub.write_bytes(b"another file")  # a wrong copy there is ignored, never deleted
    with pytest.raises(WeightsNotAvailable):
        fetch(entry.name, download=False)
    assert hub.exists()


def test_default_cache_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("RESNETLAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "resnetlab" / "weights"


def test_two_processes_fetching_at_once_download_once(published, server):
    """As DDP ranks do: the second waits on the lock, then finds the verified file."""
    entry, body, _ = published
    server.delay = 0.3
    results = []

    def get():
        results.append(fetch(entry.name, progress=False))

    threads = [threading.Thread(target=get) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [p.read_bytes() == body for p in results] == [True, True]
    assert len(server.requests) == 1


def test_cli_get_reports_a_corrupt_download_and_leaves_nothing(published, server, capsys):
    entry, body, folder = published
    (folder / entry.filename).write_bytes(body[: len(body) // 2])  # a truncated upload
    assert main(["weights", "get", entry.name, "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"expected SHA-256 {entry.checksum}" in err and "removed" in err
    assert cache_files() == []
    (folder / entry.filename).write_bytes(body)
    assert main(["weights", "get", entry.name, "--quiet"]) == 0
    assert str(cache_path(entry)) in capsys.readouterr().out
