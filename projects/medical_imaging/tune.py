"""Search the pneumonia classifier's hyperparameters with Optuna, and write the best config.

    $ make tune PROJECT=medical_imaging TRIALS=20 ARGS="--set train.epochs=10"
    $ make train PROJECT=medical_imaging CONFIG=runs/medical_imaging-tuning/cnn-or-resnet/best_config.json
    $ python -m projects.medical_imaging.tune --dry-run --trials 3     # seconds, on a tiny subset

Each trial:
1. takes values for the knobs that `config.searchable` lists, from Optuna's sampler;
2. builds and trains the network on the training images exactly as train.py does (`fit`),
   and after every epoch reports its validation ROC AUC to the study;
3. is pruned (stopped) when that AUC is below the median of earlier trials at the same
   epoch, so hopeless settings free the machine for better ones;
4. scores the trial by its best validation ROC AUC. The test images stay unseen.
Each trial trains for up to train.epochs epochs: at 30 epochs, 20 trials take hours on a
laptop CPU; a shorter schedule (--set train.epochs=10) finds good settings sooner, and the
best config keeps that schedule.
"""

from __future__ import annotations

from mlstarter import devices, distributed, tuning
from mlstarter.scripts import run_script
from mlstarter.seeding import seed_everything

from . import data, model
from .config import Config, searchable
from .train import DRY_RUN_OVERRIDES, PROJECT, dry_run_subset, fit


def main(argv: list[str] | None = None) -> int:
    args = tuning.tune_parser(__doc__).parse_args(argv)
    cfg = tuning.base_config(Config, args, DRY_RUN_OVERRIDES)  # each trial changes only the searched knobs
    # one process per trial: to run trials side by side, start more workers on the same study
    ctx = distributed.Context(devices.choose_device(cfg.train.device))

    # The images, loaded once for all trials; the test split is set aside.
    splits = data.load(cfg).splits
    if args.dry_run:
        splits = dry_run_subset(splits, cfg.seed)

    def objective(trial_cfg: Config, report: tuning.Report) -> float:
        seed_everything(trial_cfg.seed)  # every trial starts from the same random state: only its knobs differ
        network = model.build(trial_cfg.model)
        result, _, _ = fit(
            trial_cfg,
            network,
            splits,
            ctx,
            on_epoch=lambda epoch, metrics: report(epoch, metrics["val_roc_auc"]),
            progress=False,
        )
        return result.best_score  # the best epoch's validation ROC AUC

    return tuning.run_study(
        PROJECT, cfg, searchable(cfg), objective, args,
        metric="val_roc_auc", direction="maximize", study_name="cnn-or-resnet", pruning=True,
    )  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(run_script(main))
