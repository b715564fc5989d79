"""Regenerate the fraud-detection data byte for byte (fixed seed, synthetic card transactions).

Writes, under the output folder (default: this assignment's folder)::

    public/train.csv                 20,000 transactions + a few exact duplicate rows, with is_fraud
    public/sample_test_features.csv  200 transactions without labels (same columns as the test set)
    hidden/test_features.csv         5,000 held-out transactions without labels
    hidden/test_labels.csv           transaction_id, is_fraud for the held-out transactions

About 2% of transactions are fraud. The signal is learnable but not trivial: fraud is more
likely for card-not-present transactions at night, far from home, on new accounts, with bursts
of activity and amounts far above the customer's 30-day average, in a few merchant categories.
Several columns have missing values; a few amounts are extreme outliers.

Usage: python generate_data.py [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

SEED = 20240611
N_TRAIN = 20_000
N_TEST = 5_000
N_SAMPLE = 200
N_DUPLICATES = 25
ID_COLUMN = "transaction_id"
TARGET = "is_fraud"

CATEGORIES = {
    # name: (share of transactions, fraud log-odds shift)
    "grocery": (0.24, -1.0),
    "restaurants": (0.16, -0.6),
    "fuel": (0.10, -0.2),
    "online_retail": (0.14, 0.5),
    "electronics": (0.06, 1.0),
    "travel": (0.05, 0.5),
    "entertainment": (0.08, 0.0),
    "health": (0.06, -0.8),
    "jewelry": (0.02, 1.2),
    "gaming": (0.03, 1.0),
    "utilities": (0.06, -1.2),
}
HOME_COUNTRY = "GB"
FOREIGN = {"US": 0.25, "FR": 0.2, "DE": 0.18, "ES": 0.15, "NG": 0.07, "BR": 0.07, "RO": 0.08}
FOREIGN_RISK = {"US": 0.0, "FR": -0.2, "DE": -0.2, "ES": 0.0, "NG": 0.9, "BR": 0.6, "RO": 0.7}


def _sample_rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Draw ``n`` transactions with their latent fraud probability (column ``_p``)."""
    names = list(CATEGORIES)
    shares = np.array([CATEGORIES[c][0] for c in names])
    category = rng.choice(names, size=n, p=shares / shares.sum())
    channel = rng.choice(["pos", "online", "atm"], size=n, p=[0.58, 0.36, 0.06])
    online = channel == "online"
    card_present = np.where(online, 0, (rng.random(n) < 0.97).astype(int))
    is_foreign = (rng.random(n) < np.where(online, 0.12, 0.05)).astype(int)
    foreign_names = list(FOREIGN)
    foreign_p = np.array(list(FOREIGN.values()))
    country = np.where(
        is_foreign == 1,
        rng.choice(foreign_names, size=n, p=foreign_p / foreign_p.sum()),
        HOME_COUNTRY,
    )
    device = np.where(
        online, rng.choice(["mobile", "desktop", "tablet"], size=n, p=[0.6, 0.3, 0.1]), None
    )
    hour = np.clip(np.round(rng.normal(14, 4.5, n)), 0, 23).astype(int)
    night = rng.random(n) < 0.07
    hour = np.where(night, rng.integers(0, 6, n), hour)
    customer_age = np.clip(np.round(rng.gamma(9, 5, n)) + 16, 18, 95).astype(int)
    account_age_days = np.round(rng.exponential(900, n)).astype(int) + 1
    avg_amount_30d = np.round(np.exp(rng.normal(3.6, 0.7, n)), 2)
    n_tx_last_24h = rng.poisson(2.2, n)
    distance = np.round(rng.exponential(12, n) + np.where(is_foreign == 1, 900, 0), 1)

    # Latent fraud score: additive effects plus two interactions trees can find.
    cat_shift = np.array([CATEGORIES[c][1] for c in category])
    country_shift = np.array([FOREIGN_RISK.get(c, 0.0) for c in country])
    is_night = (hour <= 5).astype(float)
    new_account = (account_age_days < 60).astype(float)
    burst = np.clip(n_tx_last_24h - 4, 0, 6).astype(float)
    ratio = rng.lognormal(0.0, 0.5, n)
    logit = (
        -4.9
        + cat_shift
        + country_shift
        + 1.1 * (1 - card_present)
        + 0.9 * is_night
        + 0.8 * new_account
        + 0.45 * burst
        + 0.5 * (customer_age > 70)
        + 1.6 * new_account * (1 - card_present) * is_night
        + rng.normal(0, 0.6, n)
    )
    p = 1 / (1 + np.exp(-logit))
    fraud = rng.random(n) < p
    # Fraud shows itself in the amount relative to the usual spend and in the distance.
    ratio = np.where(fraud, ratio * rng.lognormal(0.8, 0.8, n), ratio)
    distance = np.where(fraud & (rng.random(n) < 0.5), distance + rng.exponential(200, n), distance)
    n_tx_last_24h = np.where(
        fraud & (rng.random(n) < 0.4), n_tx_last_24h + rng.integers(2, 8, n), n_tx_last_24h
    )
    amount = np.round(avg_amount_30d * ratio, 2)
    outliers = rng.random(n) < 0.0015
    amount = np.where(outliers, np.round(rng.uniform(9_000, 60_000, n), 2), amount)

    frame = pd.DataFrame(
        {
            "amount": amount,
            "merchant_category": category,
            "country": country,
            "channel": channel,
            "device_type": device,
            "hour": hour,
            "customer_age": pd.array(customer_age, dtype="Int64"),
            "account_age_days": pd.array(account_age_days, dtype="Int64"),
            "n_tx_last_24h": n_tx_last_24h.astype(int),
            "avg_amount_30d": avg_amount_30d,
            "distance_from_home_km": np.round(distance, 1),
            "is_foreign": is_foreign,
            "card_present": card_present,
            TARGET: fraud.astype(int),
        }
    )
    _punch_holes(rng, frame)
    return frame


def _punch_holes(rng: np.random.Generator, frame: pd.DataFrame) -> None:
    """Blank out values the way real feeds lose them (in place)."""
    n = len(frame)
    rates = {
        "customer_age": 0.04,
        "account_age_days": 0.015,
        "avg_amount_30d": 0.05,
        "distance_from_home_km": 0.08,
        "merchant_category": 0.01,
    }
    for column, rate in rates.items():
        mask = rng.random(n) < rate
        frame.loc[mask, column] = None
    # Online transactions with an unknown device are common.
    unknown_device = (frame["channel"] == "online").to_numpy() & (rng.random(n) < 0.1)
    frame.loc[unknown_device, "device_type"] = None


def generate(out_root: Path) -> dict[str, Path]:
    """Write the four CSV files under ``out_root`` and return their paths."""
    rng = np.random.default_rng(SEED)
    total = N_TRAIN + N_TEST + N_SAMPLE
    rows = _sample_rows(rng, total)
    ids = rng.choice(np.arange(100_000, 999_999), size=total, replace=False)
    rows.insert(0, ID_COLUMN, ids)
    train = rows.iloc[:N_TRAIN]
    test = rows.iloc[N_TRAIN : N_TRAIN + N_TEST]
    sample = rows.iloc[N_TRAIN + N_TEST :]
    duplicates = train.iloc[rng.choice(N_TRAIN, size=N_DUPLICATES, replace=False)]
    train = pd.concat([train, duplicates]).iloc[rng.permutation(N_TRAIN + N_DUPLICATES)]

    paths = {
        "train": out_root / "public" / "train.csv",
        "sample_test_features": out_root / "public" / "sample_test_features.csv",
        "test_features": out_root / "hidden" / "test_features.csv",
        "test_labels": out_root / "hidden" / "test_labels.csv",
    }
    frames = {
        "train": train,
        "sample_test_features": sample.drop(columns=[TARGET]),
        "test_features": test.drop(columns=[TARGET]),
        "test_labels": test[[ID_COLUMN, TARGET]],
    }
    for key, path in paths.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        frames[key].to_csv(path, index=False, lineterminator="\n")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args()
    for path in generate(args.out).values():
        print(path)


if __name__ == "__main__":
    main()
