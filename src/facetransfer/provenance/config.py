"""Provenance options, the user's config folder, the report entry, and the errors of this package."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from facetransfer.errors import ProvenanceError

logger = logging.getLogger(__name__)

LabelCorner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
LABEL_CORNERS: tuple[str, ...] = get_args(LabelCorner)

CONFIG_FILE_NAME = "config.toml"


@dataclass
class ProvenanceConfig:
    """What `convert` and `swap` put into every output.

    Attributes:
        enabled: False turns off the C2PA manifest, the watermark and the metadata tag
            (`--no-provenance`); the run's report records that.
        sign_cert: PEM certificate chain (signer first) to sign the C2PA manifest with; None: the
            `[provenance] sign_cert` entry of the config file, else a self-signed local chain.
        sign_key: PEM private key of `sign_cert` (PKCS#8 or traditional, unencrypted).
        label: visible text to draw on every frame (None: no visible label). Drawn also when
            `enabled` is False: it is the user's own choice.
        label_corner: where the label goes.
        label_opacity: 0 (invisible) .. 1 (opaque) for the label and its backing box.
        watermark_strength: amplitude multiplier for the invisible watermark (1.0 default,
            PSNR >= 40.5 dB; 0.5 .. 4 is sensible).
    """

    enabled: bool = True
    sign_cert: str | None = None
    sign_key: str | None = None
    label: str | None = None
    label_corner: LabelCorner = "bottom-right"
    label_opacity: float = 0.6
    watermark_strength: float = 1.0

    def __post_init__(self) -> None:
        if self.label_corner not in LABEL_CORNERS:
            raise ProvenanceError(
                f"label corner must be one of {', '.join(LABEL_CORNERS)}, got '{self.label_corner}'"
            )
        if not 0.0 <= self.label_opacity <= 1.0:
            raise ProvenanceError(f"label opacity must be between 0 and 1, got {self.label_opacity}")
        if not 0.0 < self.watermark_strength <= 16.0:
            raise ProvenanceError(
                f"watermark strength must be in (0, 16], got {self.watermark_strength}; "
                "use --no-provenance to leave the watermark out"
            )
        if (self.sign_cert is None) != (self.sign_key is None):
            raise ProvenanceError(
                "give both a signing certificate and its key (--sign-cert and --sign-key), or neither "
                "to use the local self-signed one"
            )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/facetransfer`, or `~/.config/facetransfer` when XDG_CONFIG_HOME is unset."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".config"
    return root / "facetransfer"


def load_config_file(path: Path | None = None) -> dict[str, Any]:
    """The `[provenance]` table of the user's config file (empty when there is no file)."""
    config_path = path or config_dir() / CONFIG_FILE_NAME
    if not config_path.is_file():
        return {}
    try:
        data = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ProvenanceError(
            f"{config_path}: not a readable TOML file ({error}); fix or remove it"
        ) from error
    table = data.get("provenance", {})
    if not isinstance(table, dict):
        raise ProvenanceError(f"{config_path}: [provenance] must be a table")
    return table


def configured_signer_paths(config: ProvenanceConfig) -> tuple[Path, Path] | None:
    """(certificate, key) from the options, else from the config file; None for the local chain.

    Relative paths in the config file are taken relative to the config folder.
    """
    if config.sign_cert is not None and config.sign_key is not None:
        return Path(config.sign_cert).expanduser(), Path(config.sign_key).expanduser()
    table = load_config_file()
    cert, key = table.get("sign_cert"), table.get("sign_key")
    if cert is None and key is None:
        return None
    if not isinstance(cert, str) or not isinstance(key, str):
        raise ProvenanceError(
            f"{config_dir() / CONFIG_FILE_NAME}: [provenance] needs both sign_cert and sign_key as paths"
        )
    return (config_dir() / Path(cert).expanduser(), config_dir() / Path(key).expanduser())


def report_entry(
    config: ProvenanceConfig, payload: int | None = None, signing: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The `provenance` entry of a convert/swap report.

    With provenance off it says so explicitly (`"enabled": false`, `"disabled_by": "--no-provenance"`).
    """
    entry: dict[str, Any] = {"enabled": config.enabled, "label": config.label}
    if not config.enabled:
        entry["disabled_by"] = "--no-provenance"
        entry["marks"] = []
        return entry
    entry["marks"] = ["c2pa", "watermark", "metadata"] if signing else ["watermark", "metadata"]
    entry["watermark_payload"] = f"{payload:08x}" if payload is not None else None
    entry["watermark_strength"] = config.watermark_strength
    entry["c2pa"] = signing
    return entry
