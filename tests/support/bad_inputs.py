"""Small bad or unusual inputs, made at test time from the real test media (nothing downloaded).

Every generator writes into a folder the caller owns (a pytest tmp folder) and returns the path it
made. They use PyAV, OpenCV, Pillow and the standard library only, not `facetransfer`, so a broken
reader in the package cannot also break the inputs meant to test it.

Facesets, model folders and configs are made by copying a good one and changing one thing, so each
case says exactly which property is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import struct
import subprocess
import wave
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
from PIL import Image

EXIF_ORIENTATION_TAG = 0x0112

# ------------------------------------------------------------------ plain files


def empty_file(path: Path) -> Path:
    """A 0-byte file (a failed download or copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def text_file(path: Path, text: str = "this is not a video, only a note someone renamed\n") -> Path:
    """A text file, usually with a media suffix it does not deserve."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def random_bytes(path: Path, size: int = 64 * 1024, seed: int = 0) -> Path:
    """`size` bytes of noise (no format at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes())
    return path


def binary_blob(path: Path) -> Path:
    """A short binary file with NUL bytes and invalid UTF-8, as where a JSON or TOML file is expected."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\x01\xff\xfe\x89PNG\r\n\x1a\n\x00\x00\xc3\x28" * 16)
    return path


def truncated_copy(
    source: Path, path: Path, keep_bytes: int | None = None, keep_fraction: float = 0.5
) -> Path:
    """The first `keep_bytes` bytes (default: `keep_fraction` of the file) of `source`: an
    interrupted download or copy."""
    data = source.read_bytes()
    keep = keep_bytes if keep_bytes is not None else int(len(data) * keep_fraction)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data[:keep])
    return path


def corrupted_middle(source: Path, path: Path, block_bytes: int = 64 * 1024, seed: int = 1) -> Path:
    """`source` with `block_bytes` of noise written over its middle: a file that opens and decodes
    at first, then fails (bad sectors, a damaged transfer)."""
    data = bytearray(source.read_bytes())
    start = len(data) // 2 - block_bytes // 2
    noise = np.random.default_rng(seed).integers(0, 256, block_bytes, dtype=np.uint8).tobytes()
    data[start : start + block_bytes] = noise
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(data))
    return path


def copy_file(source: Path, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, path)
    return path


def silent_wav(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    """An audio-only file (no video stream at all)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"\x00\x00" * int(seconds * rate))
    return path


# ------------------------------------------------------------------ video


def video_frames(source: Path, count: int | None = None, start: int = 0) -> list[np.ndarray]:
    """Frames `start` .. `start + count` of `source` as uint8 RGB arrays (decoded with PyAV)."""
    frames: list[np.ndarray] = []
    with av.open(str(source)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index < start:
                continue
            if count is not None and len(frames) >= count:
                break
            frames.append(frame.to_ndarray(format="rgb24"))
    return frames


def encode_mp4(
    frames: list[np.ndarray], path: Path, fps: int = 25, faststart: bool = False, crf: int = 23
) -> Path:
    """H.264 MP4 of RGB `frames`; `faststart` puts the index (moov) before the data, as streaming
    sites do, otherwise it is written at the end, as cameras do."""
    path.parent.mkdir(parents=True, exist_ok=True)
    options = {"movflags": "+faststart"} if faststart else {}
    with av.open(str(path), "w", format="mp4", options=options) as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": str(crf), "preset": "ultrafast"})
        height, width = frames[0].shape[:2]
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in frames:
            container.mux(
                stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
            )
        container.mux(stream.encode())
    return path


def empty_mp4(path: Path) -> Path:
    """A well-formed MP4 with a video stream and no frames in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        container.start_encoding()  # writes the header even though no frame follows
        container.mux(stream.encode())
    return path


def mp4_box_layout(path: Path) -> list[tuple[str, int, int]]:
    """Top-level MP4 boxes as (type, offset, size): lets a test check where `moov` sits."""
    data = path.read_bytes()
    boxes = []
    offset = 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append((kind.decode("latin-1"), offset, size))
        if size == 0:
            break
        offset += size
    return boxes


# ------------------------------------------------------------------ images


def write_png(image_rgb: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")
    return path


def write_jpeg(image_rgb: np.ndarray, path: Path, orientation: int | None = None, quality: int = 92) -> Path:
    """A JPEG of `image_rgb` as stored; with `orientation`, the EXIF Orientation tag says how a
    viewer must turn it (the pixels are not changed here)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    picture = Image.fromarray(image_rgb)
    if orientation is None:
        picture.save(path, format="JPEG", quality=quality)
    else:
        exif = Image.Exif()
        exif[EXIF_ORIENTATION_TAG] = orientation
        picture.save(path, format="JPEG", quality=quality, exif=exif.tobytes())
    return path


def sideways_with_exif(image_rgb: np.ndarray, path: Path, tagged: bool = True) -> Path:
    """A phone photo held upright but stored sideways: the pixels turned 90 degrees counter-clockwise
    and EXIF orientation 6 ("turn 90 degrees clockwise to view"). Shown upright by every viewer.
    With `tagged=False` the same sideways pixels carry no tag (a truly sideways photo)."""
    stored = np.ascontiguousarray(np.rot90(image_rgb, k=1))
    return write_jpeg(stored, path, orientation=6 if tagged else None)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_claiming_size(path: Path, width: int = 40000, height: int = 40000) -> Path:
    """A tiny, well-formed-looking PNG whose header claims `width` x `height` RGB pixels (4.8 GB
    decoded at 40000 x 40000): a decompression bomb or a damaged header. Its image data is one
    compressed row of zeros, so a decoder that trusts the header allocates first and fails later."""
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    row = b"\x00" + b"\x00" * (3 * min(width, 4096))
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    data += _png_chunk(b"IDAT", zlib.compress(row, 9)) + _png_chunk(b"IEND", b"")
    path.write_bytes(data)
    return path


def corrupt_image(path: Path, good: Path) -> Path:
    """The first third of a good image file: a header that parses, then nothing (a broken copy)."""
    return truncated_copy(good, path, keep_fraction=1 / 3)


def image_folder(
    folder: Path,
    good: list[np.ndarray],
    empty_names: tuple[str, ...] = (),
    corrupt_names: tuple[str, ...] = (),
    text_names: tuple[str, ...] = (),
) -> Path:
    """A folder of PNG frames `000.png`, `001.png` ... from `good`, plus 0-byte images, cut-off
    images and text files under the given names (sorted among the good ones)."""
    folder.mkdir(parents=True, exist_ok=True)
    first = None
    for index, image in enumerate(good):
        written = write_png(image, folder / f"{index * 10:03d}.png")
        first = first or written
    for name in empty_names:
        empty_file(folder / name)
    for name in corrupt_names:
        if first is None:
            raise ValueError("a corrupt image is made from a good one: pass at least one good image")
        corrupt_image(folder / name, first)
    for name in text_names:
        text_file(folder / name)
    return folder


# ------------------------------------------------------------------ file system oddities


def unreadable(path: Path) -> bool:
    """chmod 000 `path`. Returns whether it really became unreadable to this process (root ignores
    permissions; then the caller should skip)."""
    path.chmod(0)
    return not os.access(path, os.R_OK)


def read_only_folder(folder: Path) -> bool:
    """chmod 555 `folder`. Returns whether writing into it is really refused to this process."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return not os.access(folder, os.W_OK)


def restore_permissions(root: Path) -> None:
    """Give the owner read/write/enter rights on everything under `root` again (so tmp folders can
    be removed), without following symbolic links."""
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        with suppress(OSError):
            path.chmod(path.stat().st_mode | stat.S_IRWXU)


def symlink_loop(folder: Path, name: str = "loop.mp4") -> Path:
    """`name` -> `name.b` -> `name`: opening either fails with ELOOP."""
    folder.mkdir(parents=True, exist_ok=True)
    first, second = folder / name, folder / f"{name}.b"
    first.symlink_to(second.name)
    second.symlink_to(first.name)
    return first


def dangling_symlink(path: Path, target: str = "moved-away.mp4") -> Path:
    """A link to a file that is not there (the file was moved or deleted)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)
    return path


@contextmanager
def tmpfs(folder: Path, size: str = "64k", read_only: bool = False) -> Iterator[Path]:
    """Mount a small tmpfs on `folder` for the duration (needs root, or CAP_SYS_ADMIN).

    Raises `MountUnavailable` (with the reason) when the machine does not allow it."""
    folder.mkdir(parents=True, exist_ok=True)
    options = f"size={size},mode=0755" + (",ro" if read_only else "")
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError) as error:
        raise MountUnavailable(f"cannot run mount: {error}") from error
    if done.returncode != 0:
        raise MountUnavailable(f"mount -t tmpfs refused: {done.stderr.strip() or done.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True, timeout=30)


class MountUnavailable(RuntimeError):
    """This machine does not let the tests mount a small file system."""


def fill_disk(folder: Path, leave_bytes: int = 0) -> Path:
    """Write a filler file into `folder` until the file system has about `leave_bytes` free."""
    filler = folder / "filler.bin"
    chunk = b"\x00" * 4096
    with filler.open("wb") as handle:
        try:
            while os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize > leave_bytes + len(chunk):
                handle.write(chunk)
                handle.flush()
        except OSError:
            pass
    return filler


# ------------------------------------------------------------------ facesets and model folders


def copy_tree(source: Path, destination: Path) -> Path:
    """A deep copy (no hard links shared with `source`, so changing it cannot change the original)."""
    shutil.copytree(source, destination, symlinks=True, copy_function=shutil.copyfile)
    return destination


def rewrite_json(path: Path, change: Callable[[Any], Any]) -> Path:
    """Replace the JSON in `path` by `change(payload)` (which may edit in place and return None)."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    result = change(payload)
    path.write_text(json.dumps(payload if result is None else result, indent=2), encoding="utf-8")
    return path


def faceset_variant(
    good: Path, destination: Path, manifest: Callable[[Any], Any] | bytes | None = None
) -> Path:
    """A copy of the faceset `good` whose `faceset.json` is changed by `manifest` (a function of the
    payload) or replaced by the bytes `manifest`."""
    copy_tree(good, destination)
    if isinstance(manifest, bytes):
        (destination / "faceset.json").write_bytes(manifest)
    elif manifest is not None:
        rewrite_json(destination / "faceset.json", manifest)
    return destination


def faceset_with_record_line(good: Path, destination: Path, line_number: int, text: str) -> Path:
    """A copy of `good` whose `faces.jsonl` line `line_number` (1-based) is replaced by `text`."""
    copy_tree(good, destination)
    records = destination / "faces.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines()
    lines[line_number - 1] = text
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return destination


def faceset_with_record_change(
    good: Path, destination: Path, line_number: int, change: Callable[[dict[str, Any]], None]
) -> Path:
    """A copy of `good` whose record on line `line_number` is edited by `change`."""
    copy_tree(good, destination)
    records = destination / "faces.jsonl"
    lines = records.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[line_number - 1])
    change(record)
    lines[line_number - 1] = json.dumps(record)
    records.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return destination


def faceset_crops(faceset: Path) -> list[Path]:
    return sorted(path for path in (faceset / "crops").iterdir() if path.is_file())


def model_variant(good: Path, destination: Path, config: Callable[[Any], Any] | bytes | None = None) -> Path:
    """A copy of the model folder `good` whose `config.json` is changed by `config` (a function of
    the payload) or replaced by the bytes `config`."""
    copy_tree(good, destination)
    if isinstance(config, bytes):
        (destination / "config.json").write_bytes(config)
    elif config is not None:
        rewrite_json(destination / "config.json", config)
    return destination


def model_weight_files(model: Path) -> list[Path]:
    """Every `model.safetensors` in a model folder (each checkpoint, and `best`)."""
    return sorted(model.rglob("model.safetensors"))


# ------------------------------------------------------------------ configs


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
