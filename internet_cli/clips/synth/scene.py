"""One video's scene: the figure's parts, their pose at each frame, the rendered frame and its exact flow."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from internet_cli.clips.synth import parts as P
from internet_cli.clips.synth.figure import _Mesh, _mocap_motion, _sample_body, _sample_motion
from internet_cli.clips.synth.geometry import _OWN, _aff, _apply, _coverage, _hsv, _rot, _triangle_affines, _which_triangle
from internet_cli.clips.synth.photos import _background_photo
from internet_cli.clips.synth.prints import _Texture, _texture


def _limb(root: np.ndarray, angle: float, s: int, lengths: tuple, turns: tuple) -> tuple[list, list]:
    """Walk down a limb (an arm or a leg) from the joint ``root``: bone ``k`` starts at ``joints[k]``
    pointing along ``angles[k]`` (0 = down, the frame of ``_rot``); after it (``lengths[k]`` long)
    the next bone turns by ``s * turns[k]``, ``s`` the side (+1 the picture's right)."""
    joints, angles = [root], [angle]
    for k, length in enumerate(lengths):
        joints.append(joints[-1] + _rot(angles[-1]) @ np.array([0.0, length]))
        if k < len(turns):
            angles.append(angles[-1] + s * turns[k])
    return joints, angles


@dataclass
class _Part:
    name: str
    pid: int  # surface id in the ownership map (1..), draw order
    outline: np.ndarray | None  # (n, 2) local outline (rigid parts)
    tex: _Texture
    mesh: _Mesh | None = None
    piece0: int = 0  # first piece index (rigid: one piece, mesh: one per triangle)


@dataclass
class _FrameRender:
    image: np.ndarray  # (H, W, 3) uint8
    parts: np.ndarray  # (H, W) uint8 surface id, 0 = background
    pieces: np.ndarray  # (H, W) int32 piece id, 0 = background
    affines: np.ndarray  # (P, 3, 3) piece local -> image


class _Scene:
    """One video's figure, outfit, motion, camera path and background."""

    def __init__(self, seed: int, frames: int, size: int, fps: int, photo_backgrounds: float = 0.0,
                 motion: str = "periodic"):
        self.seed, self.T, self.size, self.fps = int(seed), int(frames), int(size), int(fps)
        self.photo_backgrounds = float(photo_backgrounds)
        ss = np.random.SeedSequence(self.seed)
        r_body, r_motion, r_layout, r_look, r_tex = (np.random.default_rng(s) for s in ss.spawn(5))
        self.body = _sample_body(r_body)
        self.front = int(r_layout.choice([-1, 1]))  # the arm drawn in front of the torso
        self.motion = _sample_motion(r_motion, cross_side=self.front)
        self.mocap = None
        if motion == "mocap":  # its own stream: everything else is drawn as for a periodic dancer
            from internet_cli.clips import mocap

            r_mocap = np.random.default_rng(np.random.SeedSequence([self.seed, 17]))
            self.mocap = mocap.sample_motion(r_mocap, max(self.T - 1, 1) / self.fps, self.fps)
            self.motion = _mocap_motion(self.motion, self.mocap)

        # camera path (runway): the figure walks toward the camera, so it grows by `grow` over the
        # clip and, in perspective, everything below the horizon `hz` moves down by the same factor
        duration = max(self.T - 1, 1) / self.fps
        grow = min(0.15, float(r_layout.uniform(0.0, 0.04)) * duration)
        h0 = float(r_layout.uniform(0.70, min(0.86, 0.92 / (1.0 + grow))))  # height / frame height
        delta = float(r_layout.uniform(0.0, 0.05))
        top0 = float(r_layout.uniform(0.02, max(0.02, 0.985 - h0 * (1.0 + grow) - delta * grow)))
        x0 = float(r_layout.uniform(0.32, 0.68))
        xdrift = float(r_layout.uniform(-0.012, 0.012)) * duration
        self.path = (h0, grow, top0 + h0, top0 - delta, x0, xdrift)  # height, grow, feet, horizon, x, dx
        self.K = size * h0 * (1.0 + grow) * 1.05  # texels per body unit >= pixels per body unit

        self.bg = self._background(r_look)
        self.parts = self._build_parts(r_look, r_tex)
        n = 1
        for p in self.parts:
            p.piece0 = n
            n += 1 if p.mesh is None else len(p.mesh.tris)
        self.n_pieces = n
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        self._X, self._Y = xs, ys

    # -- look -------------------------------------------------------------------------

    def _background(self, rng) -> np.ndarray:
        s = self.size
        # Its own stream, so that the studio backgrounds (and everything after) stay as they were.
        r_photo = np.random.default_rng(np.random.SeedSequence([self.seed, 13]))
        if r_photo.uniform() < self.photo_backgrounds:
            photo = _background_photo(r_photo, s)
            if photo is not None:
                return photo
        hue = rng.uniform()
        sat = rng.uniform(0.03, 0.35)
        top = _hsv(hue, sat, rng.uniform(0.45, 0.95))
        bottom = _hsv(hue + rng.uniform(-0.05, 0.05), sat * rng.uniform(0.6, 1.2), rng.uniform(0.3, 0.9))
        y = np.linspace(0.0, 1.0, s, dtype=np.float32)[:, None, None]
        floor = self.path[2] - 0.06
        w = 1.0 / (1.0 + np.exp(-(y - floor) / 0.04))  # soft cyclorama bend at the floor
        img = top[None, None, :] * (1.0 - 0.5 * w - 0.25 * y) + bottom[None, None, :] * (0.5 * w + 0.25 * y)
        cx, cy = rng.uniform(0.3, 0.7), rng.uniform(0.25, 0.55)
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) / s
        r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / rng.uniform(0.15, 0.45) ** 2
        img = img * (0.82 + 0.28 * np.exp(-r2))[..., None]
        return np.clip(img, 0.0, 1.0).astype(np.float32)

    def _build_parts(self, rng, r_tex) -> list[_Part]:
        """The parts in draw order (back arm, legs, neck, torso, garment, head, front arm), each with
        its texture painted once in its own frame (``r_tex`` adds the grain, in this order)."""
        b, K = self.body, self.K
        look = P.draw_look(rng, K)
        hair = P.draw_hair(b, look, rng)
        parts: list[_Part] = []

        def add(name, outline, paint, mesh=None):
            rest = mesh.rest if mesh is not None else outline
            parts.append(_Part(name, len(parts) + 1, outline, _texture(rest.min(0), rest.max(0), K, paint, r_tex), mesh))

        add(*P.hair_part(b, look, hair))
        for spec in P.arm_parts(b, look, "b") + P.leg_parts(b, look, "l") + P.leg_parts(b, look, "r"):
            add(*spec)
        add(*P.neck_part(b, look))
        add(*P.torso_part(b, look, rng))
        mesh, paint = P.garment_part(b, look, rng)
        add("garment", None, paint, mesh=mesh)
        add(*P.head_part(b, look, hair, rng))
        for spec in P.arm_parts(b, look, "f"):
            add(*spec)
        return parts

    # -- motion -----------------------------------------------------------------------

    def _leg(self, hip: np.ndarray, tilt: float, s: int, t: float):
        """Joints (hip, knee, ankle) and bone angles (thigh, shin) of leg ``s`` at time ``t``."""
        b, m = self.body, self.motion
        return _limb(hip, tilt + s * m.hip[s](t), s, (b.thigh[0], b.shin[0]), (m.knee[s](t),))

    def _trunk(self, t: float) -> np.ndarray:
        """Trunk frame (origin at the pelvis) -> body coordinates; the lower foot stays on the floor."""
        b, m = self.body, self.motion
        tilt = m.tilt(t)
        lowest = -math.inf
        for s in (-1, 1):
            (_, _, an), (_, a) = self._leg(_rot(tilt) @ np.array([s * b.hip_x, b.hip_y]), tilt, s, t)
            lowest = max(lowest, an[1] + 0.9 * b.foot_len * math.cos(0.5 * a + s * 0.06))
        return _aff(_rot(tilt), (m.sway(t), m.bob(t) + b.sole - lowest))

    def _global(self, frame: int) -> np.ndarray:
        """Body coordinates (height 1, origin at the pelvis) -> image pixels."""
        h0, grow, feet0, horizon, x0, xdrift = self.path
        prog = frame / max(self.T - 1, 1)
        g = 1.0 + grow * prog
        scale = self.size * h0 * g
        feet = self.size * (horizon + (feet0 - horizon) * g)
        cx = self.size * (x0 + xdrift * prog)
        return _aff(np.eye(2) * scale, (cx, feet - scale * self.body.sole))

    def _pose(self, frame: int) -> dict[str, np.ndarray]:
        """Local -> image 3x3 transform of every rigid part, and image vertices of the garment."""
        b, m = self.body, self.motion
        t = frame / self.fps
        G = self._global(frame)
        tr = self._trunk(t)
        tilt = m.tilt(t)
        out = {"torso": tr}
        neck_base = _apply(tr, np.array([[0.0, -b.torso_len]]))[0]
        head_tilt = m.head(t)
        a_neck = tilt + 0.5 * head_tilt
        out["neck"] = _aff(_rot(a_neck), neck_base)
        neck_top = neck_base + _rot(a_neck) @ np.array([0.0, -b.neck_len])
        out["head"] = out["hair_back"] = _aff(_rot(tilt + head_tilt), neck_top)
        for s in (-1, 1):
            mirror = np.diag([float(s), 1.0])
            side = "f" if s == self.front else "b"
            sh = _apply(tr, np.array([[s * b.shoulder_x, b.shoulder_y]]))[0]
            joints, angles = _limb(sh, tilt + s * m.abd[s](t), s, (b.ua[0], b.fa[0]), (m.elbow[s](t), m.wrist[s](t)))
            for name, joint, a in zip(("upper_arm", "forearm", "hand"), joints, angles):
                out[f"{name}_{side}"] = _aff(_rot(a) @ mirror, joint)
            side = "l" if s < 0 else "r"
            (hp, kn, an), (a_thigh, a_shin) = self._leg(_apply(tr, np.array([[s * b.hip_x, b.hip_y]]))[0], tilt, s, t)
            out[f"thigh_{side}"] = _aff(_rot(a_thigh) @ mirror, hp)
            out[f"shin_{side}"] = _aff(_rot(a_shin) @ mirror, kn)
            out[f"foot_{side}"] = _aff(_rot(0.5 * a_shin + s * 0.06) @ mirror, an)
        out = {k: G @ v for k, v in out.items()}
        out["garment"] = _apply(G, self._garment_body(t))
        return out

    def landmarks(self, frame: int) -> np.ndarray:
        """The figure's joints in MediaPipe's 33-landmark layout, ``(33, 3)`` float32: continuous
        pixel ``x, y`` (pixel ``i`` spans ``[i, i + 1)``, as MediaPipe) and a visibility of 1 inside
        the frame, 0 outside. The figure faces the camera: its left side is on the picture's right."""
        from internet_cli.pose import skeleton as sk

        b, pose = self.body, self._pose(frame)
        pts = np.zeros((sk.NUM_LANDMARKS, 2))
        hc, rx, ry = b.head_c, b.head_rx, b.head_ry
        face = {sk.NOSE: (0.0, -hc + 0.2 * ry), sk.MOUTH_L: (0.25 * rx, -hc + 0.5 * ry),
                sk.MOUTH_R: (-0.25 * rx, -hc + 0.5 * ry), sk.L_EAR: (rx, -hc), sk.R_EAR: (-rx, -hc)}
        for s, (inner, eye, outer) in ((1, (sk.L_EYE_INNER, sk.L_EYE, sk.L_EYE_OUTER)),
                                       (-1, (sk.R_EYE_INNER, sk.R_EYE, sk.R_EYE_OUTER))):
            for idx, dx in ((inner, 0.22), (eye, 0.38), (outer, 0.56)):
                face[idx] = (s * dx * rx, -hc - 0.02 * ry)
        for idx, xy in face.items():
            pts[idx] = _apply(pose["head"], np.array([xy]))[0]
        for s, L in ((1, True), (-1, False)):  # s = +1: the picture's right, the figure's left
            side = "f" if s == self.front else "b"
            leg = "r" if s > 0 else "l"
            ids = (sk.L_SHOULDER, sk.L_ELBOW, sk.L_WRIST, sk.L_PINKY, sk.L_INDEX, sk.L_THUMB, sk.L_HIP,
                   sk.L_KNEE, sk.L_ANKLE, sk.L_HEEL, sk.L_FOOT) if L else \
                  (sk.R_SHOULDER, sk.R_ELBOW, sk.R_WRIST, sk.R_PINKY, sk.R_INDEX, sk.R_THUMB, sk.R_HIP,
                   sk.R_KNEE, sk.R_ANKLE, sk.R_HEEL, sk.R_FOOT)
            ua, fa, hand = pose[f"upper_arm_{side}"], pose[f"forearm_{side}"], pose[f"hand_{side}"]
            hl = b.hand[0]
            local = [(ua, (0.0, 0.0)), (fa, (0.0, 0.0)), (hand, (0.0, 0.0)), (hand, (-0.3 * b.hand[1], 0.8 * hl)),
                     (hand, (0.3 * b.hand[1], 0.9 * hl)), (hand, (0.6 * b.hand[1], 0.4 * hl)),
                     (pose[f"thigh_{leg}"], (0.0, 0.0)), (pose[f"shin_{leg}"], (0.0, 0.0)),
                     (pose[f"foot_{leg}"], (0.0, 0.0)), (pose[f"foot_{leg}"], (0.0, -0.01)),
                     (pose[f"foot_{leg}"], (0.0, b.foot_len))]
            for idx, (m, xy) in zip(ids, local):
                pts[idx] = _apply(m, np.array([xy]))[0]
        pts += 0.5  # pixel-index coordinates (pixel centres at integers) -> continuous
        inside = (pts >= 0).all(1) & (pts < self.size).all(1)
        return np.concatenate([pts, inside[:, None]], axis=1).astype(np.float32)

    def _garment_body(self, t: float) -> np.ndarray:
        """Garment vertices in body coordinates: the hem lags the hips (and flares, ripples)."""
        mesh = next(p.mesh for p in self.parts if p.mesh is not None)
        b, m = self.body, self.motion
        params = self._garment_params
        # legs spreading: flare the hem so that it keeps covering the thighs
        knee_x = [s * (b.hip_x + b.thigh[0] * math.sin(m.hip[s](t))) for s in (-1, 1)]
        need = 0.5 * (knee_x[1] - knee_x[0]) + b.thigh[2] * 1.2
        reach = float(np.clip((mesh.hem_y - b.hip_y) / b.thigh[0], 0.0, 1.0))
        flare = max(0.0, need - mesh.hem_hw) * reach
        rest = mesh.rest.copy()
        rest[:, 0] += mesh.u * flare * np.clip(mesh.rest[:, 1] / max(mesh.hem_y, 1e-3), 0.0, 1.0)
        w = mesh.lag_w
        phase = 2 * math.pi * params["ripple_f"] * t + 2.5 * mesh.u + params["ripple_ph"]
        rest[:, 0] += params["ripple"] * w * np.sin(phase)  # a travelling wave along the hem
        rest[:, 1] += 0.35 * params["ripple"] * w * np.cos(phase)
        now = _apply(self._trunk(t), rest)
        lag = _apply(self._trunk(t - params["lag"]), rest)
        return now + (w * params["gain"])[:, None] * (lag - now)

    @functools.cached_property
    def _garment_params(self) -> dict[str, float]:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 7]))
        return {"lag": float(rng.uniform(0.12, 0.3)), "gain": float(rng.uniform(1.0, 2.2)),
                "ripple": float(rng.uniform(0.0, 0.006)), "ripple_f": float(rng.uniform(0.4, 1.2)),
                "ripple_ph": float(rng.uniform(0, 6.3))}

    # -- rendering --------------------------------------------------------------------

    def render(self, frame: int) -> _FrameRender:
        S = self.size
        pose = self._pose(frame)
        img = self.bg.copy()
        parts_map = np.zeros((S, S), np.uint8)
        pieces = np.zeros((S, S), np.int32)
        affines = np.tile(np.eye(3), (self.n_pieces, 1, 1))
        for part in self.parts:
            if part.mesh is None:
                A = pose[part.name]
                affines[part.piece0] = A
                outline = _apply(A, part.outline)
            else:
                verts = pose[part.name]
                tri_aff = _triangle_affines(part.mesh.rest, verts, part.mesh.tris)
                affines[part.piece0:part.piece0 + len(tri_aff)] = tri_aff
                outline = verts[part.mesh.boundary]
            x0, y0 = max(int(math.floor(outline[:, 0].min())) - 1, 0), max(int(math.floor(outline[:, 1].min())) - 1, 0)
            x1, y1 = min(int(math.ceil(outline[:, 0].max())) + 2, S), min(int(math.ceil(outline[:, 1].max())) + 2, S)
            if x1 <= x0 or y1 <= y0:
                continue
            cov = _coverage(outline - [x0, y0], x1 - x0, y1 - y0)
            if not cov.any():
                continue
            X, Y = self._X[y0:y1, x0:x1], self._Y[y0:y1, x0:x1]
            T = part.tex.from_local()
            own = cov >= _OWN
            if part.mesh is None:
                B = (T @ np.linalg.inv(A))[:2].astype(np.float32)
                mx = B[0, 0] * X + B[0, 1] * Y + B[0, 2]
                my = B[1, 0] * X + B[1, 1] * Y + B[1, 2]
                piece = part.piece0
            else:
                sel = cov > 0
                px, py = X[sel], Y[sel]
                tri = _which_triangle(px, py, verts, part.mesh.tris)
                Bs = (T[None] @ np.linalg.inv(tri_aff))[:, :2].astype(np.float32)[tri]
                mx = np.zeros(X.shape, np.float32)
                my = np.zeros(X.shape, np.float32)
                mx[sel] = Bs[:, 0, 0] * px + Bs[:, 0, 1] * py + Bs[:, 0, 2]
                my[sel] = Bs[:, 1, 0] * px + Bs[:, 1, 1] * py + Bs[:, 1, 2]
                piece = np.zeros(X.shape, np.int32)
                piece[sel] = part.piece0 + tri
                piece = piece[own]
            color = cv2.remap(part.tex.image, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
            region = img[y0:y1, x0:x1]
            alpha = cov.astype(np.float32)[..., None] * (1.0 / 255.0)
            region += alpha * (color - region)
            parts_map[y0:y1, x0:x1][own] = part.pid
            pieces[y0:y1, x0:x1][own] = piece
        image = np.clip(img * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return _FrameRender(image, parts_map, pieces, affines)

    def flow(self, prev: _FrameRender, cur: _FrameRender) -> tuple[np.ndarray, np.ndarray]:
        """Exact flow (2, H, W) on the grid of ``prev`` into ``cur``, and visibility (H, W) uint8."""
        M = cur.affines @ np.linalg.inv(prev.affines)
        M[0] = np.eye(3)
        M = M[:, :2, :].astype(np.float32)[prev.pieces]  # (H, W, 2, 3)
        X, Y = self._X, self._Y
        fx = M[..., 0, 0] * X + M[..., 0, 1] * Y + M[..., 0, 2] - X
        fy = M[..., 1, 0] * X + M[..., 1, 1] * Y + M[..., 1, 2] - Y
        bg = prev.pieces == 0
        fx[bg] = 0.0
        fy[bg] = 0.0
        qx = np.rint(X + fx).astype(np.int32)
        qy = np.rint(Y + fy).astype(np.int32)
        S = self.size
        inside = (qx >= 0) & (qx < S) & (qy >= 0) & (qy < S)
        target = cur.parts[np.clip(qy, 0, S - 1), np.clip(qx, 0, S - 1)]
        visible = inside & (target == prev.parts)
        return np.stack([fx, fy]), visible.astype(np.uint8)


