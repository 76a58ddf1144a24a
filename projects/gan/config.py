"""Every knob of the GAN project, with the reason for each default.

Change a value for one run from the command line, e.g.
    $ python -m projects.gan.train --set data.source=mnist --set train.epochs=4
    $ python -m projects.gan.train --set model.loss=wgan-gp --set train.critic_steps=5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mlstarter.config import ConfigError


@dataclass
class DataConfig:
    # digits: 1,797 real 8x8 handwritten digits that ship inside scikit-learn, so the project runs offline;
    # mnist: 70,000 28x28 digits, downloaded once (11 MB, MD5-checked) into datasets/mnist/
    source: Literal["digits", "mnist"] = "digits"
    path: str = ""  # your own .npz in the MedMNIST layout (--data), e.g. chest X-rays; it replaces `source`


@dataclass
class ModelConfig:
    # conditional: the generator is told which class to draw (and the discriminator which class it judges),
    # so you can ask for a 7; unconditional: it draws whatever it likes. On the digits conditional also draws
    # better: a lower Fréchet distance and a higher precision (README.md, Results)
    conditional: bool = True
    latent_dim: int = 64  # the length of the noise vector z; DCGAN used 100 for 64x64 images, ours are smaller
    # channels at the smallest resolution (4x4 for 8x8 images, 7x7 for 28x28), halved each time the side doubles:
    # 8x8: 128 -> 64, 28x28: 128 -> 64 -> 32. On the digits, 128 gave a lower Fréchet distance than 64 over
    # three seeds; doubling it roughly triples the time of an epoch
    channels: int = 128
    # nonsaturating: the DCGAN loss, G maximises log D(G(z)); wgan-gp: the Wasserstein loss with a gradient
    # penalty (Gulrajani et al. 2017), try it with train.critic_steps=5, train.beta1=0, train.beta2=0.9
    loss: Literal["nonsaturating", "wgan-gp"] = "nonsaturating"
    # spectral norm (Miyato et al. 2018) caps how fast the discriminator's output can change, another way to keep
    # the game stable; it replaces the discriminator's batch norm
    spectral_norm: bool = False

    def validate(self) -> None:
        if self.latent_dim < 1 or self.channels < 1:
            raise ConfigError(
                f"model.latent_dim and model.channels must be at least 1; got {self.latent_dim}, {self.channels}"
            )


@dataclass
class TrainConfig:
    # passes over the training images. On the digits (19 updates an epoch), in the runs we measured, the best
    # validation epoch came before the 30th and 60 epochs never beat the first 30. MNIST makes 859: try 4 or 5
    epochs: int = 30
    batch_size: int = 64  # the DCGAN paper's 128 would halve the updates per epoch on only 1,257 training digits
    # Adam with the DCGAN settings (Radford et al. 2016): lr 2e-4 and beta1 0.5, a short memory of past gradients,
    # because the target each network chases moves with the other network
    learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    # one-sided label smoothing (Salimans et al. 2016): real images count as 0.9 real, not 1, so the discriminator
    # never becomes so sure that its gradients for the generator vanish; 0 turns it off
    label_smoothing: float = 0.1
    critic_steps: int = 1  # discriminator updates per generator update: 1 for the DCGAN loss, 5 for WGAN-GP
    gp_weight: float = 10.0  # lambda of the gradient penalty (wgan-gp only); the paper's value
    sample_every: int = 5  # save a grid of samples from the same fixed noise every this many epochs
    device: str = "auto"  # auto = CUDA, else MPS, else CPU; or cpu, cuda, mps

    def validate(self) -> None:
        for key in ("epochs", "batch_size", "critic_steps", "sample_every"):
            if getattr(self, key) < 1:
                raise ConfigError(f"train.{key} must be at least 1; got {getattr(self, key)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"train.learning_rate must be above 0; got {self.learning_rate}")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError(f"train.beta1 and train.beta2 must be in [0, 1); got {self.beta1}, {self.beta2}")
        if not 0 <= self.label_smoothing < 0.5:
            raise ConfigError(f"train.label_smoothing must be in [0, 0.5); got {self.label_smoothing}")
        if self.gp_weight < 0:
            raise ConfigError(f"train.gp_weight must be at least 0; got {self.gp_weight}")


@dataclass
class JudgeConfig:
    # The small classifier whose features the Fréchet distance compares ("the judge"), trained on the same real
    # training images before the GAN. Inception-v3, behind the usual FID, was trained on 299x299 colour photos.
    features: int = 32  # the width of its last hidden layer: the feature vector the distance compares
    epochs: int = 20  # an upper bound: it stops when validation accuracy stops improving
    patience: int = 4  # epochs without a better validation accuracy before it stops
    learning_rate: float = 2e-3  # Adam; a small network on small images learns fast

    def validate(self) -> None:
        for key in ("features", "epochs", "patience"):
            if getattr(self, key) < 1:
                raise ConfigError(f"judge.{key} must be at least 1; got {getattr(self, key)}")
        if self.learning_rate <= 0:
            raise ConfigError(f"judge.learning_rate must be above 0; got {self.learning_rate}")


@dataclass
class Config:
    seed: int = 42  # fixes the noise, the initial weights, the batches and the judge (the split has its own seed)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)

    def validate(self) -> None:
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"seed must be between 0 and 2**32 - 1; got {self.seed}")
