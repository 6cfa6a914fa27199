"""Provenance options, the user's config folder, the report entry, and the errors of this package."""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, get_args

from facetransfer.errors import ProvenanceError
from facetransfer.options import check_options, option

logger = logging.getLogger(__name__)

LabelCorner = Literal["top-left", "top-right", "bottom-left", "bottom-right"]
LABEL_CORNERS: tuple[str, ...] = get_args(LabelCorner)

CONFIG_FILE_NAME = "config.toml"


@dataclass(frozen=True)
class ProvenanceConfig:
    """What `convert` and `swap` put into every output (`[provenance]`; docs/PROVENANCE.md).

    Without `sign_cert`/`sign_key` the `[provenance]` entries of the user's config folder are used,
    else a self-signed local chain. The visible label is drawn even with provenance off: it is the
    user's own choice.
    """

    SECTION: ClassVar[str] = "provenance"

    enabled: bool = option(
        True,
        "C2PA manifest, invisible watermark and metadata tag on every output (off: the report says so)",
        flag="provenance",
    )
    sign_cert: str | None = option(
        None, "PEM certificate chain (signer first) to sign the C2PA manifest", metavar="PEM"
    )
    sign_key: str | None = option(None, "unencrypted PEM private key of --sign-cert", metavar="PEM")
    label: str | None = option(None, "visible label drawn on every frame", metavar="TEXT")
    label_corner: LabelCorner = option("bottom-right", "corner of the visible label")
    label_opacity: float = option(0.6, "visible label opacity", minimum=0.0, maximum=1.0)
    watermark_strength: float = option(
        1.0, "invisible watermark amplitude multiplier (1: PSNR >= 40.5 dB)", minimum=0.05, maximum=16.0
    )

    def __post_init__(self) -> None:
        check_options(self)
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
