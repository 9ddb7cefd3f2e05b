"""Real human motion for the synthetic dancers: DeepMimic's motion capture, read from the `pybullet` wheel.

``internet synth --motion mocap`` drives the 2D figure of ``clips/synth/`` with these clips
instead of periodic joint angles. The clips (``pybullet_data/data/motions/humanoid3d_*.txt``, zlib
licence) are read from the installed package at run time, never copied into the repository.

File format (JSON ``{"Loop": "wrap" | "none", "Frames": [...]}``): each frame is 44 numbers,
``dt``, root position xyz, then in this order the root, chest and neck rotations (unit quaternions
``w, x, y, z``), right hip (quaternion), right knee (one angle), right ankle, right shoulder
(quaternions), right elbow (angle), left hip, left knee, left ankle, left shoulder, left elbow.
World Y is up; the figure faces +X and its right side is +Z; knees and elbows turn about their
local Z. Bone offsets are those of ``pybullet_data/humanoid/humanoid.urdf`` times 0.25 (the scale
at which the clips' root heights match the legs).

From 3D to the figure's angles: forward kinematics gives the joints in 3D; a random camera
(yaw about the vertical, elevation) projects them orthographically, the figure's left on the
picture's right as in ``synth``; and each bone's direction in the picture becomes the angle the
2D renderer uses (0 = pointing down, positive towards the picture's right). Bone lengths stay the
figure's own: a bone pointing at the camera keeps its length (the renderer draws no foreshortening).
Hand rotation is not captured, so the wrists keep their periodic motion.

Variety (no two videos share a motion): a chain of clips, each entered at a random phase, played
to its end and cross-faded into the next over ``BLEND_S``; a random playback speed; the camera; a left-right
mirror. The horizontal sway is the root's, less its straight-line drift (walking and running move
the figure through the room, which the runway path of ``synth`` already does); the vertical bob is
the lower foot leaving the floor (jumps).
"""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from internet_cli.errors import InputError

INSTALL_HINT = "pip install 'internet-cli[train]' (or: pip install pybullet)"
#: clips an upright, front-facing 2D figure can perform (acrobatics, crawling and turns are left out).
CLIPS: tuple[str, ...] = ("dance_a", "dance_b", "walk", "run", "jump", "kick", "punch")
BLEND_S = 0.5  # seconds of cross-fade from one clip into the next
SPEED = (0.75, 1.3)  # playback speed range
YAW_DEG, ELEVATION_DEG = (-40.0, 40.0), (-5.0, 20.0)
URDF_SCALE = 0.25
# Bone offsets (URDF x 0.25) in the parent's frame: X forward, Y up, Z the figure's right.
_OFF = {k: np.asarray(v) * URDF_SCALE for k, v in {
    "chest": (0, 0.944604, 0), "neck": (0, 0.895576, 0), "head": (0, 0.7, 0),
    "hip_r": (0, 0, 0.339548), "hip_l": (0, 0, -0.339548), "knee": (0, -1.686184, 0), "ankle": (0, -1.63948, 0),
    "shoulder_r": (-0.0962, 0.974, 0.73244), "shoulder_l": (-0.0962, 0.974, -0.73244),
    "elbow": (0, -1.099152, 0), "wrist": (0, -1.035788, 0),
}.items()}
#: the joints forward kinematics returns, in this order.
JOINTS = ("pelvis", "neck_base", "head", "shoulder_l", "elbow_l", "wrist_l", "shoulder_r", "elbow_r",
          "wrist_r", "hip_l", "knee_l", "ankle_l", "hip_r", "knee_r", "ankle_r")
_J = {name: i for i, name in enumerate(JOINTS)}
# Renderer angle limits (degrees): a little wider than the periodic dancers', so that the
# garment, the layering and the floor contact the renderer assumes stay true.
LIMITS = {"tilt": 25, "head": 35, "abd": (-60, 175), "elbow": (-150, 150), "hip": (-25, 75), "knee": (-100, 100)}


def motions_dir() -> Path:
    """The DeepMimic clips inside the installed pybullet wheel; InputError naming the install if absent."""
    spec = importlib.util.find_spec("pybullet_data")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(f"--motion mocap reads DeepMimic's clips from the pybullet wheel: {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data" / "motions"
    if not (folder / "humanoid3d_walk.txt").is_file():
        raise InputError(f"pybullet_data is installed but has no motion clips in {folder}: reinstall pybullet")
    return folder


@dataclass(frozen=True)
class Clip:
    name: str
    dt: float  # seconds per frame
    frames: np.ndarray  # (N, 44)


@functools.lru_cache(maxsize=None)
def load_clip(name: str) -> Clip:
    path = motions_dir() / f"humanoid3d_{name}.txt"
    data = json.loads(path.read_text())
    frames = np.asarray(data["Frames"], np.float64)
    if frames.ndim != 2 or frames.shape[1] != 44 or len(frames) < 2:
        raise InputError(f"{path}: not a DeepMimic humanoid clip (frames of 44 numbers)")
    return Clip(name, float(np.median(frames[:-1, 0])), frames)


def _quat(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions w, x, y, z -> (..., 3, 3) rotation matrices."""
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _rot_z(a: np.ndarray) -> np.ndarray:
    c, s, o, i = np.cos(a), np.sin(a), np.zeros_like(a), np.ones_like(a)
    return np.stack([np.stack([c, -s, o], -1), np.stack([s, c, o], -1), np.stack([o, o, i], -1)], -2)


def forward_kinematics(frames: np.ndarray) -> np.ndarray:
    """(N, 44) DeepMimic frames -> (N, len(JOINTS), 3) world positions."""
    f = frames
    root, chest, neck = _quat(f[:, 4:8]), _quat(f[:, 8:12]), _quat(f[:, 12:16])
    at = lambda p, r, off: p + np.einsum("nij,j->ni", r, off)  # noqa: E731 - child position
    pelvis = f[:, 1:4]
    r_chest = root @ chest
    neck_base = at(pelvis, root, _OFF["chest"])
    neck_top = at(neck_base, r_chest, _OFF["neck"])
    out = {"pelvis": pelvis, "neck_base": neck_top, "head": at(neck_top, r_chest @ neck, _OFF["head"])}
    # (hip quat, knee angle, shoulder quat, elbow angle) columns of each side
    for side, hip, knee, shoulder, elbow in (("r", 16, 20, 25, 29), ("l", 30, 34, 39, 43)):
        r_hip = root @ _quat(f[:, hip:hip + 4])
        out[f"hip_{side}"] = at(pelvis, root, _OFF[f"hip_{side}"])
        out[f"knee_{side}"] = at(out[f"hip_{side}"], r_hip, _OFF["knee"])
        out[f"ankle_{side}"] = at(out[f"knee_{side}"], r_hip @ _rot_z(f[:, knee]), _OFF["ankle"])
        r_sh = r_chest @ _quat(f[:, shoulder:shoulder + 4])
        out[f"shoulder_{side}"] = at(neck_base, r_chest, _OFF[f"shoulder_{side}"])
        out[f"elbow_{side}"] = at(out[f"shoulder_{side}"], r_sh, _OFF["elbow"])
        out[f"wrist_{side}"] = at(out[f"elbow_{side}"], r_sh @ _rot_z(f[:, elbow]), _OFF["wrist"])
    return np.stack([out[name] for name in JOINTS], axis=1)


def project(joints: np.ndarray, yaw: float, elevation: float, heading: np.ndarray) -> np.ndarray:
    """(N, J, 3) world joints -> (N, J, 2) picture coordinates ``(u right, v down)``, orthographic.

    The camera looks at the figure's front when ``yaw`` = 0 (``heading``, (N,): the figure's facing
    direction about Y in each frame, radians from +X), so the figure's left (-Z) is on the
    picture's right. The camera turns with the figure: a dancer who spins keeps facing it, as the
    2D figure always does."""
    a = (np.asarray(heading, np.float64) + yaw)[:, None]
    c, s = np.cos(a), np.sin(a)
    x, y, z = joints[..., 0], joints[..., 1], joints[..., 2]
    depth, lateral = c * x - s * z, s * x + c * z  # the figure's forward and right axes, turned by -a
    ce, se = math.cos(elevation), math.sin(elevation)
    up = ce * y - se * depth  # the camera looks down at the figure from `elevation` above
    return np.stack([-lateral, -up], axis=-1)


def heading_of(frames: np.ndarray) -> np.ndarray:
    """(N,) the root's facing direction about Y (radians from +X)."""
    fwd = _quat(frames[:, 4:8])[:, :, 0]
    return np.arctan2(-fwd[:, 2], fwd[:, 0])


#: a bone drawn shorter than this share of its length points too much along the view for its picture
#: direction to mean much (0.65: more than about 50 degrees); its direction is interpolated in time.
FORESHORTENED = 0.65


def _angle(uv: np.ndarray, joints: np.ndarray, a: str, b: str) -> np.ndarray:
    """Picture direction of the bone a -> b in each frame: 0 = down, positive towards the picture's
    right. Where the bone points nearly at the camera its direction is noise, so those frames take
    the direction interpolated from the frames around them."""
    d = uv[:, _J[b]] - uv[:, _J[a]]
    angle = np.arctan2(d[:, 0], d[:, 1])
    seen = np.hypot(d[:, 0], d[:, 1]) >= FORESHORTENED * np.linalg.norm(joints[:, _J[b]] - joints[:, _J[a]], axis=1)
    if seen.any() and not seen.all():
        frames = np.arange(len(angle))
        angle = _wrap(np.interp(frames, frames[seen], np.unwrap(angle[seen])))
    return angle


def _wrap(a: np.ndarray) -> np.ndarray:
    return (a + np.pi) % (2 * np.pi) - np.pi


def renderer_angles(uv: np.ndarray, joints: np.ndarray) -> dict[str, np.ndarray]:
    """(N, J, 2) projected joints (of the (N, J, 3) ``joints``) -> the renderer's per-frame angles (radians).

    Keys ``tilt``, ``head``, and per side ``s`` (+1 = the picture's right, the figure's left)
    ``abd{s}``, ``elbow{s}``, ``hip{s}``, ``knee{s}``; relative angles as ``clips/synth/scene.py`` (``_Scene._pose``) uses."""
    angle = lambda a, b: _angle(uv, joints, a, b)  # noqa: E731
    tilt = angle("neck_base", "pelvis")
    out = {"tilt": tilt, "head": _wrap(angle("head", "neck_base") - tilt)}
    for s, side in ((1, "l"), (-1, "r")):
        ua, fa = angle(f"shoulder_{side}", f"elbow_{side}"), angle(f"elbow_{side}", f"wrist_{side}")
        th, sh = angle(f"hip_{side}", f"knee_{side}"), angle(f"knee_{side}", f"ankle_{side}")
        out[f"abd{s}"] = _wrap(s * (ua - tilt))
        out[f"elbow{s}"] = _wrap(s * (fa - ua))
        out[f"hip{s}"] = _wrap(s * (th - tilt))
        out[f"knee{s}"] = _wrap(s * (sh - th))
    return out


@dataclass(frozen=True)
class Series:
    """A value sampled at ``times`` (seconds), linear in between, held beyond the ends."""

    times: np.ndarray
    values: np.ndarray

    def __call__(self, t: float) -> float:
        return float(np.interp(t, self.times, self.values))


@dataclass(frozen=True)
class Camera:
    yaw: float  # radians
    elevation: float
    mirror: bool


def _clip_curves(clip: Clip, camera: Camera) -> dict[str, np.ndarray]:
    """Per clip frame: the renderer's angles, plus ``sway`` and ``bob`` in figure heights."""
    joints = forward_kinematics(clip.frames)
    uv = project(joints, camera.yaw, camera.elevation, np.unwrap(heading_of(clip.frames)))
    if camera.mirror:
        uv = uv * np.array([-1.0, 1.0])
        swap = [_J[n.replace("_l", "_R").replace("_r", "_l").replace("_R", "_r")] for n in JOINTS]
        uv, joints = uv[:, swap], joints[:, swap]
    curves = renderer_angles(uv, joints)
    feet = joints[:, [_J["ankle_l"], _J["ankle_r"]], 1].min(axis=1)
    height = float(np.median(joints[:, _J["head"], 1] - feet)) * 1.12  # head centre -> top of the head
    u = uv[:, _J["pelvis"], 0]
    frame = np.arange(len(u))
    u = u - np.polyval(np.polyfit(frame, u, 1), frame)  # the sway, less the drift through the room
    curves["sway"] = u / height
    curves["bob"] = -(feet - feet.min()) / height
    return curves


def _at(curves: dict[str, np.ndarray], clip: Clip, tau: np.ndarray) -> dict[str, np.ndarray]:
    """The curves at clip times ``tau`` (seconds), holding the first and last frames beyond the clip.
    Angles are interpolated through their sine and cosine, so a wrap at +-pi is no jump. (A clip
    is never looped: its last frame is not quite its first, and a bone seen end-on there turns
    at random across the seam. Chaining clips gives the length instead.)"""
    pos = np.clip(tau / clip.dt, 0, len(clip.frames) - 1)
    grid = np.arange(len(clip.frames))
    out = {}
    for key, v in curves.items():
        if key in ("sway", "bob"):
            out[key] = np.interp(pos, grid, v)
        else:
            out[key] = np.arctan2(np.interp(pos, grid, np.sin(v)), np.interp(pos, grid, np.cos(v)))
    return out


def _blend(a: dict[str, np.ndarray], b: dict[str, np.ndarray], w: np.ndarray) -> dict[str, np.ndarray]:
    """``a`` cross-faded into ``b`` by weights ``w`` over time; an angle turns the short way, and
    keeps turning the same way when the two differ by about 180 degrees during the fade."""
    start = int(np.argmax(w > 0))  # the fade's first frame: the turn is the short one there
    out = {}
    for k in a:
        d = b[k] - a[k]
        if k not in ("sway", "bob"):
            d = _wrap(d)
            d[start:] = np.unwrap(d[start:])
        out[k] = a[k] + w * d
    return out


@dataclass(frozen=True)
class MocapMotion:
    """What one video's figure does: per-frame curves and how they were drawn (for synth.json)."""

    times: np.ndarray  # (N,) seconds of video time
    curves: dict[str, np.ndarray]  # the renderer's angles (radians), sway and bob
    clips: tuple[str, ...]
    speed: float
    camera: Camera

    def series(self, key: str) -> Series:
        return Series(self.times, self.curves[key])

    def describe(self) -> dict:
        return {"clips": list(self.clips), "speed": round(self.speed, 4),
                "yaw_deg": round(math.degrees(self.camera.yaw), 2),
                "elevation_deg": round(math.degrees(self.camera.elevation), 2), "mirror": self.camera.mirror}


def sample_motion(rng: np.random.Generator, duration: float, fps: int, margin: float = 0.5) -> MocapMotion:
    """A chain of clips covering ``duration`` seconds of video (plus ``margin`` before and after,
    for the garment's lag), at ``fps``, with a random speed, camera and mirror."""
    speed = float(rng.uniform(*SPEED))
    camera = Camera(math.radians(rng.uniform(*YAW_DEG)), math.radians(rng.uniform(*ELEVATION_DEG)),
                    bool(rng.uniform() < 0.5))
    times = -margin + np.arange(math.ceil((duration + 2 * margin) * fps) + 1) / fps
    tau = (times - times[0]) * speed  # mocap seconds since the chain's start
    curves, start, names = None, 0.0, []
    while start < tau[-1]:
        clip = load_clip(str(rng.choice(CLIPS)))
        length = len(clip.frames) * clip.dt
        phase = float(rng.uniform(0.0, max(0.0, length - 0.8)))
        span = length - phase
        seg = _at(_clip_curves(clip, camera), clip, phase + tau - start)
        w = np.clip((tau - start) / BLEND_S, 0.0, 1.0) if curves is not None else np.ones_like(tau)
        curves = seg if curves is None else _blend(curves, seg, w)
        names.append(clip.name)
        start += max(span, BLEND_S * 2)
    return MocapMotion(times, _limit(curves), tuple(names), speed, camera)


def _limit(curves: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Clip every curve to what the renderer draws well (``LIMITS``, sway and bob ranges).

    An angle is unwrapped over time first (and moved by whole turns so that its median lies within
    180 degrees of its range's centre): an arm raised past the vertical, or a shin kicked up behind,
    then stays at the end of its range instead of flipping to the other end."""
    out = dict(curves)
    for key, lim in LIMITS.items():
        lo, hi = np.radians((-lim, lim) if np.isscalar(lim) else lim)
        centre = 0.5 * (lo + hi)
        for k in (key,) if key in curves else (f"{key}1", f"{key}-1"):
            v = np.unwrap(curves[k])
            v = v + (_wrap(np.median(v) - centre) - (np.median(v) - centre))
            out[k] = np.clip(v, lo, hi)
    out["sway"] = np.clip(curves["sway"], -0.08, 0.08)
    out["bob"] = np.clip(curves["bob"], -0.1, 0.0)  # a jump: a tenth of the height, so the head stays in frame
    return out
