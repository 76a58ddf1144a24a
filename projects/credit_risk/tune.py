"""Search the credit-risk model's hyperparameters with Optuna, and write the best config.

    $ make tune PROJECT=credit_risk TRIALS=50
    $ make tune PROJECT=credit_risk ARGS="--set model.kind=boosting"     # tune another kind of model
    $ make train PROJECT=credit_risk CONFIG=runs/credit_risk-tuning/logistic/best_config.json
    $ python -m projects.credit_risk.tune --dry-run --trials 3          # seconds, on a tiny subset

Each trial:
1. takes values for the knobs that `config.searchable` lists, from Optuna's sampler;
2. cross-validates that model on the development applicants, with the same folds as
   train.py (the test applicants stay unseen, for evaluate.py);
3. scores it as the project decides: by the cost per applicant of its out-of-fold predictions
   at the threshold chosen on them (as train.py chooses it), lower is better, with the mean
   ROC AUC of the folds kept beside it. Optimising ROC AUC instead would choose by how well a
   model ranks applicants, not by what its decisions cost: a study could "improve" while the
   decisions it leads to cost more. These models train in one step, with no epochs to report,
   so there is nothing to prune.
The study folder then holds the best config, every trial and the plots of the search.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mlstarter import tuning
from mlstarter.scripts import run_script
from mlstarter.seeding import seed_everything

from . import data, model
from .config import Config, searchable
from .train import DRY_RUN_OVERRIDES, PROJECT, cross_validate, dry_run_subset, stratified_folds


def score(cfg: Config, X: pd.DataFrame, y: np.ndarray) -> dict[str, float]:
    """One trial: cross-validate `cfg`'s model, choose its threshold on the out-of-fold predictions, and
    measure the cost per applicant there (train.py's val_cost), with the mean fold ROC AUC beside it."""
    _, oof, fold_aucs = cross_validate(cfg, model.build(cfg, X), X, y, progress=False)
    threshold = model.cheapest_threshold(y, oof, stratified_folds(cfg, X, y), cfg.cost)
    return {
        "val_cost": model.expected_cost(y, oof, threshold, cfg.cost),
        "cv_roc_auc_mean": float(np.mean(fold_aucs)),
        "threshold": threshold,
    }


def main(argv: list[str] | None = None) -> int:
    args = tuning.tune_parser(__doc__).parse_args(argv)
    cfg = tuning.base_config(Config, args, DRY_RUN_OVERRIDES)  # each trial changes only the searched knobs
    seed_everything(cfg.seed)

    # The development applicants, loaded once for all trials; the test applicants are set aside.
    develop = data.load(cfg).splits["develop"]
    if args.dry_run:
        develop = dry_run_subset(develop, cfg.seed)
    X, y = data.features(develop, cfg.data.drop_features), develop[data.TARGET].to_numpy()

    def objective(trial_cfg: Config, report: tuning.Report) -> dict[str, float]:
        return score(trial_cfg, X, y)

    return tuning.run_study(
        PROJECT, cfg, searchable(cfg), objective, args,
        metric="val_cost", direction="minimize", study_name=cfg.model.kind,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_script(main))
