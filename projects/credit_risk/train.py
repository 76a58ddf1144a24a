"""Train the credit-risk model on the German Credit data and save a run.

    $ make train PROJECT=credit_risk
    $ python -m projects.credit_risk.train --set model.kind=logistic
    $ python -m projects.credit_risk.train --dry-run        # a few seconds, on a tiny subset

Steps: load and split the data -> choose hyperparameters by stratified k-fold
cross-validation on the training part -> fit -> choose the decision threshold that
minimises the expected cost on the validation part -> save the run. The test part is
not touched here: evaluate.py measures on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from mlstarter import config as cli
from mlstarter import datasets, persistence, runs
from mlstarter.metrics import binary_metrics, prefixed
from mlstarter.paths import project_name
from mlstarter.seeding import seed_everything

from . import data
from .config import Config
from .model import bayes_threshold, build_model, choose_threshold, expected_cost, reference_applicant, search_space

PROJECT = project_name(__package__)  # the folder name, so a copied project names its own runs

# --dry-run: the same code path, on 120 applicants, with one candidate and tiny models.
DRY_RUN_ROWS = 120
DRY_RUN_OVERRIDES = [
    "model.cv_folds=2", "model.logistic_c=0.1",
    "model.boosting_learning_rate=0.1", "model.boosting_max_depth=2", "model.boosting_max_iter=20",
]


@dataclass
class FitResult:
    model: Any  # the fitted scikit-learn pipeline
    params: dict[str, Any]  # the hyperparameters cross-validation chose
    cv_auc_mean: float
    cv_auc_std: float
    threshold: float  # reject when P(default) >= threshold
    reference: pd.DataFrame  # the typical applicant that explanations compare against


def cross_validate(cfg: Config, X: pd.DataFrame, y: np.ndarray, progress: bool = True) -> tuple[dict, float, float]:
    """Stratified k-fold ROC AUC of every candidate in the search space; returns the best."""
    folds = list(StratifiedKFold(cfg.model.cv_folds, shuffle=True, random_state=cfg.seed).split(X, y))
    candidates = search_space(cfg.model)
    base = build_model(cfg.model, X, cfg.seed)
    scores = []
    with tqdm(total=len(candidates) * len(folds), desc="cross-validation", unit="fit", disable=not progress) as bar:
        for params in candidates:
            aucs = []
            for fit_idx, score_idx in folds:
                model = clone(base).set_params(**params).fit(X.iloc[fit_idx], y[fit_idx])
                aucs.append(roc_auc_score(y[score_idx], model.predict_proba(X.iloc[score_idx])[:, 1]))
                bar.update()
            scores.append((float(np.mean(aucs)), float(np.std(aucs)), params))
            bar.set_postfix(best_auc=f"{max(s[0] for s in scores):.3f}")
    mean, std, params = max(scores, key=lambda s: s[0])
    return params, mean, std


def fit(cfg: Config, train: pd.DataFrame, val: pd.DataFrame, progress: bool = True) -> FitResult:
    """Choose hyperparameters by CV on `train`, fit on `train`, choose the threshold on `val`."""
    X_train, y_train = data.features(train, cfg.data.drop_features), train[data.TARGET].to_numpy()
    X_val, y_val = data.features(val, cfg.data.drop_features), val[data.TARGET].to_numpy()
    params, cv_mean, cv_std = cross_validate(cfg, X_train, y_train, progress)
    model = build_model(cfg.model, X_train, cfg.seed).set_params(**params).fit(X_train, y_train)
    threshold = choose_threshold(y_val, model.predict_proba(X_val)[:, 1], cfg.cost)
    return FitResult(model, params, cv_mean, cv_std, threshold, reference_applicant(X_train))


def main(argv: list[str] | None = None) -> int:
    args = cli.train_parser(__doc__).parse_args(argv)
    cfg = cli.from_args(Config, args)
    if args.dry_run:
        cfg = cli.apply_overrides(cfg, DRY_RUN_OVERRIDES)
    seed_everything(cfg.seed)

    # 1. Data: the same seed always gives the same split, so evaluate.py finds the same test part.
    frame, files = data.load(cfg.data)
    train, val, test = data.split(frame, cfg.data, cfg.seed)
    if args.dry_run:
        train = train.groupby(data.TARGET, group_keys=False).sample(frac=DRY_RUN_ROWS / len(train), random_state=cfg.seed)

    print("***** Training credit risk *****")
    print(f"  applicants: {len(train)} train / {len(val)} validation / {len(test)} test (held out), "
          f"{frame[data.TARGET].mean():.0%} defaulted")
    print(f"  model: {cfg.model.kind}, {len(search_space(cfg.model))} candidate(s) x {cfg.model.cv_folds}-fold CV, seed {cfg.seed}")
    print(f"  cost: approving a defaulter {cfg.cost.bad_as_good:g}, rejecting a good payer {cfg.cost.good_as_bad:g}")

    # 2. Fit: CV picks the hyperparameters, the validation part picks the threshold.
    result = fit(cfg, train, val)
    X_val, y_val = data.features(val, cfg.data.drop_features), val[data.TARGET].to_numpy()
    p_val = result.model.predict_proba(X_val)[:, 1]
    metrics = {
        "cv_roc_auc_mean": result.cv_auc_mean,
        "cv_roc_auc_std": result.cv_auc_std,
        **prefixed(binary_metrics(y_val, p_val, result.threshold), "val"),
        "val_cost": expected_cost(y_val, p_val, result.threshold, cfg.cost),
        "val_cost_reject_all": expected_cost(y_val, p_val, 0.0, cfg.cost),
        "val_cost_approve_all": expected_cost(y_val, p_val, 1.01, cfg.cost),
    }
    decision = {
        "threshold": result.threshold,
        "bayes_threshold": bayes_threshold(cfg.cost),
        "params": result.params,
        "features": list(data.features(val, cfg.data.drop_features).columns),
        "reference_applicant": result.reference.iloc[0].to_dict(),
    }

    # 3. Save the run: it appears under runs/ only once every file is written.
    with runs.new_run(PROJECT) as run_dir:
        persistence.save_sklearn(result.model, run_dir / "model.skops")
        runs.write_json(run_dir / "decision.json", decision)
        runs.write_json(run_dir / "metrics.json", metrics)
        runs.write_json(run_dir / "environment.json", runs.environment(
            seed=cfg.seed, dataset_checksums=datasets.checksums(files), dry_run=args.dry_run))
        runs.write_json(run_dir / "config.json", cli.to_dict(cfg))
    run_path = run_dir.with_name(run_dir.name.removeprefix(runs.INCOMPLETE_PREFIX))

    print(f"\nRun saved to {run_path}")
    print(f"Validation ROC AUC {metrics['val_roc_auc']:.3f} (5-fold CV on train {result.cv_auc_mean:.3f} ± {result.cv_auc_std:.3f}; "
          f"chance 0.500). Cost per applicant {metrics['val_cost']:.3f} at threshold {result.threshold:.2f} "
          f"(reject everyone {metrics['val_cost_reject_all']:.3f}, approve everyone {metrics['val_cost_approve_all']:.3f}).")
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
