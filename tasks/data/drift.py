"""Drift monitoring math: a JSON training profile, and PSI / KS / chi-squared comparisons of a new batch against it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, computed_field
from scipy import stats

from veilflow.core.plotting import serialized_drawing

PROFILE_SCHEMA_VERSION = 1
OTHER = "__other__"
PREDICTION_FEATURE = "__prediction__"
# Added to every bin share before PSI (then renormalised) so an empty bin gives a large but finite term.
PSI_EPSILON = 1e-4
_TOKEN = r"\S+"
_PROFILE_KEYS = ("schema_version", "n_rows", "bins", "numeric", "categorical", "text", "predictions")


# ---------------------------------------------------------------- small helpers


def _f(x: Any) -> float | None:
    """A JSON-safe float: NaN and infinities become None (strict JSON has neither)."""
    v = float(x)
    return v if math.isfinite(v) else None


def _quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner bin edges: the training quantiles at 1/bins .. (bins-1)/bins, duplicates merged (discrete data)."""
    qs = np.quantile(values, np.linspace(0.0, 1.0, bins + 1)[1:-1])
    return [float(e) for e in np.unique(qs)]


def _bin_shares(values: np.ndarray, inner_edges: Sequence[float]) -> np.ndarray:
    """Share of values per bin (-inf, e1], (e1, e2], ..., (ek, +inf); right-closed so integer data bins cleanly."""
    idx = np.searchsorted(np.asarray(inner_edges, dtype="float64"), values, side="left")
    counts = np.bincount(idx, minlength=len(inner_edges) + 1).astype("float64")
    return counts / counts.sum()


def _binned(values: np.ndarray, bins: int) -> dict[str, Any]:
    inner = _quantile_edges(values, bins)
    # Strict JSON has no infinities: the open ends are stored as null and read back as -inf / +inf.
    return {"edges": [None, *inner, None], "expected": [float(s) for s in _bin_shares(values, inner)]}


def _inner_edges(entry: dict[str, Any], where: str) -> list[float]:
    edges = entry.get("edges")
    if not isinstance(edges, list) or len(edges) < 2 or edges[0] is not None or edges[-1] is not None:
        raise ValueError(f"profile entry '{where}' has malformed bin edges")
    return [float(e) for e in edges[1:-1]]


def _summary(values: np.ndarray) -> dict[str, float | None]:
    return {
        "mean": _f(values.mean()),
        "std": _f(values.std()),
        "min": _f(values.min()),
        "max": _f(values.max()),
    }


def population_stability_index(
    expected: Sequence[float] | np.ndarray, actual: Sequence[float] | np.ndarray, eps: float = PSI_EPSILON
) -> float:
    """Population stability index between two binned distributions.

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i), where e_i and a_i are the expected (training) and actual (new)
    shares of bin i after smoothing: s_i' = (s_i + eps) / (1 + k * eps) for k bins. The smoothing keeps an
    empty bin finite (it contributes a large term) and the shares still sum to 1. Rule of thumb:
    < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift.

    Args:
        expected: training share per bin (sums to 1).
        actual: new share per bin (sums to 1), same bins.
        eps: smoothing added to every share.

    Returns:
        The PSI, >= 0.

    Raises:
        ValueError: when the two have different lengths, are empty, or hold negative or non-finite shares.
    """
    e = np.asarray(expected, dtype="float64")
    a = np.asarray(actual, dtype="float64")
    if e.shape != a.shape or e.ndim != 1 or e.size == 0:
        raise ValueError(f"PSI needs two equal-length 1-D share vectors (got {e.shape} and {a.shape})")
    if not (np.isfinite(e).all() and np.isfinite(a).all()) or (e < 0).any() or (a < 0).any():
        raise ValueError("PSI shares must be finite and non-negative")
    if eps <= 0:
        raise ValueError(f"PSI eps must be positive, got {eps}")
    k = e.size
    e = (e + eps) / (e.sum() + k * eps)
    a = (a + eps) / (a.sum() + k * eps)
    return float(np.sum((a - e) * np.log(a / e)))


def _check_frame(frame: Any, where: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"{where} must be a pandas DataFrame, got {type(frame).__name__}")
    if len(frame) == 0:
        raise ValueError(f"{where} is empty (0 rows)")
    return frame


def _numeric_values(frame: pd.DataFrame, col: str, where: str) -> np.ndarray:
    """Non-null values of a numeric column as float64; a non-numeric dtype is an error (never coerced)."""
    s = frame[col]
    if not pd.api.types.is_numeric_dtype(s.dtype):
        raise ValueError(f"{where} column '{col}' is listed as numeric but has dtype {s.dtype}")
    return s.dropna().to_numpy(dtype="float64")


def _text_values(frame: pd.DataFrame, col: str, where: str) -> pd.Series:
    s = frame[col]
    is_text = isinstance(s.dtype, pd.StringDtype) or (
        s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
    )
    if not is_text:
        raise ValueError(f"{where} text column '{col}' must hold strings, has dtype {s.dtype}")
    return s.dropna().astype(str)


def _check_predictions(predictions: Any, where: str) -> np.ndarray:
    if not isinstance(predictions, (np.ndarray, pd.Series)):
        raise TypeError(f"{where} predictions must be a numpy array, got {type(predictions).__name__}")
    p = np.asarray(predictions)
    if p.ndim == 2 and p.shape[1] == 1:
        p = p.ravel()
    if p.ndim != 1:
        raise ValueError(f"{where} predictions must be 1-D scores, got shape {p.shape}")
    if not (np.issubdtype(p.dtype, np.number) or np.issubdtype(p.dtype, np.bool_)):
        raise ValueError(f"{where} predictions must be numeric, got dtype {p.dtype}")
    p = p.astype("float64")
    if p.size == 0:
        raise ValueError(f"{where} predictions are empty")
    if not np.isfinite(p).all():
        raise ValueError(f"{where} predictions hold {int((~np.isfinite(p)).sum())} NaN/inf value(s)")
    return p


# ---------------------------------------------------------------- profile


def build_profile(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    text: str | None,
    predictions: np.ndarray | None,
    bins: int = 10,
    *,
    seed: int = 0,
    sample_size: int = 1000,
    min_category_share: float = 0.01,
) -> dict[str, Any]:
    """Build the training profile that later batches are compared against.

    Made at training time from the ANONYMIZED training frame. Strict JSON (no NaN/inf: `json.dumps(profile,
    allow_nan=False)` works) and deterministic for the same input and seed. Nulls are excluded from the binned
    distributions and tracked as a null rate. What it stores:

    - numeric: quantile bin edges (`bins` quantiles of the training data; duplicates merged for discrete
      data; `edges[0]`/`edges[-1]` are null and mean -inf/+inf), the training share per bin (`expected`),
      mean/std/min/max, null rate, and a sorted reference sample of up to `sample_size` values drawn
      without replacement with `seed` (for the KS test).
    - categorical: share per category among non-null values; categories under `min_category_share` are
      merged into "__other__" (always present, possibly 0), plus the null rate.
    - text: character-length and whitespace-token-count statistics and token-count quantile bins. No
      string, token or word of the column is stored.
    - predictions: quantile bins and summary of the 1-D model scores (need not align with `frame` rows).

    Args:
        frame: anonymized training frame (not modified).
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        text: the free-text column, or None.
        predictions: training-time model scores, or None.
        bins: number of quantile bins (>= 2).
        seed: seed for drawing the reference sample.
        sample_size: most values kept per numeric feature for the KS test.
        min_category_share: categories rarer than this are grouped as "__other__".

    Returns:
        The profile dict.

    Raises:
        TypeError: `frame` is not a DataFrame, a feature list is not a list of names, or `predictions` is not
            an array.
        ValueError: empty frame, a missing or duplicated column, a column of the wrong type, a feature with
            no non-null value, or invalid `bins` / `sample_size` / `min_category_share`.
    """
    _check_frame(frame, "training frame")
    for name, cols in (("numeric", numeric), ("categorical", categorical)):
        if not isinstance(cols, (list, tuple)) or not all(isinstance(c, str) for c in cols):
            raise TypeError(f"{name} must be a list of column names")
    if text is not None and not isinstance(text, str):
        raise TypeError(f"text must be a column name or None, got {type(text).__name__}")
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
    if not 0.0 <= min_category_share < 1.0:
        raise ValueError(f"min_category_share must be in [0, 1), got {min_category_share}")
    features = [*numeric, *categorical, *([text] if text else [])]
    if not features:
        raise ValueError("build_profile needs at least one feature")
    dupes = sorted({c for c in features if features.count(c) > 1})
    if dupes:
        raise ValueError(f"feature(s) listed more than once across numeric/categorical/text: {', '.join(dupes)}")
    missing = [c for c in features if c not in frame.columns]
    if missing:
        raise ValueError(f"training frame is missing feature column(s): {', '.join(missing)}")

    n = len(frame)
    profile: dict[str, Any] = {
        "schema_version": PROFILE_SCHEMA_VERSION,
        "n_rows": n,
        "bins": bins,
        "seed": seed,
        "min_category_share": min_category_share,
        "numeric": {},
        "categorical": {},
        "text": {},
        "predictions": None,
    }
    rng = np.random.default_rng(seed)
    for col in numeric:
        values = _numeric_values(frame, col, "training")
        if values.size == 0:
            raise ValueError(f"numeric column '{col}' has no non-null values in the training frame")
        if not np.isfinite(values).all():
            raise ValueError(f"numeric column '{col}' holds infinite values in the training frame")
        # Sorted first so the draw depends only on the values, not on the row order.
        ordered = np.sort(values)
        sample = ordered if ordered.size <= sample_size else np.sort(rng.choice(ordered, sample_size, replace=False))
        profile["numeric"][col] = {
            **_binned(values, bins),
            **_summary(values),
            "null_rate": float(frame[col].isna().mean()),
            "n": int(values.size),
            "sample": [float(v) for v in sample],
        }
    for col in categorical:
        s = frame[col].dropna()
        if s.empty:
            raise ValueError(f"categorical column '{col}' has no non-null values in the training frame")
        shares = s.astype(str).value_counts(normalize=True)
        kept = {str(k): float(v) for k, v in shares.items() if v >= min_category_share and k != OTHER}
        freqs = dict(sorted(kept.items()))
        freqs[OTHER] = max(0.0, 1.0 - sum(kept.values())) if len(kept) < len(shares) else 0.0
        profile["categorical"][col] = {
            "frequencies": freqs,
            "null_rate": float(frame[col].isna().mean()),
            "n": int(s.size),
        }
    if text is not None:
        s = _text_values(frame, text, "training")
        if s.empty:
            raise ValueError(f"text column '{text}' has no non-null values in the training frame")
        chars = s.str.len().to_numpy(dtype="float64")
        tokens = s.str.count(_TOKEN).to_numpy(dtype="float64")
        profile["text"][text] = {
            "char_length": _summary(chars),
            "token_count": {**_summary(tokens), **_binned(tokens, bins)},
            "null_rate": float(frame[text].isna().mean()),
            "n": int(s.size),
        }
    if predictions is not None:
        p = _check_predictions(predictions, "training")
        profile["predictions"] = {**_binned(p, bins), **_summary(p), "n": int(p.size)}
    return profile


def _check_profile(profile: Any) -> dict[str, Any]:
    if not isinstance(profile, dict):
        raise TypeError(f"profile must be a dict, got {type(profile).__name__}")
    missing = [k for k in _PROFILE_KEYS if k not in profile]
    if missing:
        raise ValueError(f"profile is malformed: missing key(s) {', '.join(missing)}")
    if profile["schema_version"] != PROFILE_SCHEMA_VERSION:
        raise ValueError(
            f"profile schema_version {profile['schema_version']!r} is not supported (expected {PROFILE_SCHEMA_VERSION})"
        )
    return profile


# ---------------------------------------------------------------- report


class DriftRow(BaseModel):
    """Drift of one feature (or of the predictions) against the training profile."""

    model_config = ConfigDict(frozen=True)

    feature: str
    kind: Literal["numeric", "categorical", "text", "prediction"]
    psi: float | None
    test: Literal["ks", "chi2"] | None
    statistic: float | None
    p_value: float | None
    null_rate_train: float | None
    null_rate_now: float | None
    out_of_range_share: float | None = None
    n_now: int
    significant: bool
    drifted: bool


class DriftReport(BaseModel):
    """Per-feature drift table and the verdict.

    `drifted` on a row means PSI > `psi_threshold`; `significant` means the statistical test (KS or
    chi-squared) has p < `p_value_threshold`. The verdict (`drift_detected`) follows PSI only: any feature
    PSI or the prediction PSI above the threshold. Data-quality findings (null rate up, values outside the
    training range) are listed in `quality_issues` and do not set the verdict.
    """

    model_config = ConfigDict(frozen=True)

    rows: list[DriftRow]
    psi_threshold: float
    p_value_threshold: float
    n_rows_train: int
    n_rows_now: int
    quality_issues: list[str] = []

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def max_psi(self) -> float:
        """Largest feature PSI (predictions excluded); 0.0 when no feature has one."""
        values = [r.psi for r in self.rows if r.kind != "prediction" and r.psi is not None]
        return max(values) if values else 0.0

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def drifted_features(self) -> list[str]:
        """Features (predictions excluded) whose PSI exceeds the threshold."""
        return [r.feature for r in self.rows if r.kind != "prediction" and r.drifted]

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def prediction_psi(self) -> float | None:
        """PSI of the model scores, or None when no predictions were compared."""
        return next((r.psi for r in self.rows if r.kind == "prediction"), None)

    @computed_field  # type: ignore[prop-decorator]  # mypy rejects decorators stacked on @property; pydantic documents this ignore for computed_field
    @property
    def drift_detected(self) -> bool:
        """Any feature PSI or the prediction PSI above the threshold."""
        return any(r.drifted for r in self.rows)

    def to_frame(self) -> pd.DataFrame:
        """The drift table, one row per feature (and one for predictions when compared)."""
        return pd.DataFrame([r.model_dump() for r in self.rows], columns=list(DriftRow.model_fields))


def _p(x: Any) -> float | None:
    return None if x is None else _f(x)


def compare_to_profile(
    profile: dict[str, Any],
    frame: pd.DataFrame,
    predictions: np.ndarray | None,
    psi_threshold: float = 0.2,
    p_value: float = 0.01,
    *,
    features: Sequence[str] | None = None,
    null_rate_tolerance: float = 0.05,
    out_of_range_tolerance: float = 0.01,
) -> DriftReport:
    """Compare a new (anonymized) batch with a training profile.

    Per feature: PSI over the profile's bins (see `population_stability_index` for the formula; nulls are
    excluded and tracked as null rates); numeric features also get a two-sample KS test against the stored
    reference sample (`scipy.stats.ks_2samp`), categorical ones a chi-squared goodness-of-fit test
    (`scipy.stats.chisquare`, expected counts = smoothed training shares x batch count; categories unseen
    in training count as "__other__"). The text column gets a PSI of its whitespace-token counts; the
    predictions a PSI over their training bins. Data quality: null rate now vs training, and for numeric
    features the share of values outside the training [min, max].

    Args:
        profile: output of `build_profile`.
        frame: the batch (not modified); must hold every feature the profile covers.
        predictions: the model's scores for the batch rows, or None.
        psi_threshold: PSI above which a feature (or the predictions) counts as drifted.
        p_value: significance level for the KS / chi-squared tests.
        features: feature names the current config expects (e.g. `DatasetConfig.feature_columns`); each
            must be in the profile.
        null_rate_tolerance: null-rate increase that is reported as a quality issue.
        out_of_range_tolerance: share of out-of-range numeric values that is reported as a quality issue.

    Returns:
        The `DriftReport`.

    Raises:
        TypeError: a non-dict profile, a non-DataFrame frame, or non-array predictions.
        ValueError: a malformed or other-version profile, a config feature missing from the profile, a
            profile feature missing from the batch, an empty batch, a wrong column type, predictions given
            to a profile without them or of a different length than the batch, or invalid thresholds.
    """
    prof = _check_profile(profile)
    _check_frame(frame, "batch frame")
    if not psi_threshold > 0:
        raise ValueError(f"psi_threshold must be positive, got {psi_threshold}")
    if not 0.0 < p_value < 1.0:
        raise ValueError(f"p_value must be in (0, 1), got {p_value}")
    covered = [*prof["numeric"], *prof["categorical"], *prof["text"]]
    if features is not None:
        absent = [f for f in features if f not in covered]
        if absent:
            raise ValueError(f"profile has no entry for config feature(s) {', '.join(absent)}: rebuild the profile")
    missing = [c for c in covered if c not in frame.columns]
    if missing:
        raise ValueError(f"batch frame is missing profiled column(s): {', '.join(missing)}")

    rows: list[DriftRow] = []
    quality: list[str] = []

    def null_check(col: str, train: float, now: float) -> None:
        if now - train > null_rate_tolerance:
            quality.append(f"{col}: null rate {train:.3f} -> {now:.3f}")

    for col, entry in prof["numeric"].items():
        values = _numeric_values(frame, col, "batch")
        null_now = float(frame[col].isna().mean())
        null_check(col, entry["null_rate"], null_now)
        values = values[np.isfinite(values)] if values.size else values
        psi = stat = pv = oor = None
        if values.size:
            psi = population_stability_index(entry["expected"], _bin_shares(values, _inner_edges(entry, col)))
            ks = stats.ks_2samp(np.asarray(entry["sample"], dtype="float64"), values)
            stat, pv = _f(ks.statistic), _f(ks.pvalue)
            lo = -np.inf if entry["min"] is None else entry["min"]
            hi = np.inf if entry["max"] is None else entry["max"]
            oor = float(((values < lo) | (values > hi)).mean())
            if oor > out_of_range_tolerance:
                quality.append(f"{col}: {oor:.3f} of values outside the training range")
        rows.append(
            _row(col, "numeric", psi, "ks", stat, pv, entry["null_rate"], null_now, oor, values.size, psi_threshold, p_value)
        )

    for col, entry in prof["categorical"].items():
        null_now = float(frame[col].isna().mean())
        null_check(col, entry["null_rate"], null_now)
        cats = list(entry["frequencies"])
        s = frame[col].dropna().astype(str)
        known = set(cats) - {OTHER}
        counts = s.where(s.isin(known), OTHER).value_counts()
        observed = np.array([float(counts.get(c, 0)) for c in cats])
        expected = np.array([float(entry["frequencies"][c]) for c in cats])
        psi = stat = pv = None
        if s.size:
            psi = population_stability_index(expected, observed / observed.sum())
            if len(cats) >= 2:
                # Same smoothing as PSI, so a category absent in training gives a large but finite term.
                smoothed = (expected + PSI_EPSILON) / (expected.sum() + len(cats) * PSI_EPSILON)
                chi = stats.chisquare(observed, smoothed * observed.sum())
                stat, pv = _f(chi.statistic), _f(chi.pvalue)
        rows.append(
            _row(
                col,
                "categorical",
                psi,
                "chi2" if stat is not None else None,
                stat,
                pv,
                entry["null_rate"],
                null_now,
                None,
                s.size,
                psi_threshold,
                p_value,
            )
        )

    for col, entry in prof["text"].items():
        s = _text_values(frame, col, "batch")
        null_now = float(frame[col].isna().mean())
        null_check(col, entry["null_rate"], null_now)
        tok = entry["token_count"]
        psi = None
        if s.size:
            tokens = s.str.count(_TOKEN).to_numpy(dtype="float64")
            psi = population_stability_index(tok["expected"], _bin_shares(tokens, _inner_edges(tok, col)))
        rows.append(_row(col, "text", psi, None, None, None, entry["null_rate"], null_now, None, s.size, psi_threshold, p_value))

    if predictions is not None:
        if prof["predictions"] is None:
            raise ValueError("predictions given but the profile holds no prediction distribution")
        p = _check_predictions(predictions, "batch")
        if p.size != len(frame):
            raise ValueError(f"batch predictions have {p.size} values for {len(frame)} rows")
        entry = prof["predictions"]
        psi = population_stability_index(entry["expected"], _bin_shares(p, _inner_edges(entry, "predictions")))
        rows.append(
            _row(PREDICTION_FEATURE, "prediction", psi, None, None, None, None, None, None, p.size, psi_threshold, p_value)
        )

    return DriftReport(
        rows=rows,
        psi_threshold=psi_threshold,
        p_value_threshold=p_value,
        n_rows_train=int(prof["n_rows"]),
        n_rows_now=len(frame),
        quality_issues=quality,
    )


def _row(
    feature: str,
    kind: Literal["numeric", "categorical", "text", "prediction"],
    psi: float | None,
    test: Literal["ks", "chi2"] | None,
    statistic: float | None,
    p_value: float | None,
    null_train: float | None,
    null_now: float | None,
    out_of_range: float | None,
    n_now: int,
    psi_threshold: float,
    alpha: float,
) -> DriftRow:
    return DriftRow(
        feature=feature,
        kind=kind,
        psi=_p(psi),
        test=test if statistic is not None else None,
        statistic=statistic,
        p_value=p_value,
        null_rate_train=null_train,
        null_rate_now=null_now,
        out_of_range_share=out_of_range,
        n_now=int(n_now),
        significant=p_value is not None and p_value < alpha,
        drifted=psi is not None and psi > psi_threshold,
    )


# ---------------------------------------------------------------- plot


@serialized_drawing
def plot_drift(report: DriftReport, out_path: Path) -> Path:
    """Write a horizontal bar chart of PSI per feature (and predictions) with the threshold line, as PNG.

    Args:
        report: output of `compare_to_profile`.
        out_path: the .png file to write (its folder is created if missing).

    Returns:
        `out_path`.

    Raises:
        TypeError: `report` is not a DriftReport.
        ValueError: `out_path` does not end in .png, or the report has no rows.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    if not isinstance(report, DriftReport):
        raise TypeError(f"report must be a DriftReport, got {type(report).__name__}")
    out_path = Path(out_path)
    if out_path.suffix.lower() != ".png":
        raise ValueError(f"out_path must be a .png file: {out_path.name}")
    if not report.rows:
        raise ValueError("drift report has no rows to plot")
    out_path.parent.mkdir(parents=True, exist_ok=True)

    names = [r.feature for r in report.rows]
    values = [r.psi if r.psi is not None else 0.0 for r in report.rows]
    colors = ["tab:red" if r.drifted else ("tab:purple" if r.kind == "prediction" else "tab:blue") for r in report.rows]
    # Figure objects (not pyplot) keep no global state across calls in a long-running flow.
    fig = Figure(figsize=(7, 0.4 * len(names) + 1.5))
    ax = fig.subplots()
    y = np.arange(len(names))
    ax.barh(y, values, color=colors)
    for yi, r in zip(y, report.rows):
        if r.psi is None:
            ax.text(0, float(yi), " n/a", va="center", fontsize=8)
    ax.axvline(report.psi_threshold, color="black", linestyle="--", label=f"threshold {report.psi_threshold:g}")
    ax.set_yticks(y, labels=names)
    ax.invert_yaxis()
    ax.set(xlabel="PSI", title="Drift vs training profile" + (" (drift detected)" if report.drift_detected else ""))
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    return out_path
