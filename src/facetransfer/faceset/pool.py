"""Several facesets pooled into one, so that one model learns from all of them (the faces of several
shots of a target, or generic faces gathered from many folders).

The pooled faceset is an ordinary faceset: its records are those of the inputs, renamed so that ids
and crop files cannot collide (`<n>-<face_id>`, n the input's position), with their source and track
numbers shifted past those of the inputs before them, and its manifest lists every input's sources
with paths relative to the new folder (so `convert --faceset POOLED` still finds each source's
faces). Crops are hard links to the inputs' files where the file system allows it (no copy, no
re-encoding), copies elsewhere; deleting a crop from the pooled faceset leaves the input's own.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from facetransfer import __version__
from facetransfer.errors import ConfigError, FacesetError
from facetransfer.faceset.io import (
    CROPS_DIR,
    MASKS_DIR,
    USER_MASKS_DIR,
    Faceset,
    FacesetWriter,
    check_faceset_output,
    mask_file_name,
    open_faceset,
)
from facetransfer.faceset.schema import FaceRecord, FacesetManifest
from facetransfer.fsutil import atomic_dir
from facetransfer.safety import resolved

logger = logging.getLogger(__name__)


def _check_compatible(facesets: Sequence[Faceset]) -> None:
    """Every faceset holds crops of the first one's size, coverage and template (a model learns one)."""
    first = facesets[0].manifest
    for faceset in facesets[1:]:
        manifest = faceset.manifest
        if (manifest.crop_size, manifest.coverage, manifest.template) != (
            first.crop_size,
            first.coverage,
            first.template,
        ):
            raise FacesetError(
                f"{faceset.root}: crops of {manifest.crop_size} px, coverage '{manifest.coverage}', "
                f"template {manifest.template}, but {facesets[0].root} has {first.crop_size} px, "
                f"'{first.coverage}', {first.template}; re-extract it with --crop-size {first.crop_size} "
                f"--coverage {first.coverage}"
            )


def _link_or_copy(source: Path, destination: Path) -> None:
    try:
        os.link(source, destination)
    except OSError:  # another file system, or one without hard links (some bucket mounts)
        shutil.copyfile(source, destination)


def _relative_source(source: dict[str, object], old_root: Path, new_root: Path) -> dict[str, object]:
    """A manifest source entry with its path made relative to `new_root` (where it will be read)."""
    entry = dict(source)
    path = entry.get("path")
    if isinstance(path, str) and path:
        absolute = Path(os.path.normpath(old_root.resolve() / path))
        entry["path"] = os.path.relpath(absolute, new_root)
    return entry


def _summed_counts(facesets: Sequence[Faceset]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for faceset in facesets:
        for key, value in faceset.manifest.counts.items():
            if isinstance(value, int) and not isinstance(value, bool):
                counts[key] = counts.get(key, 0) + value
    counts["faces"] = sum(len(faceset) for faceset in facesets)
    return counts


def _joined(values: Sequence[str]) -> str:
    return "+".join(dict.fromkeys(values))


def pool_facesets(
    inputs: Sequence[str | os.PathLike[str]], output: str | os.PathLike[str], *, overwrite: bool = False
) -> Faceset:
    """Write one faceset at `output` holding every face of the facesets `inputs`, and return it opened.

    The inputs must share crop size, coverage and template (`FacesetError` otherwise, naming the odd
    one). `output` follows the deletion policy (`facetransfer.safety`): a faceset this tool made is
    replaced only with `overwrite`, anything else is refused, and it may not be, hold or lie inside
    an input. It is written into a temporary folder and renamed into place at the end.
    """
    if not inputs:
        raise ConfigError("no facesets to pool; pass at least one")
    output_path = Path(output)
    facesets = [open_faceset(path) for path in inputs]
    _check_compatible(facesets)
    check_faceset_output(output_path, inputs, overwrite, what="pooled faceset")
    final_root = resolved(output_path)
    records: list[FaceRecord] = []
    sources: list[dict[str, object]] = []
    # stored masks come along when every faceset's were made alike; painted ones always do
    mask_entries = [faceset.manifest.masks for faceset in facesets]
    same_masks = bool(mask_entries[0]) and all(
        {key: entry.get(key) for key in ("method", "version")}
        == {key: mask_entries[0].get(key) for key in ("method", "version")}
        for entry in mask_entries
    )
    with atomic_dir(output_path, overwrite=overwrite) as folder:
        writer = FacesetWriter(folder)
        track_offset = 0
        for number, faceset in enumerate(facesets):
            for record in faceset.records:
                face_id = f"{number}-{record.face_id}"
                crop_file = face_id + Path(record.crop_file).suffix
                _link_or_copy(faceset.crop_path(record), folder / CROPS_DIR / crop_file)
                for kept, folder_name in ((same_masks, MASKS_DIR), (True, USER_MASKS_DIR)):
                    mask = faceset.root / folder_name / mask_file_name(record)
                    if kept and mask.is_file():
                        (folder / folder_name).mkdir(exist_ok=True)
                        _link_or_copy(mask, folder / folder_name / f"{face_id}.png")
                records.append(
                    replace(
                        record,
                        face_id=face_id,
                        crop_file=crop_file,
                        source_index=record.source_index + len(sources),
                        track_id=record.track_id + track_offset if record.track_id >= 0 else record.track_id,
                    )
                )
            sources.extend(
                _relative_source(source, faceset.root, final_root) for source in faceset.manifest.sources
            )
            track_offset += 1 + max((record.track_id for record in faceset.records), default=-1)
        first = facesets[0].manifest
        manifest = FacesetManifest(
            crop_size=first.crop_size,
            coverage=first.coverage,
            template=first.template,
            detector=_joined([faceset.manifest.detector for faceset in facesets]),
            landmarker=_joined([faceset.manifest.landmarker for faceset in facesets]),
            sources=sources,
            counts=_summed_counts(facesets),
            options={
                **first.options,
                "pooled_from": [os.path.relpath(resolved(faceset.root), final_root) for faceset in facesets],
            },
            tool_version=__version__,
            created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
            masks={**mask_entries[0], "faces": len(records)} if same_masks else {},
        )
        writer.finish(manifest, records)
    logger.info("%s: %d faces pooled from %d facesets", output_path, len(records), len(facesets))
    return open_faceset(output_path)
