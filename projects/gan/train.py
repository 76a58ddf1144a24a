"""Train a GAN to draw handwritten digits (or MNIST, or your own images) and save a run.

    $ make train PROJECT=gan
    $ make train PROJECT=gan ARGS="--set data.source=mnist --set train.epochs=4"
    $ make examples PROJECT=gan      # a small .npz in the layout --data takes: runs/gan-examples/digits-small.npz
    $ make train PROJECT=gan ARGS="--data runs/gan-examples/digits-small.npz"
    $ python -m projects.gan.train --set model.conditional=false
    $ python -m projects.gan.train --resume      # go on after an interruption (Ctrl-C, a crash)
    $ python -m projects.gan.train --dry-run     # seconds, on a tiny subset
    $ make train PROJECT=gan NPROC=2             # two processes (DDP): each takes half of every batch

Steps (`main`, at the bottom):
1. load the train / validation / test split; the test split waits for evaluate.py;
2. train the judge, a small classifier of the real images, with the core's training loop:
   its features are where the Fréchet distance measures how close fakes are to real images;
3. build the generator G and the discriminator D (`model.build`);
4. fit them (`fit`): G and D play against each other, batch by batch (`train_one_epoch`):
   D learns to tell real from fake, G learns to fool D. After every epoch, the Fréchet
   distance between validation images and fakes is measured, and the generator of the best
   epoch is kept; every few epochs a grid from the same fixed noise is saved, so the grids
   show the generator learning. A checkpoint after every epoch lets --resume continue;
5. save the run (with `reference.json`: the classes it learned from and how well the judge reads them,
   which the API's warnings and monitoring compare with), say where the sample grids are, and where the
   best generator stands between an untrained one and real images.

In several processes (torchrun, see mlstarter.distributed), every process trains the same
judge; G and D are wrapped in DDP, so each process takes 1/N of every batch with noise of its
own and the gradients are averaged; rank 0 alone validates, draws the grids, checkpoints and
saves the run.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm import tqdm

from mlstarter import distributed, persistence, runs, training
from mlstarter.checkpoints import Checkpoint
from mlstarter.distributed import Context
from mlstarter.metrics import shown
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data, model
from .config import Config
from .model import (
    Discriminator,
    Generator,
    Judge,
    discriminator_loss,
    frechet_distance,
    gaussian_stats,
    generate,
    generator_loss,
    gradient_penalty,
    image_grid,
    judge_features,
    to_tensor,
    wasserstein_critic_loss,
)

PROJECT = project_name(__package__)  # the folder name, so a copied project names its own runs
DISTRIBUTED = True  # torchrun may start this script in several processes: make train PROJECT=gan NPROC=2

# --dry-run: the same code path on 256 training and 128 validation images, for two epochs.
DRY_RUN_IMAGES = 256
DRY_RUN_OVERRIDES = ["train.epochs=2", "train.sample_every=1", "judge.epochs=2"]
GRID_COLUMNS = 8  # the fixed-noise sample grid: one row per class (conditional), or 8 x 8 images

Validate = Callable[[Generator], dict[str, float]]  # a generator -> val_fd (and val_class_accuracy)


def dry_run_subset(images: data.Data, seed: int) -> data.Data:
    """A random few training and validation images (the test split is evaluate.py's, untouched)."""
    rng = np.random.default_rng(seed)
    splits = dict(images.splits)
    for name, n in (("train", DRY_RUN_IMAGES), ("val", DRY_RUN_IMAGES // 2)):
        keep = np.sort(rng.permutation(len(splits[name][1]))[:n])
        splits[name] = (splits[name][0][keep], splits[name][1][keep])
    return dataclasses.replace(images, splits=splits)


def print_summary(cfg: Config, images: data.Data, ctx: Context) -> None:
    """What is about to be trained, on what, and where."""
    print(f"***** Training {PROJECT} *****")
    print(f"  images: {len(images.splits['train'][1])} train, {len(images.splits['val'][1])} validation, "
          f"{len(images.splits['test'][1])} held out for the test; {images.name}, {images.side}x{images.side}, "
          f"{images.channels} channel(s), {images.n_classes} classes")  # fmt: skip
    print(f"  model: {'conditional' if cfg.model.conditional else 'unconditional'} DCGAN, {cfg.model.channels} channels, "
          f"z of {cfg.model.latent_dim}, {cfg.model.loss} loss{', spectral norm' if cfg.model.spectral_norm else ''}; "
          f"{cfg.train.epochs} epochs of batches of {cfg.train.batch_size}; device {ctx.device}; seed {cfg.seed}")  # fmt: skip
    if ctx.world_size > 1:  # train.batch_size is the batch of all processes together: each takes 1/N of it
        print(f"  processes: {ctx.world_size} ({ctx.backend}), each with batches of "
              f"{distributed.per_process_batch(cfg.train.batch_size, ctx)} and {torch.get_num_threads()} thread(s)")  # fmt: skip


def train_judge(cfg: Config, images: data.Data, ctx: Context, checkpoint: Checkpoint) -> tuple[Judge, dict]:
    """Fit the judge classifier on the real training images with the core's loop; keep its best epoch.

    A resumed run takes the interrupted run's judge instead, so that its distances stay comparable.
    In several processes, every process runs this whole, on all the images, with the same seed: not in
    DDP, and not in rank 0 alone, because `training.fit` averages each epoch's loss over the processes
    (a collective that every process must join, or the others wait forever). Only rank 0 uses the judge.
    """
    judge = Judge(cfg.judge, images.channels, images.n_classes)
    saved = checkpoint.path("judge.pt")
    if checkpoint.resuming and saved.is_file():
        state = persistence.load_torch(saved)
        judge.load_state_dict(state["model_state"])
        print(f"  judge: validation accuracy {shown(state['metrics']['judge_val_accuracy'])} (the interrupted run's)")
        return judge.eval(), state["metrics"]

    print("Training the judge (the classifier behind the Fréchet distance):")
    (X_train, y_train), (X_val, y_val) = images.splits["train"], images.splits["val"]
    loader = DataLoader(
        TensorDataset(to_tensor(X_train), torch.from_numpy(y_train)),
        batch_size=128,
        shuffle=True,
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    x_val, y_val_t = to_tensor(X_val).to(ctx.device), torch.from_numpy(y_val).to(ctx.device)

    def loss_fn(net: Judge, batch) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(net(x), y)

    def validate(net: Judge) -> dict[str, float]:
        logits = torch.cat([net(x_val[i : i + 1000]) for i in range(0, len(x_val), 1000)])
        return {"val_accuracy": (logits.argmax(1) == y_val_t).float().mean().item()}

    optimizer = torch.optim.Adam(judge.parameters(), lr=cfg.judge.learning_rate)
    result = training.fit(
        judge, optimizer, loader, loss_fn, validate,
        epochs=cfg.judge.epochs, monitor="val_accuracy", patience=cfg.judge.patience, device=ctx.device,
    )  # fmt: skip
    judge.load_state_dict(result.best_state)
    metrics = {"judge_val_accuracy": result.best_score, "judge_best_epoch": result.best_epoch}
    if ctx.is_main:  # kept with the checkpoint, for --resume
        persistence.save_torch(saved, judge.state_dict(), metrics=metrics)
    print(f"  judge: validation accuracy {shown(metrics['judge_val_accuracy'])}")
    return judge.cpu().eval(), metrics


def frechet_validation(judge: Judge, X_val: np.ndarray, y_val: np.ndarray, cfg: Config) -> tuple[Validate, float]:
    """`validate(G)`, and the floor it is read against, on the validation images split into two halves.

    Half A is the reference: validate(G) is the Fréchet distance between its judge features and those of as
    many fakes (and, for a conditional model, how often the judge reads the class that was asked for). Half
    B, real images, gives the floor: the distance a perfect generator would score.
    """
    half_a, half_b = data.stratified_halves(y_val)
    X_ref, y_ref = X_val[half_a], y_val[half_a]
    ref_stats = gaussian_stats(judge_features(judge, X_ref)[0])
    fd_real = frechet_distance(ref_stats, gaussian_stats(judge_features(judge, X_val[half_b])[0]))
    noise_seed = cfg.seed + 1  # the validation noise: the same every epoch, so epochs are compared on equal terms
    labels = y_ref if cfg.model.conditional else None

    def validate(G: Generator) -> dict[str, float]:
        G.eval()
        features, probs = judge_features(judge, generate(G, len(y_ref), noise_seed, labels))
        metrics = {"val_fd": frechet_distance(ref_stats, gaussian_stats(features))}
        if cfg.model.conditional:  # does the judge see the class that was asked for?
            metrics["val_class_accuracy"] = float((probs.argmax(1) == y_ref).mean())
        return metrics

    return validate, fd_real


def train_one_epoch(
    G: Generator,
    D: Discriminator,
    g_opt: torch.optim.Optimizer,
    d_opt: torch.optim.Optimizer,
    batches: DataLoader,
    cfg: Config,
    device: torch.device,
    desc: str,
    progress: bool = True,
) -> dict[str, float]:
    """One pass over the real images: a D update on every batch, a G update every `critic_steps` batches.

    G and D may be wrapped in DDP; the losses returned are this process's (average them with distributed.mean).
    """
    G.train()
    D.train()
    wgan = cfg.model.loss == "wgan-gp"
    sums = {"d_loss": 0.0, "g_loss": 0.0, "d_real": 0.0, "d_fake": 0.0}
    d_steps = g_steps = 0
    latent_dim = distributed.unwrap(G).latent_dim
    # disable=None: no bar when not on a terminal; none at all in the processes other than rank 0
    bar = tqdm(batches, desc=desc, unit="batch", leave=False, disable=None if progress else True)
    for step, (real, labels) in enumerate(bar):
        real, labels = real.to(device), labels.to(device)
        y = labels if cfg.model.conditional else None
        z = torch.randn(real.shape[0], latent_dim, device=device)  # (B, latent): each process draws its own
        fake = G(z, y)  # (B, C, H, W)

        # (1) Update D: maximise log D(x) + log(1 - D(G(z))) (WGAN: E[D(x)] - E[D(G(z))] - penalty)
        real_out, fake_out = D(real, y), D(fake.detach(), y)  # detach: this step must not change G
        if wgan:
            d_loss = wasserstein_critic_loss(real_out, fake_out)
            d_loss = d_loss + cfg.train.gp_weight * gradient_penalty(D, real, fake, y)
        else:
            d_loss = discriminator_loss(real_out, fake_out, cfg.train.label_smoothing)
        d_opt.zero_grad(set_to_none=True)
        d_loss.backward()
        d_opt.step()
        d_steps += 1
        sums["d_loss"] += d_loss.item()
        # D(x) and D(G(z)): probabilities for the DCGAN loss, raw critic scores for WGAN
        to_prob = (lambda s: s) if wgan else torch.sigmoid
        sums["d_real"] += to_prob(real_out.detach()).mean().item()
        sums["d_fake"] += to_prob(fake_out.detach()).mean().item()

        # (2) Update G: maximise log D(G(z)), the non-saturating loss (WGAN: maximise E[D(G(z))])
        if step % cfg.train.critic_steps == 0:
            out = D(fake, y)  # the updated D judges the same fakes; now the gradient flows back into G
            g_loss = -out.mean() if wgan else generator_loss(out)
            g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            g_opt.step()
            g_steps += 1
            sums["g_loss"] += g_loss.item()
        if not math.isfinite(d_loss.item()):
            raise FloatingPointError(f"the discriminator's loss became {d_loss.item()}: lower the learning rate")
        bar.set_postfix(d_loss=f"{sums['d_loss'] / d_steps:.3f}", g_loss=f"{sums['g_loss'] / max(g_steps, 1):.3f}")
    return {
        "d_loss": sums["d_loss"] / max(d_steps, 1),
        "g_loss": sums["g_loss"] / max(g_steps, 1),
        "d_real": sums["d_real"] / max(d_steps, 1),
        "d_fake": sums["d_fake"] / max(d_steps, 1),
    }


def fit(
    cfg: Config,
    generator: Generator,
    discriminator: Discriminator,
    judge: Judge,
    images: data.Data,
    ctx: Context,
    checkpoint: Checkpoint,
) -> tuple[dict[str, float], list[dict[str, float]]]:
    """The adversarial epochs: train G and D, validate G by its Fréchet distance, keep the best generator.

    Returns the validation metrics of the kept generator and one history row per epoch, and leaves the
    best epoch's weights in `generator` (on the CPU, in eval mode). Every few epochs a grid from the same
    noise goes to the checkpoint's samples/, and after every epoch the whole state goes to the checkpoint,
    from which a run started with `checkpoint.start(resume=True)` goes on. In several processes, only
    rank 0 validates, draws, checkpoints and returns metrics; the others return after the last epoch.
    """
    X_train, y_train = images.splits["train"]
    validate, fd_real = frechet_validation(judge, *images.splits["val"], cfg)  # every process: it is cheap
    samples, sample_labels = checkpoint.path("samples"), grid_labels(images.n_classes, cfg.model.conditional)

    # Several processes: DDP copies rank 0's weights to all and averages the gradients after every backward pass.
    # Not batch norm's statistics (forward_sync_buffers=False): that copy breaks D's backward on GPUs (README.md)
    G = distributed.wrap(generator, ctx, forward_sync_buffers=False)
    D = distributed.wrap(discriminator, ctx, forward_sync_buffers=False)
    distributed.seed_per_process(cfg.seed, ctx)  # several processes: each draws noise of its own
    untrained = validate(generator)
    betas = (cfg.train.beta1, cfg.train.beta2)
    g_opt = torch.optim.Adam(G.parameters(), lr=cfg.train.learning_rate, betas=betas)
    d_opt = torch.optim.Adam(D.parameters(), lr=cfg.train.learning_rate, betas=betas)
    # train.batch_size images per step in all: one process, a shuffling DataLoader with a seeded generator;
    # several, a DistributedSampler that gives each process its own 1/N of every epoch's images
    loader = distributed.shuffled_loader(
        TensorDataset(to_tensor(X_train), torch.from_numpy(y_train)),
        cfg.train.batch_size,
        cfg.seed,
        ctx,
        drop_last=len(y_train) > cfg.train.batch_size,  # a last batch of 3 images gives batch norm poor statistics
    )
    loader_rng = loader.generator  # one process: checkpointed, so a resumed run shuffles on; None with a sampler
    print(f"  Fréchet distance on validation images: untrained generator {untrained['val_fd']:.2f}, "
          f"real images {fd_real:.2f}. A grid of samples every {cfg.train.sample_every} epoch(s), in the run's "
          "plots/progress/ once it is saved")  # fmt: skip

    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"state": None, "epoch": 0, "fd": math.inf}
    start = 1
    if checkpoint.resuming:  # every process reads the same file: the same weights, new noise in each
        state = checkpoint.load(ctx.device, loader_rng)
        generator.load_state_dict(state["generator_state"])
        discriminator.load_state_dict(state["discriminator_state"])
        g_opt.load_state_dict(state["g_optimizer_state"])
        d_opt.load_state_dict(state["d_optimizer_state"])
        best = {"state": state["best_state"], "epoch": state["best_epoch"], "fd": state["best_fd"]}
        history, start = state["history"], state["epoch"] + 1
        print(f"Resuming from {checkpoint.folder} at epoch {start} (best so far: epoch {best['epoch']})")

    for epoch in range(start, cfg.train.epochs + 1):
        began = time.perf_counter()
        if isinstance(loader.sampler, DistributedSampler):  # a new shuffle, and new shares, every epoch
            loader.sampler.set_epoch(epoch)
        losses = train_one_epoch(
            G, D, g_opt, d_opt, loader, cfg, ctx.device, f"epoch {epoch}/{cfg.train.epochs}", progress=ctx.is_main
        )
        losses = {k: distributed.mean(v, ctx.device) for k, v in losses.items()}  # over all processes' batches
        if not ctx.is_main:
            continue  # rank 0 alone validates, draws and checkpoints: no collective below, so no one waits
        metrics = validate(generator)
        row = {"epoch": epoch, **losses, **metrics, "seconds": time.perf_counter() - began}
        history.append(row)
        improved = metrics["val_fd"] < best["fd"]
        if improved:  # a copy: G's own weights keep changing
            best = {"state": {k: v.detach().clone() for k, v in generator.state_dict().items()}, "epoch": epoch,
                    "fd": metrics["val_fd"]}  # fmt: skip
        if epoch % cfg.train.sample_every == 0 or epoch == cfg.train.epochs:
            n = len(sample_labels) if sample_labels is not None else GRID_COLUMNS**2
            save_grid(generate(generator.eval(), n, cfg.seed, sample_labels), samples / f"epoch_{epoch:03d}.png")
        line = "  ".join(f"{k} {v:.3f}" for k, v in {**losses, **metrics}.items())
        tqdm.write(f"epoch {epoch:3d}  {line}  ({row['seconds']:.1f}s){'  *best*' if improved else ''}")
        checkpoint.save({
            "epoch": epoch, "history": history,
            "generator_state": generator.state_dict(), "discriminator_state": discriminator.state_dict(),
            "g_optimizer_state": g_opt.state_dict(), "d_optimizer_state": d_opt.state_dict(),
            "best_state": best["state"], "best_epoch": best["epoch"], "best_fd": best["fd"],
        }, loader_rng)  # fmt: skip

    if not ctx.is_main:
        return {}, history
    if best["state"] is not None:  # None only if no epoch had a finite distance
        generator.load_state_dict(best["state"])  # the best epoch's generator, not the last epoch's
    final = validate(generator.cpu().eval())
    metrics = {
        "val_fd": final["val_fd"],
        "val_fd_real": fd_real,
        "val_fd_untrained": untrained["val_fd"],
        "val_best_epoch": best["epoch"],
        **({"val_class_accuracy": final["val_class_accuracy"]} if cfg.model.conditional else {}),
    }
    return metrics, history


REFERENCE_PER_CLASS = 200  # generated images of each class that the judge reads for reference.json (2,000 digits)


def reference(images: data.Data, judge: Judge, generator: Generator, cfg: Config) -> dict[str, Any]:
    """What the run learned from, as plain numbers (saved as reference.json): how many images of each class
    the splits hold, how often the judge reads real validation images of each class right, and how sure it is
    of the kept generator's images: for a conditional model, how often it reads each requested class as that
    class and, image by image, its probability of that class; for an unconditional one, its probability of
    whatever class it reads. The API warns when the judge does not recognise a requested class; monitoring
    (monitor.py) compares the requests and the judge's confidence in what is served with these."""
    n = images.n_classes

    def accuracy(judged: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
        by_class = [float((judged[labels == c] == c).mean()) if (labels == c).any() else None for c in range(n)]
        return {"overall": float((judged == labels).mean()), "by_class": by_class}  # None: no image of that class

    X_val, y_val = images.splits["val"]
    found = {
        "data": images.name, "side": images.side, "channels": images.channels, "n_classes": n,
        "class_counts": {name: np.bincount(labels, minlength=n).tolist() for name, (_, labels) in images.splits.items()},
        "judge_accuracy_real": accuracy(judge_features(judge, X_val)[1].argmax(1), y_val),
    }  # fmt: skip
    # noise of its own (seed + 3): not training's, not evaluate's
    if cfg.model.conditional:
        asked = np.repeat(np.arange(n), REFERENCE_PER_CLASS)
        probs = judge_features(judge, generate(generator, len(asked), cfg.seed + 3, asked))[1]  # (N, n_classes)
        found["judge_accuracy_generated"] = accuracy(probs.argmax(1), asked)
        confidence = probs[np.arange(len(asked)), asked]  # p(requested class | image), image by image
        # for the monitor: one list per requested class, REFERENCE_PER_CLASS values each
        found["judge_confidence_generated"] = [np.round(confidence[asked == c], 4).tolist() for c in range(n)]
    else:  # no class is requested: the judge's probability of the class it reads, max_c p(c | image), in one list
        probs = judge_features(judge, generate(generator, n * REFERENCE_PER_CLASS, cfg.seed + 3))[1]
        found["judge_confidence_generated"] = [np.round(probs.max(1), 4).tolist()]
    return found


def grid_labels(n_classes: int, conditional: bool) -> np.ndarray | None:
    """The classes of the fixed sample grid: each row one class (up to 10 rows), or None for unconditional."""
    if not conditional:
        return None
    return np.repeat(np.arange(min(n_classes, 10)), GRID_COLUMNS)


def save_grid(images: np.ndarray, path: Path, columns: int = GRID_COLUMNS) -> None:
    """A PNG grid of uint8 images, scaled up so that 8x8 digits are visible."""
    scale = max(1, 64 // images.shape[1])  # 8x8 -> 8 times, 28x28 -> twice, 64x64 and up as they are
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, columns, scale=scale)).save(path)


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__, resumable=True).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    seed_everything(cfg.seed)  # the same seed in every process: the same judge, the same initial G and D
    ctx = distributed.setup(cfg.train.device)  # this process, or one of several that torchrun started
    checkpoint = Checkpoint.for_run(PROJECT, cfg, dry_run=args.dry_run)  # the state, the judge and the sample grids
    checkpoint.start(resume=args.resume)

    # 1. Data: train / validation / test. The test images are not touched here.
    with distributed.main_process_first(ctx):  # with several processes, one downloads (MNIST) and the others wait
        images = data.load(cfg)
    if args.dry_run:
        images = dry_run_subset(images, cfg.seed)
    print_summary(cfg, images, ctx)

    # 2. The judge: a classifier of real images, whose features the Fréchet distance compares.
    judge, judge_metrics = train_judge(cfg, images, ctx, checkpoint)

    # 3. The two players, untrained.
    generator, discriminator = model.build(cfg, images.side, images.channels, images.n_classes)

    # 4. The adversarial game, epoch by epoch; the generator comes back with its best epoch's weights.
    metrics, history = fit(cfg, generator, discriminator, judge, images, ctx, checkpoint)
    if not ctx.is_main:
        return 0  # the run is rank 0's to write: the other processes' work is done
    metrics.update(judge_metrics)

    # 5. Save the run: it appears under runs/ only once every file is written.
    with runs.create(PROJECT, cfg, data_files=images.files, dry_run=args.dry_run, processes=ctx.world_size) as run:
        model.save(run.dir, generator, discriminator, judge, cfg, images, metrics)
        run.save_metrics(metrics)
        runs.write_json(run.dir / "history.json", {"epochs": history})
        # what the run learned from: the API warns when the judge does not recognise a class, monitoring compares
        runs.write_json(run.dir / "reference.json", reference(images, judge, generator, cfg))
        if checkpoint.path("samples").is_dir():
            shutil.copytree(checkpoint.path("samples"), run.dir / "plots" / "progress")
    checkpoint.finish()  # the run is saved: nothing left to resume (the checkpoint's samples/ goes with it)

    print(f"\nRun saved to {run.path}")
    print(f"Sample grids of the same noise, epoch by epoch: {run.path / 'plots' / 'progress'}")
    accuracy = f"; the judge reads the requested class in its fakes with accuracy {shown(metrics['val_class_accuracy'])}" if (
        cfg.model.conditional) else ""  # fmt: skip
    print(
        f"Validation Fréchet distance {metrics['val_fd']:.2f} at epoch {metrics['val_best_epoch']} (untrained "
        f"generator {metrics['val_fd_untrained']:.2f}, real images {metrics['val_fd_real']:.2f}; lower is better)"
        f"{accuracy}."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
