"""Train the pneumonia classifier on PneumoniaMNIST chest X-rays and save a run.

    $ make train PROJECT=medical_imaging
    $ make train PROJECT=medical_imaging ARGS="--data runs/medical_imaging-examples/pneumoniamnist-small.npz"   # your own .npz (make examples writes one)
    $ python -m projects.medical_imaging.train --set model.kind=resnet
    $ python -m projects.medical_imaging.train --resume      # go on after an interruption (Ctrl-C, a crash)
    $ python -m projects.medical_imaging.train --dry-run     # seconds, on a tiny subset
    $ make train PROJECT=medical_imaging NPROC=2             # two processes (DDP), see "Training in several processes" in README.md

Steps:
1. load the official train / validation / test split; the test split waits for evaluate.py;
2. build the network (`model.build`), with random initial weights;
3. fit it (`fit`, which tune.py shares): pixels standardised with the training images' mean
   and standard deviation, epoch by epoch with random augmentations and a class-weighted
   loss, keeping the weights of the epoch with the best validation ROC AUC (a checkpoint
   after every epoch lets --resume continue an interrupted run);
4. choose the decision threshold on the validation images (Youden's J: the best sum of
   sensitivity and specificity);
5. describe the training images for the out-of-distribution check (`ood.fit_reference`): the
   mean and covariance of their features, and a threshold on the Mahalanobis distance that
   flags `ood.flag_rate` of the validation images; and, for the drift monitor (monitor.py),
   the validation images' answers;
6. save the run, and say how the network ranks the validation images against chance.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve
from torch.utils.data import TensorDataset

from mlstarter import distributed, runs, training
from mlstarter.checkpoints import Checkpoint
from mlstarter.metrics import binary_metrics, prefixed, shown
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data, model, ood
from .config import Config
from .model import PneumoniaNet, augment, predict_proba, to_tensor

PROJECT = project_name(__package__)  # the folder name, so a copied project names its own runs
DISTRIBUTED = True  # torchrun may start this script in several processes: make train NPROC=2

# --dry-run: the same code path on 128 training and 64 validation images, for two epochs.
DRY_RUN_IMAGES = 128
DRY_RUN_OVERRIDES = ["train.epochs=2", "train.batch_size=32"]


def youden_threshold(y: np.ndarray, p: np.ndarray) -> float:
    """The threshold with the largest sensitivity + specificity - 1 (Youden's J) on these cases.

    On well-separated validation data many thresholds tie; we take the middle of the tied
    range, away from the cases on either side, rather than its edge.
    """
    fpr, tpr, thresholds = roc_curve(y, p)  # thresholds from high to low; flag when p >= threshold
    thresholds = np.minimum(thresholds, 1.0)  # the first one is +inf: "flag no one"
    best = np.flatnonzero(tpr - fpr == np.max(tpr - fpr))
    # the tie runs from the highest best threshold down to (not including) the next score below the lowest
    below = thresholds[best[-1] + 1] if best[-1] + 1 < len(thresholds) else 0.0
    return float((thresholds[best[0]] + below) / 2)


def dry_run_subset(splits: dict, seed: int) -> dict:
    """DRY_RUN_IMAGES training and half as many validation images, drawn at random; the test split as it is."""
    rng = np.random.default_rng(seed)
    (X_train, y_train), (X_val, y_val) = splits["train"], splits["val"]
    keep_train = rng.permutation(len(y_train))[:DRY_RUN_IMAGES]
    keep_val = rng.permutation(len(y_val))[: DRY_RUN_IMAGES // 2]
    return {**splits, "train": (X_train[keep_train], y_train[keep_train]), "val": (X_val[keep_val], y_val[keep_val])}


def fit(
    cfg: Config,
    network: PneumoniaNet,
    splits: dict,
    ctx: distributed.Context,
    *,
    checkpoint: Checkpoint | None = None,
    on_epoch: training.OnEpoch | None = None,
    progress: bool = True,
) -> tuple[training.FitResult, float, float]:
    """Standardise the pixels and train `network` epoch by epoch with the core's loop.

    Returns the fit result (with a copy of the best epoch's weights; `network` itself keeps the
    last epoch's) and the training images' pixel mean and standard deviation.
    """
    (X_train, y_train), (X_val, y_val) = splits["train"], splits["val"]
    # Standardise with statistics of the training images only.
    mean, std = float(X_train.mean() / 255), float(X_train.std() / 255)
    device = ctx.device
    # train.batch_size images per step in all: with N processes, each takes its own 1/N of them
    train_set = TensorDataset(to_tensor(X_train, mean, std), torch.from_numpy(y_train).float())
    loader = distributed.shuffled_loader(train_set, cfg.train.batch_size, cfg.seed, ctx)
    x_val = to_tensor(X_val, mean, std).to(device)
    y_val_t = torch.from_numpy(y_val).float().to(device)
    my_val = distributed.shard(len(y_val), ctx)  # each process scores its share of the validation images

    # Class imbalance: pos_weight = n_normal / n_pneumonia makes both classes weigh the same in the loss.
    n_pos, n_neg = int(y_train.sum()), int(len(y_train) - y_train.sum())
    pos_weight = torch.tensor(n_neg / max(n_pos, 1) if cfg.train.class_weighting else 1.0, device=device)

    # With several processes, DDP averages the gradients of all of them after every batch.
    wrapped = distributed.wrap(network, ctx)  # the network itself in one process
    distributed.seed_per_process(cfg.seed, ctx)  # each process its own random augmentations
    optimizer = torch.optim.AdamW(wrapped.parameters(), lr=cfg.train.learning_rate, weight_decay=cfg.train.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.train.epochs)

    def loss_fn(net: PneumoniaNet, batch) -> torch.Tensor:
        x, y = batch
        x = augment(x, cfg.augment, mean, std)  # a new random view of every image, every epoch
        return F.binary_cross_entropy_with_logits(net(x), y, pos_weight=pos_weight)

    def validate(net: PneumoniaNet) -> dict[str, float]:
        mine = x_val[my_val]
        logits = torch.cat([net(mine[i : i + 512]) for i in range(0, len(mine), 512)])
        logits = distributed.gather(logits, ctx)  # all processes' shares, in order: AUC needs every prediction
        p = torch.sigmoid(logits.float()).cpu().numpy()
        return {
            "val_loss": F.binary_cross_entropy_with_logits(logits.float(), y_val_t).item(),
            "val_roc_auc": float(roc_auc_score(y_val, p)) if len(set(y_val)) == 2 else float("nan"),
            "val_accuracy": float(((p >= 0.5) == y_val).mean()),
        }

    result = training.fit(
        wrapped,
        optimizer,
        loader,
        loss_fn,
        validate,
        epochs=cfg.train.epochs,
        monitor="val_roc_auc",
        mode="max",
        patience=cfg.train.patience,
        device=device,
        scheduler=scheduler,
        checkpoint=checkpoint,
        amp=cfg.train.amp,
        progress=progress,
        on_epoch=on_epoch,
    )
    return result, mean, std


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__, resumable=True).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    seed_everything(cfg.seed)  # the same seed in every process: the same initial weights
    torch.use_deterministic_algorithms(cfg.train.deterministic, warn_only=True)
    ctx = distributed.setup(cfg.train.device)  # this process, or one of several that torchrun started

    # 1. Data: the official split. The test images are not touched here.
    with distributed.main_process_first(ctx):  # with several processes, one downloads and the others wait
        dataset = data.load(cfg)
    splits = dry_run_subset(dataset.splits, cfg.seed) if args.dry_run else dataset.splits
    (X_train, y_train), (X_val, y_val) = splits["train"], splits["val"]

    print(f"***** Training {PROJECT} *****")
    print(f"  images: {len(y_train)} train ({y_train.mean():.0%} pneumonia), {len(y_val)} validation, "
          f"{len(splits['test'][1])} held out for the test; {X_train.shape[1]}x{X_train.shape[2]} pixels")  # fmt: skip
    print(f"  model: {cfg.model.kind} {cfg.model.channels}; up to {cfg.train.epochs} epochs of batches of "
          f"{cfg.train.batch_size}; device {ctx.device}; seed {cfg.seed}")  # fmt: skip
    if ctx.world_size > 1:
        print(f"  processes: {ctx.world_size} ({ctx.backend}), each with batches of "
              f"{distributed.per_process_batch(cfg.train.batch_size, ctx)} and {torch.get_num_threads()} thread(s)")  # fmt: skip

    # 2. Build: the network with its random initial weights (the same in every process: the same seed).
    network = model.build(cfg.model)

    # 3. Fit: standardised pixels, random augmentations, a class-weighted loss, a checkpoint every epoch.
    checkpoint = Checkpoint.for_run(PROJECT, cfg, dry_run=args.dry_run)
    checkpoint.start(resume=args.resume)
    result, mean, std = fit(cfg, network, splits, ctx, checkpoint=checkpoint)
    if not ctx.is_main:
        return 0  # the run is rank 0's to write: the other processes' work is done
    network.load_state_dict(result.best_state)  # the best epoch's weights, not the last epoch's
    network.cpu()

    # 4. The threshold for a screening decision, chosen on validation images.
    p_val = predict_proba(network, X_val, mean, std)
    threshold = youden_threshold(y_val, p_val)
    metrics = prefixed(binary_metrics(y_val, p_val, threshold), "val")
    metrics["val_best_epoch"] = result.best_epoch

    # 5. The out-of-distribution reference: what the training images' features look like, and how far from them
    #    a real X-ray may lie (a threshold that flags cfg.ood.flag_rate of the validation images).
    reference = ood.fit_reference(
        ood.features(network, to_tensor(X_train, mean, std), cfg.ood.block),
        y_train,
        ood.features(network, to_tensor(X_val, mean, std), cfg.ood.block),
        X_train,
        cfg.ood.flag_rate,
        cfg.ood.block,
    )
    metrics["val_ood_flag_rate"] = reference["ood"]["validation_flagged"]
    # what the drift monitor (monitor.py) compares served answers with: the answers on images training never saw
    reference["predictions"] = {
        "scores": np.round(p_val.astype(float), 4).tolist(),  # P(pneumonia) of every validation image
        "threshold": threshold,
        "positive_rate": float((p_val >= threshold).mean()),  # share of validation images called pneumonia
        "prevalence": float(y_train.mean()),  # share of training images with pneumonia
    }

    # 6. Save the run: it appears under runs/ only once every file is written.
    with runs.create(PROJECT, cfg, data_files=dataset.files, dry_run=args.dry_run, processes=ctx.world_size) as run:
        model.save(
            run.dir,
            network,
            cfg=cfg,
            metrics=metrics,
            mean=mean,
            std=std,
            threshold=threshold,
            image_side=int(X_train.shape[1]),
            reference=reference,
        )
        runs.write_json(run.dir / "history.json", {"epochs": result.history})
        run.save_metrics(metrics)
    checkpoint.finish()  # the run is saved: nothing left to resume

    print(f"\nRun saved to {run.path}")
    print(
        f"Validation ROC AUC {shown(metrics['val_roc_auc'])} (chance 0.500) at epoch {result.best_epoch}; "
        f"at threshold {threshold:.2f}: sensitivity {shown(metrics['val_sensitivity'])}, "
        f"specificity {shown(metrics['val_specificity'])}. Out-of-distribution threshold "
        f"{reference['ood']['threshold']:.1f} (flags {reference['ood']['validation_flagged']:.1%} of validation images)."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
