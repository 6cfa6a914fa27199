"""Check a file for the three provenance marks: C2PA manifest, invisible watermark, metadata tag."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from facetransfer.errors import ProvenanceError
from facetransfer.media import probe, read_frames
from facetransfer.provenance.detect import VideoWatermarkReader, detect_watermark
from facetransfer.provenance.metadata import find_provenance_text, image_text_tags
from facetransfer.provenance.payload import decode_payload
from facetransfer.provenance.signing import CUSTOM_ASSERTION, LOCAL_ORGANIZATION, read_manifest

SAMPLED_FRAMES = 40
"""Frames of a video looked at for the watermark, evenly spaced over its length."""


@dataclass
class ManifestCheck:
    """The C2PA manifest.

    `valid`: the signature and the content hashes check out (c2pa's "Valid" or "Trusted");
    `trusted`: the signer chains to a trust list c2pa knows (never for the local chain);
    `self_signed`: signed with facetransfer's local self-signed chain; `failures`: c2pa's failure
    codes other than `signingCredential.untrusted`.
    """

    present: bool = False
    valid: bool | None = None
    trusted: bool | None = None
    validation_state: str | None = None
    signer: str | None = None
    issuer: str | None = None
    self_signed: bool | None = None
    claim_generator: str | None = None
    actions: list[str] = field(default_factory=list)
    digital_source_type: str | None = None
    watermark_payload: str | None = None
    failures: list[str] = field(default_factory=list)


@dataclass
class WatermarkCheck:
    """The invisible watermark and its payload.

    `frames_found`: sampled frames that carry the payload (decoded on their own, or matching the
    video's payload with z >= 5); `frames_decoded`: those that decoded on their own; `share_found`:
    frames_found / frames_sampled.
    """

    found: bool = False
    frames_sampled: int = 0
    frames_found: int = 0
    frames_decoded: int = 0
    share_found: float = 0.0
    payload: str | None = None
    tool_id: int | None = None
    output_id: int | None = None
    sync_score: float | None = None


@dataclass
class MetadataCheck:
    """The plain-text tag (container comment / PNG text / JPEG comment)."""

    present: bool = False
    text: str | None = None


@dataclass
class VerifyReport:
    path: str
    kind: str
    manifest: ManifestCheck
    watermark: WatermarkCheck
    metadata: MetadataCheck

    @property
    def marked(self) -> bool:
        """Any mark found: a C2PA manifest, the watermark, or the metadata tag."""
        return self.manifest.present or self.watermark.found or self.metadata.present

    def to_json(self) -> dict[str, Any]:
        payload = asdict(self)
        payload["marked"] = self.marked
        return payload


def check_manifest(path: Path) -> ManifestCheck:
    store = read_manifest(path)
    if store is None:
        return ManifestCheck()
    active = store.get("manifests", {}).get(store.get("active_manifest", ""), {})
    state = store.get("validation_state")
    results = store.get("validation_results", {}).get("activeManifest", {})
    failure_codes = [str(item.get("code")) for item in results.get("failure", [])]
    signature = active.get("signature_info", {})
    actions: list[str] = []
    source_type = None
    payload = None
    for assertion in active.get("assertions", []):
        label = str(assertion.get("label", ""))
        data = assertion.get("data", {})
        if label.startswith("c2pa.actions"):
            for action in data.get("actions", []):
                actions.append(str(action.get("action")))
                source_type = action.get("digitalSourceType", source_type)
        elif label == CUSTOM_ASSERTION:
            payload = data.get("watermark_payload")
    generators = active.get("claim_generator_info", [])
    generator = (
        " ".join(str(generators[0].get(key, "")) for key in ("name", "version")).strip()
        if generators
        else None
    )
    return ManifestCheck(
        present=True,
        valid=state in ("Valid", "Trusted"),
        trusted=state == "Trusted",
        validation_state=state,
        signer=signature.get("common_name"),
        issuer=signature.get("issuer"),
        self_signed=signature.get("issuer") == LOCAL_ORGANIZATION,
        claim_generator=generator or active.get("claim_generator"),
        actions=actions,
        digital_source_type=source_type,
        watermark_payload=payload,
        failures=[code for code in failure_codes if code != "signingCredential.untrusted"],
    )


def check_watermark(
    path: Path, kind: str, frame_count: int, max_frames: int = SAMPLED_FRAMES
) -> WatermarkCheck:
    if kind == "image":
        reading = detect_watermark(next(read_frames(path)).image)
        found = reading.payload is not None
        return _watermark_check(found, 1, int(found), int(found), reading.payload, reading.alignment.score)
    every_n = max(1, math.ceil(frame_count / max_frames))
    reader = VideoWatermarkReader()
    for sampled in read_frames(path, every_n=every_n):
        reader.add(sampled.image)
    result = reader.finish()
    score = result.alignment.score if result.alignment is not None else None
    return _watermark_check(
        result.payload is not None,
        result.frames,
        result.frames_found,
        result.frames_decoded,
        result.payload,
        score,
    )


def _watermark_check(
    found: bool, sampled: int, found_frames: int, decoded: int, payload: int | None, score: float | None
) -> WatermarkCheck:
    info = decode_payload(payload) if payload is not None else None
    return WatermarkCheck(
        found=found,
        frames_sampled=sampled,
        frames_found=found_frames,
        frames_decoded=decoded,
        share_found=round(found_frames / sampled, 4) if sampled else 0.0,
        payload=info.hex if info else None,
        tool_id=info.tool_id if info else None,
        output_id=info.output_id if info else None,
        sync_score=round(score, 2) if score is not None else None,
    )


def check_metadata(path: Path, kind: str, tags: dict[str, str]) -> MetadataCheck:
    found = dict(tags)
    if kind == "image":
        found.update(image_text_tags(path))
    text = find_provenance_text(found)
    return MetadataCheck(present=text is not None, text=text)


def verify_file(path: str | Path, max_frames: int = SAMPLED_FRAMES) -> VerifyReport:
    """Look for all three marks in a video or image file.

    Raises:
        MediaError: the file is missing, empty or not decodable media.
        ProvenanceError: a C2PA manifest is there but cannot be parsed at all.
    """
    file_path = Path(path)
    info = probe(file_path)
    if info.kind == "image_folder":
        raise ProvenanceError(f"{file_path}: is a folder; verify one video or image file at a time")
    return VerifyReport(
        path=str(file_path),
        kind=info.kind,
        manifest=check_manifest(file_path) if file_path.is_file() else ManifestCheck(),
        watermark=check_watermark(file_path, info.kind, info.frame_count, max_frames),
        metadata=check_metadata(file_path, info.kind, info.tags),
    )
