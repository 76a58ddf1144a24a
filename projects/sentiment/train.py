"""Train a sentiment classifier on the Rotten Tomatoes sentences and save a run.

    $ make train PROJECT=sentiment
    $ make train PROJECT=sentiment ARGS="--set model.kind=neural"
    $ python -m projects.sentiment.train --set model.kind=nbsvm
    $ python -m projects.sentiment.train --set model.kind=transformer    # or lstm: networks that read word order
    $ python -m projects.sentiment.train --set model.kind=transformer --resume   # go on after an interruption
    $ python -m projects.sentiment.train --data my_reviews.csv     # your own CSV: text,label
    $ python -m projects.sentiment.train --dry-run                 # a few seconds, on a tiny subset

Steps:
1. load the sentences and split them 80/10/10 into train, validation and test (stratified,
   fixed seed); only evaluate.py looks at the test part;
2. build the model (`model.build`) and fit it on the training sentences: the scikit-learn
   kinds in one call, the networks (neural, lstm, transformer) epoch by epoch with the core's
   training loop, stopping when the validation loss stops improving and keeping the best
   epoch's weights (a checkpoint after every epoch lets --resume continue an interrupted run);
3. measure it on the validation sentences, beside always answering the majority class;
4. save the run: config, environment, model files, metrics and the reference that serving and
   drift monitoring compare with (data.reference).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from sklearn.pipeline import Pipeline
from torch.utils.data import DataLoader

from mlstarter import devices, runs, training
from mlstarter.checkpoints import Checkpoint
from mlstarter.metrics import binary_metrics, prefixed, shown
from mlstarter.paths import project_name
from mlstarter.scripts import load_config, run_script, train_parser
from mlstarter.seeding import seed_everything

from . import data, model
from .config import Config
from .model import NETWORK_KINDS, PAD, UNK, NeuralClassifier, collate, normalize, pad, probability

PROJECT = project_name(__package__)  # the folder name, so a copied project names its own runs

# --dry-run: the same code path on 400 training sentences, two epochs for the networks.
DRY_RUN_SENTENCES = 400
DRY_RUN_OVERRIDES = ["neural.epochs=2", "lstm.epochs=2", "transformer.epochs=2"]


def dry_run_subset(train: pd.DataFrame, seed: int) -> pd.DataFrame:
    """At most DRY_RUN_SENTENCES training sentences, half of each class (fewer where a class has fewer)."""
    return pd.concat(
        group.sample(n=min(len(group), DRY_RUN_SENTENCES // 2), random_state=seed)
        for _, group in train.groupby(data.LABEL)
    )


def fit(
    cfg: Config,
    corpus: data.Data,
    progress: bool = True,
    on_epoch: training.OnEpoch | None = None,
    checkpoint: Checkpoint | None = None,
) -> tuple[Pipeline | NeuralClassifier, list[dict[str, float]]]:
    """Build the model of `cfg.model.kind` and fit it on the training sentences; return it and the
    per-epoch history (empty for the scikit-learn kinds, which fit in one call).

    Only the networks look at the validation sentences while they train (to stop early), and only
    they call `on_epoch(epoch, metrics)` after every epoch (tune.py reports to Optuna through it)
    and save every epoch's state to `checkpoint` (main, for --resume).
    """
    train = corpus.splits["train"]
    if cfg.model.kind in NETWORK_KINDS:
        return _fit_network(cfg, train, corpus.splits["val"], progress, on_epoch, checkpoint)
    pipeline = model.build(cfg)
    return pipeline.fit([normalize(t) for t in train[data.TEXT]], train[data.LABEL].to_numpy()), []


def ngram_dropout(examples: list[tuple[list[int], float]], rate: float):
    """A training batch; each n-gram is left out with probability `rate` (keeping at least one per sentence).

    Dropping words forces the model to spread its evidence: it cannot lean on one word alone.
    """
    encoded = []
    for ids, _ in examples:
        keep = torch.rand(len(ids)) >= rate
        kept = [i for i, k in zip(ids, keep.tolist(), strict=True) if k]
        encoded.append(kept or ids[:1])
    return (*collate(encoded), torch.tensor([label for _, label in examples], dtype=torch.float32))


def word_dropout(examples: list[tuple[list[int], float]], rate: float):
    """A training batch of the sequence networks, padded to (B, T); each word becomes <unk> with probability `rate`.

    Unlike the n-grams above, the word stays in its place: the sentence keeps its length and its order,
    and the network learns what to make of a word it does not know, as it will meet many after training.
    """
    ids = pad([i for i, _ in examples])  # (B, T)
    ids = torch.where((torch.rand(ids.shape) < rate) & (ids != PAD), UNK, ids)
    return ids, torch.tensor([label for _, label in examples], dtype=torch.float32)


def _fit_network(
    cfg: Config,
    train: pd.DataFrame,
    val: pd.DataFrame,
    progress: bool,
    on_epoch: training.OnEpoch | None,
    checkpoint: Checkpoint | None,
) -> tuple[NeuralClassifier, list[dict[str, float]]]:
    """Any of the networks: vocabulary from the training sentences, AdamW, early stopping on validation loss."""
    ncfg = cfg.network()  # the section of this kind: neural, lstm or transformer
    device = devices.choose_device(ncfg.device)
    vocab = model.vocabulary(cfg, train[data.TEXT].tolist())
    examples = [(vocab.encode(t), float(y)) for t, y in zip(train[data.TEXT], train[data.LABEL], strict=True)]
    # fastText drops whole n-grams from its bag; the sequence networks turn words into <unk> in their place
    make_batch, rate = (
        (ngram_dropout, ncfg.dropout) if cfg.model.kind == "neural" else (word_dropout, ncfg.word_dropout)
    )
    loader = DataLoader(
        examples,
        batch_size=ncfg.batch_size,
        shuffle=True,
        collate_fn=lambda batch: make_batch(batch, rate),
        generator=torch.Generator().manual_seed(cfg.seed),
    )
    texts = val[data.TEXT].tolist()  # scored in chunks, so a large validation set does not fill the memory
    val_inputs = [devices.to_device(vocab.inputs(texts[i : i + 512]), device) for i in range(0, len(texts), 512)]
    y_val = torch.tensor(val[data.LABEL].to_numpy(), dtype=torch.float32, device=device)

    network = model.build(cfg, vocab)
    # AdamW: Adam with the weight decay applied to the weights directly, not mixed into Adam's gradient statistics
    # (Loshchilov & Hutter 2019); with weight_decay=0, fastText's default, it is exactly Adam
    optimizer = torch.optim.AdamW(network.parameters(), lr=ncfg.learning_rate, weight_decay=ncfg.weight_decay)

    def loss_fn(net: torch.nn.Module, batch) -> torch.Tensor:
        *inputs, y = batch  # (ids, offsets, y) for fastText, (ids, y) for the sequence networks
        return F.binary_cross_entropy_with_logits(net(*inputs), y)  # -[y log p + (1-y) log(1-p)]

    def validate(net: torch.nn.Module) -> dict[str, float]:
        logits = torch.cat([net(*inputs) for inputs in val_inputs])
        return {
            "val_loss": F.binary_cross_entropy_with_logits(logits, y_val).item(),
            "val_accuracy": ((logits > 0).float() == y_val).float().mean().item(),
        }

    if progress:
        size = sum(p.numel() for p in network.parameters())
        print(f"  vocabulary: {len(vocab):,} entries; {size:,} weights; device: {device}; up to {ncfg.epochs} epochs")
    result = training.fit(
        network,
        optimizer,
        loader,
        loss_fn,
        validate,
        epochs=ncfg.epochs,
        monitor="val_loss",
        mode="min",
        patience=ncfg.patience,
        device=device,
        checkpoint=checkpoint,  # every epoch's state, for --resume
        progress=progress,
        on_epoch=on_epoch,  # may raise (a pruned trial) to stop training
    )
    network.load_state_dict(result.best_state)  # the best epoch's weights, not the last epoch's
    return NeuralClassifier(network, vocab), result.history


def main(argv: list[str] | None = None) -> int:
    args = train_parser(__doc__, resumable=True).parse_args(argv)
    cfg = load_config(Config, args, DRY_RUN_OVERRIDES)  # defaults, dry run, --data, --set (which wins)
    seed_everything(cfg.seed)

    # 1. Data: the same seed always gives the same split, so evaluate.py finds the same test set.
    corpus = data.load(cfg)
    if args.dry_run:
        corpus.splits["train"] = dry_run_subset(corpus.splits["train"], cfg.seed)
    train, val, test = corpus.splits["train"], corpus.splits["val"], corpus.splits["test"]

    print(f"***** Training {PROJECT} *****")
    print(f"  sentences: {len(train)} train, {len(val)} validation, {len(test)} held out for the test")
    print(f"  positive: {corpus.sentences[data.LABEL].mean():.0%}; model: {cfg.model.kind}; seed {cfg.seed}")
    if min(len(val), len(test)) < 50 and not args.dry_run:
        print(
            f"warning: only {len(val)} validation and {len(test)} test texts: every metric will be very noisy. "
            "A few hundred of each is a minimum for numbers you can trust."
        )

    # 2. Build the model and fit it on the training sentences; a network saves a checkpoint after every epoch.
    checkpoint = None
    if cfg.model.kind in NETWORK_KINDS:
        checkpoint = Checkpoint.for_run(PROJECT, cfg, dry_run=args.dry_run)
        checkpoint.start(resume=args.resume)
    elif args.resume:
        print(f"--resume: model.kind={cfg.model.kind} fits in one call, with no epochs to resume; fitting it again.")
    classifier, history = fit(cfg, corpus, checkpoint=checkpoint)

    # 3. Measure on the validation sentences (the test sentences wait for evaluate.py).
    y_val, p_val = val[data.LABEL].to_numpy(), probability(classifier, val[data.TEXT].tolist())
    metrics = prefixed(binary_metrics(y_val, p_val), "val")
    majority = max(np.mean(y_val), 1 - np.mean(y_val))

    # 4. Save the run: config, environment and checksums come with it; it appears under runs/ only once complete.
    with runs.create(PROJECT, cfg, data_files=corpus.files, dry_run=args.dry_run) as run:
        model.save(run.dir, classifier, cfg, metrics)
        # what serving (the training words) and drift monitoring (validation texts and answers) compare with
        runs.write_json(run.dir / "reference.json", data.reference(train, val, p_val))
        if history:
            runs.write_json(run.dir / "history.json", {"epochs": history})
        run.save_metrics(metrics)
    if checkpoint is not None:
        checkpoint.finish()  # the run is saved: nothing left to resume

    print(f"\nRun saved to {run.path}")
    print(
        f"Validation accuracy {shown(metrics['val_accuracy'])} (always the majority class: {majority:.3f}), "
        f"ROC AUC {shown(metrics['val_roc_auc'])}, macro F1 {shown(metrics['val_macro_f1'])}."
    )
    print(f"Next: make evaluate PROJECT={PROJECT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_script(main))
