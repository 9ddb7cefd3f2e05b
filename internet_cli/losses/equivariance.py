"""Equivariance losses of the motion-anchor detector under random thin-plate-spline transforms.

The random transform (FOMM-style, paper §4.1 "the random transformation T is chosen as
thin-plate splines") maps normalised coordinates ``z`` (``(x, y)`` in [-1, 1]) to::

    T(z) = A z + t + sum_k w_k U(|z - c_k|),   U(r) = r^2 log r   (U(0) = 0)

``A z + t`` is the identity plus Gaussian noise of std ``sigma_affine`` on all six entries;
``c_k`` is a ``points_tps x points_tps`` grid over [-1, 1]^2 and the kernel weights ``w_k``
(one 2-vector per control point) are Gaussian with std ``sigma_tps``. With both sigmas 0, ``T``
is exactly the identity.

Direction: ``transform_image(X)(p) = X(T(p))`` (a backward sampling grid). So content at ``q`` in
``X`` appears in the transformed image at ``p`` with ``T(p) = q``, and an anchor ``kp_t`` found in
the transformed image corresponds to ``T(kp_t)`` in the original.

Jacobian loss derivation: the detector's ``J`` maps a local reference frame ``r`` to image
coordinates near its anchor, ``z ~ kp + J r``. In the transformed image the same physical point
is at ``z'`` with ``T(z') = z``; near ``kp_t``, ``z' ~ kp_t + J_t r``, hence
``z = T(z') ~ T(kp_t) + dT(kp_t) J_t r``. Equivariance requires ``kp = T(kp_t)`` and
``J = dT(kp_t) J_t``, i.e. ``J^-1 dT(kp_t) J_t = I``. Both losses are L1 means::

    equivariance_value    = mean |kp - T(kp_t)|
    equivariance_jacobian = mean |I - J^-1 (dT(kp_t) J_t)|
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from internet_cli.motion.geometry import float32, inverse_2x2, make_coordinate_grid

Detector = Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]


class TPS:
    """A batch of random affine + thin-plate-spline transforms of normalised coordinates.

    Args:
        batch_size: number of independent transforms (one per image in the batch).
        sigma_affine: std of the noise on the 2x3 affine matrix (FOMM: 0.05).
        sigma_tps: std of the TPS kernel weights (FOMM: 0.005).
        points_tps: control grid is ``points_tps x points_tps`` (FOMM: 5).
        generator: optional ``torch.Generator`` for reproducible draws.
    """

    def __init__(self, batch_size: int, *, sigma_affine: float = 0.05, sigma_tps: float = 0.005,
                 points_tps: int = 5, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> None:
        self.batch_size = batch_size
        theta = torch.randn(batch_size, 2, 3, generator=generator, dtype=dtype) * sigma_affine
        theta = theta + torch.eye(2, 3, dtype=dtype)
        self.theta = theta.to(device)  # (B, 2, 3): [A | t]
        self.control_points = make_coordinate_grid(points_tps, points_tps, dtype=dtype).reshape(-1, 2).to(device)
        weights = torch.randn(batch_size, points_tps * points_tps, 2, generator=generator, dtype=dtype)
        self.control_weights = (weights * sigma_tps).to(device)  # (B, P, 2)

    @staticmethod
    def _eps(dtype: torch.dtype) -> float:
        return 1e-12 if dtype == torch.float64 else 1e-9

    def _prepare(self, coords: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if coords.dim() != 3 or coords.shape[-1] != 2 or coords.shape[0] not in (1, self.batch_size):
            raise ValueError(f"coords must be (B, N, 2) with B={self.batch_size}, got {tuple(coords.shape)}")
        theta = self.theta.to(coords.device, coords.dtype)
        cp = self.control_points.to(coords.device, coords.dtype)
        cw = self.control_weights.to(coords.device, coords.dtype)
        return theta, cp, cw

    @float32
    def warp_coordinates(self, coords: torch.Tensor) -> torch.Tensor:
        """``T(coords)``: ``(B, N, 2) -> (B, N, 2)`` (differentiable w.r.t. ``coords``)."""
        theta, cp, cw = self._prepare(coords)
        out = coords @ theta[:, :, :2].transpose(1, 2) + theta[:, :, 2].unsqueeze(1)
        diff = coords.unsqueeze(2) - cp.view(1, 1, -1, 2)  # (B, N, P, 2)
        r2 = diff.pow(2).sum(-1)
        kernel = 0.5 * r2 * torch.log(r2 + self._eps(coords.dtype))  # r^2 log r
        return out + kernel @ cw

    @float32
    def jacobian(self, coords: torch.Tensor) -> torch.Tensor:
        """Analytic ``dT/dz`` at ``coords``: ``(B, N, 2) -> (B, N, 2, 2)``, ``[i, j] = dT_i/dz_j``.

        ``grad U(|z - c|) = (log r^2 + 1) (z - c)`` (computed with the same epsilon as
        ``warp_coordinates``, so it is the exact derivative of what that function returns).
        """
        theta, cp, cw = self._prepare(coords)
        diff = coords.unsqueeze(2) - cp.view(1, 1, -1, 2)  # (B, N, P, 2)
        r2 = diff.pow(2).sum(-1)
        eps = self._eps(coords.dtype)
        scale = torch.log(r2 + eps) + r2 / (r2 + eps)  # d/dz [0.5 r2 log(r2+eps)] = scale * diff
        grad_u = scale.unsqueeze(-1) * diff  # (B, N, P, 2): dU_k/dz_j
        # J_ij = A_ij + sum_k w_ki dU_k/dz_j
        jac_tps = torch.einsum("bki,bnkj->bnij", cw.expand(coords.shape[0], -1, -1), grad_u)
        return theta[:, :, :2].unsqueeze(1) + jac_tps

    def transform_image(self, image: torch.Tensor) -> torch.Tensor:
        """``out(p) = image(T(p))``: bilinear ``grid_sample``, ``align_corners=True``, reflection."""
        b, _, h, w = image.shape
        grid = make_coordinate_grid(h, w, dtype=image.dtype, device=image.device).reshape(1, h * w, 2)
        grid = self.warp_coordinates(grid.expand(b, -1, -1)).reshape(b, h, w, 2)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=True)


def equivariance_losses(detect: Detector, image: torch.Tensor, tps: TPS, *,
                        kp: torch.Tensor | None = None, jac: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Equivariance losses of ``detect`` under ``tps`` (see the module docstring).

    ``detect(image (B, 3, H, W)) -> (kp (B, n, 2), jac (B, n, 2, 2) or None)``. Pass ``kp`` /
    ``jac`` already detected on ``image`` to save a forward pass. Returns
    ``{"equivariance_value": ..., "equivariance_jacobian": ...}`` (the jacobian term only when the
    detector returns jacobians).
    """
    if kp is None:
        kp, jac = detect(image)
    kp_t, jac_t = detect(tps.transform_image(image))
    out = {"equivariance_value": _value_error(kp, tps.warp_coordinates(kp_t))}
    if jac is not None and jac_t is not None:
        out["equivariance_jacobian"] = _jacobian_error(jac, tps.jacobian(kp_t), jac_t)
    return out


@float32
def _value_error(kp: torch.Tensor, kp_back: torch.Tensor) -> torch.Tensor:
    return (kp - kp_back).abs().mean()


@float32
def _jacobian_error(jac: torch.Tensor, d_t: torch.Tensor, jac_t: torch.Tensor) -> torch.Tensor:
    """``mean |I - J^-1 (dT(kp_t) J_t)|`` (the module docstring's derivation)."""
    eye = torch.eye(2, dtype=jac.dtype, device=jac.device)
    return (eye - inverse_2x2(jac) @ (d_t @ jac_t)).abs().mean()
