"""Send shifted traffic to a running server, then watch `make monitor` find the shift.

    $ make serve PROJECT=sentiment                        # in one terminal
    $ make simulate-drift PROJECT=sentiment [PORT=8000]   # in another: 500 product reviews
    $ make monitor PROJECT=sentiment                       # verdict: act
    $ make simulate-drift PROJECT=sentiment ARGS="--shift shuffled"   # the other shift (see below)
    $ python -m projects.sentiment.simulate_drift [--port 8000] [--n 500] [--shift shuffled] [--unshifted]

The default shift (`--shift products`) is the one a sentiment model meets most: it was trained on film
reviews, and someone points it at product reviews. Each shifted text joins one to three short product-
review sentences written for this simulation (PRODUCT_REVIEWS, below) at random: shorter texts than the
film snippets, with words no film critic used ("charger", "refund", "zipper"). Length and the share of
unknown words move, and with them the model's confidence and its share of positive labels.

`--shift shuffled` keeps the film reviews' own words but reshuffles them across texts and classes: each
text is as long as a test sentence, made of words drawn at random from all test sentences, positive and
negative. Length and unknown words stay as they were; only the model's answers show it: it is less sure
(P(positive) nearer 0.5), because every text now mixes praise and complaint.

`--unshifted` sends the test sentences as they are (drawn with replacement): the monitor should stay
quiet (make bench-monitor measures how often it does not).
"""

from __future__ import annotations

import argparse
import functools
import json

import numpy as np

from mlstarter import monitoring, paths
from mlstarter.config import from_dict
from mlstarter.runs import Run

from . import data
from .config import Config

PROJECT = paths.project_name(__package__)
SHIFTS = ("products", "shuffled")
# Written for this simulation: short product reviews, good and bad, in a shop's everyday words
PRODUCT_REVIEWS = [
    "The battery lasts two full days.",
    "The charger stopped working after a week.",
    "Shipping was fast and the box arrived intact.",
    "The strap feels cheap.",
    "Great value for the price.",
    "The screen scratches far too easily.",
    "Setup took five minutes with the app.",
    "The blender is loud.",
    "Customer support replaced it without a fuss.",
    "The zipper broke on the first trip.",
    "These headphones are comfortable on long flights.",
    "The instructions were missing.",
    "My kids love this backpack.",
    "It overheats when charging.",
    "The fabric pilled after one wash.",
    "Works with my phone and my laptop.",
    "The lid doesn't seal and it leaks.",
    "Sturdy, light and easy to clean.",
    "The seller refunded me within a day.",
    "The sizing runs small, so order one size up.",
    "Bluetooth keeps disconnecting.",
    "The vacuum picks up pet hair well.",
    "Returned it for a refund.",
    "The mattress smells of chemicals.",
    "Five stars, would buy again!",
    "One star. Avoid.",
    "The coffee maker brews a hot cup in minutes.",
    "The handle snapped.",
    "The cable is too short.",
    "Excellent build quality.",
    "The remote needs new batteries every month.",
    "The printer jams constantly.",
    "The kettle boils quietly.",
    "The paint chipped off the frame.",
    "The keyboard is responsive and backlit.",
    "These shoes gave me blisters.",
    "The tent kept us dry in heavy rain.",
    "The speaker sounds tinny at full volume.",
    "The package was a week late.",
    "The warranty covers two years of repairs.",
]
MAX_SENTENCES = 3  # a shifted text joins 1 to this many of the sentences above


def traffic(run: Run, n: int, seed: int, shifted: bool, shift: str = "products") -> list[dict]:
    """`n` requests to POST /predict: test sentences as they are, or shifted (product reviews, or the test
    sentences' words reshuffled across texts and classes)."""
    test = held_out_texts(json.dumps(run.config, sort_keys=True))
    rng = np.random.default_rng(seed)
    if not shifted:
        texts = [test[i] for i in rng.integers(0, len(test), n)]
    elif shift == "products":
        texts = [" ".join(rng.choice(PRODUCT_REVIEWS, rng.integers(1, MAX_SENTENCES + 1), replace=False))
                 for _ in range(n)]  # fmt: skip
    elif shift == "shuffled":
        words = np.array([token for text in test for token in text.split()])  # every token of every test sentence
        lengths = [len(test[i].split()) for i in rng.integers(0, len(test), n)]
        texts = [" ".join(rng.choice(words, length)) for length in lengths]
    else:
        raise ValueError(f"unknown shift {shift!r}; one of {', '.join(SHIFTS)}")
    return [{"path": "/predict", "json": {"text": str(text)}} for text in texts]


@functools.cache
def held_out_texts(config: str) -> list[str]:
    """The test sentences of the run with this config (as JSON), read once (make bench-monitor asks 40 times)."""
    return data.load(from_dict(Config, json.loads(config))).splits["test"][data.TEXT].tolist()


def main(argv: list[str] | None = None) -> int:
    # --shift is this project's own option; the others (--port, --n, --unshifted, ...) are every project's
    own = argparse.ArgumentParser(add_help=False)
    own.add_argument("--shift", choices=SHIFTS, default="products")
    args, rest = own.parse_known_args(argv)
    return monitoring.simulate_main(PROJECT, functools.partial(traffic, shift=args.shift), rest, __doc__)


if __name__ == "__main__":
    raise SystemExit(main())
