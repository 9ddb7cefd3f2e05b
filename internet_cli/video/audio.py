"""Audio for the result video: the driving clip's audio window decoded, resampled and cut.

Used by :mod:`internet_cli.video.writer` when the audio must be trimmed and re-encoded (its
module docstring has the clock); the writer keeps the policy for errors.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np


class WindowCut:
    """``cut(frame, t)``: a resampled audio frame that starts at driving time ``t``, cut to the
    window ``[win_start, win_end)`` and stamped on the output clock (driving time ``origin`` is
    output time 0); the frames it yields never overlap."""

    def __init__(self, rate: int, layout: str, origin: float, win_start: float, win_end: float):
        self.rate, self.layout, self.origin = rate, layout, origin
        self.win_start, self.win_end = win_start, win_end
        self.last_pts = -1

    def __call__(self, rf: av.AudioFrame, t: float) -> Iterator[av.AudioFrame]:
        rate, n = self.rate, rf.samples
        i0 = max(0, math.ceil((self.win_start - t) * rate - 1e-6))
        i1 = min(n, math.ceil((self.win_end - t) * rate - 1e-6))
        if i1 <= i0:
            return
        pts = round((t + i0 / rate - self.origin) * rate)
        if pts <= self.last_pts:
            skip = self.last_pts + 1 - pts
            i0 += skip
            pts += skip
            if i1 <= i0:
                return
        x = np.ascontiguousarray(rf.to_ndarray()[:, i0:i1], dtype=np.float32)
        f = av.AudioFrame.from_ndarray(x, format="fltp", layout=self.layout)
        f.sample_rate = rate
        f.pts = pts
        f.time_base = Fraction(1, rate)
        self.last_pts = pts + (i1 - i0) - 1
        yield f


def audio_frames(ain, a_in, resampler, cut: WindowCut, v_start: float) -> Iterator[av.AudioFrame]:
    """The input's audio decoded, resampled and cut to the window; decoding stops past the
    window's end. ``v_start``: the input's video start time, which is driving time 0."""
    rate = cut.rate
    next_time: float | None = None  # driving time of the next resampled sample
    for frame in ain.decode(a_in):
        if frame.pts is not None and frame.time_base is not None:
            t_in = float(frame.pts * frame.time_base) - v_start
        else:
            t_in = next_time if next_time is not None else 0.0
        if next_time is None or abs(t_in - next_time) > 0.05:
            next_time = t_in  # start, or a real gap in the audio
        for rf in resampler.resample(frame):
            yield from cut(rf, next_time)
            next_time += rf.samples / rate
        if next_time > cut.win_end:
            break
    for rf in resampler.resample(None):
        yield from cut(rf, next_time)
        next_time += rf.samples / rate


def audio_channels(ctx) -> int:
    """Channels of an audio codec context (2 when it does not say)."""
    layout = getattr(ctx, "layout", None)
    n = getattr(layout, "nb_channels", None) if layout is not None else None
    if not n:
        n = getattr(ctx, "channels", None)
    return int(n or 2)


def pkt_time(pkt: av.Packet, tb: Fraction) -> float:
    ts = pkt.dts if pkt.dts is not None else pkt.pts
    ptb = pkt.time_base or tb
    return float((ts or 0) * ptb)
