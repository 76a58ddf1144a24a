"""Train the credit-risk model on the German Credit data and save a run.

    $ make train PROJECT=credit_risk
    $ python -m projects.credit_risk.train --set model.kind=boosting
    $ python -m projects.credit_risk.train --dry-run        # a few seconds, on a tiny subset

Steps:
1. load the applicants and split off 20% as the test set: only evaluate.py looks at it;
2. build the model that `model.kind` names;
3. fit: stratified k-fold cross-validation on the other 80%, the development set, where each
   applicant is validation data exactly once. The out-of-fold predictions choose the
   hyperparameters (best ROC AUC); then scikit-learn's TunedThresholdClassifierCV, on the
   same folds, chooses the decision threshold (lowest expected cost) and refits the chosen
   model on all development applicants;
4. save the run: the model with its threshold, the decision, the metrics;
5. say how it did against the policies that need no model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import FixedThresholdClassifier, StratifiedKFold, TunedThresholdClassifierCV
from sklearn.pipeline import Pipeline
from tqdm import tqdm

from mlstarter import runs
from mlstarter.metrics import binary_metrics, prefixed, shown
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data, model
from .config import Config

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

Folds = list[tuple[np.ndarray, np.ndarray]]  # (fit rows, validation rows) of each fold


def dry_run_subset(develop: pd.DataFrame, seed: int) -> pd.DataFrame:
    """About DRY_RUN_ROWS applicants, in the same proportion of defaulters."""
    return develop.groupby(data.TARGET, group_keys=False).sample(frac=DRY_RUN_ROWS / len(develop), random_state=seed)


@dataclass
class FitResult:
    model: FixedThresholdClassifier  # the refit pipeline with its threshold: predict() decides, 1 = reject
    params: dict[str, Any]  # the hyperparameters cross-validation chose
    fold_aucs: list[float]  # ROC AUC on each validation fold, for the chosen hyperparameters
    oof: np.ndarray  # out-of-fold P(default) of every development applicant
    threshold: float  # reject when P(default) >= threshold
    reference: pd.DataFrame  # the typical applicant that explanations compare against


def stratified_folds(cfg: Config, X: pd.DataFrame, y: np.ndarray) -> Folds:
    """The k folds that choose both the hyperparameters and the threshold (the same seed, the same folds)."""
    return list(StratifiedKFold(cfg.model.cv_folds, shuffle=True, random_state=cfg.seed).split(X, y))


def cross_validate(
    cfg: Config, estimator: Pipeline, X: pd.DataFrame, y: np.ndarray, progress: bool = True
) -> tuple[dict, np.ndarray, list[float]]:
    """Stratified k-fold CV of every candidate; returns the best one's params, out-of-fold predictions and fold AUCs."""
    folds = stratified_folds(cfg, X, y)
    candidates = model.search_space(cfg.model)
    best: tuple[dict, np.ndarray, list[float]] | None = None
    with tqdm(total=len(candidates) * len(folds), desc="cross-validation", unit="fit", disable=not progress) as bar:
        for params in candidates:
            oof, aucs = np.zeros(len(y)), []
            for fit_idx, val_idx in folds:
                fitted = clone(estimator).set_params(**params).fit(X.iloc[fit_idx], y[fit_idx])
                oof[val_idx] = fitted.predict_proba(X.iloc[val_idx])[:, 1]
                aucs.append(float(roc_auc_score(y[val_idx], oof[val_idx])))
                bar.update()
            if best is None or np.mean(aucs) > np.mean(best[2]):
                best = (params, oof, aucs)
            bar.set_postfix(best_auc=f"{np.mean(best[2]):.3f}")
    return best


def tune_threshold(
    cfg: Config, estimator: Pipeline, X: pd.DataFrame, y: np.ndarray, cv: Folds | float
) -> TunedThresholdClassifierCV:
    """Choose the threshold with the lowest expected cost on validation predictions, then refit on all of X.

    scikit-learn's TunedThresholdClassifierCV does it: for each split of `cv` it fits the model on
    the fit rows and computes the cost of every threshold of model.THRESHOLD_GRID on the
    validation rows; it keeps the threshold with the lowest cost averaged over the splits (of
    equally cheap ones, the first it meets: the lowest), and refits the model on every row of X.
    `cv`: the folds of train.py, or a share of X to hold out once (e.g. 0.25). tune.py chooses the same
    threshold from out-of-fold predictions with `model.cheapest_threshold` (a test checks they agree).
    """
    search = TunedThresholdClassifierCV(
        estimator,
        scoring=model.cost_scorer(cfg.cost),
        response_method="predict_proba",
        thresholds=model.THRESHOLD_GRID,
        cv=cv,
        refit=True,
        random_state=cfg.seed,  # used only by a held-out share
    )
    return search.fit(X, y)


def fit(cfg: Config, estimator: Pipeline, develop: pd.DataFrame, progress: bool = True) -> FitResult:
    """Choose hyperparameters and threshold by cross-validation, then refit on all of `develop`."""
    X, y = data.features(develop, cfg.data.drop_features), develop[data.TARGET].to_numpy()
    params, oof, fold_aucs = cross_validate(cfg, estimator, X, y, progress)
    # The same folds again: each fold's model is fitted again exactly as for `oof`, so the threshold
    # is chosen on those out-of-fold (validation) predictions only.
    search = tune_threshold(cfg, clone(estimator).set_params(**params), X, y, cv=stratified_folds(cfg, X, y))
    threshold = float(search.best_threshold_)
    # What the run keeps is the refit model with its threshold; the search itself (its scorer, its folds) is not needed.
    decide = model.with_threshold(search.estimator_, threshold)
    return FitResult(decide, params, fold_aucs, oof, threshold, model.reference_applicant(X))


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    seed_everything(cfg.seed)

    # 1. Data: the same seed always gives the same split, so evaluate.py finds the same test set.
    applicants = data.load(cfg)
    develop, test = applicants.splits["develop"], applicants.splits["test"]
    if args.dry_run:
        develop = dry_run_subset(develop, cfg.seed)

    print(f"***** Training {PROJECT} *****")
    print(
        f"  applicants: {len(develop)} for development ({cfg.model.cv_folds}-fold CV), {len(test)} held out for the test; "
        f"{applicants.frame[data.TARGET].mean():.0%} defaulted"
    )
    print(f"  model: {cfg.model.kind}, {len(model.search_space(cfg.model))} candidate(s), seed {cfg.seed}")
    print(f"  cost: approving a defaulter {cfg.cost.bad_as_good:g}, rejecting a good payer {cfg.cost.good_as_bad:g}")

    # 2. Build the unfitted model; 3. fit: CV picks the hyperparameters and the threshold, then a refit.
    estimator = model.build(cfg, data.features(develop, cfg.data.drop_features))
    result = fit(cfg, estimator, develop)
    y = develop[data.TARGET].to_numpy()
    metrics = {
        "cv_roc_auc_mean": float(np.mean(result.fold_aucs)),
        "cv_roc_auc_std": float(np.std(result.fold_aucs)),
        # out-of-fold predictions; the threshold was chosen on them, so val_cost is a little optimistic
        **prefixed(binary_metrics(y, result.oof, result.threshold), "val"),
        **prefixed(model.decision_costs(y, result.oof, result.threshold, cfg.cost), "val"),
    }

    # 4. Save the run: it appears under runs/ only once every file is written.
    with runs.create(PROJECT, cfg, data_files=applicants.files, dry_run=args.dry_run) as run:
        model.save(run.dir, result.model, result.params, result.reference, cfg.cost)
        # what the model learned from: serving warns about applicants outside it, monitoring compares with it
        runs.write_json(run.dir / "reference.json", data.reference(develop, result.oof, result.threshold))
        run.save_metrics(metrics)

    # 5. The result, against the two policies that need no model.
    print(f"\nRun saved to {run.path}")
    print(
        f"Cross-validated ROC AUC {shown(metrics['cv_roc_auc_mean'])} ± {metrics['cv_roc_auc_std']:.3f} (chance 0.500). "
        f"Cost per applicant {metrics['val_cost']:.3f} at threshold {result.threshold:.2f}, on the predictions that chose it "
        f"(reject everyone {metrics['val_cost_reject_all']:.3f}, approve everyone {metrics['val_cost_approve_all']:.3f}; "
        f"the Bayes threshold would be {model.bayes_threshold(cfg.cost):.3f})."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
