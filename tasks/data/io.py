"""Loading, generating and fingerprinting datasets: the only place raw frames are born."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from veilflow.core.errors import DataLoadError
from veilflow.tasks.data.files import load_frame

__all__ = ["load_frame"]  # re-exported: the loaders import it from here

FIRST_NAMES = [
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Christopher",
    "Lisa",
    "Daniel",
    "Nancy",
    "Matthew",
    "Betty",
    "Anthony",
    "Margaret",
    "Mark",
    "Sandra",
    "Donald",
    "Ashley",
    "Steven",
    "Kimberly",
    "Paul",
    "Emily",
    "Andrew",
    "Donna",
    "Joshua",
    "Michelle",
    "Kenneth",
    "Carol",
    "Kevin",
    "Amanda",
    "Brian",
    "Melissa",
    "George",
    "Deborah",
    "Timothy",
    "Stephanie",
    "Ronald",
    "Rebecca",
    "Edward",
    "Sharon",
    "Jason",
    "Laura",
    "Jeffrey",
    "Cynthia",
    "Ryan",
    "Kathleen",
    "Jacob",
    "Amy",
    "Gary",
    "Angela",
    "Nicholas",
    "Shirley",
    "Eric",
    "Anna",
    "Jonathan",
    "Brenda",
    "Stephen",
    "Pamela",
    "Larry",
    "Emma",
    "Justin",
    "Nicole",
    "Scott",
    "Helen",
    "Brandon",
    "Samantha",
    "Benjamin",
    "Katherine",
    "Samuel",
    "Christine",
    "Gregory",
    "Debra",
    "Alexander",
    "Rachel",
    "Frank",
    "Carolyn",
    "Maria",
    "Jose",
    "Carlos",
    "Sofia",
    "Wei",
    "Priya",
    "Ahmed",
    "Fatima",
    "Hiroshi",
    "Olga",
]
LAST_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Gomez",
    "Phillips",
    "Evans",
    "Turner",
    "Diaz",
    "Parker",
    "Cruz",
    "Edwards",
    "Collins",
    "Reyes",
    "Stewart",
    "Morris",
    "Morales",
    "Murphy",
    "Cook",
    "Rogers",
    "Gutierrez",
    "Ortiz",
    "Morgan",
    "Cooper",
    "Peterson",
    "Bailey",
    "Reed",
    "Kelly",
    "Howard",
    "Ramos",
    "Kim",
    "Cox",
    "Ward",
    "Richardson",
    "Watson",
    "Brooks",
    "Chavez",
    "Wood",
    "James",
    "Bennett",
    "Gray",
    "Mendoza",
    "Ruiz",
    "Hughes",
    "Price",
    "Alvarez",
    "Castillo",
    "Sanders",
    "Patel",
    "Myers",
    "Long",
    "Ross",
    "Foster",
    "Kowalski",
]
STREET_NAMES = [
    "Main",
    "Oak",
    "Pine",
    "Maple",
    "Cedar",
    "Elm",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "Sunset",
    "Lincoln",
    "Jefferson",
    "Madison",
    "Franklin",
    "Highland",
    "River",
    "Church",
    "Spring",
    "Walnut",
]
STREET_TYPES = ["Street", "Avenue", "Road", "Boulevard", "Lane", "Drive", "Court", "Way", "St", "Ave", "Rd", "Blvd"]
CITIES = [
    ("Springfield", "IL", "627"),
    ("Portland", "OR", "972"),
    ("Austin", "TX", "787"),
    ("Denver", "CO", "802"),
    ("Boston", "MA", "021"),
    ("Seattle", "WA", "981"),
    ("Atlanta", "GA", "303"),
    ("Phoenix", "AZ", "850"),
    ("Columbus", "OH", "432"),
    ("Nashville", "TN", "372"),
    ("Madison", "WI", "537"),
    ("Raleigh", "NC", "276"),
]
AREA_CODES = ["212", "415", "617", "312", "206", "303", "512", "404", "602", "614", "615", "608", "919", "503"]
EMAIL_DOMAINS = ["example.com", "mail.com", "inbox.org", "post.net", "webmail.io"]
CONTRACT_TYPES = ["month-to-month", "one-year", "two-year"]
PAYMENT_METHODS = ["credit-card", "bank-transfer", "electronic-check", "mailed-check"]
PLANS = ["basic", "standard", "premium"]
GENDERS = ["female", "male", "nonbinary"]

# Notes carry churn signal (through the latent intent) and PII mentions (names, e-mails, phones, cards).
NEGATIVE_NOTES = [
    "Customer said they want to cancel the service next month.",
    "Caller was frustrated about repeated outages and asked how to close the account.",
    "Asked about competitor pricing and threatened to switch providers.",
    "Complained that the bill doubled and wants a refund or they will leave.",
    "Unhappy with support wait times, requested cancellation paperwork.",
]
NEUTRAL_NOTES = [
    "Customer asked to update the billing address.",
    "Called about a router reset, issue resolved on the call.",
    "Requested a copy of the last invoice.",
    "Asked how to add a second line to the plan.",
    "Question about the data allowance, explained the plan terms.",
]
POSITIVE_NOTES = [
    "Customer was very happy with the new speed and thanked the agent.",
    "Praised the technician visit and plans to upgrade to premium.",
    "Renewed the contract and said the service has been great.",
    "Satisfied with the resolution, no further action needed.",
    "Recommended us to a friend and asked about referral credit.",
]
PII_MENTIONS = [
    "Spoke with {name}.",
    "Please reply to {email}.",
    "Call back on {phone}.",
    "Card on file {card} was declined.",
    "{name} can be reached at {phone}.",
    "Confirmed identity of {name}, email {email}.",
    "",
    "",
]


def _luhn_complete(prefix_digits: np.ndarray) -> np.ndarray:
    """Append a Luhn check digit to each row of a (n, 15) digit matrix."""
    digits = prefix_digits.copy()
    # Positions counted from the right of the final 16-digit number: the check digit is position 1,
    # so prefix positions with an even distance from the right end get doubled.
    doubled = digits[:, ::-1][:, ::2] * 2
    doubled = np.where(doubled > 9, doubled - 9, doubled)
    total = doubled.sum(axis=1) + digits[:, ::-1][:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return np.concatenate([digits, check[:, None]], axis=1)


def generate_card_numbers(rng: np.random.Generator, n: int) -> list[str]:
    """Luhn-valid 16-digit Visa-like card numbers in mixed formatting (spaces, dashes, none)."""
    body = rng.integers(0, 10, size=(n, 15))
    body[:, 0] = 4
    full = _luhn_complete(body).astype(str)
    plain = ["".join(row) for row in full]
    style = rng.integers(0, 3, size=n)
    out = []
    for s, p in zip(style.tolist(), plain):
        if s == 0:
            out.append(" ".join(p[i : i + 4] for i in range(0, 16, 4)))
        elif s == 1:
            out.append("-".join(p[i : i + 4] for i in range(0, 16, 4)))
        else:
            out.append(p)
    return out


def _phones(rng: np.random.Generator, n: int) -> list[str]:
    area = rng.choice(AREA_CODES, size=n)
    exchange = rng.integers(201, 989, size=n)
    line = rng.integers(1000, 9999, size=n)
    style = rng.integers(0, 3, size=n)
    fmt = ["({a}) {e}-{l}", "{a}-{e}-{l}", "+1 {a} {e} {l}"]
    return [fmt[s].format(a=a, e=e, l=ln) for s, a, e, ln in zip(style.tolist(), area, exchange.tolist(), line.tolist())]


def _ssns(rng: np.random.Generator, n: int) -> list[str]:
    area = rng.integers(1, 665, size=n)
    group = rng.integers(1, 99, size=n)
    serial = rng.integers(1, 9999, size=n)
    return [f"{a:03d}-{g:02d}-{s:04d}" for a, g, s in zip(area.tolist(), group.tolist(), serial.tolist())]


def generate_customers(
    n_rows: int = 2000, seed: int = 42, defect_rate: float = 0.0, *, stream: int | None = None, id_offset: int = 0
) -> pd.DataFrame:
    """Generate a realistic, seeded support-ticket churn dataset containing PII.

    Args:
        n_rows: number of customers (rows).
        seed: random seed; the same seed and size give the same frame, byte for byte.
        defect_rate: share of rows given data-quality defects (nulls, out-of-range values,
            malformed e-mails, unknown categories) so validation has something to catch.
        stream: a partition index; rows then come from the random stream (seed, stream), so each
            partition can be generated on its own. None (the default) is the plain seed stream.
        id_offset: added to every `customer_id` number (partition p starts at its first row).

    Returns:
        A frame with structured PII columns, free-text notes, features, the sensitive
        attribute `gender` and the binary label `churned`.

    Raises:
        ValueError: on a non-positive size or a defect rate outside [0, 1].
    """
    if n_rows <= 0:
        raise ValueError(f"n_rows must be positive, got {n_rows}")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError(f"defect_rate must be in [0, 1], got {defect_rate}")
    rng = np.random.default_rng(seed if stream is None else [seed, stream])
    n = n_rows

    first = rng.choice(FIRST_NAMES, size=n)
    last = rng.choice(LAST_NAMES, size=n)
    full_name = np.char.add(np.char.add(first, " "), last)
    suffix = rng.integers(1, 999, size=n)
    domain = rng.choice(EMAIL_DOMAINS, size=n)
    email = [f"{f.lower()}.{ln.lower()}{s}@{d}" for f, ln, s, d in zip(first, last, suffix.tolist(), domain)]
    phone = _phones(rng, n)
    city_idx = rng.integers(0, len(CITIES), size=n)
    zip_tail = rng.integers(0, 100, size=n)
    zip_code = [f"{CITIES[c][2]}{t:02d}" for c, t in zip(city_idx.tolist(), zip_tail.tolist())]
    house = rng.integers(1, 9999, size=n)
    street = rng.choice(STREET_NAMES, size=n)
    stype = rng.choice(STREET_TYPES, size=n)
    street_address = [
        f"{h} {s} {t}, {CITIES[c][0]}, {CITIES[c][1]} {z}"
        for h, s, t, c, z in zip(house.tolist(), street, stype, city_idx.tolist(), zip_code)
    ]
    ssn = _ssns(rng, n)
    birth = pd.Timestamp("1940-01-01") + pd.to_timedelta(rng.integers(0, 365 * 63, size=n), unit="D")
    date_of_birth = birth.strftime("%Y-%m-%d")
    gender = rng.choice(GENDERS, size=n, p=[0.49, 0.48, 0.03])

    tenure = rng.integers(1, 73, size=n)
    contract = rng.choice(CONTRACT_TYPES, size=n, p=[0.55, 0.25, 0.20])
    payment = rng.choice(PAYMENT_METHODS, size=n)
    plan = rng.choice(PLANS, size=n, p=[0.4, 0.4, 0.2])
    plan_base = np.select([plan == "basic", plan == "standard"], [35.0, 65.0], 95.0)
    charges = np.round(plan_base + rng.normal(0, 8, size=n), 2).clip(15, 150)
    tickets = rng.poisson(1.2, size=n)
    intent = rng.normal(0, 1, size=n)

    logit = (
        -1.2
        + 1.3 * (contract == "month-to-month")
        - 0.6 * (contract == "two-year")
        - 0.035 * tenure
        + 0.012 * (charges - 65)
        + 0.35 * tickets
        + 0.4 * (payment == "electronic-check")
        + 1.4 * intent
    )
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")

    cards = generate_card_numbers(rng, n)
    tone = np.where(intent > 0.5, 0, np.where(intent < -0.5, 2, 1))
    signal_idx = rng.integers(0, 5, size=n)
    mention_idx = rng.integers(0, len(PII_MENTIONS), size=n)
    pools = (NEGATIVE_NOTES, NEUTRAL_NOTES, POSITIVE_NOTES)
    notes = []
    for i in range(n):
        mention = PII_MENTIONS[mention_idx[i]].format(name=full_name[i], email=email[i], phone=phone[i], card=cards[i])
        body = pools[tone[i]][signal_idx[i]]
        notes.append(f"{body} {mention}".strip())

    df = pd.DataFrame(
        {
            "customer_id": [f"CUST-{k + id_offset:07d}" for k in rng.permutation(n).tolist()],
            "full_name": full_name.astype(object),
            "email": email,
            "phone": phone,
            "street_address": street_address,
            "zip_code": zip_code,
            "ssn": ssn,
            "date_of_birth": list(date_of_birth),
            "gender": gender.astype(object),
            "tenure_months": tenure.astype("int64"),
            "monthly_charges": charges.astype("float64"),
            "num_support_tickets": tickets.astype("int64"),
            "contract_type": contract.astype(object),
            "payment_method": payment.astype(object),
            "plan": plan.astype(object),
            "notes": notes,
            "churned": churned,
        }
    )
    if defect_rate > 0:
        df = inject_defects(df, rate=defect_rate, seed=seed + 1 if stream is None else [seed + 1, stream])
    return df


def inject_defects(df: pd.DataFrame, rate: float, seed: int | list[int]) -> pd.DataFrame:
    """Return a copy with data-quality defects in about `rate` of the rows (never in the label)."""
    out = df.copy()
    rng = np.random.default_rng(seed)
    n = len(out)
    k = max(1, round(rate * n))
    kinds = {
        "monthly_charges": np.nan,
        "tenure_months": -5,
        "email": "not-an-email",
        "contract_type": "lifetime",
    }
    out["monthly_charges"] = out["monthly_charges"].astype("float64")
    for column, value in kinds.items():
        idx = out.index[rng.choice(n, size=k, replace=False)]
        out.loc[idx, column] = value
    return out


def _names(columns: list[str], limit: int = 10) -> str:
    shown = ", ".join(f"'{c}'" for c in columns[:limit])
    return shown + (f" (+{len(columns) - limit} more)" if len(columns) > limit else "")


def check_frame(
    df: pd.DataFrame,
    *,
    source: str,
    label: str,
    required: list[str],
    known: set[str],
    numeric: list[str],
    features: list[str],
    text: list[str],
    max_text_chars: int,
    extra_columns: str = "reject",
    whole: bool = True,
) -> pd.DataFrame:
    """Check a raw frame against what the config needs before anything costly runs on it.

    The checks are cheap and vectorised and every message is one line naming the column and the
    source, with counts only (never a cell value).

    Args:
        df: the raw frame (never mutated).
        source: where it came from, for messages (e.g. ``file:customers.csv``).
        label: the binary label column.
        required: raw columns that must exist.
        known: every column the config or the PII policy names; others are "extra".
        numeric: columns that must hold numbers (text, or ±inf, is refused; some NaN is allowed).
        features: feature columns (none may be entirely null).
        text: free-text columns whose cells may not exceed `max_text_chars`.
        max_text_chars: the longest text cell accepted (bounds the cost of PII detection).
        extra_columns: ``"reject"`` extra columns, or ``"drop"`` them.
        whole: `df` is the whole input; False for a sample (pre-flight), where "entirely null" and the label's
            class count cannot be judged and are skipped (every other check holds for any subset of rows).

    Returns:
        The frame, without extra columns when `extra_columns` is ``"drop"``.

    Raises:
        DataLoadError: the first problem found.
    """
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataLoadError(f"{source} lacks required column(s) {_names(missing)}")
    extra = [str(c) for c in df.columns if c not in known]
    if extra and extra_columns == "reject":
        raise DataLoadError(
            f"{source} has {len(extra)} column(s) that neither the config nor the PII policy names: {_names(extra)} "
            "(add them to the PII policy, remove them, or set dataset.extra_columns: drop)"
        )
    out = df.drop(columns=extra) if extra else df
    n = len(out)
    for col in text:
        if col not in out.columns:
            continue
        lengths = out[col].dropna().astype(str).str.len()
        too_long = int((lengths > max_text_chars).sum())
        if too_long:
            raise DataLoadError(
                f"column '{col}' in {source} has {too_long} cell(s) over the {max_text_chars}-character limit "
                f"(longest {int(lengths.max())}; see dataset.max_text_chars)"
            )
    for col in [label, *features] if whole else []:
        if col in out.columns and out[col].isna().all():
            raise DataLoadError(f"column '{col}' in {source} is entirely null ({n} rows)")
    for col in numeric:
        if col not in out.columns:
            continue
        values = out[col]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            coerced = pd.to_numeric(values, errors="coerce")
            bad = int((values.notna() & coerced.isna()).sum())
            if bad:
                raise DataLoadError(f"column '{col}' in {source} should be numeric but holds {bad} non-numeric value(s)")
            raise DataLoadError(f"column '{col}' in {source} should be numeric but is stored as {values.dtype} (numbers as text)")
        infinite = int(np.isinf(values.to_numpy(dtype="float64", na_value=np.nan)).sum())
        if infinite:
            raise DataLoadError(
                f"column '{col}' in {source} holds {infinite} infinite value(s) (±inf is never a valid measurement)"
            )
    classes = int(out[label].dropna().nunique())
    if whole and classes < 2:
        raise DataLoadError(f"label column '{label}' in {source} has {classes} class(es); training needs 2")
    return out


def fingerprint_frame(df: pd.DataFrame) -> str:
    """Content hash of a frame: column names, dtypes and every value, order-sensitive (sha256 hex)."""
    h = hashlib.sha256()
    h.update("|".join(f"{c}:{t}" for c, t in zip(df.columns, df.dtypes.astype(str))).encode())
    row_hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    h.update(row_hashes.tobytes())
    return h.hexdigest()


def load_breast_cancer_frame() -> pd.DataFrame:
    """scikit-learn's bundled breast-cancer data (no PII) as a frame with label column `malignant`."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    df = bunch.frame.copy()
    df.columns = [c.replace(" ", "_") for c in df.columns]
    # sklearn's target is 1 = benign; veilflow's positive class is the event of interest.
    df["malignant"] = (1 - df.pop("target")).astype("int64")
    df.insert(0, "sample_id", [f"S{i:04d}" for i in range(len(df))])
    return df
