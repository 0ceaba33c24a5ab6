"""Framing one long JSON-RPC message: the agent's parser with and without its bulk pass.

Builds the ``update3`` notification that ``ovsdb-server`` sends for N new
Port_Bindings (the columns the engine monitors; some values full of
brackets, quotes and backslashes), feeds it to the agent's
``StreamParser`` in 4096-character pieces as ``ovs.jsonrpc`` does, and
times the whole framing and decoding: once as the agent runs it, once with
the bulk pass disabled (every piece scanned token by token, as before it
existed). Prints the medians of ``--repeat`` runs as JSON.

    python benchmarks/json_framing.py [-n 1000] [--repeat 9]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from typing import Any

from ovn_vif.agent._json import StreamParser


class TokenScanOnly(StreamParser):
    """The parser with its bulk pass disabled."""

    def _skip(self, text: str) -> bool:
        return False


def message(n: int) -> str:
    chassis = "6006b796-5aba-4985-8c65-33dbc7f66a0f"
    rows = {
        f"{i:08x}-4f58-4f91-8a18-eebc197a55b3": {
            "insert": {
                "logical_port": f"lsp{i}",
                "options": [
                    "map",
                    [
                        ["requested-chassis", "hv1"],
                        ["vif-plug-type", "dummy"],
                        ["tenant-note", 'a"}]{[\\' * (i % 4)],
                    ],
                ],
                "requested_chassis": ["uuid", chassis],
                "type": "",
            }
        }
        for i in range(n)
    }
    update = {"id": None, "method": "update3", "params": ["m", "0", {"Port_Binding": rows}]}
    return json.dumps(update, separators=(",", ":"))


def frame(parser_class: type[StreamParser], text: str) -> Any:
    parser = parser_class()
    pos = 0
    while not parser.is_done():
        pos += parser.feed(text[pos : pos + 4096])
    return parser.finish()


def main(argv: list[str] | None = None) -> int:
    args_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args_parser.add_argument("-n", type=int, default=1000)
    args_parser.add_argument("--repeat", type=int, default=9)
    args = args_parser.parse_args(argv)
    text = message(args.n)
    expected = json.loads(text)
    samples: dict[str, list[float]] = {"agent": [], "token_scan_only": []}
    for _ in range(args.repeat):
        for name, cls in (("agent", StreamParser), ("token_scan_only", TokenScanOnly)):
            start = time.perf_counter()
            value = frame(cls, text)
            samples[name].append((time.perf_counter() - start) * 1000)
            if value != expected:
                raise AssertionError(f"{name} decoded something else")
    json.dump(
        {
            "benchmark": "json_framing",
            "python": platform.python_version(),
            "message_chars": len(text),
            "median_ms": {k: round(statistics.median(v), 2) for k, v in samples.items()},
            "min_ms": {k: round(min(v), 2) for k, v in samples.items()},
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
