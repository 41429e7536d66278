"""report.md and results.json of an experiment or an analysis: tables, figures, verdicts and
provenance."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from resnetlab.io import atomic_write_text
from resnetlab.provenance import machine, versions


def fmt_pct(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def fmt_mean_std(mean: float | None, std: float | None, n: int, digits: int = 2) -> str:
    if mean is None:
        return "—"
    if n > 1 and std is not None:
        return f"{mean:.{digits}f} ± {std:.{digits}f} (n={n})"
    return f"{mean:.{digits}f}"


def fmt_count(n: float) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f}G"
    if n >= 1e6:
        return f"{n / 1e6:.2f}M"
    return f"{n:,.0f}"


def fmt_seconds(s: float) -> str:
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.1f} min"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                   align: str | None = None) -> str:
    """A GitHub table; align is one 'l' or 'r' per column (numbers right by default)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else ":---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def provenance() -> dict[str, Any]:
    """Where the numbers came from: the hardware, its load, the versions."""
    return {**machine(), "versions": versions()}


def runs_line(runs: Sequence[dict[str, Any]]) -> str:
    trained = sum(r["status"] != "cached" for r in runs)
    total = sum(r["seconds"] for r in runs)
    return (f"{len(runs)} ({trained} trained or resumed by this command, "
            f"{len(runs) - trained} read from the cache); their training time "
            f"{fmt_seconds(total)}")


def command_line(argv: Sequence[str] | None = None) -> str:
    argv = list(sys.argv if argv is None else argv)
    if argv and Path(argv[0]).name in ("resnetlab", "__main__.py"):
        argv[0] = "resnetlab"
    return shlex.join(argv)


class Report:
    """Accumulates markdown sections; write() puts report.md and results.json atomically."""

    def __init__(self, title: str, out_dir: str | Path, command: str | None = None,
                 cached_runs: bool = True) -> None:
        self.title = title
        self.cached_runs = cached_runs
        self.out_dir = Path(out_dir)
        self.command = command or command_line()
        self.started = time.time()
        self.parts: list[str] = []

    def section(self, heading: str, *paragraphs: str) -> None:
        self.parts.append(f"## {heading}\n")
        self.parts.extend(p.rstrip() + "\n" for p in paragraphs if p)

    def text(self, *paragraphs: str) -> None:
        self.parts.extend(p.rstrip() + "\n" for p in paragraphs if p)

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]],
              align: str | None = None) -> None:
        self.parts.append(markdown_table(headers, rows, align) + "\n")

    def figure(self, path: str | Path, caption: str) -> None:
        rel = os.path.relpath(Path(path), self.out_dir)
        self.parts.append(f"![{caption}]({rel})\n\n*{caption}*\n")

    def render(self, results: dict[str, Any]) -> str:
        info = results.get("machine") or provenance()
        v = info["versions"]
        elapsed = results.get("seconds", time.time() - self.started)
        lines = [f"# {self.title}\n", *self.parts, "## Re-run\n",
                 f"```\n{self.command}\n```\n",
                 ("Finished runs are cached in the runs folder and skipped; a run that was "
                  "cut off resumes where its last checkpoint left it.\n"
                  if self.cached_runs else ""),
                 "## Provenance\n",
                 markdown_table(["", ""], [
                     ["machine", f"{info['cpu']}, {info['cores']} cores, {info['platform']}"],
                     ["accelerator", info.get("gpu") or "none (CPU)"],
                     ["torch threads", info["torch_threads"]],
                     ["load average at the end", " / ".join(
                         str(x) for x in info.get("load_average", [])) or "—"],
                     ["versions", ", ".join(f"{k} {v[k]}" for k in sorted(v))],
                     ["time taken by this command", fmt_seconds(elapsed)],
                     *([["runs", runs_line(results["runs"])]] if results.get("runs") else []),
                     ["date", time.strftime("%Y-%m-%d %H:%M %Z",
                                            time.localtime(results.get("finished",
                                                                       time.time())))],
                 ], align="ll") + "\n"]
        return "\n".join(lines)

    def write(self, results: dict[str, Any], name: str = "report.md") -> Path:
        results = {**results, "command": self.command, "machine": provenance(),
                   "finished": time.time()}
        results.setdefault("seconds", time.time() - self.started)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.out_dir / "results.json",
                          json.dumps(results, indent=2, sort_keys=True, default=str) + "\n")
        return atomic_write_text(self.out_dir / name, self.render(results))
