"""Fit the shipped projection (`projection.npz`): SVD of all-MiniLM-L6-v2 embeddings of a reference corpus.

    python -m qrbench.target.fit_projection [--corpus data/documents.json]

Deterministic: the corpus is fixed and the SVD's signs are fixed (each component's largest loading is
positive). Prints how well the encoded states rank relevant documents, per qubit count.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .encoding import PROJECTION_FILE, Projection
from .fidelity import exact_fidelity

N_COMPONENTS = 16


def fit(embeddings: np.ndarray) -> Projection:
    """Uncentred on purpose: see the encoding module for why."""
    _, _, vt = np.linalg.svd(embeddings, full_matrices=False)
    components = vt[:N_COMPONENTS]
    signs = np.sign(components[np.arange(N_COMPONENTS), np.abs(components).argmax(axis=1)])
    return Projection(components=components * signs[:, None])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    root = Path(__file__).resolve().parents[2]
    parser.add_argument("--corpus", type=Path, default=root / "data" / "documents.json")
    parser.add_argument("--queries", type=Path, default=root / "data" / "queries.json")
    parser.add_argument("--out", type=Path, default=PROJECTION_FILE)
    args = parser.parse_args()

    from .embedding import Embedder

    docs = json.loads(args.corpus.read_text())
    queries = json.loads(args.queries.read_text())
    embedder = Embedder(cache_size=0)
    doc_vecs = embedder.encode_uncached([d["text"] for d in docs])
    projection = fit(doc_vecs.astype(np.float64))
    np.savez(args.out, components=projection.components)
    print(f"wrote {args.out}")
    report_quality(projection, embedder, queries, docs, doc_vecs)


def report_quality(projection, embedder, queries, docs, doc_vecs) -> None:
    """Top-1 accuracy of a relevant document among it and 49 random others (a 50-document rerank)."""
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    index = {d["id"]: i for i, d in enumerate(docs)}
    q_vecs = embedder.encode_uncached([q["text"] for q in queries])
    for qubits in (2, 3, 4):
        top1_c = top1_q = 0
        rhos, gaps = [], []
        for q, qv in zip(queries, q_vecs, strict=True):
            rel = index[q["relevant"][0]]
            others = rng.choice(len(docs), 49, replace=False)
            others = others[~np.isin(others, [index[r] for r in q["relevant"]])]
            cand = np.concatenate([[rel], others])
            cos = doc_vecs[cand] @ qv
            states = projection.encode(np.vstack([qv, doc_vecs[cand]]), qubits)
            fid = exact_fidelity(states[0], states[1:])
            top1_c += cos.argmax() == 0
            top1_q += fid.argmax() == 0
            rhos.append(spearmanr(cos, fid).statistic)
            gaps.append(fid[0] - np.median(fid[1:]))
        n = len(queries)
        print(
            f"qubits={qubits}: top-1 classical {top1_c / n:.2f}, quantum {top1_q / n:.2f}; "
            f"Spearman(quantum, cosine) median {np.median(rhos):.2f}; "
            f"relevant minus median unrelated fidelity, median {np.median(gaps):.2f}"
        )


if __name__ == "__main__":
    main()
