"""Train the credit-risk model on the German Credit data and save a run.

    $ make train PROJECT=credit_risk
    $ python -m projects.credit_risk.train --set model.kind=boosting
    $ python -m projects.credit_risk.train --dry-run        # a few seconds, on a tiny subset

Steps:
1. split off 20% of the applicants as the test set: only evaluate.py looks at it;
2. stratified k-fold cross-validation on the other 80%, the development set: each applicant
   is validation data exactly once. The out-of-fold predictions choose the hyperparameters
   (best ROC AUC) and then the decision threshold (lowest expected cost);
3. refit the chosen model on all development applicants;
4. save the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from mlstarter import datasets, persistence, runs
from mlstarter.config import to_dict
from mlstarter.metrics import binary_metrics, prefixed
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data
from .config import Config
from .model import bayes_threshold, choose_threshold, decision_costs, fit_model, reference_applicant, search_space

PROJECT = project_name(__package__)  # the folder name, so a copied project names its own runs

# --dry-run: the same code path on 120 applicants, with one candidate and tiny models.
DRY_RUN_ROWS = 120
DRY_RUN_OVERRIDES = [
    "model.cv_folds=2",
    "model.logistic_c=0.1",
    "model.boosting_learning_rate=0.1",
    "model.boosting_max_depth=2",
    "model.boosting_max_iter=20",
]


def dry_run_subset(develop: pd.DataFrame, seed: int) -> pd.DataFrame:
    """About DRY_RUN_ROWS applicants, in the same proportion of defaulters."""
    return develop.groupby(data.TARGET, group_keys=False).sample(frac=DRY_RUN_ROWS / len(develop), random_state=seed)


@dataclass
class FitResult:
    model: Any  # the fitted scikit-learn pipeline
    params: dict[str, Any]  # the hyperparameters cross-validation chose
    fold_aucs: list[float]  # ROC AUC on each validation fold, for the chosen hyperparameters
    oof: np.ndarray  # out-of-fold P(default) of every development applicant
    threshold: float  # reject when P(default) >= threshold
    reference: pd.DataFrame  # the typical applicant that explanations compare against


def cross_validate(
    cfg: Config, X: pd.DataFrame, y: np.ndarray, progress: bool = True
) -> tuple[dict, np.ndarray, list[float]]:
    """Stratified k-fold CV of every candidate; returns the best one's params, out-of-fold predictions and fold AUCs."""
    folds = list(StratifiedKFold(cfg.model.cv_folds, shuffle=True, random_state=cfg.seed).split(X, y))
    candidates = search_space(cfg.model)
    best: tuple[dict, np.ndarray, list[float]] | None = None
    with tqdm(total=len(candidates) * len(folds), desc="cross-validation", unit="fit", disable=not progress) as bar:
        for params in candidates:
            oof, aucs = np.zeros(len(y)), []
            for fit_idx, val_idx in folds:
                model = fit_model(cfg, X.iloc[fit_idx], y[fit_idx], params)
                oof[val_idx] = model.predict_proba(X.iloc[val_idx])[:, 1]
                aucs.append(float(roc_auc_score(y[val_idx], oof[val_idx])))
                bar.update()
            if best is None or np.mean(aucs) > np.mean(best[2]):
                best = (params, oof, aucs)
            bar.set_postfix(best_auc=f"{np.mean(best[2]):.3f}")
    return best


def fit(cfg: Config, develop: pd.DataFrame, progress: bool = True) -> FitResult:
    """Choose hyperparameters and threshold by cross-validation, then refit on all of `develop`."""
    X, y = data.features(develop, cfg.data.drop_features), develop[data.TARGET].to_numpy()
    params, oof, fold_aucs = cross_validate(cfg, X, y, progress)
    threshold = choose_threshold(y, oof, cfg.cost)  # on validation predictions only: each is out-of-fold
    model = fit_model(cfg, X, y, params)
    return FitResult(model, params, fold_aucs, oof, threshold, reference_applicant(X))


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    seed_everything(cfg.seed)

    # 1. Data: the same seed always gives the same split, so evaluate.py finds the same test set.
    frame, files = data.load(cfg.data)
    develop, test = data.split(frame, cfg.data, cfg.seed)
    if args.dry_run:
        develop = dry_run_subset(develop, cfg.seed)

    print(f"***** Training {PROJECT} *****")
    print(
        f"  applicants: {len(develop)} for development ({cfg.model.cv_folds}-fold CV), {len(test)} held out for the test; "
        f"{frame[data.TARGET].mean():.0%} defaulted"
    )
    print(f"  model: {cfg.model.kind}, {len(search_space(cfg.model))} candidate(s), seed {cfg.seed}")
    print(f"  cost: approving a defaulter {cfg.cost.bad_as_good:g}, rejecting a good payer {cfg.cost.good_as_bad:g}")

    # 2. Fit: cross-validation picks the hyperparameters and the threshold, then a refit on all development data.
    result = fit(cfg, develop)
    y = develop[data.TARGET].to_numpy()
    metrics = {
        "cv_roc_auc_mean": float(np.mean(result.fold_aucs)),
        "cv_roc_auc_std": float(np.std(result.fold_aucs)),
        # out-of-fold predictions; the threshold was chosen on them, so val_cost is a little optimistic
        **prefixed(binary_metrics(y, result.oof, result.threshold), "val"),
        **prefixed(decision_costs(y, result.oof, result.threshold, cfg.cost), "val"),
    }
    decision = {
        "threshold": result.threshold,
        "bayes_threshold": bayes_threshold(cfg.cost),
        "params": result.params,
        "features": list(result.reference.columns),
        "reference_applicant": result.reference.iloc[0].to_dict(),
    }

    # 3. Save the run: it appears under runs/ only once every file is written.
    with runs.new_run(PROJECT) as run:
        persistence.save_sklearn(result.model, run.dir / "model.skops")
        runs.write_json(run.dir / "decision.json", decision)
        runs.write_json(run.dir / "metrics.json", metrics)
        runs.write_json(
            run.dir / "environment.json",
            runs.environment(seed=cfg.seed, dataset_checksums=datasets.checksums(files), dry_run=args.dry_run),
        )
        runs.write_json(run.dir / "config.json", to_dict(cfg))

    print(f"\nRun saved to {run.path}")
    print(
        f"Cross-validated ROC AUC {metrics['cv_roc_auc_mean']:.3f} ± {metrics['cv_roc_auc_std']:.3f} (chance 0.500). "
        f"Cost per applicant {metrics['val_cost']:.3f} at threshold {result.threshold:.2f}, on the predictions that chose it "
        f"(reject everyone {metrics['val_cost_reject_all']:.3f}, approve everyone {metrics['val_cost_approve_all']:.3f})."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
