"""Search the credit-risk model's hyperparameters with Optuna, and write the best config.

    $ make tune PROJECT=credit_risk TRIALS=50
    $ make tune PROJECT=credit_risk ARGS="--set model.kind=boosting"     # tune another kind of model
    $ make train PROJECT=credit_risk CONFIG=runs/credit_risk-tuning/logistic/best_config.json
    $ python -m projects.credit_risk.tune --dry-run --trials 3          # seconds, on a tiny subset

Each trial:
1. takes values for the knobs that `config.searchable` lists, from Optuna's sampler;
2. cross-validates that model on the development applicants, with the same folds as
   train.py (the test applicants stay unseen, for evaluate.py);
3. scores it by the mean ROC AUC of the folds. These models train in one step, with no
   epochs to report, so there is nothing to prune.
The study folder then holds the best config, every trial and the plots of the search.
"""

from __future__ import annotations

import numpy as np

from mlstarter import tuning
from mlstarter.scripts import run_script
from mlstarter.seeding import seed_everything

from . import data, model
from .config import Config, searchable
from .train import DRY_RUN_OVERRIDES, PROJECT, cross_validate, dry_run_subset


def main(argv: list[str] | None = None) -> int:
    args = tuning.tune_parser(__doc__).parse_args(argv)
    cfg = tuning.base_config(Config, args, DRY_RUN_OVERRIDES)  # each trial changes only the searched knobs
    seed_everything(cfg.seed)

    # The development applicants, loaded once for all trials; the test applicants are set aside.
    develop = data.load(cfg).splits["develop"]
    if args.dry_run:
        develop = dry_run_subset(develop, cfg.seed)
    X, y = data.features(develop, cfg.data.drop_features), develop[data.TARGET].to_numpy()

    def objective(trial_cfg: Config, report: tuning.Report) -> float:
        _, _, fold_aucs = cross_validate(trial_cfg, model.build(trial_cfg, X), X, y, progress=False)
        return float(np.mean(fold_aucs))

    return tuning.run_study(
        PROJECT, cfg, searchable(cfg), objective, args,
        metric="cv_roc_auc_mean", direction="maximize", study_name=cfg.model.kind,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_script(main))
