import json
import pickle

import pytest
import torch

from internet_cli.checkpoint import FORMAT_VERSION, load_weights, read_metadata, save_weights
from internet_cli.config import preset
from internet_cli.errors import WeightsError
from internet_cli.model import INTERnet


@pytest.fixture()
def tiny_file(tmp_path):
    torch.manual_seed(1)
    model = INTERnet(preset("tiny")).eval()
    path = save_weights(tmp_path / "tiny.safetensors", model, trained=False, info={"seed": 1})
    return model, path


def test_save_load_identical_output(tiny_file):
    model, path = tiny_file
    w = load_weights(path)
    assert w.config == model.config and not w.trained and w.info == {"seed": 1}
    src, drv = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(w.build()(src, drv)["prediction"], model(src, drv)["prediction"])


def test_half_storage_is_close(tmp_path, tiny_file):
    model, _ = tiny_file
    path = save_weights(tmp_path / "half.safetensors", model, trained=True, half=True)
    w = load_weights(path)
    assert w.trained
    src, drv = torch.rand(1, 3, 64, 64), torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        diff = (w.build()(src, drv)["prediction"] - model(src, drv)["prediction"]).abs().max()
    assert diff < 1e-2


def test_truncated_file_is_refused(tiny_file):
    _, path = tiny_file
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsError, match="corrupt|truncated"):
        load_weights(path)


def test_wrong_version_is_refused(tmp_path, tiny_file):
    from safetensors.torch import load_file, save_file

    _, path = tiny_file
    meta = read_metadata(path)
    meta["format_version"] = str(FORMAT_VERSION + 1)
    save_file(load_file(str(path)), str(tmp_path / "v2.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="version"):
        load_weights(tmp_path / "v2.safetensors")


def test_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "executed"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = tmp_path / "evil.safetensors"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(WeightsError):
        load_weights(path)
    assert not marker.exists()


def test_missing_and_foreign_files(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(WeightsError, match="not found"):
        load_weights(tmp_path / "nope.safetensors")
    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(WeightsError, match="not an internet weights file"):
        load_weights(tmp_path / "other.safetensors")


def test_mismatched_tensors_are_refused(tmp_path, tiny_file):
    from safetensors.torch import load_file, save_file

    _, path = tiny_file
    meta = read_metadata(path)
    tensors = load_file(str(path))
    tensors.pop(next(iter(tensors)))
    save_file(tensors, str(tmp_path / "short.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="do not match"):
        load_weights(tmp_path / "short.safetensors")
    meta["config"] = json.dumps({"image_size": "x"})
    save_file(load_file(str(path)), str(tmp_path / "badcfg.safetensors"), metadata=meta)
    with pytest.raises(WeightsError, match="config"):
        load_weights(tmp_path / "badcfg.safetensors")
