"""`export_model`: ONNX and DFM exports of `df` and `liae` models, in fp32 and fp16, give PyTorch's
outputs on crops they were not checked on; the files carry their metadata, load under the DFM
loader, and bad inputs are one line with nothing written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from facetransfer.errors import CheckpointError, ConfigError, OutputExistsError
from facetransfer.export import ExportConfig, export_model, is_export_file
from facetransfer.export.config import Precision
from facetransfer.export.graphs import DfmGraph
from facetransfer.export.runtime import DfmModel, export_metadata, load_onnx_predictor, open_session
from facetransfer.models.base import FaceSwapModel
from model_folders import make_model_folder

TOLERANCE = {"fp32": 1e-3, "fp16": 1e-2}


@pytest.fixture(scope="module")
def model_folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("export-models")
    return {
        "df": make_model_folder(root / "df", "df", seed=1),
        "liae": make_model_folder(root / "liae", "liae", seed=2),
        "df-face": make_model_folder(root / "df-face", "df", coverage="face", seed=3),
    }


def _model(folder: Path) -> FaceSwapModel:
    from facetransfer.modelfolder.weights import load_model

    model, _ = load_model(folder, "cpu")
    return model


def _faces(count: int, resolution: int, seed: int) -> np.ndarray:
    """float32 (N, 3, R, R): smooth random images (closer to faces than per-pixel noise)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.rand((count, 3, resolution // 8, resolution // 8), generator=generator)
    return torch.nn.functional.interpolate(coarse, size=resolution, mode="bilinear").numpy()


@pytest.mark.parametrize("architecture", ["df", "liae"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_onnx_export_matches_pytorch(
    model_folders: dict[str, Path], tmp_path: Path, architecture: str, precision: Precision
) -> None:
    output = tmp_path / "model.onnx"
    summary = export_model(model_folders[architecture], output, ExportConfig(precision=precision))
    assert output.is_file() and summary.size_bytes == output.stat().st_size
    assert max(summary.max_abs_difference.values()) <= TOLERANCE[precision]

    faces = _faces(5, 64, seed=11)  # crops the export's own check did not use
    session = open_session(output)
    image, mask = session.run(None, {"face": faces})
    with torch.inference_mode():
        expected_image, expected_mask = _model(model_folders[architecture]).swap(torch.from_numpy(faces))
    assert image.shape == (5, 3, 64, 64) and mask.shape == (5, 1, 64, 64)
    assert np.abs(image - expected_image.numpy()).max() <= TOLERANCE[precision]
    assert np.abs(mask - expected_mask.numpy()).max() <= TOLERANCE[precision]
    # fp16 halves the file (the weights are the bulk of it)
    if precision == "fp16":
        assert summary.size_bytes < 0.6 * sum(
            p.numel() * 4 for p in _model(model_folders[architecture]).parameters()
        )


def test_onnx_metadata_documents_the_input(model_folders: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "model.onnx"
    export_model(model_folders["liae"], output)
    metadata = export_metadata(open_session(output))
    assert metadata["format"] == "onnx"
    assert metadata["architecture"] == "liae"
    assert metadata["resolution"] == "64"
    assert metadata["step"] == "1"
    assert metadata["coverage"] == "full"
    assert metadata["alignment_template"] == "mean_face_68_v1"
    assert (
        metadata["layout"] == "NCHW" and metadata["channels"] == "RGB" and metadata["value_range"] == "0..1"
    )
    assert metadata["tool_version"]
    assert is_export_file(output)

    predictor = load_onnx_predictor(output)
    crops = (_faces(2, 64, seed=5).transpose(0, 2, 3, 1) * 255).astype(np.uint8)
    images, masks = predictor.predict(crops)
    assert images.shape == (2, 64, 64, 3) and masks.shape == (2, 64, 64)
    assert images.min() >= 0 and images.max() <= 1


@pytest.mark.parametrize("architecture", ["df", "liae"])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_dfm_export_matches_pytorch_and_loads_as_deepfacelive_does(
    model_folders: dict[str, Path], tmp_path: Path, architecture: str, precision: Precision
) -> None:
    output = tmp_path / "model.dfm"
    summary = export_model(
        model_folders[architecture],
        output,
        ExportConfig(format="dfm", precision=precision),
    )
    assert summary.opset == 12
    assert max(summary.max_abs_difference.values()) <= TOLERANCE[precision]

    loaded = DfmModel(output)
    assert (loaded.height, loaded.width) == (64, 64) and not loaded.has_morph_value
    faces_nhwc = _faces(3, 64, seed=21).transpose(0, 2, 3, 1).copy()
    face_mask, celeb, celeb_mask = loaded.session.run(None, {"in_face:0": faces_nhwc})
    with torch.inference_mode():
        expected = DfmGraph(_model(model_folders[architecture]), "full")(torch.from_numpy(faces_nhwc))
    for found, wanted in zip((face_mask, celeb, celeb_mask), expected, strict=True):
        assert found.shape == tuple(wanted.shape)
        assert np.abs(found - wanted.numpy()).max() <= TOLERANCE[precision]

    # what DeepFaceLive's DFMModel.convert does with a camera crop of another size
    crop = (faces_nhwc[0] * 255).astype(np.uint8)
    big = np.ascontiguousarray(np.repeat(np.repeat(crop, 3, axis=0), 3, axis=1))
    out_celeb, out_celeb_mask, out_face_mask = loaded.convert(big)
    assert out_celeb.shape == (192, 192, 3) and out_celeb_mask.shape == out_face_mask.shape == (192, 192, 1)
    assert out_celeb.min() >= 0.0 and out_celeb.max() <= 1.0


def test_dfm_of_a_tight_crop_masks_what_the_model_never_saw(
    model_folders: dict[str, Path], tmp_path: Path
) -> None:
    """A `face`-coverage model sees less than DFL's whole-face crop: outside its crop the DFM's masks
    are 0, so DeepFaceLive and FaceFusion keep the original pixels there."""
    output = tmp_path / "tight.dfm"
    export_model(model_folders["df-face"], output, ExportConfig(format="dfm"))
    faces = np.full((1, 64, 64, 3), 0.5, np.float32)
    face_mask, _, celeb_mask = DfmModel(output).session.run(None, {"in_face:0": faces})
    assert celeb_mask[0, 0, 0, 0] == 0.0 and face_mask[0, 63, 63, 0] == 0.0
    assert celeb_mask[0, 32, 32, 0] > 0.0


def test_dfm_loader_refuses_the_project_layout(model_folders: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "model.onnx"
    export_model(model_folders["df"], output)
    with pytest.raises(CheckpointError, match="in_face:0"):
        DfmModel(output)


def test_bad_inputs_are_refused_before_work(model_folders: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no such model folder"):
        export_model(tmp_path / "missing", tmp_path / "x.onnx")
    with pytest.raises(ConfigError, match=r"written to a \.dfm file"):
        export_model(model_folders["df"], tmp_path / "x.onnx", ExportConfig(format="dfm"))
    foreign = tmp_path / "someone.onnx"
    foreign.write_bytes(b"not ours")
    with pytest.raises(OutputExistsError, match="did not make"):
        export_model(model_folders["df"], foreign, ExportConfig(overwrite=True))
    assert foreign.read_bytes() == b"not ours"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["someone.onnx"]  # no temporaries left


def test_an_export_is_replaced_only_with_overwrite(model_folders: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "model.onnx"
    export_model(model_folders["df"], output)
    with pytest.raises(OutputExistsError, match="--overwrite"):
        export_model(model_folders["df"], output)
    export_model(model_folders["liae"], output, ExportConfig(overwrite=True))
    assert export_metadata(open_session(output))["architecture"] == "liae"


def test_export_command(
    model_folders: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facetransfer.cli import main

    output = tmp_path / "cli.dfm"
    assert (
        main(
            ["export", str(model_folders["df"]), "-o", str(output), "--format", "dfm", "--precision", "fp16"]
        )
        == 0
    )
    line = capsys.readouterr().out
    assert "dfm (fp16, opset 12)" in line and output.is_file()
    assert main(["export", str(model_folders["df"]), "-o", str(tmp_path / "x.onnx"), "--print-config"]) == 0
    assert 'format = "onnx"' in capsys.readouterr().out
    assert main(["export", str(tmp_path / "nothing"), "-o", str(tmp_path / "x.onnx")]) == 2
    assert "no such model folder" in capsys.readouterr().err
