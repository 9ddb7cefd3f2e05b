"""Model configuration and presets.

The ``ModelConfig`` is saved inside every weights file (``checkpoint.py``), so a weights file
alone rebuilds its model. Field names follow the paper (section 3.3).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


ANCHOR_SOURCES = ("learned", "pose")
HIDDEN_FILLS = ("background", "body")  # motion.hidden_fill
SEGMENTERS = ("selfie", "pose")  # motion.segmenter: internet_cli/pose/estimator.PersonSegmenter
IMAGE_WARPS = ("field", "parts")  # motion.image_warp
PASS_THROUGH = ("ungated", "gated", "none")
SCALES = ("multi", "single")  # generator.scales: the paper's multi-scale generator, or its SS4x ablation
TEMPORAL_MODES = ("plain", "extrinsic", "intrinsic", "none")  # internet_cli/losses/temporal.py
POSE_PARTS = 10  # internet_cli/pose/skeleton.py PARTS
POSE_PART_PRIOR = 8.0  # motion.part_prior of new pose-mode models (internet_cli/motion/part_shapes.py)
POSE_MASK_OPTIONS = {"limb_core": 0.7, "capsule_join": 0.0, "hidden_fill": "body", "segmenter": "pose"}
"""The person-mask settings of new pose-mode models (internet_cli/motion/dense.py, docs/model.md);
the dataclass defaults are those of files saved before each setting existed."""
_MASK_OFF = {"limb_core": 0.0, "hidden_fill": "background"}  # what needs the person mask


@dataclass(frozen=True)
class MotionConfig:
    """Stage I: anchors, local affines, composition weights and intrinsic confidence map."""

    num_anchors: int = 10  # n in eq. 5
    base_size: int = 128  # resolution of the base motion field F^0 and confidence M^0
    block_expansion: int = 32  # U-Net width at full base resolution
    max_features: int = 512
    num_blocks: int = 5  # U-Net depth (128 -> 4)
    temperature: float = 0.1  # soft-argmax heatmap temperature
    gaussian_variance: float = 0.01  # width of the anchor heatmaps fed to the dense motion net
    scale_factor_detector: float = 1.0  # anchor detector input = base_size * this
    # Where the anchors K_i and affines come from: "learned" (the paper's detector network) or
    # "pose" (10 body parts from MediaPipe landmarks, internet_cli/pose/parts.py; no detector).
    anchors: str = "learned"
    # Pose mode only: > 0 feeds the dense motion network the body parts' shapes in place of the
    # Gaussians, and adds this weight times their log-prior to the composition logits
    # (internet_cli/motion/part_shapes.py). 0 is the paper's Gaussian heatmaps.
    part_prior: float = 0.0
    # Pose mode with the part prior only: the source's person mask (internet_cli/pose/person.py),
    # owned by the parts by nearness (the nearest-part rule), and a background plate where a limb
    # has left (docs/model.md).
    person_mask: bool = False
    # With the part prior: the network's composition logits are bounded to +-this (c tanh(l / c),
    # internet_cli/motion/dense.py); 0 leaves the composition weights to the prior alone.
    residual_bound: float = 3.0
    # With the person mask: > 0 gives the limbs' cores (this many limb radii round the bone) to the
    # limb drawn in front, ahead of the nearest-part rule, so a forearm lying over the torso is
    # the forearm's (internet_cli/motion/dense.py); 0 is the nearest-part rule alone.
    limb_core: float = 0.0
    # With the person mask: the parts' shapes join the segmentation out to this many limb radii
    # round the bone (the segmentation often misses a thin arm); 0 is the segmentation alone.
    capsule_join: float = 1.0
    # With the person mask: what shows where a part has left and the background would show the
    # source's person: "background", the background plate (every file before 2026-12-03), or "body": inside
    # the torso and the head their own plates, moved with them (a forearm that leaves the chest
    # uncovers the chest, a camera lowered from the face the face; internet_cli/model.py).
    hidden_fill: str = "background"
    # With the person mask: the segmentation it starts from, "selfie" (MediaPipe's selfie model,
    # every file before 2026-12-03) or "pose" (the pose model's own; internet_cli/pose/person.py).
    segmenter: str = "selfie"
    # How the decoder's pass-through image is warped: "field", by the composed field F^0 = sum_k w_k T_k
    # (the paper's; every file before 2026-12-07), or with the part prior "parts", by the transforms of
    # each pixel's two largest weights alone, the two warped images cross-faded. Where two parts meet,
    # F^0 points midway between their source pixels and draws a streak of whatever lies there; "parts"
    # takes the two parts' own pixels instead (internet_cli/motion/geometry.blend_warps).
    image_warp: str = "field"

    def __post_init__(self) -> None:
        if self.anchors not in ANCHOR_SOURCES:
            raise ValueError(f"motion.anchors must be one of {', '.join(ANCHOR_SOURCES)}, got {self.anchors!r}")
        if self.anchors == "pose" and self.num_anchors != POSE_PARTS:
            raise ValueError(f"motion.anchors='pose' has {POSE_PARTS} body parts, got num_anchors={self.num_anchors}")
        if self.part_prior < 0 or (self.part_prior > 0 and self.anchors != "pose"):
            raise ValueError(f"motion.part_prior must be 0, or > 0 with anchors='pose'; got {self.part_prior}")
        if self.person_mask and self.part_prior == 0:
            raise ValueError("motion.person_mask needs pose mode's part prior (motion.part_prior > 0)")
        if self.residual_bound < 0:
            raise ValueError(f"motion.residual_bound must be >= 0, got {self.residual_bound}")
        if self.limb_core < 0 or (self.limb_core > 0 and not self.person_mask):
            raise ValueError(f"motion.limb_core must be 0, or > 0 with motion.person_mask; got {self.limb_core}")
        if self.capsule_join < 0:
            raise ValueError(f"motion.capsule_join must be >= 0, got {self.capsule_join}")
        if self.segmenter not in SEGMENTERS:
            raise ValueError(f"motion.segmenter must be one of {', '.join(SEGMENTERS)}, got {self.segmenter!r}")
        if self.hidden_fill not in HIDDEN_FILLS or (self.hidden_fill != "background" and not self.person_mask):
            raise ValueError(f"motion.hidden_fill must be one of {', '.join(HIDDEN_FILLS)} (not 'background' "
                             f"only with motion.person_mask); got {self.hidden_fill!r}")
        if self.image_warp not in IMAGE_WARPS or (self.image_warp != "field" and self.part_prior == 0):
            raise ValueError(f"motion.image_warp must be one of {', '.join(IMAGE_WARPS)} ('parts' only with "
                             f"motion.part_prior > 0); got {self.image_warp!r}")


@dataclass(frozen=True)
class GeneratorConfig:
    """Stage II: source encoder and multi-scale decoder with deformed skip connections (eq. 6).

    ``channels[i]`` is the width at stage i, from the base resolution (stage 0) up to the output
    (stage ``len(channels)-1``); each stage doubles the resolution.
    """

    channels: tuple[int, ...] = (128, 64, 32)  # at 128, 256, 512 for 512 output
    bottleneck_blocks: int = 2  # residual blocks at the base resolution
    stage_blocks: int = 1  # residual blocks in each higher stage
    # The decoder's pass-through of the source warped by F (docs/model.md): "ungated" blends it by
    # the decoder's alpha alone (weights saved before the choice existed), "gated" by alpha * M, so
    # that M also decides what of the warped source is shown, "none" paints every pixel.
    pass_through: str = "ungated"
    # Pose mode with the part prior: the pass-through weight is at least the limbs' composition
    # weight, so a moved limb shows its own source pixels, warped, and the decoder paints only
    # round it (docs/model.md). False in every file saved before it existed (2026-12-07); True for
    # new pose-mode models and the shipped file.
    limb_pass: bool = False
    # "multi": the paper's multi-scale fusion generator (eq. 6 at every stage); "single": its SS4x
    # ablation, where only the base-resolution warped features feed the decoder, which upsamples
    # without skip connections (the pass-through still warps the source by F^0 upsampled).
    scales: str = "multi"

    def __post_init__(self) -> None:
        if self.pass_through not in PASS_THROUGH:
            raise ValueError(f"generator.pass_through must be one of {', '.join(PASS_THROUGH)}, got {self.pass_through!r}")
        if self.scales not in SCALES:
            raise ValueError(f"generator.scales must be one of {', '.join(SCALES)}, got {self.scales!r}")


@dataclass(frozen=True)
class ModelConfig:
    name: str = "paper-512"
    image_size: int = 512
    motion: MotionConfig = field(default_factory=MotionConfig)
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)

    def __post_init__(self) -> None:
        if self.generator.limb_pass and (self.motion.part_prior == 0 or self.generator.pass_through == "none"):
            raise ValueError("generator.limb_pass needs pose mode's part prior (motion.part_prior > 0) and a pass-through")
        stages = len(self.generator.channels)
        expected = self.motion.base_size * 2 ** (stages - 1)
        if expected != self.image_size:
            raise ValueError(
                f"image_size {self.image_size} must equal base_size {self.motion.base_size} * 2^(stages-1) = {expected}"
            )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ModelConfig":
        motion = MotionConfig(**data.get("motion", {}))
        gen = dict(data.get("generator", {}))
        if "channels" in gen:
            gen["channels"] = tuple(gen["channels"])
        generator = GeneratorConfig(**gen)
        rest = {k: v for k, v in data.items() if k not in ("motion", "generator")}
        return cls(motion=motion, generator=generator, **rest)


PRESETS: dict[str, ModelConfig] = {
    # The paper's design: Stage I at 128 with 10 anchors, a 3-stage generator fed with warped
    # source features at 128, 256 and 512 (section 4.1). Widths are ours (docs/model.md).
    "paper-512": ModelConfig(),
    # The paper's design with a slimmer generator and motion U-Net, so that it trains on a CPU:
    # Stage I at 128 with 10 anchors and the confidence head, three generator stages at 128, 256
    # and 512. The shipped default weights use it (weights/README.md, docs/model.md).
    "lite-512": ModelConfig(
        name="lite-512",
        motion=MotionConfig(block_expansion=16, max_features=256),
        generator=GeneratorConfig(channels=(64, 32, 16)),
    ),
    # Same design at 256 output with a 64 base: for CPU experiments.
    "small-256": ModelConfig(
        name="small-256",
        image_size=256,
        motion=MotionConfig(base_size=64, block_expansion=32, max_features=256, num_blocks=4),
        generator=GeneratorConfig(channels=(96, 48, 24), bottleneck_blocks=2, stage_blocks=1),
    ),
    # Tiny: for tests. Same code paths, a few thousand parameters.
    "tiny": ModelConfig(
        name="tiny",
        image_size=64,
        motion=MotionConfig(num_anchors=4, base_size=16, block_expansion=8, max_features=16, num_blocks=2),
        generator=GeneratorConfig(channels=(16, 8, 4), bottleneck_blocks=1, stage_blocks=1),
    ),
    # Tiny widths at the full 512 output: end-to-end CLI tests of the real output format.
    "tiny-512": ModelConfig(
        name="tiny-512",
        image_size=512,
        motion=MotionConfig(num_anchors=4, base_size=128, block_expansion=4, max_features=16, num_blocks=3),
        generator=GeneratorConfig(channels=(8, 4, 4), bottleneck_blocks=1, stage_blocks=1),
    ),
}


def preset(name: str, anchors: str | None = None) -> ModelConfig:
    """The preset ``name``, with its anchors taken from ``anchors`` when given ("learned" or "pose")."""
    try:
        cfg = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}") from None
    return cfg if anchors is None else with_anchors(cfg, anchors)


def with_options(cfg: ModelConfig, part_prior: float | None = None, pass_through: str | None = None,
                 person_mask: bool | None = None, scales: str | None = None) -> ModelConfig:
    """``cfg`` with ``motion.part_prior``, ``motion.person_mask``, ``generator.pass_through`` and
    ``generator.scales`` where given (none adds layers; without the person mask, no limb cores and no body fill); ValueError
    for a bad value."""
    motion, generator = cfg.motion, cfg.generator
    if part_prior is not None or person_mask is not None:
        prior = motion.part_prior if part_prior is None else part_prior
        mask = motion.person_mask and prior > 0 if person_mask is None else person_mask
        motion = dataclasses.replace(motion, part_prior=prior, person_mask=mask, **({} if mask else _MASK_OFF),
                                     **({} if prior > 0 else {"image_warp": "field"}))
    if pass_through is not None:
        generator = dataclasses.replace(generator, pass_through=pass_through)
    if motion.part_prior == 0 or generator.pass_through == "none":
        generator = dataclasses.replace(generator, limb_pass=False)
    if scales is not None:
        generator = dataclasses.replace(generator, scales=scales)
    return dataclasses.replace(cfg, motion=motion, generator=generator)


def with_anchors(cfg: ModelConfig, anchors: str) -> ModelConfig:
    """``cfg`` with ``motion.anchors`` set (pose mode has the 10 body parts as anchors)."""
    n = POSE_PARTS if anchors == "pose" else cfg.motion.num_anchors
    prior = POSE_PART_PRIOR if anchors == "pose" else 0.0
    motion = dataclasses.replace(cfg.motion, anchors=anchors, num_anchors=n, part_prior=prior,
                                 person_mask=anchors == "pose", image_warp="parts" if anchors == "pose" else "field",
                                 **(POSE_MASK_OPTIONS if anchors == "pose" else _MASK_OFF))
    generator = dataclasses.replace(cfg.generator, pass_through="gated" if anchors == "pose" else "ungated",
                                    limb_pass=anchors == "pose")
    return dataclasses.replace(cfg, motion=motion, generator=generator)


@dataclass(frozen=True)
class LossConfig:
    """Weights of every training term (paper eq. 1, 4, 7-11). A weight of 0 skips the term."""

    perceptual: float = 10.0  # lambda_per, eq. 9 (summed over a 4-level image pyramid)
    style: float = 0.0  # lambda_sty, eq. 10-11
    perceptual_backbone: str = "vgg19"  # vgg19 (the paper's) | efficientnet-lite0 (losses/backbones.py)
    adversarial: float = 1.0  # eq. 8, multi-scale (pix2pixHD)
    feature_matching: float = 10.0
    equivariance_value: float = 10.0  # FOMM's equivariance with random TPS, on anchors
    equivariance_jacobian: float = 10.0  # ... and on their affine transforms
    temporal: float = 10.0  # lambda_reg, eq. 1
    temporal_mode: str = "intrinsic"  # plain (a, eq. 2) | extrinsic (b, eq. 3) | intrinsic (c, eq. 4) | none
    warp: float = 0.0  # not in the paper: L1 of the source warped by Stage I alone (losses/warp.py)
    mirror: float = 0.0  # not in the paper: anchor b learns to mirror anchor a (losses/mirror.py)
    mirror_pairs: tuple[int, ...] = ()  # (a, b, c, d, ...): the (teacher, student) pairs (a, b), (c, d)
    ownership: float = 0.0  # not in the paper: each anchor owns >= a floor at its centre (losses/ownership.py)
    ownership_floor: float = 0.25  # that floor, a composition weight in (0, 1)
    perceptual_scales: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
    discriminator_scales: int = 2  # N_D
    discriminator_channels: int = 64
    discriminator_layers: int = 3
    adversarial_mode: str = "bce"  # bce (the paper's log loss) | lsgan
    tps_sigma_affine: float = 0.05
    tps_sigma_tps: float = 0.005

    def __post_init__(self) -> None:
        if self.temporal_mode not in TEMPORAL_MODES:
            raise ValueError(f"temporal_mode must be one of {', '.join(TEMPORAL_MODES)}, got {self.temporal_mode!r}")
        from internet_cli.losses.backbones import check_backbone

        check_backbone(self.perceptual_backbone)
        if not 0.0 < self.ownership_floor < 1.0:
            raise ValueError(f"ownership_floor must be in (0, 1), got {self.ownership_floor}")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation (paper section 4.1: RAdam, lr 2e-4, x0.1 at epochs 60 and 90 of 100)."""

    epochs: int = 100
    batch_size: int = 2  # per process; the paper's 16 = 8 GPUs x 2
    repeats: int = 50  # samples per video per epoch (FOMM repeats the fashion set)
    lr: float = 2e-4
    lr_decay_at: tuple[float, ...] = (0.6, 0.9)  # fractions of the epochs
    lr_decay: float = 0.1
    grad_clip: float = 10.0
    workers: int = 2
    checkpoint_every: int = 500  # steps
    keep_checkpoints: int = 3
    log_every: int = 10
    sample_every: int = 500
    precision: str | None = None  # autocast: fp32, fp16 or bf16; None = fp16 on CUDA, fp32 on the CPU
    seed: int = 0
    max_steps: int | None = None  # stop early (smoke runs, tests)
    # Training resolution; None = the model's image_size. Lower values train the same network
    # progressively (Stage I always works at base_size; the generator stages run at size/4, /2, /1).
    image_size: int | None = None

    def __post_init__(self) -> None:
        if self.image_size is not None and (self.image_size < 32 or self.image_size % 16):
            raise ValueError(f"training image size must be >= 32 and a multiple of 16, got {self.image_size}")
        if self.precision not in (None, "fp32", "fp16", "bf16"):
            raise ValueError(f"precision must be fp32, fp16 or bf16, got {self.precision!r}")


def dataclass_from_dict(cls, data: dict):
    """Build a flat config dataclass from a dict, turning lists back into tuples."""
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names})
