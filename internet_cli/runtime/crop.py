"""Person-centred square crops (``--crop auto``): find the person with MediaPipe Pose, frame them.

The rule (docs/cropping.md):

1. **Pose.** MediaPipe's legacy pose model (``model_complexity=1``, the only one that runs
   offline) gives 33 landmarks with a visibility in [0, 1]. Photos use its static mode, videos
   its tracking mode. Frames are shrunk to at most :data:`POSE_MAX_SIDE` pixels for the
   detector only; landmarks are returned in the original pixel coordinates.
2. **Body box.** Landmarks weigh in by visibility: each one is pulled towards the visibility-
   weighted centre by ``w = clip((v - 0.2) / 0.4, 0, 1)`` (full weight from 0.6, none under
   0.2), so a limb whose visibility flickers moves the box smoothly instead of snapping it.
   The box of those points is extended up by :data:`HEAD_UP` head heights (the top landmarks
   are the eyes and ears, not the top of the head), made square on its longer side and padded by
   :data:`PAD` of that side on every side (room for the hair and the soles).
3. **Crop.** The square may leave the frame: what lies outside is filled as
   :func:`internet_cli.video.image.to_square` fills (``pad_soft``); then it is resized to the
   model size with the same interpolation rule. A photo's square is first moved inside any image
   edge that cuts the person (:func:`inside_cut_edges`: no fill below a half-body photo).
4. **Video.** Crop centre and side are smoothed with a one-euro filter (little lag when the
   person moves fast, strong smoothing when they stand still) and every frame-to-frame change is
   bounded (:data:`MAX_SHIFT` of the side for the centre, :data:`MAX_ZOOM` for the side; a person
   moving faster than that is kept within :data:`KEEP` of the side from the crop centre, moving up
   to :data:`MAX_CATCHUP` of the side per frame). A frame
   without a person keeps the last crop. Frames before the first detection take the first
   detection's crop (up to :data:`LOOKAHEAD` frames, at most :data:`LOOKAHEAD_BYTES`, are held back).

``import mediapipe`` takes about a second: it happens only when a :class:`PoseEstimator` is made.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from internet_cli.pose.estimator import POSE_MAX_SIDE, PoseEstimator  # noqa: F401 - re-exported
from internet_cli.pose.skeleton import (L_EAR, L_ELBOW, L_HIP, L_SHOULDER, NOSE, NUM_LANDMARKS, R_EAR, R_HIP,
                                        R_SHOULDER, R_THUMB, VISIBLE)
from internet_cli.pose.smoothing import OneEuro

BOX_LANDMARKS = [i for i in range(NUM_LANDMARKS) if not L_ELBOW <= i <= R_THUMB]
"""The landmarks a driving video's person box is built from: all but the elbows, wrists and hands."""

MIN_VISIBLE = 4
"""Fewer landmarks visible (``VISIBLE``) than this: no person."""

HEAD_UP = 0.5
"""The box top is raised by this many head heights above the highest landmark."""

PAD = 0.15
"""Padding on every side, as a fraction of the square's side before padding."""

MIN_SIDE_FRACTION = 0.1
"""The crop is never smaller than this fraction of the frame's longer side."""

MAX_SHIFT = 0.04
"""Largest move of the crop centre from one frame to the next, as a fraction of the side."""

MAX_ZOOM = 0.03
"""Largest relative change of the crop side from one frame to the next."""

KEEP = 0.2
"""Catch-up: when the detected centre lies more than this fraction of the side away from the crop
centre (a fast move), the crop moves faster than :data:`MAX_SHIFT` to keep it that close..."""

MAX_CATCHUP = 0.12
"""... but never more than this fraction of the side in one frame (the hard bound)."""

LOOKAHEAD = 90
"""Frames held back while waiting for the first detection in a video..."""

LOOKAHEAD_BYTES = 256 * 1024 * 1024
"""... and never more than this many bytes of them (10 frames of 4K video)."""

# --------------------------------------------------------------------------- boxes


@dataclass(frozen=True)
class Box:
    """A square crop: centre ``(cx, cy)`` and ``side``, in pixels of the full frame."""

    cx: float
    cy: float
    side: float

    @property
    def x0(self) -> float:
        return self.cx - self.side / 2

    @property
    def y0(self) -> float:
        return self.cy - self.side / 2

    def to_crop(self, points: np.ndarray, size: int) -> np.ndarray:
        """Frame pixel coordinates ``(..., 2+)`` -> pixels of the ``size`` crop (extra columns kept)."""
        out = np.array(points, np.float32, copy=True)
        f = size / self.side
        out[..., 0] = (out[..., 0] - self.x0) * f
        out[..., 1] = (out[..., 1] - self.y0) * f
        return out


def whole_frame_box(shape: tuple[int, ...]) -> Box:
    """The box ``to_square`` uses: the whole frame, padded to a square."""
    h, w = shape[:2]
    side = max(h, w)
    # to_square pads (side - w) // 2 on the left and (side - h) // 2 on top: its square starts there.
    return Box(side / 2 - (side - w) // 2, side / 2 - (side - h) // 2, float(side))


def _weights(vis: np.ndarray) -> np.ndarray:
    return np.clip((vis - 0.2) / 0.4, 0.0, 1.0)


def head_size(lm: np.ndarray) -> float | None:
    """Head height in pixels from the landmarks (nose to shoulder line, else ear distance)."""
    vis = lm[:, 2]
    if min(vis[NOSE], vis[L_SHOULDER], vis[R_SHOULDER]) >= VISIBLE:
        mid = (lm[L_SHOULDER, :2] + lm[R_SHOULDER, :2]) / 2
        d = float(np.linalg.norm(lm[NOSE, :2] - mid))
        if d > 1e-3:
            return d
    if min(vis[L_EAR], vis[R_EAR]) >= VISIBLE:
        d = float(np.linalg.norm(lm[L_EAR, :2] - lm[R_EAR, :2]))
        if d > 1e-3:
            return 1.6 * d
    return None


def person_box(lm: np.ndarray | None, shape: tuple[int, ...], arms: bool = True) -> Box | None:
    """The square crop around the person of landmarks ``lm`` (``(33, 3)`` pixels) in a frame of ``shape``.

    ``arms=False`` (driving videos): the box is the head's, the torso's and the legs', so an arm
    stretched out does not move the crop under the body (the square and its padding leave room
    for the arms). A photo keeps its arms in the box, so that none is cut off."""
    if lm is None or int((lm[:, 2] >= VISIBLE).sum()) < MIN_VISIBLE:
        return None
    body = lm if arms else lm[BOX_LANDMARKS]
    pts = body[:, :2].astype(np.float64)
    # Landmarks inside the frame are trusted whatever their visibility: in tracking mode the legs
    # of a full-body dancer start with low visibility and would otherwise crop the first frames
    # at the waist. Outside the frame (a person cut by the edge), visibility decides.
    h, w_img = shape[:2]
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < w_img) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
    w = np.maximum(_weights(body[:, 2]), inside.astype(np.float64))
    centre = (pts * w[:, None]).sum(0) / w.sum()
    pulled = centre + w[:, None] * (pts - centre)
    x0, y0 = pulled.min(0)
    x1, y1 = pulled.max(0)
    head = head_size(lm)
    if head is None:
        head = 0.12 * max(y1 - y0, x1 - x0)
    y0 -= HEAD_UP * head
    side = max(x1 - x0, y1 - y0, head) * (1 + 2 * PAD)
    side = max(side, MIN_SIDE_FRACTION * max(shape[:2]), 8.0)
    return Box(float((x0 + x1) / 2), float((y0 + y1) / 2), float(side))


def inside_cut_edges(box: Box, lm: np.ndarray, shape: tuple[int, ...]) -> Box:
    """``box`` moved so that it does not reach past an image edge that cuts the person.

    An edge cuts the person when some of their landmarks (MediaPipe places the ones it cannot
    see, too) lie beyond it: the legs below a half-body photo. Padding past that edge would be
    fill where the body goes on, and the pose detector then finds legs in the fill, which the
    model would move. The square keeps its side; it gives way on the other side instead."""
    h, w = shape[:2]
    x, y = lm[:, 0], lm[:, 1]
    cx, cy, half = box.cx, box.cy, box.side / 2
    if (y >= h).any() and cy + half > h:
        cy = h - half
    elif (y < 0).any() and cy - half < 0:
        cy = half
    if (x >= w).any() and cx + half > w:
        cx = w - half
    elif (x < 0).any() and cx - half < 0:
        cx = half
    return Box(float(cx), float(cy), box.side)


def crop_square(img: np.ndarray, box: Box, size: int) -> np.ndarray:
    """Cut ``box`` out of ``img`` (:func:`pad_soft` outside the frame) and resize to ``size``."""
    import cv2

    from internet_cli.video.image import pad_soft

    h, w = img.shape[:2]
    side = max(1, int(round(box.side)))
    x0 = int(round(box.cx - side / 2))
    y0 = int(round(box.cy - side / 2))
    # Keep at least one frame pixel inside the crop.
    x0 = min(max(x0, 1 - side), w - 1)
    y0 = min(max(y0, 1 - side), h - 1)
    x1, y1 = x0 + side, y0 + side
    part = img[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
    pads = (max(0, -y0), max(0, y1 - h), max(0, -x0), max(0, x1 - w))
    if any(pads):
        part = pad_soft(part, *pads)
    if side != size:
        interp = cv2.INTER_AREA if side > size else cv2.INTER_CUBIC
        part = cv2.resize(np.ascontiguousarray(part), (size, size), interpolation=interp)
    return np.ascontiguousarray(np.clip(part, 0, 255).astype(np.uint8, copy=False))


# --------------------------------------------------------------------------- smoothing


class BoxSmoother:
    """Smooth a sequence of boxes: one-euro filter on centre and side, bounded per-frame change.

    ``update(box)`` takes the raw box of the next frame (None: no person, the last box stays).
    """

    def __init__(self, fps: float = 25.0, min_cutoff: float = 0.3, beta: float = 2.0,
                 max_shift: float = MAX_SHIFT, max_zoom: float = MAX_ZOOM):
        self.dt = 1.0 / fps if fps and fps > 0 else 1.0 / 25.0
        self.max_shift, self.max_zoom = max_shift, max_zoom
        self._f = [OneEuro(min_cutoff, beta) for _ in range(3)]
        self.box: Box | None = None

    def _follow(self, prev: float, filtered: float, raw: float, side: float) -> float:
        """One coordinate of the centre: the filtered move, bounded, with the catch-up rule."""
        step = self.max_shift * side
        new = prev + float(np.clip(filtered - prev, -step, step))
        excess = abs(raw - new) - KEEP * side
        if excess > 0:
            room = max(0.0, MAX_CATCHUP * side - abs(new - prev))
            new += math.copysign(min(excess, room), raw - new)
        return new

    def reset(self, box: Box) -> None:
        self.box = box
        for f, v in zip(self._f, (box.cx, box.cy, box.side)):
            f.x, f.dx = v, 0.0

    def update(self, raw: Box | None) -> Box | None:
        if raw is None:
            return self.box
        if self.box is None:
            self.reset(raw)
            return self.box
        prev = self.box
        scale = prev.side
        cx = self._f[0](raw.cx, self.dt, scale)
        cy = self._f[1](raw.cy, self.dt, scale)
        side = self._f[2](raw.side, self.dt, scale)
        cx = self._follow(prev.cx, cx, raw.cx, prev.side)
        cy = self._follow(prev.cy, cy, raw.cy, prev.side)
        side = float(np.clip(side, prev.side * (1 - self.max_zoom), prev.side * (1 + self.max_zoom)))
        if raw.side > side * (1 + 2 * KEEP):  # the person outgrows the crop: zoom out faster
            side = min(raw.side / (1 + 2 * KEEP), prev.side * (1 + 3 * self.max_zoom))
        # The filters continue from the bounded values, so a clamp does not build up a backlog.
        self._f[0].x, self._f[1].x, self._f[2].x = cx, cy, side
        self.box = Box(cx, cy, side)
        return self.box


# --------------------------------------------------------------------------- photos and videos


@dataclass
class Framed:
    """One framed image: the ``size`` crop, the box it came from and the landmarks in crop pixels."""

    image: np.ndarray
    box: Box
    landmarks: np.ndarray | None  # (33, 3): x, y in crop pixels, visibility; None: no person
    found: bool  # a person was detected in this frame


def frame_photo(img: np.ndarray, size: int, estimator: PoseEstimator | None = None) -> Framed:
    """Crop a photo around its person (static detection); whole frame when there is none."""
    own = estimator is None
    est = PoseEstimator(video=False) if own else estimator
    try:
        lm = est(img)
    finally:
        if own:
            est.close()
    box = person_box(lm, img.shape)
    if box is None:
        from internet_cli.video.image import to_square

        return Framed(to_square(img, size), whole_frame_box(img.shape), None, False)
    box = inside_cut_edges(box, lm, img.shape)
    return Framed(crop_square(img, box, size), box, box.to_crop(lm, size), True)


def track(frames: Iterable, size: int, fps: float = 25.0, lookahead: int = LOOKAHEAD,
          estimator: PoseEstimator | None = None) -> Iterator[tuple[object, Framed]]:
    """Frame every image of ``frames`` around the tracked person: yields ``(item, Framed)``.

    ``frames`` yields numpy images or objects with an ``.image`` (a reader ``Frame``); the item is
    passed through. Frames before the first detection wait (at most ``lookahead`` of them) for
    it and take its crop; after that, or when no person is ever found, they take the whole frame.
    """
    own = estimator is None
    est = PoseEstimator(video=True) if own else estimator
    smoother = BoxSmoother(fps)
    pending: list[tuple[object, np.ndarray]] = []
    try:
        for item in frames:
            img = item.image if hasattr(item, "image") else item
            if not pending and smoother.box is None:
                lookahead = min(lookahead, max(1, LOOKAHEAD_BYTES // max(1, img.nbytes)))
            lm = est(img)
            raw = person_box(lm, img.shape, arms=False)
            if smoother.box is None:
                if raw is None:
                    pending.append((item, img))
                    if len(pending) > lookahead:
                        smoother.reset(whole_frame_box(img.shape))
                    else:
                        continue
                else:
                    smoother.reset(raw)
                for p_item, p_img in pending:
                    yield p_item, Framed(crop_square(p_img, smoother.box, size), smoother.box, None, False)
                pending.clear()
                if raw is None:
                    continue
                box = smoother.box
            else:
                box = smoother.update(raw)
            landmarks = box.to_crop(lm, size) if raw is not None else None
            yield item, Framed(crop_square(img, box, size), box, landmarks, raw is not None)
        if pending:  # never a person: the whole frame
            for p_item, p_img in pending:
                box = whole_frame_box(p_img.shape)
                yield p_item, Framed(crop_square(p_img, box, size), box, None, False)
    finally:
        if own:
            est.close()


# --------------------------------------------------------------------------- pose comparisons


def body_size(lm: np.ndarray | None, min_vis: float = VISIBLE) -> float | None:
    """Mean of shoulder width and hip distance (those visible), in the landmarks' pixels."""
    if lm is None:
        return None
    sizes = []
    for a, b in ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP)):
        if min(lm[a, 2], lm[b, 2]) >= min_vis:
            d = float(np.linalg.norm(lm[a, :2] - lm[b, :2]))
            if d > 1e-3:
                sizes.append(d)
    return float(np.mean(sizes)) if sizes else None


def pose_scale(source: np.ndarray | None, driving: np.ndarray | None) -> float | None:
    """``--adapt-scale`` from poses: source body size / driving body size over the same parts."""
    if source is None or driving is None:
        return None
    ratios = []
    for a, b in ((L_SHOULDER, R_SHOULDER), (L_HIP, R_HIP)):
        if min(source[a, 2], source[b, 2], driving[a, 2], driving[b, 2]) >= VISIBLE:
            ds = float(np.linalg.norm(source[a, :2] - source[b, :2]))
            dd = float(np.linalg.norm(driving[a, :2] - driving[b, :2]))
            if ds > 1e-3 and dd > 1e-3:
                ratios.append(ds / dd)
    if not ratios:
        return None
    return float(np.clip(np.mean(ratios), 0.25, 4.0))


def normalise_pose(lm: np.ndarray) -> np.ndarray:
    """Landmarks centred on their visibility-weighted mean and divided by their RMS spread."""
    w = _weights(lm[:, 2])
    if w.sum() < 1e-6:
        w = np.ones_like(w)
    pts = lm[:, :2].astype(np.float64)
    c = (pts * w[:, None]).sum(0) / w.sum()
    d = pts - c
    s = math.sqrt(float((w * (d ** 2).sum(1)).sum() / w.sum())) or 1.0
    return d / s


def pose_distance(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """Mean distance between two normalised poses over landmarks visible in both (inf: none)."""
    if a is None or b is None:
        return math.inf
    both = (a[:, 2] >= VISIBLE) & (b[:, 2] >= VISIBLE)
    if int(both.sum()) < MIN_VISIBLE:
        return math.inf
    na = normalise_pose(np.where(both[:, None], a, 0 * a))
    nb = normalise_pose(np.where(both[:, None], b, 0 * b))
    return float(np.linalg.norm(na[both] - nb[both], axis=1).mean())
