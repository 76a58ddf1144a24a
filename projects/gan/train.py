"""Train a GAN to draw handwritten digits (or MNIST, or your own images) and save a run.

    $ make train PROJECT=gan
    $ make train PROJECT=gan ARGS="--set data.source=mnist --set train.epochs=4"
    $ make train PROJECT=gan ARGS="--data ../shared/datasets/pneumoniamnist-sample/pneumoniamnist_balanced.npz"
    $ python -m projects.gan.train --set model.conditional=false
    $ python -m projects.gan.train --resume      # go on after an interruption (Ctrl-C, a crash)
    $ python -m projects.gan.train --dry-run     # seconds, on a tiny subset
    $ make train PROJECT=gan NPROC=2             # two processes (DDP): each takes half of every batch

Steps:
1. load the train / validation / test split; the test split waits for evaluate.py;
2. train the judge, a small classifier of the real images, with the core's training loop:
   its features are where the Fréchet distance measures how close fakes are to real images;
3. train the generator G and the discriminator D against each other, batch by batch:
   D learns to tell real from fake, G learns to fool D. After every epoch, the Fréchet
   distance between validation images and fakes is measured, and the generator of the best
   epoch is kept; every few epochs a grid from the same fixed noise is saved, so the grids
   show the generator learning. A checkpoint after every epoch lets --resume continue;
4. save the run.

In several processes (torchrun, see mlstarter.distributed), every process trains the same
judge; G and D are wrapped in DDP, so each process takes 1/N of every batch with noise of its
own and the gradients are averaged; rank 0 alone validates, draws the grids, checkpoints and
saves the run.
"""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm import tqdm

from mlstarter import datasets, distributed, persistence, runs, training
from mlstarter.checkpoints import Checkpoint
from mlstarter.config import to_dict
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data
from .config import Config, JudgeConfig
from .evaluate import frechet_distance, gaussian_stats
from .model import (
    Discriminator,
    Generator,
    Judge,
    discriminator_loss,
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


def grid_labels(n_classes: int, conditional: bool) -> np.ndarray | None:
    """The classes of the fixed sample grid: each row one class (up to 10 rows), or None for unconditional."""
    if not conditional:
        return None
    return np.repeat(np.arange(min(n_classes, 10)), GRID_COLUMNS)


def train_judge(cfg: JudgeConfig, images: data.ImageData, device: torch.device, seed: int) -> tuple[Judge, dict]:
    """Fit the judge classifier on the real training images with the core's loop; keep its best epoch.

    In several processes, every process runs this whole, on all the images, with the same seed: not in
    DDP, and not in rank 0 alone, because `training.fit` averages each epoch's loss over the processes
    (a collective that every process must join, or the others wait forever). Only rank 0 uses the judge.
    """
    (X_train, y_train), (X_val, y_val) = images.splits["train"], images.splits["val"]
    judge = Judge(cfg, images.channels, images.n_classes)
    loader = DataLoader(
        TensorDataset(to_tensor(X_train), torch.from_numpy(y_train)),
        batch_size=128,
        shuffle=True,
        generator=torch.Generator().manual_seed(seed),
    )
    x_val, y_val_t = to_tensor(X_val).to(device), torch.from_numpy(y_val).to(device)

    def loss_fn(model: Judge, batch) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(model(x), y)

    def validate(model: Judge) -> dict[str, float]:
        logits = torch.cat([model(x_val[i : i + 1000]) for i in range(0, len(x_val), 1000)])
        return {"val_accuracy": (logits.argmax(1) == y_val_t).float().mean().item()}

    optimizer = torch.optim.Adam(judge.parameters(), lr=cfg.learning_rate)
    result = training.fit(
        judge, optimizer, loader, loss_fn, validate,
        epochs=cfg.epochs, monitor="val_accuracy", patience=cfg.patience, device=device,
    )  # fmt: skip
    judge.load_state_dict(result.best_state)
    return judge.cpu().eval(), {"judge_val_accuracy": result.best_score, "judge_best_epoch": result.best_epoch}


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


def save_grid(images: np.ndarray, path: Path, columns: int = GRID_COLUMNS) -> None:
    """A PNG grid of uint8 images, scaled up so that 8x8 digits are visible."""
    scale = max(1, 64 // images.shape[1])  # 8x8 -> 8 times, 28x28 -> twice, 64x64 and up as they are
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image_grid(images, columns, scale=scale)).save(path)


def main(argv: list[str] | None = None) -> int:
    parser = train_parser(__doc__)
    parser.add_argument(
        "--resume", action="store_true", help="Continue the interrupted run with the same settings from its last epoch."
    )
    args = parser.parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    seed_everything(cfg.seed)  # the same seed in every process: the same judge, the same initial G and D
    ctx = distributed.setup(cfg.train.device)  # this process, or one of several that torchrun started
    device = ctx.device

    # 1. Data: train / validation / test. The test images are not touched here.
    with distributed.main_process_first(ctx):  # with several processes, one downloads (MNIST) and the others wait
        images = data.load(cfg.data)
    if args.dry_run:
        rng = np.random.default_rng(cfg.seed)
        splits = dict(images.splits)
        for name, n in (("train", DRY_RUN_IMAGES), ("val", DRY_RUN_IMAGES // 2)):
            keep = np.sort(rng.permutation(len(splits[name][1]))[:n])
            splits[name] = (splits[name][0][keep], splits[name][1][keep])
        images = data.ImageData(splits, images.files, images.name, images.n_classes)
    (X_train, y_train), (X_val, y_val) = images.splits["train"], images.splits["val"]
    checkpoint = Checkpoint.for_run(PROJECT, cfg, dry_run=args.dry_run)  # the state, the judge and the sample grids
    judge_path, samples_dir = checkpoint.path("judge.pt"), checkpoint.path("samples")
    resuming = checkpoint.start(resume=args.resume)
    judge_saved = resuming and judge_path.is_file()

    print(f"***** Training {PROJECT} *****")
    print(f"  images: {len(y_train)} train, {len(y_val)} validation, {len(images.splits['test'][1])} held out "
          f"for the test; {images.name}, {images.side}x{images.side}, {images.channels} channel(s), "
          f"{images.n_classes} classes")  # fmt: skip
    print(f"  model: {'conditional' if cfg.model.conditional else 'unconditional'} DCGAN, {cfg.model.channels} channels, "
          f"z of {cfg.model.latent_dim}, {cfg.model.loss} loss{', spectral norm' if cfg.model.spectral_norm else ''}; "
          f"{cfg.train.epochs} epochs of batches of {cfg.train.batch_size}; device {device}; seed {cfg.seed}")  # fmt: skip
    if ctx.world_size > 1:  # train.batch_size is the batch of all processes together: each takes 1/N of it
        print(f"  processes: {ctx.world_size} ({ctx.backend}), each with batches of "
              f"{distributed.per_process_batch(cfg.train.batch_size, ctx)} and {torch.get_num_threads()} thread(s)")  # fmt: skip

    # 2. The judge: a classifier of real images, whose features the Fréchet distance compares.
    if judge_saved:  # the interrupted run's judge, so its distances stay comparable
        saved = persistence.load_torch(judge_path)
        judge = Judge(cfg.judge, images.channels, images.n_classes)
        judge.load_state_dict(saved["model_state"])
        judge.eval()
        judge_metrics = saved["metrics"]
    else:
        print("Training the judge (the classifier behind the Fréchet distance):")
        judge, judge_metrics = train_judge(cfg.judge, images, device, cfg.seed)  # in every process: see train_judge
        if ctx.is_main:
            persistence.save_torch(judge_path, judge.state_dict(), metrics=judge_metrics)
    print(f"  judge: validation accuracy {judge_metrics['judge_val_accuracy']:.3f}")

    # The yardsticks on validation images: half A is the reference, half B (real) the floor. Cheap, so every
    # process computes them (fewer branches on the rank); only rank 0 validates after each epoch.
    half_a, half_b = data.stratified_halves(y_val)
    X_ref, y_ref = X_val[half_a], y_val[half_a]
    ref_stats = gaussian_stats(judge_features(judge, X_ref)[0])
    fd_real = frechet_distance(ref_stats, gaussian_stats(judge_features(judge, X_val[half_b])[0]))
    fd_seed = cfg.seed + 1  # the validation noise: the same every epoch, so epochs are compared on equal terms
    sample_labels = grid_labels(images.n_classes, cfg.model.conditional)

    def validate(G: Generator) -> dict[str, float]:
        G.eval()
        fakes = generate(G, len(y_ref), fd_seed, y_ref if cfg.model.conditional else None)
        features, probs = judge_features(judge, fakes)
        metrics = {"val_fd": frechet_distance(ref_stats, gaussian_stats(features))}
        if cfg.model.conditional:  # does the judge see the class that was asked for?
            metrics["val_class_accuracy"] = float((probs.argmax(1) == y_ref).mean())
        return metrics

    # 3. The two networks. Seeded here, so evaluate.py can rebuild this untrained generator as the ceiling.
    # With several processes, DDP (distributed.wrap) copies rank 0's weights to all and averages the gradients
    # after every backward pass, so G and D stay the same in every process. forward_sync_buffers=False (torch's
    # new name for broadcast_buffers=False): by default DDP also copies rank 0's buffers (batch norm's running
    # statistics) into every process, in place, before every forward pass. D runs forward two or three times
    # before one backward (real images, fakes, the fakes again for G's step); on GPUs, cuDNN's batch norm keeps
    # the running statistics for its backward, so the copy before the second pass breaks the first one's
    # backward: "modified by an inplace operation" (pytorch/pytorch#175024; torch 2.13 on CPUs happens not to
    # mind). So each process keeps running statistics of its own shares; they serve only in eval mode, where
    # rank 0's generator draws with rank 0's statistics.
    torch.manual_seed(cfg.seed)
    G = distributed.wrap(Generator(cfg.model, images.side, images.channels, images.n_classes), ctx,
                         forward_sync_buffers=False)  # fmt: skip
    D = distributed.wrap(Discriminator(cfg.model, images.side, images.channels, images.n_classes), ctx,
                         forward_sync_buffers=False)  # fmt: skip
    generator, discriminator = distributed.unwrap(G), distributed.unwrap(D)  # the networks inside DDP, to save
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
          f"real images {fd_real:.2f}. Sample grids: {samples_dir}")  # fmt: skip

    history: list[dict[str, float]] = []
    best: dict[str, Any] = {"state": None, "epoch": 0, "fd": math.inf}
    start = 1
    if resuming:  # every process reads the same file
        state = checkpoint.load(device, loader_rng)  # several processes: the same weights, new noise in each
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
            G, D, g_opt, d_opt, loader, cfg, device, f"epoch {epoch}/{cfg.train.epochs}", progress=ctx.is_main
        )
        losses = {k: distributed.mean(v, device) for k, v in losses.items()}  # over all processes' batches
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
            save_grid(generate(generator.eval(), len(sample_labels) if sample_labels is not None else 64, cfg.seed,
                               sample_labels), samples_dir / f"epoch_{epoch:03d}.png")  # fmt: skip
        shown = "  ".join(f"{k} {v:.3f}" for k, v in {**losses, **metrics}.items())
        tqdm.write(f"epoch {epoch:3d}  {shown}  ({row['seconds']:.1f}s){'  *best*' if improved else ''}")
        checkpoint.save({
            "epoch": epoch, "history": history,
            "generator_state": generator.state_dict(), "discriminator_state": discriminator.state_dict(),
            "g_optimizer_state": g_opt.state_dict(), "d_optimizer_state": d_opt.state_dict(),
            "best_state": best["state"], "best_epoch": best["epoch"], "best_fd": best["fd"],
        }, loader_rng)  # fmt: skip

    if not ctx.is_main:
        return 0  # the run is rank 0's to write: the other processes' work is done
    if best["state"] is not None:  # None only if no epoch had a finite distance
        generator.load_state_dict(best["state"])  # the best epoch's generator, not the last epoch's
    generator.cpu().eval()
    final = validate(generator)
    metrics = {
        "val_fd": final["val_fd"],
        "val_fd_real": fd_real,
        "val_fd_untrained": untrained["val_fd"],
        "val_best_epoch": best["epoch"],
        **({"val_class_accuracy": final["val_class_accuracy"]} if cfg.model.conditional else {}),
        **judge_metrics,
    }
    info = {"side": images.side, "channels": images.channels, "n_classes": images.n_classes, "name": images.name}

    # 4. Save the run: it appears under runs/ only once every file is written.
    with runs.new_run(PROJECT) as run:
        persistence.save_torch(run.dir / "generator.pt", generator.state_dict(), config=to_dict(cfg), metrics=metrics,
                               images=info)  # fmt: skip
        persistence.save_torch(run.dir / "discriminator.pt", discriminator.cpu().state_dict(), config=to_dict(cfg),
                               images=info)  # fmt: skip
        persistence.save_torch(run.dir / "judge.pt", judge.state_dict(), config=to_dict(cfg), images=info)
        runs.write_json(run.dir / "metrics.json", metrics)
        runs.write_json(run.dir / "history.json", {"epochs": history})
        runs.write_json(
            run.dir / "environment.json",
            {
                **runs.environment(
                    seed=cfg.seed, dataset_checksums=datasets.checksums(images.files), dry_run=args.dry_run
                ),
                "processes": ctx.world_size,  # trained by this many processes (torchrun), or 1
            },
        )
        runs.write_json(run.dir / "config.json", to_dict(cfg))
        if samples_dir.is_dir():
            shutil.copytree(samples_dir, run.dir / "plots" / "progress")
    checkpoint.finish()  # the run is saved: nothing left to resume

    print(f"\nRun saved to {run.path}")
    accuracy = f"; the judge reads the requested class in {metrics['val_class_accuracy']:.1%} of its fakes" if (
        cfg.model.conditional) else ""  # fmt: skip
    print(
        f"Validation Fréchet distance {metrics['val_fd']:.2f} at epoch {best['epoch']} "
        f"(untrained generator {metrics['val_fd_untrained']:.2f}, real images {fd_real:.2f}; lower is better){accuracy}."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
