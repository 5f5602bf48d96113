"""The `qrbench` command. Library errors become a one-line message and exit status 2."""

from __future__ import annotations

import argparse
import sys

from .errors import QrbenchError

__all__ = ["main"]


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the reference QuantumRerank service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--backend", choices=["exact", "aer"], default="exact")
    p.add_argument("--qubits", type=int, choices=[2, 3, 4], default=4)
    p.add_argument("--shots", type=int, default=1024)
    p.add_argument("--hybrid-weight", type=float, default=0.5)
    p.add_argument("--quantum-budget-ms", type=float, default=2000.0)
    p.add_argument("--embedding-cache-size", type=int, default=20_000)
    p.add_argument("--similarity-cache-size", type=int, default=50_000)
    p.add_argument("--torch-threads", type=int, default=None)
    p.add_argument("--max-concurrency", type=int, default=64, help="requests computed at once; past it, 503")
    p.add_argument("--compute-threads", type=int, default=4)
    p.add_argument("--api-key", default=None, help="require this key (X-API-Key or Authorization: Bearer)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    from .target import EngineSettings, serve

    settings = EngineSettings(
        backend=args.backend, qubits=args.qubits, shots=args.shots, hybrid_weight=args.hybrid_weight,
        quantum_budget_ms=args.quantum_budget_ms, embedding_cache_size=args.embedding_cache_size,
        similarity_cache_size=args.similarity_cache_size, torch_threads=args.torch_threads,
        max_concurrency=args.max_concurrency, compute_threads=args.compute_threads, api_key=args.api_key,
    )
    serve(settings, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qrbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except QrbenchError as exc:
        print(f"qrbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
