import threading

import numpy as np
import pytest
import torch

from internet_cli.clips import flow as flow_mod
from internet_cli.clips.flow import dis_flow, dis_flow_pair
from internet_cli.losses.temporal import extrinsic_confidence
from internet_cli.motion.geometry import backwarp

DX, DY = 3, -2
H, W = 128, 160


@pytest.fixture(scope="module")
def frames():
    """A real photo and the same scene moved by (DX, DY) px: cur(q) = prev(q - (DX, DY))."""
    skdata = pytest.importorskip("skimage.data")
    big = skdata.astronaut()  # 512x512 RGB uint8
    y0, x0 = 60, 170
    prev = np.ascontiguousarray(big[y0 : y0 + H, x0 : x0 + W])
    cur = np.ascontiguousarray(big[y0 - DY : y0 - DY + H, x0 - DX : x0 - DX + W])
    return prev, cur


def _to_torch(img):
    return torch.from_numpy(img).permute(2, 0, 1).float().div(255).unsqueeze(0)


@pytest.mark.parametrize("preset", ["fast", "ultrafast", "medium"])
def test_translation_sign_convention(frames, preset):
    prev, cur = frames
    flow = dis_flow(prev, cur, preset=preset)
    assert flow.shape == (2, H, W) and flow.dtype == np.float32
    inner = flow[:, 8:-8, 8:-8]
    assert abs(np.median(inner[0]) - DX) < 0.5
    assert abs(np.median(inner[1]) - DY) < 0.5


def test_backwarp_aligns_cur_with_prev(frames):
    prev, cur = frames
    flow = torch.from_numpy(dis_flow(prev, cur)).unsqueeze(0)
    aligned = backwarp(_to_torch(cur), flow)
    err_aligned = (aligned - _to_torch(prev)).abs()[..., 8:-8, 8:-8].mean().item()
    err_raw = (_to_torch(cur) - _to_torch(prev)).abs()[..., 8:-8, 8:-8].mean().item()
    assert err_aligned < 0.01
    assert err_aligned < 0.1 * err_raw


def test_pair_and_consistency(frames):
    prev, cur = frames
    fwd, back = dis_flow_pair(prev, cur)
    assert np.array_equal(fwd, dis_flow(prev, cur))
    assert abs(np.median(back[0]) + DX) < 0.5 and abs(np.median(back[1]) + DY) < 0.5
    # Forward and backward DIS flows of a rigid shift agree almost everywhere.
    mask = extrinsic_confidence(torch.from_numpy(fwd)[None], torch.from_numpy(back)[None])
    assert mask[..., 8:-8, 8:-8].mean().item() > 0.8


def test_one_dis_object_per_thread():
    a = flow_mod._dis("fast")
    assert flow_mod._dis("fast") is a
    assert flow_mod._dis("medium") is not a
    other = []
    thread = threading.Thread(target=lambda: other.append(flow_mod._dis("fast")))
    thread.start()
    thread.join()
    assert other[0] is not a


def test_bad_inputs():
    img = np.zeros((16, 16, 3), np.uint8)
    with pytest.raises(ValueError):
        dis_flow(img, np.zeros((16, 20, 3), np.uint8))
    with pytest.raises(ValueError):
        dis_flow(img.astype(np.float32), img)
    with pytest.raises(ValueError):
        dis_flow(img, img, preset="slow")
    gray = dis_flow(img[..., 0], img[..., 0])  # grayscale frames are accepted
    assert gray.shape == (2, 16, 16)
