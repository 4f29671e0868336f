"""The model library through its real loading path: cards, hashes, strict loading, names, removal, folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import sr_studio
from sr_studio.core import paths
from sr_studio.core.errors import ModelError
from sr_studio.core.library import ModelCard, ModelLibrary, save_model_files, sha256_file
from sr_studio.models.srresnet import SRResNet, fold_batchnorm
from tests.error_helpers import assert_one_line_naming
from tests.library_helpers import ARGS, add_tiny, run, tiny_srresnet

REPO = Path(sr_studio.__file__).resolve().parents[1]


@pytest.fixture
def library(tmp_path: Path) -> ModelLibrary:
    return ModelLibrary(builtin_dir=tmp_path / "builtin", user_dir=tmp_path / "user")


# ---- add, list, load ------------------------------------------------------------------------------


def test_add_lists_the_card_and_loads_a_folded_network_that_computes_the_same(library: ModelLibrary) -> None:
    net, _ = add_tiny(library)

    [entry] = library.entries()
    assert (entry.name, entry.builtin) == ("tiny", False)
    card = entry.card
    assert (card.task, card.architecture, card.arguments, card.scale) == ("upscale", "srresnet", ARGS, 2)
    assert (card.description, card.metrics, card.recipe) == (
        "a tiny test model",
        {"psnr": 30.5},
        "training/tiny.toml",
    )
    assert card.value_range == (0.0, 1.0)
    assert card.sha256 == sha256_file(entry.weights_path)
    assert entry.weights_path == library.user_dir / "tiny.safetensors"
    assert ModelCard.from_json(entry.card_path.read_text(), entry.card_path) == card
    assert library.problems == []

    loaded = library.load("tiny")
    assert not loaded.network.training
    assert not any(p.requires_grad for p in loaded.network.parameters())
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in loaded.network.modules())
    assert (loaded.scale, loaded.task, loaded.receptive_radius) == (2, "upscale", net.receptive_radius)
    x = torch.rand(1, 3, 12, 10)
    expected = run(fold_batchnorm(net), x)
    assert torch.allclose(loaded.network(x), expected, atol=1e-5)
    assert torch.allclose(loaded.network(x), run(net, x), atol=1e-5)
    assert any(
        isinstance(m, torch.nn.BatchNorm2d) for m in library.load("tiny", fold=False).network.modules()
    )


def test_builtin_models_come_first_and_default_prefers_the_named_one(library: ModelLibrary) -> None:
    save_model_files(
        library.builtin_dir,
        tiny_srresnet(),
        name="zeta",
        task="upscale",
        architecture="srresnet",
        arguments=ARGS,
    )
    add_tiny(library, "alpha")
    assert [(e.name, e.builtin) for e in library.entries()] == [("zeta", True), ("alpha", False)]
    assert library.default("upscale").name == "zeta"
    assert library.default("sample") is None
    assert library.entries("sample") == []

    add_tiny(library, "srresnet-x4")
    assert library.default("upscale").name == "srresnet-x4"


# ---- files that must not load -----------------------------------------------------------------------


def test_weights_that_do_not_match_their_card_are_refused(library: ModelLibrary) -> None:
    _, entry = add_tiny(library)
    data = bytearray(entry.weights_path.read_bytes())
    data[-1] ^= 0xFF
    entry.weights_path.write_bytes(bytes(data))

    with pytest.raises(ModelError, match="do not match their card") as error:
        library.load("tiny")
    assert_one_line_naming(error, "tiny.safetensors")


def _no_sha(card: dict) -> None:
    del card["sha256"]


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda text: "{not json", id="bad-json"),
        pytest.param(lambda text: _edit(text, _no_sha), id="missing-field"),
        pytest.param(lambda text: _edit(text, lambda card: card.update(scale="four")), id="wrong-type"),
        pytest.param(
            lambda text: _edit(text, lambda card: card.update(architecture="esrgan")), id="unknown-arch"
        ),
        pytest.param(lambda text: _edit(text, lambda card: card.update(name="other")), id="name-not-file"),
    ],
)
def test_malformed_cards_are_skipped_and_named(library: ModelLibrary, corrupt) -> None:
    _, entry = add_tiny(library)
    add_tiny(library, "good")
    entry.card_path.write_text(corrupt(entry.card_path.read_text()))

    assert [e.name for e in library.entries()] == ["good"]
    [problem] = library.problems
    assert "tiny.json" in problem and "\n" not in problem
    for attempt in (library.find, library.load):
        with pytest.raises(ModelError) as error:
            attempt("tiny")
        assert_one_line_naming(error, "tiny.json")


def _edit(text: str, change) -> str:
    card = json.loads(text)
    change(card)
    return json.dumps(card)


@pytest.fixture
def load_state_dict_calls(monkeypatch: pytest.MonkeyPatch) -> list[torch.nn.Module]:
    """Records every load_state_dict call, to prove a misfit is refused before any weight is copied."""
    calls = []
    original = torch.nn.Module.load_state_dict

    def spy(self, *args, **kwargs):
        calls.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "load_state_dict", spy)
    return calls


def test_card_arguments_that_do_not_fit_the_weights_are_refused(library, load_state_dict_calls) -> None:
    _, entry = add_tiny(library)
    _rewrite_card(entry.card_path, arguments={**ARGS, "channels": 8})

    with pytest.raises(ModelError, match="do not fit") as error:
        library.load("tiny")
    assert_one_line_naming(error, "tiny.safetensors")
    assert "head.0.weight" in str(error.value)
    assert load_state_dict_calls == []


def test_an_extra_key_in_the_weights_is_refused(library, load_state_dict_calls) -> None:
    _, entry = add_tiny(library)
    state = load_file(entry.weights_path)
    save_file({**state, "extra.weight": torch.zeros(2)}, entry.weights_path)
    _rewrite_card(entry.card_path, sha256=sha256_file(entry.weights_path))

    with pytest.raises(ModelError, match=r"unexpected: extra\.weight") as error:
        library.load("tiny")
    assert_one_line_naming(error, "tiny.safetensors")
    assert load_state_dict_calls == []


def test_arguments_the_architecture_rejects_are_a_model_error(library: ModelLibrary) -> None:
    _, entry = add_tiny(library)
    _rewrite_card(entry.card_path, arguments={**ARGS, "depth": 3})
    with pytest.raises(ModelError, match="cannot build srresnet") as error:
        library.load("tiny")
    assert_one_line_naming(error, "tiny.json")


def _rewrite_card(card_path: Path, **changes) -> None:
    card = json.loads(card_path.read_text())
    card.update(changes)
    card_path.write_text(json.dumps(card))


# ---- names, removal ---------------------------------------------------------------------------------


def add_builtin(library: ModelLibrary, name: str) -> None:
    """A model in the library's built-in folder, as a release would ship it."""
    save_model_files(
        library.builtin_dir,
        tiny_srresnet(),
        name=name,
        task="upscale",
        architecture="srresnet",
        arguments=ARGS,
    )


def test_name_clashes_are_refused_and_a_new_name_is_accepted(library: ModelLibrary, tmp_path: Path) -> None:
    add_builtin(library, "shipped")
    path = tmp_path / "tiny.safetensors"
    save_file(tiny_srresnet().state_dict(), path)
    library.import_file(path)

    for name in ("tiny", "shipped"):
        with pytest.raises(ModelError, match=f"a model named {name} already exists; choose another name"):
            library.import_file(path, name=name)
        with pytest.raises(ModelError, match="already exists"):
            add_tiny(library, name)
    with pytest.raises(ModelError, match="invalid model name"):
        library.import_file(path, name="Not Valid")

    renamed = library.import_file(path, name="tiny-2")
    assert renamed.card.sha256 == library.find("tiny").card.sha256
    assert [e.name for e in library.entries()] == ["shipped", "tiny", "tiny-2"]


def test_remove_deletes_user_models_only(library: ModelLibrary) -> None:
    _, entry = add_tiny(library)
    add_builtin(library, "shipped")

    library.remove("tiny")
    assert not entry.card_path.exists() and not entry.weights_path.exists()
    assert [e.name for e in library.entries()] == ["shipped"]

    with pytest.raises(ModelError, match="shipped is built in and cannot be removed"):
        library.remove("shipped")
    assert library.find("shipped").weights_path.exists()
    with pytest.raises(ModelError, match="no model named 'tiny' \\(available: shipped\\)"):
        library.remove("tiny")


def test_a_broken_user_model_can_still_be_removed(library: ModelLibrary) -> None:
    _, entry = add_tiny(library)
    entry.card_path.write_text("{")
    library.remove("tiny")
    assert list(library.user_dir.iterdir()) == []


def test_stray_weights_without_a_card_are_reported(library: ModelLibrary) -> None:
    _, entry = add_tiny(library)
    entry.card_path.unlink()
    assert library.entries() == []
    assert library.problems == [f"{entry.weights_path}: weights without a card (import the file instead)"]


# ---- cards ----------------------------------------------------------------------------------------


def test_card_round_trips_through_json() -> None:
    card = ModelCard(
        name="gan",
        task="sample",
        architecture="dcgan_generator",
        arguments={"latent_dim": 8},
        sha256="ab" * 32,
        value_range=(-1.0, 1.0),
        precision=("fp32",),
        data_manifest=["a.png"],
        extra={"steps": 10},
    )
    assert ModelCard.from_json(card.to_json(), "gan.json") == card


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"name": "Bad Name"}, "invalid model name"),
        ({"task": "denoise"}, "task must be one of"),
        ({"scale": 3}, "differs from arguments.scale"),
        ({"scale": True}, "scale has the wrong type"),
        ({"value_range": [1, 0]}, "value_range must be"),
        ({"precision": ["int8"]}, "precision must list"),
        ({"sha256": "xyz"}, "sha256 must be"),
        ({"format": 2}, "newer than"),
        ({"colour": "blue"}, "unknown field 'colour'"),
    ],
)
def test_card_validation_names_the_problem(change: dict, problem: str) -> None:
    card = {"name": "m", "task": "upscale", "architecture": "srresnet", "arguments": {"scale": 2}, "scale": 2}
    card = {**card, "sha256": "0" * 64, **change}
    with pytest.raises(ModelError, match=f"m.json: card is malformed: .*{problem}"):
        ModelCard.from_json(json.dumps(card), "m.json")


# ---- where things live ------------------------------------------------------------------------------


def test_user_data_dir_honours_xdg_and_the_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(paths.DATA_DIR_VARIABLE, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.user_data_dir() == tmp_path / "xdg" / "sr-studio"
    assert paths.user_models_dir() == tmp_path / "xdg" / "sr-studio" / "models"

    monkeypatch.setenv(paths.DATA_DIR_VARIABLE, str(tmp_path / "portable"))
    assert paths.user_data_dir() == tmp_path / "portable"
    assert ModelLibrary().user_dir == tmp_path / "portable" / "models"


def test_builtin_models_ship_inside_the_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = paths.builtin_models_dir()
    assert folder == REPO / "resources" / "models"
    assert (folder / "README.md").is_file()
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.builtin_models_dir() == tmp_path / "sr_studio" / "resources" / "models"


def test_listing_models_does_not_import_torch(library: ModelLibrary) -> None:
    add_tiny(library)
    code = (
        "import sys; from pathlib import Path; from sr_studio.core.library import ModelLibrary; "
        f"library = ModelLibrary(Path({str(library.builtin_dir)!r}), Path({str(library.user_dir)!r})); "
        "assert [e.name for e in library.entries()] == ['tiny']; library.find('tiny'); "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_install_copies_a_finished_model_in_under_a_new_name(library: ModelLibrary, tmp_path: Path) -> None:
    network = SRResNet(scale=2, blocks=1, channels=8, norm="none")
    run_output = tmp_path / "run" / "model"
    made = save_model_files(
        run_output,
        network,
        name="run-result",
        task="upscale",
        architecture="srresnet",
        arguments={"scale": 2, "blocks": 1, "channels": 8, "norm": "none"},
        metrics={"after": {"psnr": 30.0}},
    )
    entry = library.install(made.card_path, name="my-scans")
    assert library.find("my-scans").card.metrics == {"after": {"psnr": 30.0}}
    assert entry.weights_path.read_bytes() == made.weights_path.read_bytes()
    with pytest.raises(ModelError, match="already exists"):
        library.install(made.card_path, name="my-scans")
    made.weights_path.write_bytes(b"tampered")
    with pytest.raises(ModelError, match="do not match"):
        library.install(made.card_path, name="other-name")
    assert "other-name" not in {e.name for e in library.entries()}


def test_quality_reads_the_metrics_a_training_run_records() -> None:
    fields = {"name": "m", "architecture": "srresnet", "arguments": {}, "sha256": "0" * 64}
    card = ModelCard(
        **fields,
        task="upscale",
        scale=4,
        metrics={"images": 32, "before": {"bicubic": {"psnr": 27.7}}, "after": {"psnr": 28.91}},
        extra={"complete": False, "steps_done": 500, "steps": 2500},
    )
    assert card.quality() == "val 28.91 dB vs bicubic 27.70 on 32 images; still training: step 500 of 2500"
    metrics = {"before": {"real_halves": {"frechet": 0.5}}, "after": {"frechet": 1.25}}
    gan = ModelCard(**fields, task="sample", metrics=metrics)
    assert gan.quality() == "Fréchet 1.25 (real vs real 0.50)"
    assert ModelCard(**fields, task="sample").quality() == ""
