import numpy as np
import torch

from internet_cli.generation.generator import background_plate
from internet_cli.pose.parts import part_motion
from tests.motion.test_part_shapes import _body_mask, _pose_model
from tests.pose.skeletons import standing


def _scene(size: int = 64):
    """A left-to-right grey ramp with a red square (the person) in the middle, and its mask."""
    ramp = torch.linspace(0.2, 0.8, size).view(1, 1, 1, size).expand(1, 3, size, size).clone()
    person = torch.zeros(1, 1, size, size)
    person[..., 20:44, 24:40] = 1.0
    image = ramp * (1 - person) + person * torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    return ramp, image, person


def test_the_plate_fills_the_person_from_the_background_and_keeps_the_rest():
    ramp, image, person = _scene()
    plate = background_plate(image, person)
    inside = person[0, 0] > 0
    red = plate[0, 0][inside] - plate[0, 1][inside]  # no red left: the fill is grey
    assert float(red.abs().max()) < 0.02
    assert float((plate - ramp)[..., inside].abs().max()) < 0.15  # close to the ramp behind
    torch.testing.assert_close(plate[..., ~inside], image[..., ~inside])


@torch.no_grad()
def test_where_the_background_would_show_the_source_person_the_output_is_the_plate():
    """The source's raised arm has gone down: where it was, the background transform samples the
    arm, so there the output is the plate: no copy of the arm."""
    model = _pose_model(8.0)
    s = model.config.image_size
    src_lm, drv_lm = standing(arm_angle=1.2), standing()
    pose = {k: torch.from_numpy(v[None]) for k, v in part_motion(src_lm, drv_lm).items() if k != "visible"}
    pose["source_mask"] = _body_mask(src_lm, s)
    img = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(3))
    out = model(img, img, pose)
    plate = background_plate(img, pose["source_mask"])
    old_arm = (src_lm[13, :2] + src_lm[15, :2]) / 2  # the source's left elbow and wrist
    x, y = np.round((old_arm + 1) * (s - 1) / 2).astype(int)
    torch.testing.assert_close(out["prediction"][0, :, y, x], plate[0, :, y, x], atol=0.02, rtol=0)
    assert float(out["hidden"].amax()) > 0.95
