"""Training-data preparation: the feature ColumnTransformer and deterministic train/validation/test splits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

# ---------------------------------------------------------------- preprocessing


def _as_text(x: Any) -> Any:
    """One text column as strings, missing notes as empty text (TF-IDF cannot read NaN)."""
    series = x.iloc[:, 0] if isinstance(x, pd.DataFrame) else pd.Series(np.asarray(x).ravel())
    return series.astype("object").where(series.notna(), "").astype(str)


def _as_categories(x: Any) -> Any:
    """Categorical columns as strings with missing kept missing, so numeric-coded categories impute like text."""
    frame = x if isinstance(x, pd.DataFrame) else pd.DataFrame(x)
    obj = frame.astype("object")
    return obj.where(frame.isna(), obj.astype(str)).astype("object")


def build_preprocessor(
    numeric: Sequence[str],
    categorical: Sequence[str],
    text: str | None,
    text_max_features: int = 2000,
    dense: bool = False,
) -> ColumnTransformer:
    """An unfitted column transformer for the model's features (fit it on the training split only).

    Numeric columns: median imputation, then standard scaling. Categorical columns: missing values become
    the category "missing", then one-hot encoding that ignores categories unseen in training. Text column:
    missing text becomes "", then TF-IDF over word 1-2 grams limited to `text_max_features` terms.

    Args:
        numeric: numeric feature columns.
        categorical: categorical feature columns.
        text: the free-text column, or None.
        text_max_features: size bound of the TF-IDF vocabulary.
        dense: return a dense matrix (for estimators that cannot read sparse input).

    Returns:
        A `ColumnTransformer` with blocks named "num", "cat" and "text"; other columns are dropped.

    Raises:
        ValueError: when no feature is named, a column is named twice, or `text_max_features` < 1.
    """
    numeric, categorical = list(numeric), list(categorical)
    names = numeric + categorical + ([text] if text else [])
    if not names:
        raise ValueError("build_preprocessor: no feature columns given")
    dupes = sorted({c for c in names if names.count(c) > 1})
    if dupes:
        raise ValueError(f"build_preprocessor: column(s) {dupes} named more than once")
    if text_max_features < 1:
        raise ValueError(f"build_preprocessor: text_max_features must be >= 1, got {text_max_features}")
    blocks: list[tuple[str, Any, Any]] = []
    if numeric:
        blocks.append(
            (
                "num",
                Pipeline(
                    [
                        # keep_empty_features: a column that is all-missing in training still gets its output
                        # column, so the output layout (and explanations) never depend on the data.
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                numeric,
            )
        )
    if categorical:
        blocks.append(
            (
                "cat",
                Pipeline(
                    [
                        ("as_str", FunctionTransformer(_as_categories, feature_names_out="one-to-one")),
                        ("impute", SimpleImputer(strategy="constant", fill_value="missing", keep_empty_features=True)),
                        ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=not dense)),
                    ]
                ),
                categorical,
            )
        )
    if text:
        blocks.append(
            (
                "text",
                Pipeline(
                    [
                        ("fill", FunctionTransformer(_as_text)),
                        ("tfidf", TfidfVectorizer(ngram_range=(1, 2), max_features=text_max_features, dtype=np.float32)),
                    ]
                ),
                text,  # a scalar column name hands the vectorizer a 1-D column
            )
        )
    return ColumnTransformer(blocks, remainder="drop", sparse_threshold=0.0 if dense else 0.3)


# ---------------------------------------------------------------- splits


def split_frame(
    df: pd.DataFrame,
    label: str,
    test_size: float,
    val_size: float,
    seed: int,
    stratify: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Split into train, validation and test frames; the same inputs and seed give the same rows.

    Args:
        df: the (anonymized) frame; not modified.
        label: label column, used for stratification.
        test_size: share of all rows held out for testing, in (0, 1).
        val_size: share of all rows for validation, in [0, 1); 0 gives an empty validation frame.
        seed: random seed.
        stratify: keep the label's class shares in every split.

    Returns:
        (train, val, test) copies that keep the original index.

    Raises:
        ValueError: on an empty frame, a missing label, sizes out of range, or (stratified) a class too
            small to appear in every split.
    """
    if df.empty:
        raise ValueError("split_frame: the frame is empty")
    if label not in df.columns:
        raise ValueError(f"split_frame: label column '{label}' is missing")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"split_frame: test_size must be in (0, 1), got {test_size}")
    if not 0.0 <= val_size < 1.0 or test_size + val_size >= 1.0:
        raise ValueError(f"split_frame: val_size must be in [0, 1) with test_size + val_size < 1, got {val_size}")
    if stratify and df[label].isna().any():
        raise ValueError(f"split_frame: label column '{label}' has {int(df[label].isna().sum())} missing values")
    counts = df[label].value_counts()
    if stratify and (counts < 2).any():
        raise ValueError(f"split_frame: a class of label '{label}' has fewer than 2 rows; cannot stratify")
    try:
        rest, test = train_test_split(df, test_size=test_size, random_state=seed, stratify=df[label] if stratify else None)
        if val_size == 0.0:
            return rest.copy(), df.iloc[0:0].copy(), test.copy()
        # val_size is a share of all rows; re-express it as a share of what the test split left.
        train, val = train_test_split(
            rest,
            test_size=val_size / (1.0 - test_size),
            random_state=seed,
            stratify=rest[label] if stratify else None,
        )
    except ValueError as exc:
        raise ValueError(f"split_frame: cannot split {len(df)} rows on '{label}': {str(exc).splitlines()[0]}") from None
    return train.copy(), val.copy(), test.copy()
