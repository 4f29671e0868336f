"""The on-disk cache of converted OpenVINO models: hits skip the conversion, keys follow the weights, broken
entries are converted again, and the bounds evict the least recently used."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from sr_studio.core import backends, openvino_backend, openvino_cache
from sr_studio.core.images import Picture
from sr_studio.core.library import ModelLibrary
from sr_studio.core.logs import log_path
from sr_studio.core.upscale import upscale
from sr_studio.models.msrresnet import MSRResNet
from tests.conftest import SMOOTH_UPSCALER
from tests.pictures import textured

CPU = torch.device("cpu")


def entries(folder: Path) -> list[Path]:
    return sorted(path for path in folder.glob("ir-*") if (path / openvino_cache.MANIFEST).is_file())


def cache_folder() -> Path:
    folder = openvino_cache.cache_dir()
    assert folder is not None
    return folder


def run_openvino(library: ModelLibrary, name: str = "tiny-x2") -> tuple[np.ndarray, str]:
    """A fresh load of `name` (a new network object, as in a new process) upscaled on OpenVINO."""
    openvino_backend.forget_compiled()
    model = library.load(name)
    picture = Picture(pixels=textured(19, 27))
    result = upscale(picture, model, device="cpu", precision="fp32", tile=None, backend="openvino")
    assert result.backend == "openvino", result.notes
    chosen = backends.choose_backend(model.network, request="openvino", device=CPU, precision="fp32")
    return result.picture.pixels, chosen.network.source  # type: ignore[union-attr]


def forbid_conversion(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("convert_model was called")

    monkeypatch.setattr(openvino_backend.load_openvino(), "convert_model", refuse)


def test_a_second_process_reads_the_conversion_back(library, monkeypatch, tmp_path):
    assert cache_folder().is_relative_to(tmp_path)  # conftest's private home: never the real one
    first, source = run_openvino(library)
    assert source == "converted"
    assert len(entries(cache_folder())) == 1
    assert f"model cache: 1 converted, 0 MB in {cache_folder()}" in backends.describe()  # the About box

    forbid_conversion(monkeypatch)
    second, source = run_openvino(library)
    assert source == "cache"
    np.testing.assert_array_equal(second, first)
    assert len(entries(cache_folder())) == 1
    assert list(openvino_cache.compiled_dir(cache_folder()).glob("*.blob"))  # OpenVINO's blobs beside it


def test_the_key_follows_weights_and_settings():
    torch.manual_seed(0)
    network = MSRResNet(**SMOOTH_UPSCALER).eval()
    same = MSRResNet(**SMOOTH_UPSCALER).eval()
    same.load_state_dict(network.state_dict())
    other = MSRResNet(**SMOOTH_UPSCALER).eval()  # other random weights
    policy = {"alignment": 1}
    key = openvino_cache.model_key(network, policy)
    assert openvino_cache.model_key(same, policy) == key
    assert openvino_cache.model_key(other, policy) != key
    assert openvino_cache.model_key(network, {"alignment": 2}) != key
    same.body[0].res_scale = 0.5  # a setting the weights do not show
    assert openvino_cache.model_key(same, policy) != key


def test_other_weights_get_their_own_entry(library):
    run_openvino(library, "tiny-x2")
    run_openvino(library, "smooth-x2")
    run_openvino(library, "tiny-x2")
    assert len(entries(cache_folder())) == 2


@pytest.mark.parametrize("broken", ["truncated bin", "altered xml", "unreadable xml"])
def test_a_broken_entry_is_converted_again_and_rewritten(library, broken):
    first, _ = run_openvino(library)
    (entry,) = entries(cache_folder())
    if broken == "truncated bin":
        weights = entry / openvino_cache.WEIGHTS
        weights.write_bytes(weights.read_bytes()[:100])
    elif broken == "altered xml":
        graph = entry / openvino_cache.GRAPH
        graph.write_text(graph.read_text().replace("<layers>", "<layers><!-- -->"))
    else:  # files that match their manifest but that OpenVINO cannot read
        (entry / openvino_cache.GRAPH).write_text("<net>")
        manifest = json.loads((entry / openvino_cache.MANIFEST).read_text())
        manifest["files"][openvino_cache.GRAPH] = openvino_cache._sha256(entry / openvino_cache.GRAPH)
        (entry / openvino_cache.MANIFEST).write_text(json.dumps(manifest))

    again, source = run_openvino(library)
    assert source == "converted"
    np.testing.assert_array_equal(again, first)
    assert log_path().read_text().count("model cache: ignoring") == 1
    _, source = run_openvino(library)
    assert source == "cache"  # the rewritten entry is whole again


def fake_entry(folder: Path, key: str, size: int) -> Path:
    def save(model: Any, path: str) -> None:
        Path(path).write_text("graph")
        Path(path).with_suffix(".bin").write_bytes(b"w" * size)

    openvino_cache.store(folder, key, object(), save)
    return folder / openvino_cache._entry_name(key)


def age(path: Path, seconds: float) -> None:
    target = path / openvino_cache.MANIFEST if path.is_dir() else path
    os.utime(target, (target.stat().st_atime - seconds, target.stat().st_mtime - seconds))


def test_the_bounds_evict_the_least_recently_used(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setattr(openvino_cache, "MAX_MODELS", 2)
    first = fake_entry(folder, "a" * 64, 10)
    age(first, 300)
    second = fake_entry(folder, "b" * 64, 10)
    age(second, 200)
    assert openvino_cache.load(folder, "a" * 64, lambda graph, weights: "model") == "model"  # used now
    third = fake_entry(folder, "c" * 64, 10)
    assert entries(folder) == sorted([first, third])

    blobs = openvino_cache.compiled_dir(folder)
    blobs.mkdir()
    old_blob = blobs / "1.blob"
    old_blob.write_bytes(b"x" * 1000)
    age(old_blob, 100)
    removed = openvino_cache.prune(folder, max_bytes=1000)
    assert removed == [old_blob]
    assert entries(folder) == sorted([first, third])


def test_a_failed_write_leaves_nothing_and_is_logged(tmp_path):
    def fail(model: Any, path: str) -> None:
        Path(path).write_text("half")
        raise OSError("No space left on device")

    folder = tmp_path / "cache"
    openvino_cache.store(folder, "d" * 64, object(), fail)
    assert list(folder.iterdir()) == []
    assert "No space left on device" in log_path().read_text()


def test_the_cache_can_be_turned_off(library, monkeypatch):
    monkeypatch.setenv(openvino_cache.DISABLE_VARIABLE, "1")
    assert "model cache off" in backends.describe()
    _, source = run_openvino(library)
    assert source == "converted"
    _, source = run_openvino(library)
    assert source == "converted"
    monkeypatch.delenv(openvino_cache.DISABLE_VARIABLE)
    assert not cache_folder().exists()
    assert "model cache: 0 converted" in backends.describe()


def test_an_unusable_cache_folder_never_stops_an_upscale(library, tmp_path, monkeypatch):
    blocked = tmp_path / "a-file"
    blocked.write_text("in the way of the cache folder")
    monkeypatch.setattr(openvino_cache, "cache_dir", lambda: blocked / "model-cache")
    first, source = run_openvino(library)
    assert source == "converted"
    again, source = run_openvino(library)
    assert source == "converted"
    np.testing.assert_array_equal(again, first)
    assert "model cache: cannot write" in log_path().read_text()
