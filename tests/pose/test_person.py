import numpy as np

from internet_cli.clips.synth import render_video
from internet_cli.pose.person import SourceMasker, soft_mask


def test_the_soft_mask_covers_the_segmentation_and_fades_out():
    prob = np.zeros((100, 100), np.float32)
    prob[30:70, 40:60] = 0.9
    mask = soft_mask(prob)
    assert mask.dtype == np.float32 and mask.shape == prob.shape
    assert mask[30:70, 40:60].min() > 0.95  # the person, whole
    assert mask[50, 61] > 0.5 and mask[5, 5] == 0.0  # a margin beyond the edge, nothing far away
    assert 0.0 < mask[50, 62] < 1.0  # a soft edge


def test_the_source_mask_finds_synthetic_dancers():
    """The rule training and inference share, on real MediaPipe: the mask holds almost all of the
    exact silhouette of synthetic dancers, and not much more (the dilation's margin)."""
    masker = SourceMasker()
    try:
        for seed in (5, 19):
            video = render_video(seed, 1, 256)
            mask = masker(video.frames[0])
            assert mask.shape == (1, 1, 256, 256)
            pred, true = mask[0, 0] >= 0.5, video.mask[0] > 0
            recall, area = (pred & true).sum() / true.sum(), pred.sum() / true.sum()
            assert recall > 0.95 and area < 1.6
    finally:
        masker.close()
