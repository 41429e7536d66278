"""`resnetlab models`' sizes: counted on the meta device, the same as a real count, cached."""

import json

import pytest

from resnetlab.cli import main
from resnetlab.models import sizes
from resnetlab.models.registry import build_model, get_spec
from resnetlab.models.stats import count_macs, count_params


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


@pytest.mark.parametrize("name", ["resnet20", "plain20", "resnet50", "resnet50_v1"])
def test_meta_count_equals_a_real_count(name):
    r = get_spec(name).resolution
    model = build_model(name)
    assert sizes.count(name) == (count_params(model), count_macs(model, (1, 3, r, r)))


def test_second_listing_reads_the_cache_and_a_changed_spec_counts_again(monkeypatch):
    first = sizes.model_sizes(["resnet20", "resnet32"])
    stored = json.loads(sizes.cache_file().read_text())
    assert {n: (v["params"], v["macs"]) for n, v in stored.items()} == first

    counted = []
    real = sizes.count
    monkeypatch.setattr(sizes, "count", lambda n: counted.append(n) or real(n))
    assert sizes.model_sizes(["resnet20", "resnet32"]) == first and counted == []
    stored["resnet32"]["fingerprint"] = "stale"
    sizes.cache_file().write_text(json.dumps(stored))
    assert sizes.model_sizes(["resnet20", "resnet32"]) == first and counted == ["resnet32"]


def test_a_corrupt_or_unwritable_cache_is_not_used(monkeypatch, tmp_path):
    sizes.cache_file().parent.mkdir(parents=True)
    sizes.cache_file().write_text("{not json")
    assert sizes.model_sizes(["resnet20"])["resnet20"][0] == 269_722
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))  # a file where a folder must be
    assert sizes.model_sizes(["resnet20"])["resnet20"][0] == 269_722


def test_cli_models_json_has_the_counts(capsys):
    assert main(["models", "resnet5?", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["resnet56"]["params"] == 853_018 and rows["resnet50"]["params"] == 25_557_032
    assert rows["resnet50"]["macs"] == sizes.count("resnet50")[1]
