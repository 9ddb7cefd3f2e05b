import numpy as np
import pytest

from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import inverse, mirror, normalise, part_frames, part_motion, to_pixels
from tests.pose.skeletons import rotate_about, standing

PART = {p.name: k for k, p in enumerate(sk.PARTS)}


def transform(motion, k, z):
    """The model's T_k (driving -> source coordinates) at points ``z`` (n, 2)."""
    m = motion["jac_source"][k] @ inverse(motion["jac_driving"][k])
    return (z - motion["kp_driving"][k]) @ m.T + motion["kp_source"][k]


def test_ten_parts_centred_on_their_landmarks():
    lm = standing()
    kp, jac, visible = part_frames(lm)
    assert kp.shape == (10, 2) and jac.shape == (10, 2, 2) and visible.all()
    k = PART["left_forearm"]
    np.testing.assert_allclose(kp[k], (lm[sk.L_ELBOW, :2] + lm[sk.L_WRIST, :2]) / 2)
    np.testing.assert_allclose(kp[PART["torso"]], lm[list(sk.TORSO), :2].mean(0))


def test_the_same_pose_gives_the_identity():
    lm = standing()
    motion = part_motion(lm, lm)
    z = np.random.default_rng(0).uniform(-1, 1, (20, 2))
    for k in range(10):
        np.testing.assert_allclose(transform(motion, k, z), z, atol=1e-5)


def test_a_rotated_forearm_gives_that_rotation():
    src = standing()
    angle = 0.7
    drv = rotate_about(src, [sk.L_WRIST, sk.L_PINKY, sk.L_INDEX, sk.L_THUMB], sk.L_ELBOW, angle)
    motion = part_motion(src, drv)
    k = PART["left_forearm"]
    m = motion["jac_source"][k] @ inverse(motion["jac_driving"][k])  # driving -> source: the inverse rotation
    c, s = np.cos(-angle), np.sin(-angle)
    np.testing.assert_allclose(m, [[c, -s], [s, c]], atol=1e-5)
    # the driving wrist is carried back onto the source wrist, the elbow stays
    np.testing.assert_allclose(transform(motion, k, drv[[sk.L_WRIST, sk.L_ELBOW], :2]),
                               src[[sk.L_WRIST, sk.L_ELBOW], :2], atol=1e-5)
    for other in ("right_forearm", "torso", "left_upper_arm", "head"):
        np.testing.assert_allclose(transform(motion, PART[other], src[:5, :2]), src[:5, :2], atol=1e-5)


def test_a_stretched_bone_stretches_along_it_and_keeps_the_width():
    src = standing()
    drv = src.copy()
    drv[sk.L_ELBOW, 1] += 0.1  # the upper arm hangs straight down: stretched along y only
    motion = part_motion(src, drv)
    k = PART["left_upper_arm"]
    m = motion["jac_driving"][k] @ inverse(motion["jac_source"][k])  # source -> driving
    np.testing.assert_allclose(m, [[1.0, 0.0], [0.0, 0.28 / 0.18]], atol=1e-5)


def test_the_torso_follows_a_rotation_and_scale_of_shoulders_and_hips():
    src = standing()
    drv = src.copy()
    a, s = 0.3, 1.2
    r = s * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    drv[:, :2] = src[:, :2] @ r.T + [0.1, -0.05]
    motion = part_motion(src, drv)
    k = PART["torso"]
    np.testing.assert_allclose(motion["jac_driving"][k] @ inverse(motion["jac_source"][k]), r, atol=1e-6)
    np.testing.assert_allclose(motion["kp_driving"][k], src[list(sk.TORSO), :2].mean(0) @ r.T + [0.1, -0.05],
                               atol=1e-6)


def test_a_sideways_torso_has_no_degenerate_frame():
    lm = standing()
    lm[[sk.L_SHOULDER, sk.R_SHOULDER], 0] = 0.0  # shoulders and hips on one vertical line
    lm[[sk.L_HIP, sk.R_HIP], 0] = 0.0
    _, jac, _ = part_frames(lm)
    sv = np.linalg.svd(jac[PART["torso"]], compute_uv=False)
    assert sv[1] >= 0.3 * sv[0] - 1e-9 > 0


@pytest.mark.parametrize("hidden, parent", [(sk.L_WRIST, "left_upper_arm"), (sk.R_ANKLE, "right_thigh"),
                                            (sk.L_ELBOW, "torso")])
def test_hidden_joints_fall_back_to_their_parent_part(hidden, parent):
    src = standing()
    rng = np.random.default_rng(1)
    drv = src.copy()
    drv[:, :2] += rng.normal(0, 0.05, (33, 2))  # every part moves differently
    drv[hidden, 2] = 0.1
    motion = part_motion(src, drv)
    child = {sk.L_WRIST: ["left_forearm"], sk.R_ANKLE: ["right_shin"],
             sk.L_ELBOW: ["left_upper_arm", "left_forearm"]}[hidden]
    z = rng.uniform(-1, 1, (10, 2))
    for name in child:
        assert not motion["visible"][PART[name]]
        np.testing.assert_allclose(transform(motion, PART[name], z), transform(motion, PART[parent], z), atol=1e-5)
    # a visible part keeps its own transform
    assert motion["visible"][PART["right_forearm"]]
    assert not np.allclose(transform(motion, PART["right_forearm"], z), transform(motion, PART["torso"], z))


def test_hidden_in_the_source_also_follows_the_parent():
    src, drv = standing(), rotate_about(standing(), [sk.R_WRIST], sk.R_ELBOW, 0.5)
    src[sk.R_WRIST, 2] = 0.0
    motion = part_motion(src, drv)
    z = np.zeros((1, 2))
    np.testing.assert_allclose(transform(motion, PART["right_forearm"], z),
                               transform(motion, PART["right_upper_arm"], z), atol=1e-6)


def test_pixels_and_normalised_coordinates_round_trip_with_corner_pixel_centres():
    lm = np.zeros((33, 3))
    lm[0, :2] = (0.5, 0.5)  # the centre of pixel (0, 0)
    lm[1, :2] = (511.5, 511.5)
    n = normalise(lm, 512)
    np.testing.assert_allclose(n[:2, :2], [[-1, -1], [1, 1]])
    np.testing.assert_allclose(to_pixels(n, 512), lm, atol=1e-9)


def test_mirror_swaps_sides_and_flips_x():
    lm = standing(centre=(0.2, 0.0))
    m = mirror(lm)
    np.testing.assert_allclose(m[sk.L_WRIST, :2], [-lm[sk.R_WRIST, 0], lm[sk.R_WRIST, 1]])
    np.testing.assert_allclose(mirror(m), lm)
    kp, _, _ = part_frames(lm)
    kp_m, _, _ = part_frames(m)
    np.testing.assert_allclose(kp_m[PART["left_forearm"]], kp[PART["right_forearm"]] * [-1, 1], atol=1e-9)
