"""MediaPipe Pose's 33-landmark layout and the 10 body parts that serve as motion anchors.

"Left" and "right" are the person's own, as in MediaPipe: a person facing the camera has their
left shoulder (11) on the right of the picture. A landmark array is ``(33, 3)``: ``x, y`` and a
visibility in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

NUM_LANDMARKS = 33

NOSE = 0
L_EYE_INNER, L_EYE, L_EYE_OUTER, R_EYE_INNER, R_EYE, R_EYE_OUTER = 1, 2, 3, 4, 5, 6
L_EAR, R_EAR, MOUTH_L, MOUTH_R = 7, 8, 9, 10
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_PINKY, R_PINKY, L_INDEX, R_INDEX, L_THUMB, R_THUMB = 17, 18, 19, 20, 21, 22
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_FOOT, R_FOOT = 29, 30, 31, 32

FACE = (NOSE, L_EYE_INNER, L_EYE, L_EYE_OUTER, R_EYE_INNER, R_EYE, R_EYE_OUTER, L_EAR, R_EAR, MOUTH_L, MOUTH_R)
TORSO = (L_SHOULDER, R_SHOULDER, L_HIP, R_HIP)

# Index of each landmark in the mirrored picture (left and right swap), for horizontal flips.
MIRROR = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21,
          24, 23, 26, 25, 28, 27, 30, 29, 32, 31)

VISIBLE = 0.5
"""A landmark with visibility below this is hidden (MediaPipe's own drawing threshold)."""


@dataclass(frozen=True)
class Part:
    name: str
    parent: int | None  # index into PARTS; None for the root (torso)
    bone: tuple[int, int] | None  # (start, end) landmarks of a limb; None for torso and head
    carried: tuple[int, ...] = ()  # landmarks that move rigidly with the part (hands, feet)


PARTS: tuple[Part, ...] = (
    Part("head", 1, None, FACE),
    Part("torso", None, None),
    Part("left_upper_arm", 1, (L_SHOULDER, L_ELBOW)),
    Part("left_forearm", 2, (L_ELBOW, L_WRIST), (L_PINKY, L_INDEX, L_THUMB)),
    Part("right_upper_arm", 1, (R_SHOULDER, R_ELBOW)),
    Part("right_forearm", 4, (R_ELBOW, R_WRIST), (R_PINKY, R_INDEX, R_THUMB)),
    Part("left_thigh", 1, (L_HIP, L_KNEE)),
    Part("left_shin", 6, (L_KNEE, L_ANKLE), (L_HEEL, L_FOOT)),
    Part("right_thigh", 1, (R_HIP, R_KNEE)),
    Part("right_shin", 8, (R_KNEE, R_ANKLE), (R_HEEL, R_FOOT)),
)
"""The paper's K = 10 anchors, parents before children."""

HEAD, TORSO_PART = 0, 1
LIMB_BONES = {p.name: p.bone for p in PARTS if p.bone is not None}
ORDER = (1, 0, 2, 3, 4, 5, 6, 7, 8, 9)
"""Parts in an order where every parent comes before its children."""
