"""`resnetlab models` shows the family (issue 21 item 8), and docs/models.md is its output."""

import json
from pathlib import Path

import pytest

from resnetlab.cli import main
from resnetlab.cli.models import HEAD, model_rows, papers_cited, table_cells
from resnetlab.models.registry import list_models
from resnetlab.models.sizes import count

DOC = Path(__file__).resolve().parents[2] / "docs" / "models.md"
SIZES = (HEAD.index("params"), HEAD.index("MACs"))


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def doc_rows() -> dict[str, list[str]]:
    rows = [ln for ln in DOC.read_text().splitlines() if ln.startswith("| ")][2:]
    cells = [[c.strip() for c in ln.strip().strip("|").split("|")] for ln in rows]
    return {c[0]: c for c in cells}


def test_docs_table_lists_every_net_as_the_registry_describes_it():
    doc = doc_rows()
    assert list(doc) == list_models()
    for row in model_rows(sizes=False):
        want = table_cells(row)
        got = doc[row["name"]]
        assert [c for i, c in enumerate(got) if i not in SIZES] == \
               [c for i, c in enumerate(want) if i not in SIZES], row["name"]
    assert papers_cited(model_rows(sizes=False), bullet="- ") in DOC.read_text()


@pytest.mark.parametrize("name", ["resnet20", "preact_resnet164", "resnext50_32x4d",
                                  "seresnet50", "resnet50d"])
def test_docs_sizes_are_the_counts(name):
    params, macs = count(name)
    row = doc_rows()[name]
    assert row[SIZES[0]] == f"{params:,}" and row[SIZES[1]] == table_cells(
        {**model_rows(name, sizes=False)[0], "params": params, "macs": macs})[SIZES[1]]


@pytest.mark.parametrize("pattern,names,family,errors", [
    ("preact*", 8, "preact", {"preact_resnet164": 5.46, "preact_resnet1001": 4.92}),
    ("wrn*", 3, "wrn", {"wrn28_10": 3.89}),
    ("resnext*", 5, "resnext", {"resnext29_8x64d": 3.65, "resnext50_32x4d": 22.2}),
    ("seresnet*", 3, "seresnet", {"seresnet50": 23.29}),
    ("resnet50d", 1, "resnet-d", {"resnet50d": 22.84}),
])
def test_cli_lists_each_family_with_paper_params_macs_and_error(capsys, pattern, names,
                                                                family, errors):
    assert main(["models", pattern, "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert len(rows) == names and {r["family"] for r in rows.values()} == {family}
    assert {n: rows[n]["paper_error"] for n in errors} == errors
    assert all(r["params"] > 0 and r["macs"] > 0 and r["paper_arxiv"] for r in rows.values())
    assert main(["models", pattern]) == 0
    text = capsys.readouterr().out
    assert all(n in text for n in rows) and "arXiv " + rows[next(iter(errors))][
        "paper_arxiv"] in text


def test_cli_rejects_json_with_markdown_and_an_empty_pattern(capsys):
    with pytest.raises(SystemExit):
        main(["models", "--json", "--markdown"])
    assert main(["models", "nothing*"]) == 2
    assert "no model matches 'nothing*'" in capsys.readouterr().err
