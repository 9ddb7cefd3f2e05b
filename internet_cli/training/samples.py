"""Sample grids for TensorBoard: source | driving | output | confidence map | anchors | motion regions."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

# Fixed, distinct colours for the anchors (RGB).
_COLOURS = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212]], np.uint8)


def _rgb(x: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [0, 1] -> (H, W, 3) uint8."""
    return (x.detach().float().clamp(0, 1) * 255).round().byte().permute(1, 2, 0).cpu().numpy()


def anchor_colours(n: int) -> np.ndarray:
    """``(n, 3)`` uint8: the colour of each anchor, the same in every panel."""
    return _COLOURS[np.arange(n) % len(_COLOURS)]


def draw_anchors(image: np.ndarray, anchors: np.ndarray, radius: int = 3) -> np.ndarray:
    """Anchors ``(n, 2)`` in normalised coordinates drawn as coloured dots."""
    import cv2

    out = image.copy()
    h, w = out.shape[:2]
    for (x, y), colour in zip(anchors, anchor_colours(len(anchors)).tolist()):
        centre = (int(round((x + 1) / 2 * (w - 1))), int(round((y + 1) / 2 * (h - 1))))
        cv2.circle(out, centre, radius, colour, thickness=-1, lineType=cv2.LINE_AA)
    return out


#: Colour of the still-background transform (index 0 of the composition weights).
BACKGROUND = np.array([64, 64, 64], np.uint8)


def motion_regions(weights: torch.Tensor, size: int) -> np.ndarray:
    """Composition weights ``(n+1, h, w)`` -> ``(size, size, 3)`` uint8: each pixel in the colour of
    the local transform that dominates it (the anchor's dot colour; dark grey for the background),
    as the paper's Fig. 8 draws the motion field. A body part no anchor owns shows up at once."""
    w = F.interpolate(weights[None].detach().float(), size=(size, size), mode="bilinear", align_corners=True)[0]
    n = w.shape[0] - 1
    palette = np.concatenate([BACKGROUND[None], anchor_colours(n)])
    return palette[w.argmax(0).cpu().numpy()]


def sample_grid(batch: dict[str, torch.Tensor], out: dict[str, torch.Tensor], rows: int = 4) -> np.ndarray:
    """One row per sample: source | driving | output | confidence M^0 | driving with anchors |
    motion regions (which anchor's transform moves each pixel)."""
    lines = []
    size = batch["driving"].shape[-1]
    for i in range(min(rows, batch["driving"].shape[0])):
        conf = F.interpolate(out["confidence"][i : i + 1].detach().float(), size=(size, size), mode="bilinear",
                             align_corners=True)[0].expand(3, -1, -1)
        driving = _rgb(batch["driving"][i])
        lines.append(np.concatenate([
            _rgb(batch["source"][i]), driving, _rgb(out["prediction"][i]), _rgb(conf),
            draw_anchors(driving, out["kp_driving"][i].detach().float().cpu().numpy()),
            motion_regions(out["weights"][i], size),
        ], axis=1))
    return np.concatenate(lines, axis=0)
