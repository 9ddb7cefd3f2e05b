import numpy as np
import pytest

from internet_cli.clips.synth import render_video
from internet_cli.pose import skeleton as sk
from internet_cli.pose.person import SourceMasker, soft_mask
from tests.conftest import OPENCV_DATA


def test_the_soft_mask_covers_the_segmentation_and_fades_out():
    prob = np.zeros((100, 100), np.float32)
    prob[30:70, 40:60] = 0.9
    mask = soft_mask(prob)
    assert mask.dtype == np.float32 and mask.shape == prob.shape
    assert mask[30:70, 40:60].min() > 0.95  # the person, whole
    assert mask[50, 61] > 0.5 and mask[5, 5] == 0.0  # a margin beyond the edge, nothing far away
    assert 0.0 < mask[50, 62] < 1.0  # a soft edge


@pytest.mark.parametrize("segmenter", ["selfie", "pose"])
def test_the_source_mask_finds_synthetic_dancers(segmenter):
    """The rule training and inference share, on real MediaPipe: the mask holds almost all of the
    exact silhouette of synthetic dancers, and not much more (the dilation's margin)."""
    masker = SourceMasker(segmenter)
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


MESSI = OPENCV_DATA / "messi5.jpg"


@pytest.mark.skipif(not MESSI.is_file(), reason="needs Debian's opencv-doc")
def test_the_pose_segmenter_holds_every_limb_the_pose_model_finds_on_a_real_photo():
    """opencv-doc's messi5, framed as ``--crop auto`` does: the pose model's own segmentation
    (``motion.segmenter = "pose"``) covers every arm bone it finds, the outstretched forearm too
    (the selfie model misses that one: docs/model.md)."""
    import cv2

    from internet_cli.runtime.crop import frame_photo

    framed = frame_photo(cv2.cvtColor(cv2.imread(str(MESSI)), cv2.COLOR_BGR2RGB), 512)
    photo, lm = framed.image, framed.landmarks
    masker = SourceMasker("pose")
    try:
        mask = masker(photo)[0, 0]
    finally:
        masker.close()
    for name in ("left_upper_arm", "right_upper_arm", "left_forearm", "right_forearm"):
        i, j = next(p.bone for p in sk.PARTS if p.name == name)
        assert min(lm[i, 2], lm[j, 2]) >= sk.VISIBLE
        points = [lm[i, :2] + t * (lm[j, :2] - lm[i, :2]) for t in np.linspace(0.1, 0.9, 9)]
        assert min(mask[int(y), int(x)] for x, y in points) > 0.5, name
