"""The real photos the synthetic dancers are printed with and set on (scikit-image's, opencv-doc's)."""

from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np


# scikit-image's photos for garment prints. Not its astronaut or camera man: people, and sources of
# the real-photo evaluation (benchmarks/pose_following.py), which training must never see.
_PHOTO_NAMES = ("coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field",
                "colorwheel", "brick", "grass", "gravel")


@functools.lru_cache(maxsize=None)
def _photo(name: str) -> np.ndarray | None:
    """A bundled scikit-image photo as float32 RGB in [0, 1], or None (no scikit-image, no file)."""
    try:
        import skimage.data as skdata  # optional: only used for photo textures

        img = np.asarray(getattr(skdata, name)())
    except Exception:  # noqa: BLE001 - any failure just means "no photo texture"
        return None
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    img = img[:, :, :3].astype(np.float32)
    return img / (255.0 if img.max() > 1.0 else 1.0)


def texture_photos() -> list[str]:
    """The real photos garment prints are cut from on this machine: scikit-image's, then
    opencv-doc's people-free scenes when Debian's package is installed (never a photo of a person:
    the evaluation sources are among opencv-doc's)."""
    names = [n for n in _PHOTO_NAMES if _photo(n) is not None]
    return names + [n for n in _BACKGROUND_OPENCV if (_OPENCV_DATA / n).is_file()]


def photos_available() -> bool:
    return bool(texture_photos())


def _any_photo(name: str) -> np.ndarray | None:
    """float32 RGB in [0, 1] of a photo named by ``texture_photos`` or ``background_photos``."""
    return _photo(name) if name in _PHOTO_NAMES else _opencv_photo(name)


_OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
# Scenes without people (the evaluation sources, messi5.jpg and the basketball frames among them,
# are never drawn on). scikit-image's are always there with the [test] extra; opencv-doc's when
# Debian's package is installed.
_BACKGROUND_SKIMAGE = ("coffee", "chelsea", "rocket", "brick", "grass", "gravel")
_BACKGROUND_OPENCV = ("building.jpg", "home.jpg", "aero1.jpg", "leuvenA.jpg", "fruits.jpg", "baboon.jpg",
                      "stuff.jpg", "aloeL.jpg", "board.jpg", "box_in_scene.png", "rubberwhale1.png", "orange.jpg",
                      "graf1.png", "left01.jpg", "starry_night.jpg", "pic1.png", "apple.jpg", "butterfly.jpg")


@functools.lru_cache(maxsize=None)
def _opencv_photo(name: str) -> np.ndarray | None:
    img = cv2.imread(str(_OPENCV_DATA / name), cv2.IMREAD_COLOR)
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def photo_folders() -> list[Path]:
    """The folders synth reads photos from, its only inputs: scikit-image's data and opencv-doc's
    samples (garment prints, and backgrounds with ``photo_backgrounds``); those present here."""
    folders = []
    try:
        import skimage.data as skdata

        folders.append(Path(skdata.data_dir))
    except Exception:  # noqa: BLE001 - no scikit-image: no photo textures
        pass
    folders.append(_OPENCV_DATA)
    return [f for f in folders if f.is_dir()]


def background_photos() -> list[str]:
    """Names of the real photos that ``photo_backgrounds`` draws from on this machine."""
    names = [n for n in _BACKGROUND_SKIMAGE if _photo(n) is not None]
    return names + [n for n in _BACKGROUND_OPENCV if (_OPENCV_DATA / n).is_file()]


def _background_photo(rng: np.random.Generator, size: int) -> np.ndarray | None:
    """A random square crop of a real photo (random zoom, flip, brightness), ``(size, size, 3)``."""
    names = background_photos()
    if not names:
        return None
    name = names[int(rng.integers(len(names)))]
    img = _any_photo(name)
    h, w = img.shape[:2]
    side = int(min(h, w) * rng.uniform(0.5, 1.0))
    y0, x0 = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
    crop = img[y0:y0 + side, x0:x0 + side]
    if rng.uniform() < 0.5:
        crop = crop[:, ::-1]
    out = cv2.resize(np.ascontiguousarray(crop), (size, size), interpolation=cv2.INTER_AREA)
    return np.clip(out * rng.uniform(0.7, 1.15), 0.0, 1.0).astype(np.float32)

