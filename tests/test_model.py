import pytest
import torch

from internet_cli.config import PRESETS, ModelConfig, preset
from internet_cli.model import DrivingReference, INTERnet, relative_motion


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return INTERnet(preset("tiny")).eval()


def _frames(b, s, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, 3, s, s, generator=g)


@pytest.mark.parametrize("name", ["tiny", "paper-512"])
def test_output_shapes(name):
    cfg = preset(name)
    model = INTERnet(cfg).eval()
    s, n, base = cfg.image_size, cfg.motion.num_anchors, cfg.motion.base_size
    with torch.no_grad():
        out = model(_frames(1, s), _frames(1, s, 1))
    assert out["prediction"].shape == (1, 3, s, s)
    assert out["field"].shape == (1, base, base, 2)
    assert out["confidence"].shape == (1, 1, base, base)
    assert out["weights"].shape == (1, n + 1, base, base)
    assert out["kp_driving"].shape == (1, n, 2) and out["jac_driving"].shape == (1, n, 2, 2)
    assert 0 <= out["confidence"].min() and out["confidence"].max() <= 1
    assert torch.allclose(out["weights"].sum(1), torch.ones(1, base, base), atol=1e-5)  # eq. 5: sum w = 1
    if name == "paper-512":  # the paper's design: Stage I at 128, 10 anchors, 3 generator stages
        assert (base, n, len(cfg.generator.channels)) == (128, 10, 3)


def test_split_inference_equals_forward(tiny):
    src, drv = _frames(1, 64), _frames(3, 64, 1)
    with torch.no_grad():
        state = tiny.encode_source(src)
        split = tiny.animate(state, drv, tiny.absolute_reference())
        full = tiny(src.expand(3, -1, -1, -1), drv)["prediction"]
    assert torch.allclose(split, full, atol=1e-5)


def test_same_anchors_give_identity_motion(tiny):
    """With driving anchors equal to the source anchors every local transform is the identity."""
    src = _frames(1, 64)
    with torch.no_grad():
        state = tiny.encode_source(src)
        out = tiny.generate(state, state.anchors, state.affines)
    from internet_cli.motion.geometry import make_coordinate_grid

    assert torch.allclose(out["field"][0], make_coordinate_grid(16, 16), atol=1e-5)


def test_relative_versus_absolute_motion(tiny):
    src, first, later = _frames(1, 64), _frames(1, 64, 1), _frames(1, 64, 2)
    with torch.no_grad():
        state = tiny.encode_source(src)
        kp0, jac0 = tiny.detector(first)
        kp1, jac1 = tiny.detector(later)
        one, zero = torch.ones(1), torch.zeros(1)
        rel = DrivingReference(kp0, jac0, one, one)
        kp, jac = relative_motion(state, kp1, jac1, rel)
        assert torch.allclose(kp, state.anchors + kp1 - kp0, atol=1e-6)
        # Relative motion on the first driving frame itself: the source pose, unchanged.
        kp_first, jac_first = relative_motion(state, kp0, jac0, rel)
        assert torch.allclose(kp_first, state.anchors, atol=1e-6)
        assert torch.allclose(jac_first, state.affines, atol=1e-4)
        # Absolute: the driving anchors as detected.
        kp_abs, jac_abs = relative_motion(state, kp1, jac1, DrivingReference(kp0, jac0, zero, one))
        assert torch.equal(kp_abs, kp1) and torch.allclose(jac_abs, jac1)
        # Adapt-scale halves the displacement.
        kp_half, _ = relative_motion(state, kp1, jac1, DrivingReference(kp0, jac0, one, 0.5 * one))
        assert torch.allclose(kp_half - state.anchors, 0.5 * (kp1 - kp0), atol=1e-6)
        out_rel = tiny.animate(state, later, rel)
        out_abs = tiny.animate(state, later, DrivingReference(kp0, jac0, zero, one))
    assert not torch.allclose(out_rel, out_abs)


def test_confidence_gates_features(tiny):
    """Eq. 6: with M = 0 the decoder sees no source features."""
    from internet_cli.generation.generator import deform

    feats = [torch.rand(1, 4, 8, 8), torch.rand(1, 2, 16, 16)]
    field = torch.zeros(1, 8, 8, 2)
    out = deform(feats, field, torch.zeros(1, 1, 8, 8))
    assert all(o.abs().max() == 0 for o in out)
    assert [o.shape for o in out] == [f.shape for f in feats]


def test_config_round_trip():
    for cfg in PRESETS.values():
        assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown preset"):
        preset("nope")
    with pytest.raises(ValueError, match="image_size"):
        ModelConfig(image_size=500)


def test_pose_models_warp_the_pass_through_per_part_and_older_files_by_the_field():
    import dataclasses

    from internet_cli.config import with_options

    pose = preset("tiny", anchors="pose")
    assert pose.motion.image_warp == "parts" and preset("tiny").motion.image_warp == "field"
    assert with_options(pose, part_prior=0.0).motion.image_warp == "field"
    data = pose.to_dict()
    data["motion"].pop("image_warp")  # a file saved before the choice existed
    assert ModelConfig.from_dict(data).motion.image_warp == "field"
    with pytest.raises(ValueError, match="image_warp"):
        dataclasses.replace(preset("tiny").motion, image_warp="parts")  # needs the part prior
    with pytest.raises(ValueError, match="image_warp"):
        dataclasses.replace(pose.motion, image_warp="sideways")


def test_per_part_warp_changes_nothing_where_nothing_moves_and_the_output_where_a_limb_does():
    """The same tensors with either warp: identical output when the driving pose is the source's
    (every transform is then the identity), different once a limb moves."""
    import dataclasses

    from internet_cli.clips.synth import render_video
    from internet_cli.pose.parts import normalise, part_motion

    video = render_video(5, 25, 64)
    lm = normalise(video.landmarks, 64)
    pose = part_motion(lm[0], lm[24])
    torch.manual_seed(0)
    parts = INTERnet(preset("tiny", anchors="pose")).eval()
    cfg = dataclasses.replace(parts.config, motion=dataclasses.replace(parts.config.motion, image_warp="field"))
    field = INTERnet(cfg).eval()
    field.load_state_dict(parts.state_dict())
    src = torch.from_numpy(video.frames[0]).permute(2, 0, 1)[None].float() / 255
    kp_s, jac_s = (torch.from_numpy(pose[k][None]).float() for k in ("kp_source", "jac_source"))
    kp_d, jac_d = (torch.from_numpy(pose[k][None]).float() for k in ("kp_driving", "jac_driving"))
    mask = torch.from_numpy(video.mask[0][None, None]).float()
    with torch.no_grad():
        out = {}
        for name, model in (("parts", parts), ("field", field)):
            state = model.encode_source(src, kp_s, jac_s, mask)
            out[name] = (model.generate(state, kp_s, jac_s)["prediction"], model.generate(state, kp_d, jac_d)["prediction"])
    assert torch.allclose(out["parts"][0], out["field"][0], atol=1e-5)
    assert (out["parts"][1] - out["field"][1]).abs().max() > 1e-3


def test_limb_pass_shows_a_moved_limb_as_its_own_warped_source_pixels():
    """``generator.limb_pass``: where the limbs own a pixel of the output the warped source passes
    through whatever the decoder's alpha; without it the decoder's paint mixes in there."""
    import dataclasses

    from internet_cli.clips.synth import render_video
    from internet_cli.motion.dense import limb_weight
    from internet_cli.motion.geometry import blend_warps
    from internet_cli.pose.parts import normalise, part_motion

    video = render_video(5, 25, 64)
    lm = normalise(video.landmarks, 64)
    pose = part_motion(lm[0], lm[24])
    torch.manual_seed(0)
    limbs = INTERnet(preset("tiny", anchors="pose")).eval()
    assert limbs.config.generator.limb_pass
    cfg = dataclasses.replace(limbs.config, generator=dataclasses.replace(limbs.config.generator, limb_pass=False))
    plain = INTERnet(cfg).eval()
    plain.load_state_dict(limbs.state_dict())
    src = torch.from_numpy(video.frames[0]).permute(2, 0, 1)[None].float() / 255
    kp_s, jac_s, kp_d, jac_d = (torch.from_numpy(pose[k][None]).float()
                                for k in ("kp_source", "jac_source", "kp_driving", "jac_driving"))
    mask = torch.from_numpy(video.mask[0][None, None]).float()
    with torch.no_grad():
        state = limbs.encode_source(src, kp_s, jac_s, mask)
        motion = limbs.generate(state, kp_d, jac_d)
        before = plain.generate(state, kp_d, jac_d)["prediction"]
    warped = blend_warps(state.image[:, :3], motion["transforms"], motion["weights"])
    full = torch.nn.functional.interpolate(limb_weight(motion["weights"]), size=(64, 64), mode="bilinear",
                                           align_corners=True)
    limb = (full > 0.99).expand(-1, 3, -1, -1)  # there the weight is >= 0.99: within 0.01 of the source
    assert limb.sum() >= 3 * 16  # the moved limbs cover some pixels
    assert torch.allclose(motion["prediction"][limb], warped[limb], atol=0.01)
    assert (before[limb] - warped[limb]).abs().max() > 0.05


def test_limb_pass_is_off_in_older_files_and_needs_the_part_prior():
    import dataclasses

    data = preset("tiny", anchors="pose").to_dict()
    data["generator"].pop("limb_pass")  # a file saved before the choice existed
    assert not ModelConfig.from_dict(data).generator.limb_pass
    assert not preset("tiny").generator.limb_pass
    learned = preset("tiny")
    with pytest.raises(ValueError, match="limb_pass"):
        dataclasses.replace(learned, generator=dataclasses.replace(learned.generator, limb_pass=True))
