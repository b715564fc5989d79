"""Small synthetic transactions built by the tests themselves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def transactions() -> pd.DataFrame:
    """300 transactions where fraud is exactly the night-time online ones (easy to learn)."""
    rng = np.random.default_rng(0)
    n = 300
    hour = rng.integers(0, 24, n)
    channel = rng.choice(["pos", "online"], n)
    fraud = ((hour <= 5) & (channel == "online")).astype(int)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(n),
            "amount": rng.uniform(1, 500, n).round(2),
            "merchant_category": rng.choice(["grocery", "electronics"], n),
            "country": "GB",
            "channel": channel,
            "device_type": np.where(channel == "online", "mobile", None),
            "hour": hour,
            "customer_age": rng.integers(18, 90, n),
            "account_age_days": rng.integers(1, 3000, n),
            "n_tx_last_24h": rng.poisson(2, n),
            "avg_amount_30d": rng.uniform(10, 200, n).round(2),
            "distance_from_home_km": rng.exponential(10, n).round(1),
            "is_foreign": 0,
            "card_present": (channel == "pos").astype(int),
            "is_fraud": fraud,
        }
    )
