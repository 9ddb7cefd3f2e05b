import dataclasses

import numpy as np
import pytest
import torch

from internet_cli.config import ModelConfig, MotionConfig, preset
from internet_cli.model import INTERnet
from internet_cli.motion.geometry import make_coordinate_grid
from internet_cli.motion.part_shapes import part_distances
from internet_cli.pose import skeleton as sk
from internet_cli.pose.parts import part_frames, part_motion
from tests.pose.skeletons import standing

PART = {p.name: k for k, p in enumerate(sk.PARTS)}
SIZE = 64


def _distances(lm: np.ndarray) -> torch.Tensor:
    kp, jac, _ = part_frames(lm)
    return part_distances(torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float(), SIZE, SIZE)[0]


def _at(maps: torch.Tensor, xy) -> torch.Tensor:
    """``maps`` ``(..., H, W)`` at the grid point nearest the normalised point ``xy``."""
    h, w = maps.shape[-2:]
    grid = make_coordinate_grid(h, w)
    i = int(((grid - torch.tensor(xy).float()) ** 2).sum(-1).argmin())
    return maps[..., i // w, i % w]


def test_every_part_is_nearest_on_its_own_landmarks():
    lm = standing(arm_angle=1.2)  # arms raised out to the sides, away from the torso
    dist = _distances(lm)
    elbow, wrist = lm[sk.L_ELBOW, :2], lm[sk.L_WRIST, :2]
    checks = {"left_forearm": (elbow + wrist) / 2, "left_upper_arm": (lm[sk.L_SHOULDER, :2] + elbow) / 2,
              "right_shin": (lm[sk.R_KNEE, :2] + lm[sk.R_ANKLE, :2]) / 2, "head": lm[sk.NOSE, :2],
              "torso": lm[list(sk.TORSO), :2].mean(0)}
    for name, xy in checks.items():
        d = _at(dist, xy)
        assert int(d.argmin()) == PART[name], name
        assert float(d[PART[name]]) < 0.2, name  # on the part: inside its capsule (1 = the edge)


def test_far_from_the_body_every_part_is_beyond_its_edge():
    dist = _distances(standing(scale=0.6))
    assert float(_at(dist, (0.95, -0.95)).min()) > 1.5
    assert float(_at(dist, (-0.95, 0.9)).min()) > 1.5


def test_the_hand_beyond_the_wrist_belongs_to_the_forearm():
    lm = standing(arm_angle=1.2)
    elbow, wrist = lm[sk.L_ELBOW, :2], lm[sk.L_WRIST, :2]
    hand = wrist + 0.2 * (wrist - elbow)
    d = _at(_distances(lm), hand)
    assert int(d.argmin()) == PART["left_forearm"] and float(d.min()) < 0.5


def _pose_model(prior: float, **motion_options) -> INTERnet:
    """The tiny pose preset, its motion field at 64x64 (as fine as a real model's, relative to the
    limbs: at 16x16 a forearm is a pixel wide), with ``motion_options``."""
    torch.manual_seed(0)
    cfg = preset("tiny", "pose")
    motion = dataclasses.replace(cfg.motion, part_prior=prior, base_size=64, **motion_options)
    return INTERnet(dataclasses.replace(cfg, motion=motion, image_size=256)).eval()


def _body_mask(lm, size: int, parts=None, reach: float = 1.0) -> torch.Tensor:
    """A person mask ``(1, 1, size, size)``: within ``reach`` limb radii of the (listed) parts
    (1: their capsules' edge)."""
    kp, jac, _ = part_frames(lm)
    d = part_distances(torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float(), size, size)
    d = d if parts is None else d[:, [PART[p] for p in parts]]
    return (d.amin(dim=1, keepdim=True) <= reach).float()


def _animate(prior: float, src_lm, drv_lm, mask_parts=None, reach: float = 1.0, **motion_options) -> dict[str, torch.Tensor]:
    """An untrained pose model with the part prior ``prior`` (and ``motion_options``) on a random
    image, source landmarks ``src_lm`` driven to ``drv_lm``, the source's person mask covering
    ``mask_parts`` (all: the whole body) to ``reach`` limb radii: the model's outputs (weights,
    confidence, ...)."""
    model = _pose_model(prior, **motion_options)
    s = model.config.image_size
    img = torch.rand(1, 3, s, s)
    m = part_motion(src_lm, drv_lm)
    pose = {k: torch.from_numpy(v[None]) for k, v in m.items() if k != "visible"}
    pose["source_mask"] = _body_mask(src_lm, s, mask_parts, reach)
    with torch.no_grad():
        return model(img, img, pose)


def test_the_prior_gives_a_moved_forearm_its_own_transform():
    """An untrained network with the part prior: the pixels of the driving forearm take the
    forearm's weight, so they sample the source forearm."""
    src_lm, drv_lm = standing(), standing(arm_angle=1.2)
    out = _animate(8.0, src_lm, drv_lm)
    w = _at(out["weights"][0], (drv_lm[sk.L_ELBOW, :2] + drv_lm[sk.L_WRIST, :2]) / 2)
    assert int(w.argmax()) == 1 + PART["left_forearm"] and float(w.max()) > 0.5


def test_no_prior_is_the_paper_model_and_old_configs_load_without_it():
    data = dataclasses.asdict(preset("tiny", "pose"))
    for key in ("part_prior", "person_mask", "residual_bound", "limb_core", "capsule_join", "hidden_fill", "segmenter",
                "image_warp"):
        data["motion"].pop(key)
    data["generator"].pop("limb_pass")
    assert not ModelConfig.from_dict(data).generator.limb_pass
    old = ModelConfig.from_dict(data).motion
    assert old.part_prior == 0.0 and not old.person_mask and old.residual_bound == 3.0 and old.limb_core == 0.0
    assert old.capsule_join == 1.0 and old.hidden_fill == "background" and old.segmenter == "selfie"
    assert old.image_warp == "field"
    assert preset("tiny").motion.part_prior == 0.0 and preset("tiny", "pose").motion.part_prior > 0


def test_the_prior_needs_pose_anchors():
    with pytest.raises(ValueError, match="part_prior"):
        MotionConfig(part_prior=1.0)


def test_m_is_low_where_the_background_is_hidden_by_the_source_body():
    """The source's raised arm has gone down in the driving frame: where it was, the background
    transform samples the arm, not the background, so M there is near 0."""
    src_lm, drv_lm = standing(arm_angle=1.2), standing()
    out = _animate(8.0, src_lm, drv_lm)
    old_arm = (src_lm[sk.L_ELBOW, :2] + src_lm[sk.L_WRIST, :2]) / 2
    w_bg, m_old_arm = _at(out["weights"][0, 0], old_arm), _at(out["confidence"][0, 0], old_arm)
    m_far = _at(out["confidence"][0, 0], (0.9, 0.9))
    assert w_bg > 0.9 and m_old_arm < 0.1 and m_far > 0.3


def test_a_limb_the_segmentation_misses_still_moves_with_its_part():
    """The person mask holds the head only (a segmentation that missed the body): with
    ``motion.capsule_join`` 1 the parts' own shapes join it, so the moved forearm still takes the
    forearm's transform."""
    src_lm, drv_lm = standing(), standing(arm_angle=1.2)
    forearm = (drv_lm[sk.L_ELBOW, :2] + drv_lm[sk.L_WRIST, :2]) / 2
    w = _at(_animate(8.0, src_lm, drv_lm, mask_parts=("head",), capsule_join=1.0)["weights"][0], forearm)
    assert int(w.argmax()) == 1 + PART["left_forearm"] and float(w.max()) > 0.5


def test_a_part_takes_all_of_its_person_pixels_even_beyond_its_capsule():
    """A wide sleeve: the person mask reaches 1.8 limb radii from the bones. Between the moved
    forearm's capsule edge and the sleeve's edge a pixel lands on the source's sleeve, nearest the
    forearm, so it takes the forearm (the nearest-part rule); past the sleeve the background wins."""
    src_lm, drv_lm = standing(arm_angle=1.5), standing(arm_angle=0.7)
    out = _animate(8.0, src_lm, drv_lm, reach=1.8)["weights"][0]
    kp, jac, _ = part_frames(drv_lm)
    d = part_distances(torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float(), *out.shape[1:])[0]
    others = torch.cat([d[:PART["left_forearm"]], d[PART["left_forearm"] + 1:]]).amin(0)
    sleeve = (d[PART["left_forearm"]] > 1.2) & (d[PART["left_forearm"]] < 1.5) & (others > 3)
    beyond = (d[PART["left_forearm"]] > 2.3) & (d[PART["left_forearm"]] < 3) & (others > 3)
    assert sleeve.sum() > 5 and beyond.sum() > 5
    assert float(out[1 + PART["left_forearm"]][sleeve].min()) > 0.5
    assert float(out[0][beyond].min()) > 0.9


def test_a_forearm_moved_across_the_torso_is_drawn_in_front_of_it():
    """The left arm folded across the chest: where the driving forearm lies over the torso, both
    parts land on their own source pixels, and the forearm wins."""
    src_lm = standing()
    drv_lm = standing()
    drv_lm[sk.L_ELBOW, :2] = drv_lm[sk.L_SHOULDER, :2] + (0.0, 0.18)
    drv_lm[sk.L_WRIST, :2] = drv_lm[sk.L_ELBOW, :2] + (-0.16, 0.0)
    drv_lm[[17, 19, 21], :2] = drv_lm[sk.L_WRIST, :2] + (-0.03, 0.0)
    out = _animate(8.0, src_lm, drv_lm)["weights"][0]
    w = _at(out, (drv_lm[sk.L_ELBOW, :2] * 0.4 + drv_lm[sk.L_WRIST, :2] * 0.6))
    assert int(w.argmax()) == 1 + PART["left_forearm"], w


def test_a_model_with_the_person_mask_refuses_to_run_without_it():
    cfg = preset("tiny", "pose")
    assert cfg.motion.person_mask  # new pose models have it
    model = INTERnet(cfg).eval()
    s = cfg.image_size
    img = torch.rand(1, 3, s, s)
    pose = {k: torch.from_numpy(v[None]) for k, v in part_motion(standing(), standing(arm_angle=1.2)).items()
            if k != "visible"}
    with pytest.raises(ValueError, match="person mask"):
        model(img, img, pose)


def test_a_residual_bound_of_zero_leaves_the_composition_to_the_prior():
    """``motion.residual_bound = 0``: the composition head has no say (two different heads give the
    same weights); the default bound lets it move them."""
    src_lm, drv_lm = standing(), standing(arm_angle=1.2)

    def weights(bound: float, head_seed: int) -> torch.Tensor:
        model = _pose_model(8.0)
        model.dense_motion.residual_bound = bound
        torch.manual_seed(head_seed)
        torch.nn.init.normal_(model.dense_motion.weights.weight, std=1.0)
        s = model.config.image_size
        pose = {k: torch.from_numpy(v[None]) for k, v in part_motion(src_lm, drv_lm).items() if k != "visible"}
        pose["source_mask"] = _body_mask(src_lm, s)
        with torch.no_grad():
            return model(torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(2)),
                         torch.zeros(1, 3, s, s), pose)["weights"]

    torch.testing.assert_close(weights(0.0, 1), weights(0.0, 2))
    assert not torch.allclose(weights(3.0, 1), weights(3.0, 2), atol=1e-3)
    with pytest.raises(ValueError, match="residual_bound"):
        MotionConfig(residual_bound=-1.0)


def _arm_across_chest() -> np.ndarray:
    """The left forearm held across the chest, over the torso's outline."""
    lm = standing()
    lm[sk.L_ELBOW, :2] = lm[sk.L_SHOULDER, :2] + (0.0, 0.18)
    lm[sk.L_WRIST, :2] = lm[sk.L_ELBOW, :2] + (-0.16, 0.0)
    lm[[17, 19, 21], :2] = lm[sk.L_WRIST, :2] + (-0.03, 0.0)
    return lm


@pytest.mark.parametrize("limb_core, owner", [(0.0, "torso"), (0.7, "left_forearm")])
def test_a_forearm_held_across_the_chest_is_the_forearms_with_a_limb_core(limb_core, owner):
    """Inside the torso's outline nearness gives the torso everything (its distance is 0 there);
    ``motion.limb_core`` gives the forearm, drawn in front, its core first. Off the core, the
    torso keeps its own pixels."""
    from internet_cli.motion.dense import source_ownership

    lm = _arm_across_chest()
    kp, jac, _ = part_frames(lm)
    kp, jac = torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float()
    _, own = source_ownership(torch.ones(1, 1, 128, 128), kp, jac, limb_core)
    d = part_distances(kp, jac, 128, 128)[0]
    forearm = PART["left_forearm"]
    on_core = (d[forearm] > 0.15) & (d[forearm] < 0.5) & (d[PART["torso"]] < 0.01)  # the forearm over the chest,
    limbs = [PART[p.name] for p in sk.PARTS if p.bone is not None and p.name != "left_forearm"]
    on_core &= d[limbs].amin(0) > 1  # and away from the other limbs (the elbow, the other arm)
    assert on_core.sum() > 20
    assert float(own[0, PART[owner]][on_core].min()) > 0.8
    chest = _at(own[0], (-0.05, 0.0))  # the torso's middle, far below the forearm
    assert int(chest.argmax()) == PART["torso"]


def test_with_a_limb_core_the_forearm_held_across_the_chest_moves_whole():
    """The folded forearm is raised out to the side: its pixels at the driving forearm's middle
    take the forearm's transform, landing on the source forearm (the chest behind it stays)."""
    src_lm, drv_lm = _arm_across_chest(), standing(arm_angle=1.2)
    model = _pose_model(8.0)
    model.config = dataclasses.replace(model.config, motion=dataclasses.replace(model.config.motion, limb_core=0.7))
    s = model.config.image_size
    m = part_motion(src_lm, drv_lm)
    pose = {k: torch.from_numpy(v[None]) for k, v in m.items() if k != "visible"}
    pose["source_mask"] = _body_mask(src_lm, s)
    img = torch.rand(1, 3, s, s)
    with torch.no_grad():
        w = _at(model(img, img, pose)["weights"][0], (drv_lm[sk.L_ELBOW, :2] + drv_lm[sk.L_WRIST, :2]) / 2)
    assert int(w.argmax()) == 1 + PART["left_forearm"] and float(w.max()) > 0.5


def test_a_limb_core_needs_the_person_mask():
    with pytest.raises(ValueError, match="limb_core"):
        MotionConfig(limb_core=0.5)


@pytest.mark.parametrize("join", [0.0, 0.5, 1.0])
def test_the_capsules_join_the_person_mask_out_to_capsule_join(join):
    """``motion.capsule_join``: an empty segmentation leaves the person to the parts' shapes out
    to this many limb radii (0: the segmentation alone, so no background around a thin limb is
    carried with it); a segmented pixel is the person whatever the join."""
    from internet_cli.motion.dense import source_ownership

    kp, jac, _ = part_frames(_arm_across_chest())
    kp, jac = torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float()
    d = part_distances(kp, jac, 128, 128)[0].amin(0)
    body = source_ownership(torch.zeros(1, 1, 128, 128), kp, jac, 0.7, join)[0][0, 0]
    inside, outside = d < join - 0.3, d > join + 0.3
    assert (body[outside] < 0.1).all()
    if join > 0:
        assert inside.sum() > 20 and (body[inside] > 0.9).all()
    else:
        assert float(body.max()) == 0.0
    full, _ = source_ownership(torch.ones(1, 1, 128, 128), kp, jac, 0.7, join)
    assert float(full.min()) == 1.0


def test_capsule_join_is_not_negative():
    with pytest.raises(ValueError, match="capsule_join"):
        MotionConfig(capsule_join=-0.5)


@pytest.mark.parametrize("fill, colour", [("background", 2), ("body", 0)])
def test_a_forearm_that_leaves_the_chest_uncovers_the_chest_with_the_body_fill(fill, colour):
    """The left forearm held across the chest is raised: where it lay, the background would show
    the source's own forearm, so the output is a plate there. ``motion.hidden_fill``: the
    background plate (every file before 2026-12-03) fills it from the blue background around the body;
    "body" fills it from the torso's own red pixels, as the chest it covered."""
    src_lm, drv_lm = _arm_across_chest(), standing(arm_angle=1.2)
    model = _pose_model(8.0, residual_bound=0.0, hidden_fill=fill)
    s = model.config.image_size
    kp, jac, _ = part_frames(src_lm)
    d = part_distances(torch.tensor(kp[None]).float(), torch.tensor(jac[None]).float(), s, s)[0]
    body, forearm = d.amin(0) <= 1.0, d[PART["left_forearm"]] <= 0.6
    img = torch.zeros(1, 3, s, s)
    img[0, 2] = 1.0  # a blue background, a red body, a green forearm
    img[0, :, body] = torch.tensor([1.0, 0.0, 0.0])[:, None]
    img[0, :, forearm] = torch.tensor([0.0, 1.0, 0.0])[:, None]
    pose = {k: torch.from_numpy(v[None]) for k, v in part_motion(src_lm, drv_lm).items() if k != "visible"}
    pose["source_mask"] = body.float()[None, None]
    with torch.no_grad():
        out = model(img, img, pose)
    where = 0.4 * src_lm[sk.L_ELBOW, :2] + 0.6 * src_lm[sk.L_WRIST, :2]  # the old forearm, on the chest
    assert float(_at(out["hidden"][0, 0], where)) > 0.9
    rgb = _at(out["prediction"][0], where)
    assert int(rgb.argmax()) == colour and float(rgb[colour]) > 0.6, rgb


def test_the_body_fill_needs_the_person_mask_and_the_segmenter_is_known():
    with pytest.raises(ValueError, match="hidden_fill"):
        MotionConfig(hidden_fill="body")
    with pytest.raises(ValueError, match="hidden_fill"):
        dataclasses.replace(preset("tiny", "pose").motion, hidden_fill="torso")
    with pytest.raises(ValueError, match="segmenter"):
        MotionConfig(segmenter="sam")
