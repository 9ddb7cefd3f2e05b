import os

import numpy as np
import pytest

from internet_cli.atomic import atomic_path, umask


def test_the_file_appears_whole_with_ordinary_permissions_and_no_temporary_is_left(tmp_path):
    out = tmp_path / "out.bin"
    with atomic_path(out) as tmp:
        assert tmp.parent == tmp_path and tmp != out
        tmp.write_bytes(b"complete")
        assert not out.exists()  # nothing under the real name until the block ends
    assert out.read_bytes() == b"complete"
    assert (out.stat().st_mode & 0o777) == (0o666 & ~umask())  # not mkstemp's 0600
    assert os.listdir(tmp_path) == ["out.bin"]


def test_an_error_keeps_the_old_file_as_it_was_and_removes_the_temporary(tmp_path):
    out = tmp_path / "weights.safetensors"
    out.write_bytes(b"the user's file")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("disk full")
    assert out.read_bytes() == b"the user's file"
    assert os.listdir(tmp_path) == ["weights.safetensors"]


def test_a_writer_that_adds_its_own_extension_gets_the_suffix_it_wants(tmp_path):
    out = tmp_path / "track.pose.npz"
    with atomic_path(out, suffix=".npz") as tmp:
        np.savez_compressed(tmp, a=np.arange(3))
    np.testing.assert_array_equal(np.load(out)["a"], np.arange(3))
    assert os.listdir(tmp_path) == ["track.pose.npz"]
