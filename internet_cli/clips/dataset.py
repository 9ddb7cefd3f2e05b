"""Training pairs as in the paper (§3.3 "Training and Inference").

Each sample is one video: the source ``S`` is its first frame, the driving frame ``D_t`` a
random frame at least ``min_offset + 1`` frames in (``t > 60``: 2 s at 30 fps), and ``D_{t-1}``
comes along for the temporal loss, with the optical flow ``t-1 -> t``.

Sampling of ``t`` (``T`` = number of decoded frames, at least 2): uniform in ``[lo, T-1]`` with
``lo = min_offset + 1`` when ``T - 1 >= min_offset + 1`` (the paper's rule), else, for a video
too short for it, ``lo = max(1, (T - 1) // 2)`` (its second half).

Determinism: everything random in ``dataset[i]`` comes from
``np.random.default_rng([seed, epoch, i])``, so a resumed run sees the same samples whatever the
number of workers or ranks. ``set_epoch(epoch)`` sets the epoch; note that DataLoader workers
with ``persistent_workers=True`` keep the epoch they were started with: use non-persistent
workers, or index with ``(epoch, i)`` tuples (``dataset[(epoch, i)]`` ignores ``set_epoch``).

Augmentation, identical for the whole sample (source, driving, previous): a horizontal flip
with probability ``flip`` (the flows are mirrored and their ``dx`` negated), and a colour
jitter of strength ``j``: brightness, contrast (about the source's mean grey) and saturation
factors uniform in ``[1-j, 1+j]``, and a hue rotation (in YIQ) uniform in ``[-j/2, j/2]`` of a
turn. Together they are one affine colour map, applied to each image and clipped to ``[0, 1]``.
Flows are computed on the frames before jitter.

Flow (``DataConfig.flow``):

- ``"dis"``: ``NAME.dis.npz`` (``internet prepare-flow``) when it is up to date (same source
  mtime, same frame count) and was computed at a size ``>= size`` (resized down if larger);
  otherwise OpenCV DIS (``fast`` preset, ~10 ms per sample at 512) on the training frames.
- ``"gt"``: the synthetic ground truth ``NAME.gt.npz`` (``internet synth``), brought onto the
  square training grid once and cached as ``CACHE/{split}/{name}-{size}.gtflow.npy`` (float16,
  memory-mapped; ``4 * S * S`` bytes per frame). ``flow_back`` is NOT available there: it is zeros and ``has_flow_back``
  is False (the ground truth's ``visible`` mask is what marks occlusions for those videos).
- ``"none"``: the sample has no ``flow``/``flow_back``/``has_flow_back`` keys.

Resizing a flow from ``R`` to ``S`` (any flow not already at ``S``): padded to a square like
``to_square`` (edge replicated; pure offsets do not change displacement vectors), resized with
OpenCV (``INTER_AREA`` when shrinking, ``INTER_LINEAR`` when enlarging: the half-pixel grid
that ``to_square`` resizes frames with) and its vectors scaled by ``S / R``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from internet_cli.atomic import atomic_path
from internet_cli.clips import flow as flowmod
from internet_cli.clips.frames import FrameStore
from internet_cli.clips.layout import VideoEntry, scan_split
from internet_cli.errors import InputError

FLOW_MODES = ("dis", "gt", "none")
GT_SUFFIX = ".gt.npz"

# RGB -> YIQ (NTSC), for the hue rotation.
_YIQ = np.array([[0.299, 0.587, 0.114],
                 [0.596, -0.274, -0.322],
                 [0.211, -0.523, 0.312]], dtype=np.float64)
_YIQ_INV = np.linalg.inv(_YIQ)
_GREY = np.array([0.299, 0.587, 0.114], dtype=np.float64)


@dataclass(frozen=True)
class DataConfig:
    """How training samples are drawn. See the module docstring."""

    size: int = 512
    """Side of the square training frames (pixels)."""
    min_offset: int = 60
    """The driving frame index t is > min_offset (paper: 2 s at 30 fps)."""
    flip: float = 0.5
    """Probability of a horizontal flip of the whole sample."""
    jitter: float = 0.1
    """Strength of the brightness/contrast/saturation/hue jitter (0: off; < 1)."""
    flow: str = "dis"
    """``dis`` (cached or on-the-fly OpenCV DIS), ``gt`` (synthetic ground truth) or ``none``."""
    seed: int = 0
    pose: bool = False
    """Add the pose-mode anchors of source and driving (``NAME.pose.npz``, docs/pose.md)."""
    pose_jitter: float = 0.015
    """Detector-like noise on every landmark: Gaussian, this standard deviation in normalised units."""
    pose_drop: float = 0.04
    """Probability that a landmark is reported hidden (visibility 0.1), as a detector misses joints."""
    person_mask: bool = False
    """Add ``source_mask`` ``(1, S, S)``: the source's person mask as inference computes it
    (:mod:`internet_cli.pose.person`, MediaPipe's segmentation; once per video and worker)."""
    segmenter: str = "selfie"
    """Which segmentation the person mask starts from: the model's ``motion.segmenter``."""

    def __post_init__(self) -> None:
        if self.size < 8:
            raise ValueError(f"size must be >= 8, got {self.size}")
        if self.min_offset < 0:
            raise ValueError(f"min_offset must be >= 0, got {self.min_offset}")
        if not 0.0 <= self.flip <= 1.0:
            raise ValueError(f"flip must be a probability in [0, 1], got {self.flip}")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError(f"jitter must be in [0, 1), got {self.jitter}")
        if self.pose_jitter < 0 or not 0.0 <= self.pose_drop <= 1.0:
            raise ValueError(f"pose_jitter must be >= 0 and pose_drop in [0, 1], got {self.pose_jitter}, {self.pose_drop}")
        if self.flow not in FLOW_MODES:
            raise ValueError(f"flow must be one of {FLOW_MODES}, got {self.flow!r}")


def sample_t(num_frames: int, min_offset: int, rng: np.random.Generator) -> int:
    """The driving frame index for a video of ``num_frames`` frames (module docstring rule)."""
    if num_frames < 2:
        raise ValueError(f"need at least 2 frames, got {num_frames}")
    last = num_frames - 1
    lo = min_offset + 1 if last >= min_offset + 1 else max(1, last // 2)
    return int(rng.integers(lo, last + 1))


def square_flow(flow: np.ndarray, size: int) -> np.ndarray:
    """A pixel flow ``(2, H, W)`` on a frame's grid -> ``(2, size, size)`` float32 on the grid of
    ``to_square(frame, size)`` (padding like ``to_square``, vectors scaled by ``size / max(H, W)``)."""
    import cv2

    f = np.asarray(flow, dtype=np.float32).transpose(1, 2, 0)  # (H, W, 2)
    h, w = f.shape[:2]
    side = max(h, w)
    if h != w:
        top, left = (side - h) // 2, (side - w) // 2
        f = cv2.copyMakeBorder(np.ascontiguousarray(f), top, side - h - top, left, side - w - left,
                               cv2.BORDER_REPLICATE)
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
        f = cv2.resize(np.ascontiguousarray(f), (size, size), interpolation=interp) * (size / side)
    return np.ascontiguousarray(f.transpose(2, 0, 1), dtype=np.float32)


def gt_flow_cache(entry: VideoEntry, size: int, num_frames: int,
                  cache_dir: Path | str | None = None) -> np.ndarray:
    """``NAME.gt.npz``'s flow on the square training grid at ``size``: ``(T, 2, S, S)`` float16,
    memory-mapped from ``CACHE/{split}/{name}-{size}.gtflow.npy`` (beside the frame cache; made
    once from the compressed ground truth, rebuilt when the ``.gt.npz`` is newer)."""
    from internet_cli.clips.frames import cache_path
    from internet_cli.clips.prepare_flow import load_npz_array

    src = entry.side_file(GT_SUFFIX)
    path = cache_path(entry, size, cache_dir).with_suffix(".gtflow.npy")
    shape = (num_frames, 2, size, size)
    try:
        if path.stat().st_mtime_ns >= src.stat().st_mtime_ns:
            arr = np.load(path, mmap_mode="r", allow_pickle=False)
            if arr.shape == shape and arr.dtype == np.float16:
                return arr
    except (OSError, ValueError, EOFError):
        pass
    try:
        gt = load_npz_array(src, "flow")
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise InputError(f"{src}: cannot read the ground-truth flow ({exc})") from None
    if gt.ndim != 4 or gt.shape[1] != 2 or gt.shape[0] != num_frames:
        raise InputError(f"{src}: flow of shape {gt.shape} does not fit the video "
                         f"({num_frames} frames; expected (T, 2, H, W))")
    out = np.stack([square_flow(f, size) for f in gt]).astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:  # concurrent builders write identical content; the last rename wins
        with open(tmp, "wb") as fh:
            np.save(fh, out)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def colour_map(rng: np.random.Generator, strength: float, source_grey_mean: float) -> tuple[np.ndarray, np.ndarray]:
    """The jitter as an affine map ``x -> A x + d`` on RGB in [0, 1]: ``(A (3, 3), d (3,))``.

    Draws four numbers from ``rng`` (always, so later draws do not depend on ``strength``)."""
    u = rng.uniform(-1.0, 1.0, size=4)
    j = float(strength)
    b, c, s = 1.0 + j * u[0], 1.0 + j * u[1], 1.0 + j * u[2]
    theta = 2.0 * math.pi * (0.5 * j * u[3])
    rot = np.array([[1, 0, 0],
                    [0, math.cos(theta), -math.sin(theta)],
                    [0, math.sin(theta), math.cos(theta)]])
    hue = _YIQ_INV @ rot @ _YIQ
    sat = s * np.eye(3) + (1.0 - s) * np.outer(np.ones(3), _GREY)
    a = c * b * (hue @ sat)
    # Contrast pulls towards the (brightness-scaled) mean grey; grey is a fixed point of sat and hue.
    d = np.full(3, (1.0 - c) * b * source_grey_mean)
    return a.astype(np.float32), d.astype(np.float32)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


class VideoPairDataset(torch.utils.data.Dataset):
    """``(source, driving, previous, flows)`` samples from ``root/split`` (paper §3.3).

    ``length`` samples per epoch (default: the number of videos); sample ``i`` uses video
    ``i % n``. ``cache_dir``: the frame cache (default ``root/.cache/frames``, see
    :mod:`internet_cli.clips.frames`). ``dataset[i]`` returns a dict:

    - ``source``, ``driving``, ``previous``: ``(3, S, S)`` float32 in [0, 1];
    - ``flow``: ``(2, S, S)`` float32 pixels, frame t-1's grid -> driving frame t;
      ``flow_back``: ``(2, S, S)`` driving grid -> frame t-1; ``has_flow_back``: bool tensor
      (absent with ``flow="none"``). Where ``has_flow_back`` is False (``flow="gt"``),
      ``flow_back`` is zeros and must not be used (pass ``flow_back=None`` to the loss);
    - ``index`` (i), ``video`` (i % n), ``t`` (driving frame index): ints.
    """

    def __init__(self, root: Path | str, split: str = "train", config: DataConfig = DataConfig(),
                 length: int | None = None, cache_dir: Path | str | None = None,
                 entries: list[VideoEntry] | None = None):
        self.root = Path(root).expanduser()
        self.split = split
        self.config = config
        self.cache_dir = cache_dir
        # ``entries``: a list from an earlier ``scan_split(root, split)`` (skips probing again).
        self.entries: list[VideoEntry] = list(entries) if entries else scan_split(self.root, split)
        self.length = len(self.entries) if length is None else int(length)
        if self.length < 1:
            raise ValueError(f"length must be >= 1, got {length}")
        if config.flow == "gt":
            missing = [e.name for e in self.entries if not e.side_file(GT_SUFFIX).is_file()]
            if missing:
                raise InputError(f"{self.root / split}: flow='gt' needs NAME{GT_SUFFIX} beside each "
                                 f"video; missing for {', '.join(missing[:5])}"
                                 f"{' ...' if len(missing) > 5 else ''}")
        self.epoch = 0
        self._reset_caches()

    def _reset_caches(self) -> None:
        self._poses: dict[int, object] = {}
        self._stores: dict[int, FrameStore] = {}
        self._dis: dict[int, object] = {}
        self._gt: dict[int, np.ndarray] = {}
        self._masks: dict[int, np.ndarray] = {}
        self._masker = None
        self._pid = os.getpid()

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.update(_stores={}, _dis={}, _gt={}, _poses={}, _masks={}, _masker=None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._reset_caches()

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    # -- per-video resources, opened lazily in each process --
    def store(self, video: int) -> FrameStore:
        if os.getpid() != self._pid:  # forked after use: do not share maps across processes
            self._reset_caches()
        st = self._stores.get(video)
        if st is None:
            st = self._stores[video] = FrameStore(self.entries[video], self.config.size, self.cache_dir)
        return st

    def _dis_cache(self, video: int, num_frames: int):
        if video not in self._dis:
            from internet_cli.clips.prepare_flow import open_dis_cache

            cache = open_dis_cache(self.entries[video])
            ok = cache is not None and cache.size >= self.config.size and cache.flow.shape[0] == num_frames
            self._dis[video] = cache if ok else None
        return self._dis[video]

    def _gt_flow(self, video: int, num_frames: int) -> np.ndarray:
        """The ground-truth flow ``(T, 2, S, S)`` float16 at the training size (memory-mapped)."""
        gt = self._gt.get(video)
        if gt is None:
            gt = self._gt[video] = gt_flow_cache(self.entries[video], self.config.size, num_frames,
                                                 self.cache_dir)
        return gt

    def _pose(self, video: int):
        if video not in self._poses:
            from internet_cli.pose.files import POSE_SUFFIX, load_pose

            path = self.entries[video].side_file(POSE_SUFFIX)
            if not path.is_file():
                raise InputError(f"{path}: missing; run `internet prepare-pose {self.root}` (or train, which "
                                 "computes it) first")
            self._poses[video] = load_pose(path)
        return self._poses[video]

    def _pose_sample(self, video: int, indices: tuple[int, int], flip: bool, rng: np.random.Generator) -> dict:
        """Pose-mode anchors of source and driving (frames ``indices``), detector-like noise added."""
        from internet_cli.pose.parts import mirror, normalise, part_motion

        track, cfg = self._pose(video), self.config
        square = track.on_square(cfg.size)  # onto the grid of to_square(frame, size)
        out = []
        for i in indices:
            lm = normalise(square[min(i, len(track) - 1)], cfg.size)
            lm[:, :2] += rng.normal(0.0, cfg.pose_jitter, size=(len(lm), 2))
            lm[rng.random(len(lm)) < cfg.pose_drop, 2] = 0.1
            out.append(mirror(lm) if flip else lm)
        motion = part_motion(out[0], out[1])
        return {k: torch.from_numpy(v) for k, v in motion.items() if k != "visible"}

    def _flows(self, video: int, store: FrameStore, t: int) -> dict[str, np.ndarray | bool]:
        s = self.config.size
        if self.config.flow == "gt":
            f = np.asarray(self._gt_flow(video, len(store))[t], np.float32)
            return {"flow": f, "flow_back": np.zeros_like(f), "has_flow_back": False}
        cache = self._dis_cache(video, len(store))
        if cache is not None:
            f, b = cache.flow[t], cache.flow_back[t]
            if cache.size != s:
                f, b = square_flow(f, s), square_flow(b, s)
            return {"flow": np.asarray(f, np.float32), "flow_back": np.asarray(b, np.float32),
                    "has_flow_back": True}
        f, b = flowmod.dis_flow_pair(store[t - 1], store[t])
        return {"flow": f, "flow_back": b, "has_flow_back": True}

    def __getitem__(self, index) -> dict[str, torch.Tensor | int]:
        epoch = self.epoch
        if isinstance(index, tuple):
            epoch, index = index
        index = int(index)
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range ({self.length} samples)")
        cfg = self.config
        rng = np.random.default_rng([cfg.seed, int(epoch), index])
        video = index % len(self.entries)
        store = self.store(video)
        t = sample_t(len(store), cfg.min_offset, rng)
        flip = bool(rng.random() < cfg.flip)
        images = [store[0], store[t], store[t - 1]]  # source, driving, previous: (S, S, 3) uint8
        mask = self._source_mask(video, images[0]) if cfg.person_mask else None
        flows = self._flows(video, store, t) if cfg.flow != "none" else {}

        images = [im.astype(np.float32) / 255.0 for im in images]
        grey_mean = float((images[0] @ _GREY.astype(np.float32)).mean())
        a, d = colour_map(rng, cfg.jitter, grey_mean)
        if cfg.jitter > 0:
            import cv2

            m = np.concatenate([a, d[:, None]], axis=1)  # (3, 4): x -> a x + d per pixel
            images = [np.clip(cv2.transform(im, m), 0.0, 1.0) for im in images]
        if flip:
            images = [im[:, ::-1] for im in images]
            mask = None if mask is None else mask[:, ::-1]
            for key in ("flow", "flow_back"):
                if key in flows:
                    f = flows[key][:, :, ::-1].copy()
                    f[0] = -f[0]
                    flows[key] = f

        sample: dict[str, torch.Tensor | int] = {
            "source": _to_tensor(images[0]),
            "driving": _to_tensor(images[1]),
            "previous": _to_tensor(images[2]),
            "index": index,
            "video": video,
            "t": t,
        }
        for key in ("flow", "flow_back"):
            if key in flows:
                sample[key] = torch.from_numpy(np.ascontiguousarray(flows[key], dtype=np.float32))
        if "has_flow_back" in flows:
            sample["has_flow_back"] = torch.tensor(bool(flows["has_flow_back"]))
        if cfg.pose:
            sample.update(self._pose_sample(video, (0, t), flip, rng))
        if mask is not None:
            sample["source_mask"] = torch.from_numpy(np.ascontiguousarray(mask[None], dtype=np.float32))
        return sample

    def _source_mask(self, video: int, source: np.ndarray) -> np.ndarray:
        """The source frame's person mask ``(S, S)`` (the video's first frame: computed once)."""
        if video not in self._masks:
            if self._masker is None:
                from internet_cli.pose.person import SourceMasker

                self._masker = SourceMasker(self.config.segmenter)
            self._masks[video] = self._masker(source)[0, 0]
        return self._masks[video]
