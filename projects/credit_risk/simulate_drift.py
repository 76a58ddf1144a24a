"""Send shifted traffic to a running server, then watch `make monitor` find the shift.

    $ make serve PROJECT=credit_risk                      # in one terminal
    $ make simulate-drift PROJECT=credit_risk [PORT=8000] # in another: 500 shifted applicants
    $ make monitor PROJECT=credit_risk                     # verdict: act
    $ python -m projects.credit_risk.simulate_drift [--port 8000] [--n 500] [--unshifted]

The shift is one a lender meets: a marketing campaign brings younger applicants asking for larger
loans. Each shifted applicant is a test applicant whose age and loan amount are drawn from the data's
own tails (the youngest quarter, the largest quarter of amounts), so every value is a real one.
`--unshifted` sends the test applicants as they are (drawn with replacement): the monitor should stay
quiet (make bench-monitor measures how often it does not).
"""

from __future__ import annotations

import numpy as np

from mlstarter import monitoring, paths
from mlstarter.config import from_dict
from mlstarter.runs import Run

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
TAIL = 0.25  # the shifted values come from this share of the data at its young / large end


def traffic(run: Run, n: int, seed: int, shifted: bool) -> list[dict]:
    """`n` requests to POST /predict: test applicants, as they are or younger with larger loans."""
    cfg = from_dict(Config, run.config)
    applicants = data.load(cfg)
    rng = np.random.default_rng(seed)
    test = applicants.splits["test"][data.FEATURES]
    sample = test.iloc[rng.integers(0, len(test), n)].reset_index(drop=True)
    if shifted:
        everyone = applicants.frame
        young = everyone["age"][everyone["age"] <= everyone["age"].quantile(TAIL)].to_numpy()
        large = everyone["credit_amount"][everyone["credit_amount"] >= everyone["credit_amount"].quantile(1 - TAIL)]
        sample["age"] = rng.choice(young, n)
        sample["credit_amount"] = rng.choice(large.to_numpy(), n)
    records = sample.astype(object).to_dict(orient="records")
    return [{"path": "/predict", "json": {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}}
            for r in records]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    return monitoring.simulate_main(PROJECT, traffic, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
