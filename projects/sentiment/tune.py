"""Search the sentiment model's hyperparameters with Optuna, and write the best config.

    $ make tune PROJECT=sentiment TRIALS=50
    $ make tune PROJECT=sentiment ARGS="--set model.kind=neural"          # tune another kind, with pruning
    $ make tune PROJECT=sentiment TRIALS=20 ARGS="--set model.kind=transformer"   # or lstm
    $ make train PROJECT=sentiment CONFIG=runs/sentiment-tuning/ensemble/best_config.json
    $ python -m projects.sentiment.tune --dry-run --trials 3             # seconds, on a tiny subset

Each trial:
1. takes values for the knobs that `config.searchable` lists, from Optuna's sampler;
2. fits that model on the training sentences of train.py's split (the test sentences stay
   unseen, for evaluate.py);
3. scores it by its accuracy on the validation sentences, the number train.py reports.
   The networks (neural, lstm, transformer) also report their validation accuracy after every
   epoch, and a trial below the median of earlier trials at the same epoch is stopped there (pruned).
The study folder then holds the best config, every trial and the plots of the search.
"""

from __future__ import annotations

from mlstarter import tuning
from mlstarter.metrics import binary_metrics
from mlstarter.scripts import run_script
from mlstarter.seeding import seed_everything

from . import data
from .config import Config, searchable
from .model import NETWORK_KINDS, probability
from .train import DRY_RUN_OVERRIDES, PROJECT, dry_run_subset, fit


def validation_accuracy(cfg: Config, corpus: data.Data, report: tuning.Report) -> float:
    """Fit one trial's model on the training sentences and return its accuracy on the validation ones;
    a network reports every epoch."""
    seed_everything(cfg.seed)  # every trial starts from the same random state: trials differ by their knobs only

    def on_epoch(epoch: int, metrics: dict[str, float]) -> None:
        report(epoch, metrics["val_accuracy"])  # may raise optuna.TrialPruned: training stops there

    classifier, _ = fit(cfg, corpus, progress=False, on_epoch=on_epoch)
    # the network keeps its epoch of lowest validation loss, so this can differ from the last epoch reported
    val = corpus.splits["val"]
    return binary_metrics(val[data.LABEL].to_numpy(), probability(classifier, val[data.TEXT].tolist()))["accuracy"]


def main(argv: list[str] | None = None) -> int:
    args = tuning.tune_parser(__doc__).parse_args(argv)
    cfg = tuning.base_config(Config, args, DRY_RUN_OVERRIDES)  # each trial changes only the searched knobs
    seed_everything(cfg.seed)

    # The sentences, loaded and split once for all trials, as train.py splits them; the test part is set aside.
    corpus = data.load(cfg)
    if args.dry_run:
        corpus.splits["train"] = dry_run_subset(corpus.splits["train"], cfg.seed)

    def objective(trial_cfg: Config, report: tuning.Report) -> float:
        return validation_accuracy(trial_cfg, corpus, report)

    return tuning.run_study(
        PROJECT, cfg, searchable(cfg), objective, args,
        metric="val_accuracy", direction="maximize", study_name=cfg.model.kind,
        pruning=cfg.model.kind in NETWORK_KINDS,  # only the networks have epochs to report
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_script(main))
