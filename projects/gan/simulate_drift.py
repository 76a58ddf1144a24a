"""Send shifted traffic to a running server, then watch `make monitor` find the shift.

    $ make serve PROJECT=gan                      # in one terminal
    $ make simulate-drift PROJECT=gan [PORT=8000] # in another: 500 shifted requests
    $ make monitor PROJECT=gan                     # verdict: act
    $ python -m projects.gan.simulate_drift [--port 8000] [--n 500] [--unshifted]

Unshifted traffic is what the tests and the evaluation assume: requests for classes as often as the
test split has them (a quarter of them with no class: every class in turn, the API's default), a
random seed each, 1 to 16 images, as a PNG grid or JSON. `--unshifted` sends that: the monitor
should stay quiet (make bench-monitor measures how often it does not).

The shift is one a service meets: one client comes to send most of the traffic, and it only ever
asks for one class (an app that needs only sevens, a campaign, a client with a hard-coded default).
Here that class is the one the kept generator draws least convincingly (the lowest confidence of
the judge in reference.json), so both the class mix and the judge's confidence in what is served move.
An unconditional model is asked for no class: there, the shifted client never sets a seed, so every
request gets the API's default seed 0, and the same images, again and again.
"""

from __future__ import annotations

import numpy as np

from mlstarter import monitoring, paths
from mlstarter.config import from_dict
from mlstarter.runs import Run

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
NO_CLASS = 0.25  # share of unshifted requests that name no class (the default: every class in turn)
MAX_IMAGES = 16  # images per simulated request: 1 to this many (the API allows up to 100)


def traffic(run: Run, n: int, seed: int, shifted: bool) -> list[dict]:
    """`n` requests to GET /generate: classes as in the test split, or every request for the weakest class
    (an unconditional model: every request with the default seed)."""
    cfg = from_dict(Config, run.config)
    rng = np.random.default_rng(seed)
    test_classes = data.load(cfg).splits["test"][1]
    weakest = weakest_class(run) if shifted and cfg.model.conditional else None
    requests = []
    for _ in range(n):
        params = {
            "n": int(rng.integers(1, MAX_IMAGES + 1)),
            "seed": int(rng.integers(0, 2**32)),  # random seeds: every request gets new images
            "format": str(rng.choice(["png", "json"])),
        }
        if not cfg.model.conditional:
            params["seed"] = 0 if shifted else params["seed"]
        elif shifted:
            params["class"] = weakest
        elif rng.random() >= NO_CLASS:
            params["class"] = int(rng.choice(test_classes))
        requests.append({"path": "/generate", "method": "GET", "params": params})
    return requests


def weakest_class(run: Run) -> int:
    """The class whose generated images the judge is least sure of at training time (reference.json)."""
    if run.reference is None or "judge_confidence_generated" not in run.reference:
        raise paths.ProjectError(f"run {run.run_id} has no judge's confidences in its reference.json: train a new "
                                 f"run (make train PROJECT={PROJECT})")  # fmt: skip
    by_class = run.reference["judge_confidence_generated"]
    return int(np.argmin([np.mean(confidence) for confidence in by_class]))


def main(argv: list[str] | None = None) -> int:
    return monitoring.simulate_main(PROJECT, traffic, argv, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
