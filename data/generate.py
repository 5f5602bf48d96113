"""Generate qrbench's test corpus: queries, documents and user behaviour profiles.

Run from the repository root:  python data/generate.py
Deterministic (seeded, stdlib `random` only, no network); rewrites queries.json, documents.json and
user_behavior_patterns.json next to this file and prints the statistics quoted in data/README.md.

The texts are synthetic, composed from the hand-written topic banks in banks_*.py. Each document
is about one topic and leans on three of that topic's key terms (its "focus"); each query is about
two key terms of a topic, and its relevant documents are the 2-5 documents written around exactly
those two terms, so a sentence-embedding model can find them among hard negatives of the same topic.
"""

from __future__ import annotations

import json
import math
import random
import statistics
import sys
from collections import Counter
from itertools import combinations
from pathlib import Path

from banks_academic_legal import ACADEMIC, LEGAL
from banks_academic_legal import ENTITIES as ENTITIES_AL
from banks_medical_technical import ENTITIES as ENTITIES_MT
from banks_medical_technical import MEDICAL, TECHNICAL

HERE = Path(__file__).resolve().parent
SEED = 20_240_611

DOMAINS = {"academic": ACADEMIC, "legal": LEGAL, "medical": MEDICAL, "technical": TECHNICAL}
ENTITIES = {**ENTITIES_AL, **ENTITIES_MT}

DOCS_PER_TOPIC = 35  # 64 topics -> 2,240 documents
QUERIES_PER_TOPIC = 4  # 64 topics -> 256 queries; each uses a disjoint pair of the topic's key terms
RELEVANT_RANGE = (2, 5)

# Retrieval chunks: right-skewed lengths, median ~150 words, clipped to [30, 600] words.
LENGTH_MEDIAN_WORDS = 150
LENGTH_SIGMA = 0.65
MIN_WORDS, MAX_WORDS = 30, 600

# Query styles: a few keywords, one natural question, or a RAG user's paragraph.
QUERY_STYLES = (("short", 0.3), ("question", 0.4), ("paragraph", 0.3))

SHARED_QUESTIONS = [
    "What is {t} and how does it relate to {u}?",
    "How does {t} affect {u}?",
    "What are the main risks of getting {t} wrong?",
    "When does {t} matter more than {u}?",
    "Can you explain {t} in the context of {kw}?",
    "What does current guidance say about {t} and {u}?",
    "How do I deal with {t} when {u} is also involved?",
    "Best practices for {t} and {u}?",
    "Why is {t} considered important for {kw}?",
]
SHARED_ASKS = [
    "What is the usual way to handle {t} in this situation, and what should I check about {u}?",
    "Could you explain how {t} and {u} interact, with references if possible?",
    "Which approach to {t} would you recommend, and what are the trade-offs with respect to {u}?",
    "What are the first steps to investigate {t}, and is {u} likely to be part of the problem?",
    "How should I think about {t} here, and does {u} change the answer?",
]
CONNECTORS = [
    "In practice, ",
    "However, ",
    "Notably, ",
    "In addition, ",
    "By contrast, ",
    "As a result, ",
    "In many cases, ",
    "Importantly, ",
    "That said, ",
    "Similarly, ",
    "Even so, ",
    "Moreover, ",
    "In short, ",
    "For this reason, ",
]
# Connectors are only put before templates that start with one of these words, so the lowercasing
# never touches a name, an acronym or a slot value.
LOWERABLE = {
    "The",
    "A",
    "An",
    "Most",
    "In",
    "This",
    "These",
    "Many",
    "Several",
    "Some",
    "It",
    "When",
    "One",
    "Although",
    "Because",
    "Under",
    "For",
    "Our",
    "We",
    "Prior",
    "Across",
    "Compared",
    "Data",
    "Patients",
    "Clinicians",
    "Reducing",
    "Combining",
    "Courts",
    "Practitioners",
    "Counsel",
    "Clients",
    "Legislative",
    "Whether",
    "Failure",
    "Procedural",
    "Referral",
    "Monitoring",
    "Common",
    "Local",
    "Nurses",
    "Treatment",
    "Contraindications",
    "Telephone",
    "Shared",
    "Benchmark",
    "Document",
    "Automating",
    "Security",
    "Engineers",
    "Monitor",
    "Test",
    "Measurement",
    "Future",
    "Research",
    "Recovery",
    "Ordering",
    "Running",
    "Retries",
    "Tests",
    "Caching",
    "Servers",
    "Idempotency",
    "Cloning",
    "Explicit",
    "Within",
    "Frequent",
    "Increasing",
}


def _cap(text: str) -> str:
    """Capitalise a sentence start unless its first word is a code name or mixed-case (mRNA, kubectl)."""
    if not text or not text[0].islower():
        return text
    first = text.split(" ", 1)[0]
    if any(c.isupper() for c in first[1:]) or any(c in first for c in "._-/:(") or first in _CODE_WORDS:
        return text
    return text[0].upper() + text[1:]


_CODE_WORDS = {
    "kubectl",
    "certbot",
    "git",
    "dmesg",
    "openssl",
    "rustc",
    "dive",
    "valgrind",
    "uvloop",
    "aiohttp",
    "terraform",
    "asyncio",
    "pytest",
    "nginx",
}


def _slots(rng: random.Random, domain: dict, topic: dict, t: str, u: str, v: str) -> dict[str, str]:
    n = rng.randint(2, 40)
    y = rng.randint(1995, 2023)
    return {
        "t": t,
        "u": u,
        "v": v,
        "topic": topic["name"],
        "kw": topic["kw"],
        "e": rng.choice(ENTITIES[topic["id"]]),
        "actor": rng.choice(domain["actors"]),
        "org": rng.choice(domain["orgs"]),
        "place": rng.choice(domain["places"]),
        "n": str(n),
        "n2": str(n + rng.randint(2, 12)),
        "N": str(rng.randint(50, 5000)),
        "p": str(rng.randint(3, 85)),
        "y": str(y),
        "y2": str(min(2024, y + rng.randint(1, 6))),
        "x": f"{rng.uniform(0.2, 9.8):.1f}",
        "d": str(rng.randint(2, 9)),
        "m": str(rng.randint(15, 90)),
        "age": str(rng.randint(18, 89)),
        "anc": str(rng.randrange(1200, 7500, 10)),
    }


def _fill(template: str, slots: dict[str, str]) -> str:
    return _cap(template.format_map(slots))


def _sentence(rng: random.Random, template: str, slots: dict[str, str], domain: dict, *, first: bool) -> str:
    text = template.format_map(slots)
    if not first and template.split(" ", 1)[0] in LOWERABLE and rng.random() < 0.22:
        text = rng.choice(CONNECTORS) + text[0].lower() + text[1:]
    # Tails only on templated sentences: boilerplate ("Costs were reserved.") takes no qualifier.
    if "{" in template and text.endswith(".") and rng.random() < 0.12:
        text = text[:-1] + rng.choice(domain["tails"]).format_map(slots) + "."
    return _cap(text)


def _focus_slots(rng: random.Random, focus: list[str], terms: list[str]) -> tuple[str, str, str]:
    """t, u, v for one sentence: the focus terms in random order, sometimes one other topic term."""
    t, u, v = rng.sample(focus, 3)
    if rng.random() < 0.2:
        v = rng.choice([x for x in terms if x not in focus])
    return t, u, v


def _word_count(sentences: list[str]) -> int:
    return sum(len(s.split()) for s in sentences)


def build_document(rng: random.Random, domain: dict, topic: dict, focus: list[str], target: int) -> tuple[str, str]:
    """Title and text (paragraphs separated by blank lines) of about `target` words."""
    terms = topic["terms"]
    t, u, v = _focus_slots(rng, focus, terms)
    slots = _slots(rng, domain, topic, t, u, v)
    title = _fill(rng.choice(domain["titles"]), slots)
    sentences = [_sentence(rng, rng.choice(domain["openers"]), slots, domain, first=True)]
    facts = rng.sample(topic["facts"], len(topic["facts"]))
    generic = rng.sample(domain["generic"], len(domain["generic"]))
    fillers = rng.sample(domain["fillers"], len(domain["fillers"]))
    facts_used = 0
    while _word_count(sentences) < target:
        roll = rng.random()
        # At most three topic facts per document: they carry no slots, so more would repeat across the topic.
        if facts and facts_used < 3 and roll < 0.28:
            template = facts.pop()
            facts_used += 1
        elif fillers and roll > 0.94:
            template = fillers.pop()
        else:
            if not generic:
                generic = rng.sample(domain["generic"], len(domain["generic"]))
            template = generic.pop()
        slots = _slots(rng, domain, topic, *_focus_slots(rng, focus, terms))
        sentences.append(_sentence(rng, template, slots, domain, first=False))
    while len(sentences) > 1 and _word_count(sentences) > MAX_WORDS:
        sentences.pop()
    paragraphs, i = [], 0
    while i < len(sentences):
        k = rng.randint(2, 6)
        paragraphs.append(" ".join(sentences[i : i + k]))
        i += k
    return title, "\n\n".join(paragraphs)


def _strip_article(term: str) -> str:
    first, _, rest = term.partition(" ")
    return rest if first in ("the", "a", "an") and rest else term


def _mentions(text: str, term: str) -> bool:
    return term.lower() in text.lower()


def build_query(rng: random.Random, domain: dict, topic: dict, t: str, u: str) -> tuple[str, str]:
    """(style, text) of a query about key terms t and u."""
    style = rng.choices([s for s, _ in QUERY_STYLES], weights=[w for _, w in QUERY_STYLES])[0]
    v = rng.choice([x for x in topic["terms"] if x not in (t, u)])
    slots = _slots(rng, domain, topic, t, u, v)
    if style == "short":
        text = rng.choice(domain["shorts"]).format_map(slots)
        # Users type keywords without articles and in lower case.
        words = [w for w in text.split() if w.lower() not in {"the", "a", "an"}]
        text = " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in words)
    elif style == "question":
        text = _cap(rng.choice(domain["questions"] + SHARED_QUESTIONS).format_map(slots))
    else:
        parts = [
            _fill(rng.choice(domain["personas"]), slots),
            _fill(rng.choice(domain["contexts"]), slots),
            _fill(rng.choice(SHARED_ASKS), slots),
        ]
        if rng.random() < 0.5:
            parts.append(_fill(rng.choice(domain["questions"]), slots))
        parts.append(_fill(rng.choice(domain["closings"]), slots))
        text = " ".join(p for p in parts if p)
    return style, text


def generate(seed: int = SEED) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    documents: list[dict] = []
    queries: list[dict] = []
    for domain_name, domain in DOMAINS.items():
        for topic in domain["topics"]:
            terms = list(topic["terms"])
            shuffled = rng.sample(terms, len(terms))
            pairs = [tuple(shuffled[2 * i : 2 * i + 2]) for i in range(QUERIES_PER_TOPIC)]
            plans: list[tuple[list[str], int | None]] = []
            for qi, (a, b) in enumerate(pairs):
                for _ in range(rng.randint(*RELEVANT_RANGE)):
                    third = rng.choice([x for x in terms if x not in (a, b)])
                    plans.append(([a, b, third], qi))
            # Background documents: same topic, but never written around a query's pair (hard negatives).
            allowed = [list(c) for c in combinations(terms, 3) if not any(set(p) <= set(c) for p in pairs)]
            while len(plans) < DOCS_PER_TOPIC:
                plans.append((rng.choice(allowed), None))
            topic_docs: list[tuple[dict, int | None, list[str]]] = []
            for focus, qi in plans:
                target = round(math.exp(rng.gauss(math.log(LENGTH_MEDIAN_WORDS), LENGTH_SIGMA)))
                target = min(MAX_WORDS, max(MIN_WORDS, target))
                for _attempt in range(50):
                    title, text = build_document(rng, domain, topic, focus, target)
                    # A relevant document must name both of its query's key terms.
                    if qi is None or all(_mentions(text, x) for x in focus[:2]):
                        break
                else:
                    raise RuntimeError(f"Could not write a document about {focus} in {topic['id']}.")
                doc = {
                    "domain": domain_name,
                    "topic": f"{domain_name}/{topic['id']}",
                    "title": title,
                    "text": text,
                    "n_words": len(text.split()),
                }
                topic_docs.append((doc, qi, focus))
                documents.append(doc)
            for qi, (a, b) in enumerate(pairs):
                style, text = build_query(rng, domain, topic, a, b)
                queries.append(
                    {
                        "domain": domain_name,
                        "topic": f"{domain_name}/{topic['id']}",
                        "style": style,
                        "text": text,
                        "key_terms": [_strip_article(a), _strip_article(b)],
                        "relevant": [d for d, q, _ in topic_docs if q == qi],
                    }
                )
    # Ids in shuffled order, so an id says nothing about topic or relevance.
    rng.shuffle(documents)
    for i, doc in enumerate(documents):
        doc["id"] = f"doc-{i:05d}"
    rng.shuffle(queries)
    out_queries = []
    for i, q in enumerate(queries):
        rel = sorted(d["id"] for d in q.pop("relevant"))
        out_queries.append({"id": f"q-{i:04d}", **q, "relevant": rel})
    out_docs = [{k: d[k] for k in ("id", "domain", "topic", "title", "text", "n_words")} for d in documents]
    return out_queries, out_docs


def behavior_patterns() -> dict:
    """User behaviour profiles and the hourly arrival profile of a realistic day."""

    def lognormal(median_s: float, sigma: float) -> dict:
        return {
            "distribution": "lognormal",
            "median_s": median_s,
            "sigma": sigma,
            "mean_s": round(median_s * math.exp(sigma**2 / 2), 3),
        }

    hourly = []
    for hour in range(24):
        if hour in (2, 3):
            rate = 0  # maintenance window 02:00-04:00: the service is drained
        elif hour in (10, 14):
            rate = 600  # morning and afternoon peaks: twice the business-hours rate
        elif 9 <= hour < 17:
            rate = 300
        elif hour in (8, 17):
            rate = 150  # shoulders: people arriving and leaving
        else:
            rate = 50
        hourly.append(rate)
    return {
        "version": 1,
        "description": (
            "Synthetic user behaviour for qrbench load studies. Think times in seconds, session lengths in "
            "requests, rates in requests per minute. Kinds: similarity (1 pair), rerank_small (10 documents), "
            "rerank_medium (25-50), rerank_large (100), batch_similarity (10-100)."
        ),
        "profiles": {
            "rag_interactive": {
                "description": "A person chatting with a RAG assistant: one rerank per question, then reading.",
                "think_time_s": lognormal(2.0, 0.8),
                "session_requests": {"distribution": "geometric", "mean": 12},
                "kind_weights": {
                    "similarity": 0.10,
                    "rerank_small": 0.45,
                    "rerank_medium": 0.35,
                    "rerank_large": 0.05,
                    "batch_similarity": 0.05,
                },
                "method_weights": {"classical": 0.30, "quantum": 0.20, "hybrid": 0.50},
            },
            "batch_pipeline": {
                "description": "An indexing or evaluation job: back-to-back large reranks, no think time.",
                "think_time_s": {"distribution": "constant", "mean_s": 0.0},
                "session_requests": {"distribution": "constant", "mean": 500},
                "kind_weights": {
                    "similarity": 0.0,
                    "rerank_small": 0.0,
                    "rerank_medium": 0.20,
                    "rerank_large": 0.60,
                    "batch_similarity": 0.20,
                },
                "method_weights": {"classical": 0.40, "quantum": 0.10, "hybrid": 0.50},
            },
            "analyst": {
                "description": "A researcher comparing methods by hand: long pauses, many pairwise checks.",
                "think_time_s": lognormal(8.0, 1.0),
                "session_requests": {"distribution": "geometric", "mean": 25},
                "kind_weights": {
                    "similarity": 0.40,
                    "rerank_small": 0.20,
                    "rerank_medium": 0.25,
                    "rerank_large": 0.10,
                    "batch_similarity": 0.05,
                },
                "method_weights": {"classical": 0.34, "quantum": 0.33, "hybrid": 0.33},
            },
            "api_integrator": {
                "description": "Another service calling the API: short pauses, similarity and batch calls.",
                "think_time_s": lognormal(0.3, 0.5),
                "session_requests": {"distribution": "geometric", "mean": 100},
                "kind_weights": {
                    "similarity": 0.45,
                    "rerank_small": 0.15,
                    "rerank_medium": 0.10,
                    "rerank_large": 0.0,
                    "batch_similarity": 0.30,
                },
                "method_weights": {"classical": 0.60, "quantum": 0.0, "hybrid": 0.40},
            },
        },
        "realistic_day": {
            "description": (
                "Requests per minute for each hour of the day (index 0 = 00:00-01:00). Business hours "
                "09:00-17:00 at 300/min with peaks at 10:00 and 14:00 (600/min), shoulders at 08:00 and 17:00, "
                "off-hours 50/min, maintenance window 02:00-04:00 with no traffic."
            ),
            "unit": "requests_per_minute",
            "hourly_rate": hourly,
            "business_hours": [9, 17],
            "peak_hours": [10, 14],
            "maintenance_window": [2, 4],
            "profile_mix": {"rag_interactive": 0.6, "api_integrator": 0.25, "analyst": 0.1, "batch_pipeline": 0.05},
        },
    }


def _write_json_lines(path: Path, items: list[dict]) -> None:
    """A JSON array with one item per line: valid JSON that still diffs line by line."""
    body = ",\n".join(json.dumps(item, ensure_ascii=False) for item in items)
    path.write_text("[\n" + body + "\n]\n", encoding="utf-8")


def _percentiles(values: list[int], ps=(0, 5, 25, 50, 75, 95, 99, 100)) -> str:
    ordered = sorted(values)
    out = []
    for p in ps:
        k = min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))
        out.append(f"p{p}={ordered[k]}")
    return " ".join(out)


def print_stats(queries: list[dict], documents: list[dict]) -> None:
    sizes = {name: (HERE / name).stat().st_size for name in ("queries.json", "documents.json")}
    print(f"documents: {len(documents)}  queries: {len(queries)}")
    print("documents per domain:", dict(sorted(Counter(d["domain"] for d in documents).items())))
    print("queries per domain:  ", dict(sorted(Counter(q["domain"] for q in queries).items())))
    print("topics:", len({d["topic"] for d in documents}))
    words = [d["n_words"] for d in documents]
    print(f"document words: {_percentiles(words)} mean={statistics.fmean(words):.0f}")
    chars = [len(d["text"]) for d in documents]
    print(f"document chars: {_percentiles(chars)}")
    qwords = [len(q["text"].split()) for q in queries]
    print(f"query words:    {_percentiles(qwords)}")
    print("query styles:", dict(sorted(Counter(q["style"] for q in queries).items())))
    print("relevant per query:", dict(sorted(Counter(len(q["relevant"]) for q in queries).items())))
    print("file sizes (bytes):", sizes)


def main() -> int:
    queries, documents = generate()
    _write_json_lines(HERE / "queries.json", queries)
    _write_json_lines(HERE / "documents.json", documents)
    (HERE / "user_behavior_patterns.json").write_text(
        json.dumps(behavior_patterns(), indent=2) + "\n", encoding="utf-8"
    )
    print_stats(queries, documents)
    return 0


if __name__ == "__main__":
    sys.exit(main())
