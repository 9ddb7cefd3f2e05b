import warnings

import numpy as np
import torch

from internet_cli.runtime.animator import to_tensor, to_uint8


def test_to_tensor_takes_read_only_frames_without_a_warning_and_round_trips():
    frames = np.random.default_rng(0).integers(0, 256, (2, 8, 6, 3), dtype=np.uint8)
    frames.flags.writeable = False  # as np.asarray(PIL.Image) gives
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = to_tensor(frames, torch.device("cpu"))
    assert t.shape == (2, 3, 8, 6) and t.dtype == torch.float32
    assert float(t.max()) <= 1.0
    np.testing.assert_array_equal(to_uint8(t), frames)


def test_the_cpu_animator_runs_channels_last_and_gives_the_frames_of_the_plain_layout(tiny512_weights):
    from internet_cli.checkpoint import load_weights
    from internet_cli.runtime.animator import TorchAnimator

    w = load_weights(tiny512_weights)
    nhwc = TorchAnimator(w, torch.device("cpu"))
    conv = next(m for m in nhwc.model.modules() if isinstance(m, torch.nn.Conv2d) and m.kernel_size != (1, 1))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    nchw = TorchAnimator(w, torch.device("cpu"))
    nchw.model.to(memory_format=torch.contiguous_format)

    rng = np.random.default_rng(3)
    source, driving = (rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(2))
    frames = []
    for a in (nhwc, nchw):
        state = a.encode_source(source)
        frames.append(a.animate(state, driving[None], a.reference(state, driving, True, False)).astype(int))
    assert np.abs(frames[0] - frames[1]).max() <= 1  # float rounding only
