import numpy as np
import torch

from internet_cli.training.samples import BACKGROUND, anchor_colours, draw_anchors, motion_regions, sample_grid


def test_motion_regions_colours_each_pixel_by_its_dominant_transform():
    weights = torch.zeros(4, 8, 8)  # background + 3 anchors
    weights[0] = 1.0
    weights[0, :, 4:] = 0.0
    weights[2, :, 4:] = 1.0  # anchor 1 owns the right half
    regions = motion_regions(weights, 16)
    assert regions.shape == (16, 16, 3) and regions.dtype == np.uint8
    assert (regions[:, :6] == BACKGROUND).all()
    assert (regions[:, 10:] == anchor_colours(3)[1]).all()


def test_sample_grid_has_six_panels_per_row():
    b, s, n = 2, 16, 3
    batch = {"source": torch.rand(b, 3, s, s), "driving": torch.rand(b, 3, s, s)}
    out = {"prediction": torch.rand(b, 3, s, s), "confidence": torch.rand(b, 1, s // 2, s // 2),
           "kp_driving": torch.zeros(b, n, 2), "weights": torch.softmax(torch.randn(b, n + 1, s, s), 1)}
    assert sample_grid(batch, out).shape == (b * s, 6 * s, 3)


def test_an_anchor_dot_has_the_colour_of_its_motion_region():
    image = np.zeros((21, 21, 3), np.uint8)
    drawn = draw_anchors(image, np.array([[-1.0, -1.0], [0.0, 0.0]]), radius=3)
    assert (drawn[10, 10] == anchor_colours(2)[1]).all()
