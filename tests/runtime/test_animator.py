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
