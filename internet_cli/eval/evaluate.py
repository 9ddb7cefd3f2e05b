"""The paper's self-imitation protocol (section 4.1) on ``DIR/test`` (docs/evaluation.md).

For every test video: the source is frame 0, the driving video is the whole clip (frames
``0 .. T-1``), and each method reconstructs every frame; outputs are compared with the real
frames. The per-frame metrics score the driven frames ``1 .. T-1``: frame 0 is the source itself,
which copy-source returns exactly (a PSNR at the 100 dB cap that would outweigh many real
frames). The temporal metrics use the whole output clip. Methods in one table:

- ``model``: the weights under test (:class:`ModelMethod`), relative motion (FOMM's convention;
  with the source being the first driving frame, relative and absolute motion coincide),
  no adapt-scale;
- ``compare``: another weights file (``--compare``), the same way;
- ``copy-source``: every output is the source frame (the "no motion" floor);
- ``nearest-part`` (``--nearest-part``): the training-free pose baseline
  (:mod:`internet_cli.runtime.nearest_part`), the floor of a pose-anchor model;
- ``real``: the real frames themselves (the ceiling of the temporal metrics: the Interp-PSNR and
  warping error of real video; its per-frame scores are trivially perfect).

Frames are streamed in batches from the frame cache (:class:`~internet_cli.clips.frames.FrameStore`);
per-frame metrics are computed per batch, the temporal ones keep a tail of two frames across
batches, so memory does not grow with the clip length. Per video, each metric is the mean over the
frames (or frame pairs / triples) it is defined on; ``overall`` is the mean over all frames of all
videos (frame-weighted).

Pose-anchor models and the nearest-part baseline take each frame's landmarks from
``NAME.pose.npz`` (``internet synth``'s exact joints; for other videos MediaPipe, computed in
memory when the file is missing), in absolute motion: with the source being the first driving
frame, relative and absolute motion coincide.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from internet_cli.eval import metrics as M
from internet_cli.eval.stage_one import STAGE_ONE_INFO, STAGE_ONE_METRICS, StageOneTruth

REPORT_FORMAT = "internet-eval"
REPORT_VERSION = 2  # 2: frame 0 (the source) is no longer scored by the per-frame metrics
FLOW_PRESET = "medium"
"""DIS preset for the real-video flows (warping error) and the Interp-PSNR interpolation."""

METRICS = ("l1", "psnr", "ssim", "ms_ssim", "interp_psnr", "warp_error")
METRIC_INFO = {
    "l1": {"label": "L1", "better": "lower", "per": "frame",
           "text": "mean |output - real| in [0, 1] over pixels and RGB channels"},
    "psnr": {"label": "PSNR", "better": "higher", "per": "frame",
             "text": f"dB, peak 1, capped at {M.PSNR_CAP:g} dB (identical frames); mean of per-frame PSNR"},
    "ssim": {"label": "SSIM", "better": "higher", "per": "frame",
             "text": "Gaussian 11x11 window, sigma 1.5, per RGB channel, valid region, averaged"},
    "ms_ssim": {"label": "MS-SSIM", "better": "higher", "per": "frame",
                "text": "5 scales, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333); fewer scales (first "
                        "weights renormalised) when the frames are smaller than 176 px"},
    "interp_psnr": {"label": M.INTERP_NAME, "better": "higher", "per": "frame triple",
                    "text": "PSNR of the real frame t against the midpoint of outputs t-1 and t+1 interpolated "
                            "with OpenCV DIS flows (stand-in for the paper's Super SloMo), t = 1..T-2"},
    "warp_error": {"label": "Warp err", "better": "lower", "per": "frame pair",
                   "text": "mean |backwarp(O_t, f_t) - O_{t-1}| in [0, 1] over valid pixels, f_t the real video's "
                           "flow t-1 -> t (ground truth NAME.gt.npz where present, visible pixels only; else DIS on "
                           "the real frames), t = 1..T-1"},
}
UNAVAILABLE = {
    "lpips": "not computed: LPIPS needs pretrained AlexNet/VGG features and LPIPS linear-layer weights, "
             "which are not available offline here (never estimated)",
    "fid": "not computed: FID needs pretrained Inception-v3 (pool3) weights, which are not available "
           "offline here (never estimated)",
    "act_recog_l1": "not computed: Act-Recog-L1 needs a pretrained I3D (Kinetics) action-recognition model, "
                    "which is not available offline here (never estimated)",
}


@dataclass
class EvalOptions:
    split: str = "test"
    max_frames: int | None = None
    """Score at most the first N frames of each video."""
    max_videos: int | None = None
    """Score at most the first N videos (natural name order)."""
    batch_size: int = 4
    relative: bool = True
    include_real: bool = True
    cache_dir: Path | None = None
    """Frame cache folder (default: DIR/.cache/frames, shared with training)."""
    pose: bool = False
    """Also AKD and MKR from MediaPipe Pose landmarks (internet_cli/eval/pose.py)."""


# ---------------------------------------------------------------------------------------------
# methods
def _resize(frames: np.ndarray, size: int) -> np.ndarray:
    """``(B, s, s, 3)`` uint8 -> ``(B, size, size, 3)``: area when shrinking, bicubic otherwise."""
    import cv2

    if frames.shape[1] == size:
        return frames
    interp = cv2.INTER_AREA if frames.shape[1] > size else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (size, size), interpolation=interp) for f in frames])


class Method:
    """A way to reconstruct a clip from its first frame: ``start(source)`` then ``produce(frames)``.
    A method with ``needs_pose`` gets the video's landmarks (``set_pose(track)``) before ``start``."""

    key: str
    label: str
    kind: str
    needs_pose = False

    def __init__(self) -> None:
        self.seconds = 0.0

    def set_pose(self, track) -> None:
        self._track = track

    def start(self, source: np.ndarray) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def produce(self, frames: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def describe(self) -> dict:
        return {"key": self.key, "label": self.label, "kind": self.kind}


class ModelMethod(Method):
    """Self-reconstruction with a weights file. Frames of another size than the model's are
    resized to it, and the outputs back (as the paper did for its 256-px baselines)."""

    kind = "model"

    def __init__(self, key: str, label: str, animator, relative: bool = True, info: dict | None = None):
        super().__init__()
        self.key, self.label, self.animator, self.relative = key, label, animator, relative
        self.info = info or {}
        self._state = self._ref = self._pose = None
        self._size: int | None = None
        self.needs_pose = bool(getattr(animator, "pose_mode", False))
        self.stage_one = getattr(animator, "backend", "") == "torch"  # anchors and M (eval/stage_one.py)
        self.motion: dict | None = None  # the last batch's Stage I outputs

    def start(self, source: np.ndarray) -> None:
        t0 = time.perf_counter()
        self._size = source.shape[0]
        src = _resize(source[None], self.animator.size)[0]
        if self.needs_pose:  # the landmarks of every frame, on the model's grid; absolute motion
            from internet_cli.runtime.pose_motion import DrivingPose

            self._landmarks = self._track.on_square(self.animator.size)
            self._t = 0
            self._pose = DrivingPose(self._landmarks[0], self.animator.size, self._track.fps or 30.0,
                                     mode="absolute", smooth=False)
            self._state = self.animator.encode_source(src, self._pose.source_anchors())
        else:
            self._state = self.animator.encode_source(src)
            # The driving clip starts with the source frame itself.
            self._ref = self.animator.reference(self._state, src, relative=self.relative, adapt_scale=False)
        self.seconds += time.perf_counter() - t0

    def produce(self, frames: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        kw = {"motion": True} if self.stage_one else {}  # (frames, Stage I outputs)
        if self.needs_pose:
            anchors = [self._pose(self._landmarks[t] if self._track.found[t] else None)
                       for t in range(self._t, self._t + len(frames))]
            self._t += len(frames)
            out = self.animator.animate_pose(self._state, np.stack([a[0] for a in anchors]),
                                             np.stack([a[1] for a in anchors]), **kw)
        else:
            out = self.animator.animate(self._state, _resize(frames, self.animator.size), self._ref, **kw)
        if self.stage_one:
            out, self.motion = out
        out = _resize(out, frames.shape[1])
        self.seconds += time.perf_counter() - t0
        return out

    def describe(self) -> dict:
        return {**super().describe(), "size": self.animator.size, "relative": self.relative, **self.info}


class CopySource(Method):
    key, label, kind = "copy-source", "copy source", "baseline"

    def start(self, source: np.ndarray) -> None:
        self._source = source

    def produce(self, frames: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self._source, frames.shape)


class RealFrames(Method):
    key, label, kind = "real", "real video", "reference"

    def start(self, source: np.ndarray) -> None:
        pass

    def produce(self, frames: np.ndarray) -> np.ndarray:
        return frames


# ---------------------------------------------------------------------------------------------
# accumulation
@dataclass
class Scores:
    """Sums and counts per metric (a mean of means stays frame-weighted when merged)."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(METRICS + STAGE_ONE_METRICS, 0.0))
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(METRICS + STAGE_ONE_METRICS, 0))

    def add(self, metric: str, values) -> None:
        v = np.asarray(values, dtype=np.float64).ravel()
        v = v[np.isfinite(v)]
        self.sums[metric] += float(v.sum())
        self.counts[metric] += int(v.size)

    def merge(self, other: Scores) -> None:
        for k in self.sums:
            self.sums[k] += other.sums[k]
            self.counts[k] += other.counts[k]

    def means(self) -> dict:
        out = {k: (self.sums[k] / self.counts[k] if self.counts[k] else None) for k in self.sums}
        out.update({"lpips": None, "fid": None})
        out["frames"] = self.counts["l1"]
        return out


# ---------------------------------------------------------------------------------------------
# real-video flow
class RealFlow:
    """Flows ``t-1 -> t`` of the real frames: ground truth (``NAME.gt.npz``) or DIS."""

    def __init__(self, entry, frames: int, size: int):
        self.source = f"DIS ({FLOW_PRESET}) on the real frames"
        self._flow = self._visible = None
        path = entry.side_file(".gt.npz")
        if not path.exists():
            return
        try:
            with np.load(path, allow_pickle=False) as z:
                flow, visible = z["flow"], z["visible"]
        except (OSError, ValueError, KeyError) as exc:
            self.source += f" (ground truth {path.name} unreadable: {exc})"
            return
        if flow.ndim != 4 or flow.shape[1] != 2 or visible.shape != (flow.shape[0], *flow.shape[2:]):
            self.source += f" (ground truth {path.name} has unexpected shapes)"
            return
        if flow.shape[0] != frames:
            self.source += f" (ground truth has {flow.shape[0]} frames, the video {frames})"
            return
        self._flow, self._visible = flow, visible
        self._size = size
        self.source = "ground truth (visible pixels)"
        if flow.shape[2:] != (size, size):
            self.source += f", resampled from {flow.shape[3]}x{flow.shape[2]}"

    @property
    def ground_truth(self) -> bool:
        return self._flow is not None

    def get(self, t: int, prev: np.ndarray, cur: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """``(flow (2, S, S) float32, visibility mask (S, S) bool or None)`` for the pair ``t-1, t``."""
        if self._flow is None:
            from internet_cli.clips.flow import dis_flow

            return dis_flow(prev, cur, FLOW_PRESET), None
        flow = self._flow[t].astype(np.float32)
        vis = self._visible[t].astype(bool)
        h, w = flow.shape[1:]
        s = self._size
        if (h, w) != (s, s):
            import cv2
            import torch
            import torch.nn.functional as F

            # Pixel centres: 0..h-1 -> 0..s-1 (align_corners=True), so the vectors scale by (s-1)/(h-1).
            f = F.interpolate(torch.from_numpy(flow)[None], size=(s, s), mode="bilinear", align_corners=True)[0]
            f[0] *= (s - 1) / max(w - 1, 1)
            f[1] *= (s - 1) / max(h - 1, 1)
            flow = f.numpy()
            vis = cv2.resize(vis.astype(np.uint8), (s, s), interpolation=cv2.INTER_NEAREST).astype(bool)
        return flow, vis


# ---------------------------------------------------------------------------------------------
# one video
def video_pose(entry):
    """The video's landmarks: ``NAME.pose.npz``, else MediaPipe now (in memory, nothing written)."""
    from internet_cli.clips.prepare_pose import entry_pose, is_up_to_date
    from internet_cli.pose.files import POSE_SUFFIX, load_pose

    if is_up_to_date(entry):
        return load_pose(entry.side_file(POSE_SUFFIX))
    return entry_pose(entry)


@dataclass
class _Batch:
    """Frames ``start .. end-1`` of a video, with the two real frames before them (``ext_reals``)."""

    start: int
    end: int
    reals: np.ndarray
    ext_reals: np.ndarray
    e0: int  # the video's index of ext_reals[0]

    @property
    def first(self) -> int:  # the per-frame metrics skip frame 0, the source
        return 1 if self.start == 0 else 0

    @property
    def scored_reals(self) -> np.ndarray:
        return self.reals[self.first:]

    @property
    def pair_ts(self) -> list[int]:  # frames t scored against t-1 (warping error)
        return list(range(max(self.start, 1), self.end))

    @property
    def mid_ts(self) -> list[int]:  # frames t interpolated from t-1 and t+1 (Interp-PSNR)
        return list(range(max(self.start - 1, 1), self.end - 1))


def _pair_flows(flows: RealFlow, b: _Batch) -> tuple[np.ndarray, np.ndarray] | None:
    """The real video's flows and valid masks for the batch's frame pairs (None when it has none)."""
    pair_flows, pair_masks = [], []
    for t in b.pair_ts:
        f, vis = flows.get(t, b.ext_reals[t - 1 - b.e0], b.ext_reals[t - b.e0])
        pair_flows.append(f)
        pair_masks.append(np.ones(f.shape[1:], bool) if vis is None else vis)
    return (np.stack(pair_flows), np.stack(pair_masks)) if pair_flows else None


def _score_method(m: Method, sc: Scores, b: _Batch, tail: np.ndarray, pairs, pose,
                  truth: StageOneTruth | None = None) -> np.ndarray:
    """One method on one batch: its outputs scored into ``sc``; returns its new two-frame tail."""
    outs = np.ascontiguousarray(m.produce(b.reals))
    if truth is not None and truth.available and getattr(m, "motion", None) is not None:
        truth.score(b.start, m.motion, sc.add)
    if outs.shape != b.reals.shape or outs.dtype != np.uint8:
        raise RuntimeError(f"{m.key}: produced {outs.dtype} {outs.shape}, expected uint8 {b.reals.shape}")
    scored, reals = outs[b.first:], b.scored_reals
    if len(reals):
        if pose is not None:
            pose.method(m.key, scored)
        sc.add("l1", M.l1(scored, reals))
        sc.add("psnr", M.psnr(scored, reals))
        s_val, ms_val = M.ssim_and_ms_ssim(scored, reals)
        sc.add("ssim", s_val)
        sc.add("ms_ssim", ms_val)
    ext = np.concatenate([tail, outs])
    assert b.start - len(tail) == b.e0
    if pairs is not None:
        idx = np.array(b.pair_ts) - b.e0
        sums, counts = M.warping_errors(ext[idx - 1], ext[idx], *pairs)
        with np.errstate(invalid="ignore", divide="ignore"):
            sc.add("warp_error", np.where(counts > 0, sums / np.maximum(counts, 1), np.nan))
    for t in b.mid_ts:
        sc.add("interp_psnr", M.interp_psnr(ext[t - 1 - b.e0], ext[t + 1 - b.e0], b.ext_reals[t - b.e0],
                                            preset=FLOW_PRESET))
    return ext[-2:].copy()


def _start_methods(methods: list[Method], entry, source: np.ndarray) -> None:
    if any(m.needs_pose for m in methods):
        track = video_pose(entry)
        for m in methods:
            m.set_pose(track)
    for m in methods:
        m.start(source)


def evaluate_video(entry, methods: list[Method], size: int, opts: EvalOptions,
                   on_frames: Callable[[int], None] | None = None) -> dict:
    """Score every method on one video; returns the per-video report entry (with ``Scores``
    objects under ``"_scores"`` for the caller to merge)."""
    from internet_cli.clips.frames import FrameStore

    store = FrameStore(entry, size, opts.cache_dir)
    total = len(store)
    count = total if opts.max_frames is None else min(total, opts.max_frames)
    flows = RealFlow(entry, total, size)
    truth = StageOneTruth(entry, total)
    _start_methods(methods, entry, store[0])
    scores = {m.key: Scores() for m in methods}
    pose = None
    if opts.pose:  # AKD / MKR (internet_cli/eval/pose.py)
        from internet_cli.eval.pose import PoseAccumulator

        pose = PoseAccumulator()
    out_tail = {m.key: np.zeros((0, size, size, 3), np.uint8) for m in methods}
    real_tail = np.zeros((0, size, size, 3), np.uint8)
    bs = max(1, int(opts.batch_size))
    for start in range(0, count, bs):
        end = min(start + bs, count)
        reals = np.array(store.frames[start:end])
        b = _Batch(start, end, reals, np.concatenate([real_tail, reals]), start - len(real_tail))
        if pose is not None and len(b.scored_reals):
            pose.real(b.scored_reals)
        pairs = _pair_flows(flows, b)
        for m in methods:
            out_tail[m.key] = _score_method(m, scores[m.key], b, out_tail[m.key], pairs, pose, truth)
        real_tail = b.ext_reals[-2:].copy()
        if on_frames is not None:
            on_frames(end - start)
    return {
        "name": entry.name,
        "path": str(entry.path),
        "frames": count,
        "frames_in_video": total,
        "flow": flows.source,
        "methods": {k: s.means() | (pose.means(k) if pose is not None else {}) for k, s in scores.items()},
        "_scores": scores,
        "_pose": pose,
    }


# ---------------------------------------------------------------------------------------------
# the whole split
def _clean(x):
    """NaN/inf -> None so that the report is strict JSON."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_clean(v) for v in x]
    return x


def evaluate(data: Path, methods: list[Method], size: int, opts: EvalOptions,
             on_video: Callable[[object, int], Callable[[int], None] | None] | None = None) -> dict:
    """Run the protocol on ``data/opts.split`` and return the report (a JSON-ready dict).

    ``on_video(entry, frames)`` is called before each video and may return a per-batch
    ``on_frames(n)`` progress callback.
    """
    from internet_cli.clips.layout import scan_split

    if opts.max_frames is not None and opts.max_frames < 2:
        raise ValueError("max_frames must be at least 2 (frame 0 is the source; scoring starts at frame 1)")
    entries = scan_split(data, opts.split)
    if opts.max_videos is not None:
        entries = entries[: max(0, opts.max_videos)]
    t0 = time.perf_counter()
    overall = {m.key: Scores() for m in methods}
    pose_total = None  # --pose: AKD / MKR totals
    videos = []
    for entry in entries:
        n = entry.num_frames if opts.max_frames is None else min(entry.num_frames, opts.max_frames)
        cb = on_video(entry, n) if on_video is not None else None
        rec = evaluate_video(entry, methods, size, opts, cb)
        for k, s in rec.pop("_scores").items():
            overall[k].merge(s)
        pose = rec.pop("_pose", None)
        if pose is not None:
            pose.close()
            pose_total = pose if pose_total is None else (pose_total.merge(pose) or pose_total)
        videos.append(rec)
    seconds = time.perf_counter() - t0
    report = {
        "format": REPORT_FORMAT,
        "format_version": REPORT_VERSION,
        "protocol": _protocol(data, opts, size),
        "metrics": METRIC_INFO | STAGE_ONE_INFO | (_pose_info() if opts.pose else {}),
        "unavailable": UNAVAILABLE,
        "methods": [m.describe() | {"seconds": round(m.seconds, 3)} for m in methods],
        "overall": {k: s.means() | (pose_total.means(k) if pose_total is not None else {})
                    for k, s in overall.items()},
        "videos": videos,
        "seconds": round(seconds, 3),
    }
    return _clean(report)


def _protocol(data: Path, opts: EvalOptions, size: int) -> dict:
    return {
        "name": "self-imitation (INTERnet section 4.1)",
        "data": str(data),
        "split": opts.split,
        "source": "frame 0 of each video",
        "driving": "the whole clip, frames 0..T-1",
        "scored": "per-frame metrics on frames 1..T-1 (frame 0 is the source); temporal metrics on the "
                  "whole output clip",
        "motion": "relative" if opts.relative else "absolute",
        "adapt_scale": False,
        "size": size,
        "max_frames": opts.max_frames,
        "max_videos": opts.max_videos,
        "ms_ssim_scales": M.ms_ssim_scales(size, size),
        "flow_preset": FLOW_PRESET,
        "averaging": "per video: mean over the frames (pairs, triples) each metric is defined on; "
                     "overall: the same over all frames of all videos (frame-weighted)",
    }


def _pose_info() -> dict:
    from internet_cli.eval.pose import POSE_METRIC_INFO

    return POSE_METRIC_INFO
