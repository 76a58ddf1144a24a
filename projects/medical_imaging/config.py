"""Every knob of the medical-imaging project, with the reason for each default.

Change a value for one run from the command line, e.g.
    $ python -m projects.medical_imaging.train --set model.kind=resnet --set train.epochs=10

Each section's `validate()` holds the rules a value's type cannot say (a range, a non-empty
list); they run once, after every override, so train, tune, evaluate and serve refuse the same
bad config with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlstarter import tuning
from mlstarter.config import ConfigError


@dataclass
class DataConfig:
    path: str = ""  # your own .npz in the MedMNIST layout (--data); empty = the official PneumoniaMNIST file


@dataclass
class ModelConfig:
    kind: Literal["cnn", "resnet"] = "cnn"  # cnn: three blocks of two convolutions; resnet: the same with skips
    channels: tuple[int, ...] = (32, 64, 128)  # per block; each block halves the image: 28 -> 14 -> 7 -> 3
    dropout: float = 0.3  # before the last layer: the network must not rely on a few features

    def validate(self) -> None:
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"model.channels needs at least one block, each >= 1 channel; got {self.channels}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model.dropout must be in [0, 1); got {self.dropout}")


@dataclass
class AugmentConfig:
    # Small, anatomically plausible changes: a chest X-ray is never upside down, so no flips.
    rotate_degrees: float = 10.0  # patients are not always straight on the plate
    shift_pixels: float = 2.0  # of 28: the chest is not always centred
    brightness: float = 0.1  # +- this much (images scaled to [0, 1]): exposure differs between machines
    contrast: float = 0.1  # +- 10% contrast

    def validate(self) -> None:
        if min(self.rotate_degrees, self.shift_pixels, self.brightness, self.contrast) < 0:
            raise ConfigError("augment values are amounts of change and must be at least 0")


@dataclass
class TrainConfig:
    epochs: int = 30  # an upper bound, and the length of the cosine learning-rate schedule
    # stop after this many epochs without a better validation ROC AUC. Validation AUC nears 1 within a few
    # epochs and then still creeps up: in the benchmark the best validation epochs were 15 to 30 of 30, so a
    # short patience stops before the cosine schedule has done its work.
    patience: int = 15
    batch_size: int = 64
    learning_rate: float = 3e-3  # AdamW, cosine-annealed to 0 over `epochs`
    weight_decay: float = 1e-4
    # the official training split is 74% pneumonia: pos_weight = n_normal / n_pneumonia in the loss, so that
    # both classes weigh the same in total
    class_weighting: bool = True
    device: str = "auto"  # auto = CUDA, else MPS, else CPU; or cpu, cuda, mps
    amp: bool = True  # mixed precision where the device supports it (CUDA); ignored on the CPU
    deterministic: bool = False  # true: identical results run to run on the same machine, somewhat slower

    def validate(self) -> None:
        for key in ("epochs", "patience", "batch_size"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be at least 1; got {getattr(self, key)}")
        if self.learning_rate <= 0 or self.weight_decay < 0:
            raise ConfigError("train.learning_rate must be above 0 and train.weight_decay at least 0")


@dataclass
class OodConfig:
    # The out-of-distribution check (ood.py): the Mahalanobis distance of an image's features to the training
    # images'. Its threshold is set on the validation images so that this share of real X-rays is flagged:
    # 2% is about 5 of the sample's 270 validation images, enough for a quantile that is not one image's whim,
    # and few enough false alarms that a user still reads the warning.
    flag_rate: float = 0.02
    # whose features: block 1 (the middle one, 64 maps of 14x14) caught every black, white and noise image and
    # nearly every inverted one at that rate; the last block's features (what the head reads) let white and
    # grey squares through, because the network maps them close to pneumonia (README, section 7)
    block: int = 1

    def validate(self) -> None:
        if not 0 < self.flag_rate < 0.5:
            raise ConfigError(f"ood.flag_rate is the share of real images flagged, in (0, 0.5); got {self.flag_rate}")


@dataclass
class GradcamConfig:
    # Which block's maps Grad-CAM weighs (model.grad_cam): 0 is the first, -1 the last. The last block's maps
    # (7x7 with the defaults) carry the class best but are coarse; the first block's (28x28) are fine but
    # barely know the class. Measured with the deletion test (README, section 6): deleting the pixels the last
    # block's map ranks first lowers P(pneumonia) fastest; the finer maps of blocks 0 and 1 do little better
    # than deleting pixels at random, so their detail is not evidence the network uses
    block: int = -1


@dataclass
class Config:
    seed: int = 42  # fixes the initial weights, the batches and the augmentations
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    ood: OodConfig = field(default_factory=OodConfig)
    gradcam: GradcamConfig = field(default_factory=GradcamConfig)

    def validate(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be between 0 and 2**32 - 1; got {self.seed}")
        for key, block in (("ood.block", self.ood.block), ("gradcam.block", self.gradcam.block)):
            if not -len(self.model.channels) <= block < len(self.model.channels):
                raise ConfigError(
                    f"{key} must name one of the {len(self.model.channels)} blocks of model.channels "
                    f"(0 to {len(self.model.channels) - 1}, or -1 for the last); got {block}"
                )


def searchable(cfg: Config) -> dict[str, tuning.Param]:
    """The knobs `make tune` searches, and their ranges (see tune.py).

    The optimiser's settings matter most for a small CNN; the architecture (cnn or resnet) and
    the regularisation (dropout, weight decay, rotation) next. Log scales spread the trials
    evenly over orders of magnitude, where learning rates and weight decay act.
    """
    return {
        "model.kind": tuning.Choice(("cnn", "resnet")),
        "model.dropout": tuning.Float(0.0, 0.5),
        "train.learning_rate": tuning.Float(3e-4, 1e-2, log=True),
        "train.weight_decay": tuning.Float(1e-6, 1e-2, log=True),
        "train.batch_size": tuning.Choice((32, 64, 128)),
        "augment.rotate_degrees": tuning.Float(0.0, 20.0),
    }
