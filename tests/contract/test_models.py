"""Contract of every registered model (tests/contract: parametrised over the registry, so a new
architecture is tested for free)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from facetransfer.errors import CheckpointError, ConfigError
from facetransfer.modelfolder.weights import load_weights, save_weights
from facetransfer.models import MODELS, SIDES, FaceSwapModel, build_model
from facetransfer.presets import ModelConfig

NARROW = {"bottleneck_width": 16, "encoder_width": 8, "decoder_width": 8, "mask_width": 4}
MODEL_NAMES = sorted(MODELS)


def narrow_model(name: str, seed: int = 0, **options: object) -> FaceSwapModel:
    torch.manual_seed(seed)
    return build_model(ModelConfig(**{"name": name, "resolution": 64, **NARROW, **options}))  # type: ignore[arg-type]


def faces(count: int, resolution: int, seed: int = 1) -> torch.Tensor:
    return torch.rand(count, 3, resolution, resolution, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize(
    ("resolution", "depth_to_space", "pixel_norm"),
    [(64, True, True), (96, True, False), (128, True, True), (80, False, True), (64, False, False)],
)
def test_outputs_have_the_contract_shapes_and_ranges(
    name: str, resolution: int, depth_to_space: bool, pixel_norm: bool
) -> None:
    model = narrow_model(name, resolution=resolution, depth_to_space=depth_to_space, pixel_norm=pixel_norm)
    x = faces(2, resolution)
    with torch.no_grad():
        outputs = [*model.forward_source(x), *model.forward_target(x), *model.swap(x), *model(x, x)]
    for index, output in enumerate(outputs):
        channels = 3 if index % 2 == 0 else 1
        assert output.shape == (2, channels, resolution, resolution)
        assert output.dtype == torch.float32
        assert torch.isfinite(output).all()
        assert output.min() >= 0.0 and output.max() <= 1.0


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_config_rebuilds_the_same_architecture(name: str) -> None:
    model = narrow_model(name)
    rebuilt = build_model(ModelConfig.from_json(model.model_config.to_json()))
    assert model.name == name
    assert {k: v.shape for k, v in model.state_dict().items()} == {
        k: v.shape for k, v in rebuilt.state_dict().items()
    }


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_pair_forward_equals_the_single_side_calls(name: str) -> None:
    model = narrow_model(name).eval()
    x_source, x_target = faces(3, 64, seed=2), faces(3, 64, seed=3)
    with torch.no_grad():
        pair = model(x_source, x_target)
        singles = (*model.forward_source(x_source), *model.forward_target(x_target))
    for a, b in zip(pair, singles, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_samples_do_not_influence_each_other(name: str) -> None:
    model = narrow_model(name).eval()
    x = faces(4, 64)
    with torch.no_grad():
        batch_image, _ = model.swap(x)
        single_image, _ = model.swap(x[2:3])
    torch.testing.assert_close(batch_image[2:3], single_image, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_swap_is_the_source_rendering_of_the_target_face(name: str) -> None:
    """What conversion calls is exactly the source decoder's rendering of the face, not the target's."""
    model = narrow_model(name).eval()
    x = faces(2, 64)
    with torch.no_grad():
        swapped, swapped_mask = model.swap(x)
        as_source, source_mask = model.forward_source(x)
        as_target, _ = model.forward_target(x)
    assert torch.equal(swapped, as_source) and torch.equal(swapped_mask, source_mask)
    assert not torch.equal(swapped, as_target)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("side", SIDES)
def test_a_side_loss_changes_only_its_parts(name: str, side: str) -> None:
    model = narrow_model(name)
    before = {key: value.clone() for key, value in model.state_dict().items()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.01)
    forward = model.forward_source if side == "source" else model.forward_target
    image, mask = forward(faces(2, 64))
    (image.mean() + mask.mean()).backward()
    optimizer.step()
    trained = model.parts_trained_by(side)  # type: ignore[arg-type]
    if side == "source":  # the source must never train what only the target uses
        assert trained < set(model.parts())
    for part_name, part in model.parts().items():
        prefix = next(key for key, module in model.named_children() if module is part)
        changed = [
            key
            for key, value in model.state_dict().items()
            if key.startswith(prefix + ".") and not torch.equal(value, before[key])
        ]
        total = [key for key in before if key.startswith(prefix + ".")]
        if part_name in trained:
            assert changed, f"{side} loss did not train {part_name}"
        else:
            assert not changed, f"{side} loss changed {part_name}: {changed[:3]}"
        assert total


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_df_source_side_never_touches_the_target_decoder(name: str) -> None:
    model = narrow_model(name)
    parts = model.parts()
    if name == "df":
        assert model.parts_trained_by("source") == {"encoder", "inter", "decoder_source"}
        assert "decoder_target" in parts
    if name == "liae":
        assert model.parts_trained_by("source") == {"encoder", "inter_both", "decoder"}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_save_load_round_trip_gives_identical_outputs(name: str, tmp_path: Path) -> None:
    model = narrow_model(name, seed=0).eval()
    path = tmp_path / "model.safetensors"
    save_weights(model, path)
    other = narrow_model(name, seed=123).eval()
    x = faces(2, 64)
    with torch.no_grad():
        assert not torch.equal(model.swap(x)[0], other.swap(x)[0])
        load_weights(other, path)
        for a, b in zip(
            (*model.swap(x), *model.forward_source(x)),
            (*other.swap(x), *other.forward_source(x)),
            strict=True,
        ):
            assert torch.equal(a, b)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_a_mismatched_checkpoint_is_rejected_with_a_clear_message(name: str, tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    save_weights(narrow_model(name), path)
    wider = narrow_model(name, decoder_width=12)
    with pytest.raises(CheckpointError) as caught:
        load_weights(wider, path)
    message = str(caught.value)
    assert "\n" not in message
    assert "decoder 8" in message and "decoder 12" in message and "new folder" in message
    other_name = next((other for other in MODEL_NAMES if other != name), None)
    if other_name is not None:
        with pytest.raises(CheckpointError, match=f"holds a {name} 64 px"):
            load_weights(narrow_model(other_name), path)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"resolution": 72}, "multiple of 16"),
        ({"resolution": 48}, "between 64 and 512"),
        ({"resolution": 528}, "between 64 and 512"),
        ({"resolution": 80, "depth_to_space": True}, "multiple of 32"),
        ({"bottleneck_width": 0}, "bottleneck-width"),
        ({"colour": 3}, "unknown model option"),
    ],
)
def test_bad_options_raise_config_errors(name: str, options: dict[str, object], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        ModelConfig.from_json({"name": name, **NARROW, **options})


def test_an_unknown_model_name_lists_the_registry() -> None:
    with pytest.raises(ConfigError, match="choose one of: df, liae"):
        build_model(ModelConfig(name="sae"))
