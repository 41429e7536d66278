"""`resnetlab bench data|train|infer`: throughput measurements (results go to benchmarks/)."""

from __future__ import annotations

import importlib

# Modules exposing register(subparsers), each adding one `bench WHAT` parser.
BENCHES: list[str] = ["resnetlab.bench.data", "resnetlab.bench.train"]


def register(sub) -> None:
    p = sub.add_parser("bench", help="measure data, training or inference throughput")
    bsub = p.add_subparsers(dest="bench", metavar="WHAT", required=True)
    for module in BENCHES:
        importlib.import_module(module).register(bsub)
