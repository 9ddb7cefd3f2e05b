"""Body pose: MediaPipe's 33-landmark layout, body parts as motion anchors, smoothing, retargeting.

The one home of everything pose (docs/pose.md): :mod:`.skeleton` (landmark layout, the 10 parts),
:mod:`.parts` (landmarks -> anchors and affines), :mod:`.smoothing` (one-euro filter),
:mod:`.retarget` (driving bones on the source body) and :mod:`.files` (``NAME.pose.npz``).
"""
