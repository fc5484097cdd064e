"""Complaint-template matching (issue 17): recall, precision, genuine complaints pulled in.

What is measured, on the seeded synthetic corpus of tests/helpers/complaint_corpus.py
(organised groups' templates with the edits such groups make, mixed with genuine
complaints written from the same vocabulary):

1. **Pair links**: two complaints are linked when their keyed MinHash signatures
   (schemas/complaint_template.py) estimate a Jaccard similarity of at least T.
   Pair recall = same-template pairs linked / same-template pairs; pair
   precision = same-template pairs among the linked ones.
2. **Campaigns**: complaints arrive in day order; one joins the campaign it has
   the most links to, and two campaigns merge only when the newcomer links to at
   least `MERGE_SUPPORT` members of each (single links chain unrelated templates
   together). A campaign counts once it has >= 3 complaints from >= 2
   institutions. Campaign pair recall/precision are over pairs in one campaign;
   "genuine in a campaign" is the fraction of genuine complaints in any.
3. **Matching cost at 10^6 stored signatures**: an in-memory band index (one
   sorted uint64 array per band) over 10^6 stored signatures; one lookup =
   candidates from all bands + exact similarity of each candidate.

The threshold curve is printed and written to RESULTS.md; the figures at the
shipped `LINK_SIMILARITY` are checked against the issue's targets.

    .venv/bin/python bench/bench_campaigns.py [--scale 0.1] [--seed 17]
"""

from __future__ import annotations

import collections
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Figure, bench_parser, emit, machine_info, scaled  # noqa: E402

from schemas import complaint_template as ct  # noqa: E402
from tests.helpers.complaint_corpus import Complaint, generate  # noqa: E402

KEY = b"bench identity key, 32 bytes...."
MERGE_SUPPORT = 2
THRESHOLDS = (0.28, 0.30, 0.32, 0.34, 0.36, 0.38, 0.40, 0.42, 0.45)


@dataclass(frozen=True)
class Scores:
    threshold: float
    link_recall: float
    link_precision: float
    campaign_recall: float
    campaign_precision: float
    genuine_in_campaign: float
    campaigns: int


def signatures(corpus: list[Complaint]) -> np.ndarray:
    return np.stack([ct.parse_signature(ct.template_signature(c.text, KEY)) for c in corpus])


def candidate_pairs(sigs: np.ndarray) -> set[tuple[int, int]]:
    index: dict[bytes, list[int]] = collections.defaultdict(list)
    for i, sig in enumerate(sigs):
        for key in ct.band_keys(sig):
            index[key].append(i)
    return {p for ids in index.values() if len(ids) > 1 for p in itertools.combinations(ids, 2)}


def campaigns(corpus: list[Complaint], links: dict[int, list[int]]) -> dict[int, int]:
    """complaint id -> campaign id, by the support rule in the module docstring."""
    of: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    for c in sorted(corpus, key=lambda c: (c.day, c.id)):
        support = collections.Counter(of[o] for o in links.get(c.id, ()) if o in of)
        if not support:
            of[c.id] = c.id
            members[c.id] = [c.id]
            continue
        best, _ = support.most_common(1)[0]
        for other, n in support.items():
            if other != best and n >= MERGE_SUPPORT and support[best] >= MERGE_SUPPORT:
                for m in members.pop(other):
                    of[m] = best
                    members[best].append(m)
        of[c.id] = best
        members[best].append(c.id)
    return of


def score(corpus: list[Complaint], sigs: np.ndarray, candidates: set[tuple[int, int]],
          threshold: float) -> Scores:
    same = {p for p in itertools.combinations(range(len(corpus)), 2)
            if corpus[p[0]].group is not None and corpus[p[0]].group == corpus[p[1]].group}
    linked = [(a, b) for a, b in candidates
              if ct.similarity(sigs[a], sigs[b]) >= threshold]
    true_links = sum((min(p), max(p)) in same for p in linked)
    adjacency: dict[int, list[int]] = collections.defaultdict(list)
    for a, b in linked:
        adjacency[a].append(b)
        adjacency[b].append(a)
    of = campaigns(corpus, adjacency)
    groups: dict[int, list[int]] = collections.defaultdict(list)
    for cid, camp in of.items():
        groups[camp].append(cid)
    real = [m for m in groups.values()
            if len(m) >= 3 and len({corpus[i].institution for i in m}) >= 2]
    in_campaign = {i for m in real for i in m}
    pairs = [tuple(sorted(p)) for m in real for p in itertools.combinations(m, 2)]
    true_pairs = sum(p in same for p in pairs)
    genuine = [c.id for c in corpus if c.group is None]
    return Scores(threshold, true_links / len(same), true_links / max(1, len(linked)),
                  true_pairs / len(same), true_pairs / max(1, len(pairs)),
                  sum(i in in_campaign for i in genuine) / len(genuine), len(real))


def lookup_cost(stored: int, queries: np.ndarray, seed: int) -> tuple[float, float]:
    """(median, p99) ms of one match against `stored` signatures in a band index."""
    rng = np.random.default_rng(seed)
    sigs = rng.integers(0, 2**16, size=(stored, ct.SIGNATURE_SIZE), dtype=np.uint16)
    sigs[: len(queries)] = queries  # the queries' own copies are among the stored
    bands = ct.SIGNATURE_SIZE // ct.BAND_ROWS
    words = sigs.astype(np.uint64).reshape(stored, bands, ct.BAND_ROWS)
    keys = (words[..., 0] << 48) | (words[..., 1] << 32) | (words[..., 2] << 16) | words[..., 3]
    order = np.argsort(keys, axis=0, kind="stable")
    sorted_keys = np.take_along_axis(keys, order, axis=0)
    del words, keys
    times = []
    for q in queries:
        t0 = time.perf_counter()
        qw = q.astype(np.uint64).reshape(bands, ct.BAND_ROWS)
        qk = (qw[:, 0] << 48) | (qw[:, 1] << 32) | (qw[:, 2] << 16) | qw[:, 3]
        found = []
        for band in range(bands):
            col = sorted_keys[:, band]
            lo = np.searchsorted(col, qk[band], "left")
            hi = np.searchsorted(col, qk[band], "right")
            found.append(order[lo:hi, band])
        cand = np.unique(np.concatenate(found))
        sims = np.count_nonzero(sigs[cand] == q, axis=1) / ct.SIGNATURE_SIZE
        _ = cand[sims >= ct.LINK_SIMILARITY]
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def main() -> None:
    parser = bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    print(machine_info())
    corpus = generate(seed=args.seed, groups=scaled(40, args.scale, 8),
                      genuine=scaled(3000, args.scale, 300))
    t0 = time.perf_counter()
    sigs = signatures(corpus)
    sign_ms = (time.perf_counter() - t0) / len(corpus) * 1e3
    candidates = candidate_pairs(sigs)
    curve = [score(corpus, sigs, candidates, t) for t in THRESHOLDS]
    rows = ["| T | pair recall | pair precision | campaign pair recall | campaign pair precision "
            "| genuine in a campaign | campaigns |", "|---|---|---|---|---|---|---|"]
    for s in curve:
        line = (f"| {s.threshold:.2f} | {s.link_recall:.4f} | {s.link_precision:.4f} | "
                f"{s.campaign_recall:.4f} | {s.campaign_precision:.4f} | "
                f"{s.genuine_in_campaign:.4f} | {s.campaigns} |")
        rows.append(line)
        print(line)
    at = next(s for s in curve if abs(s.threshold - ct.LINK_SIMILARITY) < 1e-9)
    stored = scaled(1_000_000, args.scale, 10_000)
    median_ms, p99_ms = lookup_cost(stored, sigs[:200], args.seed)
    groups = len({c.group for c in corpus if c.group is not None})
    note = (f"{len(corpus)} complaints ({groups} organised templates, "
            f"{sum(c.group is None for c in corpus)} genuine), seed {args.seed}, "
            f"T = {ct.LINK_SIMILARITY}")
    figures = [
        Figure("campaign_pair_recall", "same-template pair recall (campaigns)",
               at.campaign_recall, "", 0.95, "higher", note=note),
        Figure("campaign_pair_precision", "same-template pair precision (campaigns)",
               at.campaign_precision, "", 0.99, "higher", note=note),
        Figure("link_pair_recall", "same-template pair recall (direct links)",
               at.link_recall, "", None, "higher", note=note),
        Figure("link_pair_precision", "same-template pair precision (direct links)",
               at.link_precision, "", None, "higher", note=note),
        Figure("genuine_in_campaign", "genuine complaints in any campaign",
               at.genuine_in_campaign * 100, "%", 1.0, "lower", note=note),
        Figure("match_ms", f"match one case against {stored:,} stored signatures (median)",
               median_ms, "ms", 10.0, "lower", note=f"p99 {p99_ms:.2f} ms, in-memory band index"),
        Figure("sign_ms", "member-side signature of one complaint", sign_ms, "ms", None),
    ]
    emit(figures, args.json, sections={"Complaint-template threshold curve": "\n".join(rows)})


if __name__ == "__main__":
    main()
