"""Stage I, part 2: composition weights, the base motion field F^0 and the intrinsic
confidence map M^0 (paper eq. 4-5, section 3.2-3.3).

Under autocast only the U-Net and its two heads run in reduced precision: the local transforms,
the heatmaps, the softmax and the composed field are float32 (:func:`~internet_cli.motion.geometry.float32`)."""

from __future__ import annotations

import torch
from torch import nn

from internet_cli.config import MotionConfig
from internet_cli.motion.geometry import float32, gaussian_heatmaps, inverse_2x2, make_coordinate_grid, warp
from internet_cli.motion.part_shapes import DRAW_ORDER, LIMBS, part_distances, part_shapes
from internet_cli.motion.unet import UNet
from internet_cli.pose import skeleton as sk

OWNERSHIP_SHARPNESS = 20.0
"""With ``motion.person_mask``: the source's person pixels go to the nearest part by a softmax
over the parts of ``-this * d`` (``d`` in limb radii, :func:`part_distances`): a part 0.1 radius
nearer than the next owns 88% of a pixel, so an arm hanging beside the body stays the arm's."""
CAPSULE_EDGE = 8.0
"""With ``motion.person_mask``: the parts' own shapes join the person mask, softly, as
``sigmoid(this * (j - d))`` (``j = motion.capsule_join``; at 1, 1/2 at a capsule's edge, ``d = 1``)."""
LAYER_EDGE = 16.0
"""With ``motion.limb_core``: a limb's core is ``sigmoid(this * (limb_core - d))`` (``d`` in limb radii)."""
DEPTH_STEP = 0.05
"""With ``motion.person_mask``: where several parts own a driving pixel, the one drawn in front
wins; each step back to front (:data:`~internet_cli.motion.part_shapes.DRAW_ORDER`) raises a
part's log-prior at full ownership by twice this, in units of ``part_prior``."""

_DEPTH = torch.tensor([DRAW_ORDER.index(p.name) for p in sk.PARTS], dtype=torch.float32)
_INDEX = {p.name: k for k, p in enumerate(sk.PARTS)}
FILL_PARTS = (_INDEX["torso"], _INDEX["head"])
"""With ``motion.hidden_fill = "body"``: the parts that fill what a limb uncovers, back to front."""
_LIMB_WEIGHTS = [1 + k for k in LIMBS]  # the limbs' channels of the composition weights (background first)
FILL_REACH = 1.0
"""With ``motion.hidden_fill = "body"``: how far a fill part's region reaches past its outline, in limb radii."""


@float32
def local_transforms(kp_s, jac_s, kp_d, jac_d, height: int, width: int) -> torch.Tensor:
    """Sampling grids of the background plus every local affine ``(B, n+1, H, W, 2)``.

    ``T_k(z) = K^s_k + J^s_k (J^d_k)^-1 (z - K^d_k)`` maps driving coordinates to source
    coordinates, so ``T_k(K^d_k) = K^s_k`` (eq. 5's constraint). Index 0 is the identity.
    """
    b, n, _ = kp_s.shape
    grid = make_coordinate_grid(height, width, dtype=kp_s.dtype, device=kp_s.device)  # (H, W, 2)
    jac = jac_s @ inverse_2x2(jac_d)  # (B, n, 2, 2)
    z = grid.view(1, 1, height, width, 2) - kp_d.view(b, n, 1, 1, 2)
    t = torch.einsum("bnij,bnhwj->bnhwi", jac, z) + kp_s.view(b, n, 1, 1, 2)
    identity = grid.view(1, 1, height, width, 2).expand(b, 1, height, width, 2)
    return torch.cat([identity, t], dim=1)


class DenseMotion(nn.Module):
    """Anchors of source and driving -> ``F^0`` ``(B, h, w, 2)``, ``M^0`` ``(B, 1, h, w)`` and the
    composition weights ``(B, n+1, h, w)`` (softmax over the anchors plus the background)."""

    def __init__(self, cfg: MotionConfig):
        super().__init__()
        self.size = cfg.base_size
        self.variance = cfg.gaussian_variance
        self.part_prior = cfg.part_prior  # pose mode: body-part shapes steer the weights (part_shapes.py)
        self.person_mask = cfg.person_mask  # source_small's 4th channel: the parts take only the person
        self.residual_bound = cfg.residual_bound  # with the part prior: the network's logits within +-this
        n1 = cfg.num_anchors + 1
        self.unet = UNet(4 * n1, cfg.block_expansion, cfg.num_blocks, cfg.max_features)
        self.weights = nn.Conv2d(self.unet.out_channels, n1, 3, padding=1)
        with torch.no_grad():  # start near the identity motion: the background term dominates
            self.weights.bias.zero_()  # (with the part prior, the prior's background term does that)
            self.weights.bias[0] = 0.0 if self.part_prior > 0 else 4.0
        # The intrinsic confidence head: one extra layer on the last feature map (section 3.2).
        self.confidence = nn.Conv2d(self.unet.out_channels, 1, 3, padding=1)

    def forward(self, source_small, kp_s, jac_s, kp_d, jac_d) -> dict[str, torch.Tensor]:
        """``source_small`` ``(B, 3, h, w)``, or with ``motion.person_mask`` ``(B, 4 + n, h, w)``:
        the source, its person and each part's share of it (:func:`source_ownership`, once per source)."""
        b, _, h, w = source_small.shape
        n1 = kp_s.shape[1] + 1
        transforms = local_transforms(kp_s, jac_s, kp_d, jac_d, h, w)  # (B, n+1, h, w, 2)
        deformed = warp(
            source_small[:, :3].unsqueeze(1).expand(b, n1, 3, h, w).reshape(b * n1, 3, h, w),
            transforms.reshape(b * n1, h, w, 2),
        ).reshape(b, n1, 3, h, w)
        masks = own = None
        if self.person_mask:  # each part's share of the source's person pixels, there and at T_k(z)
            person, own_source = source_small[:, 3:4], source_small[:, 4:]  # (B, 1 | n, h, w)
            own = warp(own_source.reshape(b * (n1 - 1), 1, h, w),
                       transforms[:, 1:].reshape(b * (n1 - 1), h, w, 2)).reshape(b, n1 - 1, h, w)
            masks = (person, own_source, own)
        heat, dist, body = motion_heatmaps(kp_s, jac_s, kp_d, jac_d, h, w, self.variance, self.part_prior > 0, masks)
        feats = self.unet(torch.cat([heat, deformed.reshape(b, n1 * 3, h, w)], dim=1))
        weights, field = compose(self.weights(feats), transforms, dist, self.part_prior, own, self.residual_bound)
        confidence = torch.sigmoid(self.confidence(feats))  # M^0: (B, 1, h, w)
        out = {"field": field, "confidence": confidence, "weights": weights}
        if self.part_prior > 0:  # the background is not seen where the source's body covers it
            out["hidden"] = weights[:, :1] * body  # (the background samples z itself)
            out["transforms"] = transforms  # each part's own T_k (the body fill moves plates by them)
            out["confidence"] = confidence * (1 - out["hidden"])
        return out


@float32
def source_ownership(mask, kp_s, jac_s, limb_core: float = 0.0, capsule_join: float = 1.0):
    """Where the source's person is and each part's share of it, the nearest-part baseline's rule
    (:mod:`internet_cli.runtime.nearest_part`), soft: the person ``(B, 1, h, w)`` is the person
    ``mask`` ``(B, 1, h, w)`` joined with the parts' own shapes (the segmentation often misses a
    thin arm or a leg; out to ``capsule_join`` limb radii, ``motion.capsule_join``, 0: the mask
    alone), and is split among the parts by nearness (:data:`OWNERSHIP_SHARPNESS`)
    ``(B, n, h, w)``. With ``limb_core`` > 0 (``motion.limb_core``) the limbs' cores come first,
    front to back (:data:`~internet_cli.motion.part_shapes.DRAW_ORDER`): inside the torso's
    outline, where nearness would give the torso all of a forearm held across the chest."""
    d = part_distances(kp_s, jac_s, mask.shape[2], mask.shape[3])
    body = mask
    if capsule_join > 0:
        body = torch.maximum(mask, torch.sigmoid(CAPSULE_EDGE * (capsule_join - d)).amax(dim=1, keepdim=True))
    share = torch.softmax(-OWNERSHIP_SHARPNESS * d, dim=1)
    if limb_core > 0:
        share = _front_layers(d, share, limb_core)
    return body, body * share


def limb_weight(weights: torch.Tensor) -> torch.Tensor:
    """The limbs' share of every pixel ``(B, 1, h, w)``, from the composition ``weights``
    ``(B, n+1, h, w)`` (background first): with ``generator.limb_pass``, the least pass-through weight."""
    return weights[:, _LIMB_WEIGHTS].sum(dim=1, keepdim=True)


@float32
def fill_regions(own, kp_s, jac_s):
    """With ``motion.hidden_fill = "body"``: where each of :data:`FILL_PARTS` is in the source or
    lies under a limb or a held object, ``(B, len(FILL_PARTS), h, w)``: its own share of the person
    (``own`` from :func:`source_ownership`) joined with its outline out to :data:`FILL_REACH`
    limb radii, ``sigmoid(CAPSULE_EDGE (FILL_REACH - d))``."""
    d = part_distances(kp_s, jac_s, own.shape[2], own.shape[3])[:, FILL_PARTS]
    return torch.maximum(own[:, FILL_PARTS], torch.sigmoid(CAPSULE_EDGE * (FILL_REACH - d)))


def _front_layers(d, share, limb_core: float):
    """``share`` with every limb's core laid over it, the frontmost limb on top."""
    layers = torch.zeros_like(share)
    left = torch.ones_like(share[:, :1])  # what the limbs in front have not taken
    for name in reversed(DRAW_ORDER):
        k = _INDEX[name]
        if sk.PARTS[k].bone is None:
            continue
        core = torch.sigmoid(LAYER_EDGE * (limb_core - d[:, k:k + 1])) * left
        layers[:, k:k + 1] = core
        left = left - core
    return layers + left * share


@float32
def motion_heatmaps(kp_s, jac_s, kp_d, jac_d, height: int, width: int, variance: float, parts: bool, masks=None):
    """The dense motion network's heatmap input ``(B, n+1, H, W)`` (background first, zero) and,
    with ``parts`` (pose mode's part prior), the driving parts' distances ``(B, n, H, W)`` (None
    with ``masks``) and where the source's body is ``(B, 1, H, W)`` (else None, None).
    ``masks`` (``motion.person_mask``): the source's person ``(B, 1, H, W)`` and the parts' ownership of it
    (:func:`source_ownership`) in the source and at ``T_k(z)`` ``(B, n, H, W)``; the heatmaps are
    then the ownership's change, in place of the part shapes'."""
    if masks is not None:
        body, own_source, own = masks
        heat, dist = own - own_source, None  # the prior reads the ownership (compose)
    elif parts:
        dist = part_distances(kp_d, jac_d, height, width)
        source_parts = part_shapes(kp_s, jac_s, height, width)
        heat = torch.exp(-dist**2) - source_parts
        body = source_parts.amax(dim=1, keepdim=True)
    else:
        dist = body = None
        heat = gaussian_heatmaps(kp_d, height, width, variance) - gaussian_heatmaps(kp_s, height, width, variance)
    return torch.cat([torch.zeros_like(heat[:, :1]), heat], dim=1), dist, body


@float32
def compose(logits, transforms, dist, part_prior: float, own=None, bound: float = 3.0):
    """Composition ``weights`` ``(B, n+1, h, w)`` (a softmax over the background and the anchors, eq. 5)
    and the field ``F^0 = sum_k w_k T_k`` ``(B, h, w, 2)``. With the part prior the logits are the
    parts' log-prior plus the network's, bounded to ``+-bound`` (``motion.residual_bound``; with
    ``c = bound`` near a part's bone, ``d^2 < 1 - 2c/p``, the part always wins, beyond
    ``d^2 > 1 + 2c/p`` the background does; 0: the prior alone). The log-prior, in units of
    ``part_prior``: the background's -1 and a part's ``-d^2``; or, given the parts' ownership of
    the source's person at ``T_k(z)`` ``own`` ``(B, n, h, w)``, a part's ``2 own (1 + DEPTH_STEP depth) - 2``:
    a driving pixel takes the part whose source pixel it lands on (owned more than half), the
    frontmost where several do, and the background where none does."""
    if part_prior > 0:
        if own is None:
            prior = torch.cat([-torch.ones_like(dist[:, :1]), -dist**2], dim=1)
        else:
            depth = 1.0 + DEPTH_STEP * _DEPTH.to(own.device).view(1, -1, 1, 1)
            prior = torch.cat([-torch.ones_like(own[:, :1]), 2.0 * own * depth - 2.0], dim=1)
        residual = bound * torch.tanh(logits / bound) if bound > 0 else 0.0
        logits = part_prior * prior + residual
    weights = torch.softmax(logits, dim=1)  # sums to 1 over the n+1 transforms
    return weights, (weights.unsqueeze(-1) * transforms).sum(dim=1)
