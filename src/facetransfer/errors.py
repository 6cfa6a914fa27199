"""Exception classes. Every user-facing failure is a `FacetransferError`: the CLI prints its message
on one line and exits with status 2, without a traceback."""

from __future__ import annotations

EXIT_INTERRUPTED = 130
"""Exit status after Ctrl-C (128 + SIGINT), once the command cleaned up (training: saved)."""
EXIT_TERMINATED = 143
"""Exit status after SIGTERM (128 + SIGTERM), the same."""


class FacetransferError(Exception):
    """Base class: a failure whose message is meant for the user (what, where, what to do)."""

    exit_code = 2


class MediaError(FacetransferError):
    """An input file is missing, empty, truncated, or not media we can decode."""


class NoFaceError(FacetransferError):
    """No usable face was found where one was required."""


class FacesetError(FacetransferError):
    """A faceset folder is missing, malformed, or of an unsupported version."""


class OutputExistsError(FacetransferError):
    """An output already exists and overwriting was not asked for, or it would overwrite an input."""


class ConfigError(FacetransferError):
    """Options that contradict each other or a saved model."""


class CheckpointError(FacetransferError):
    """A model folder has no usable checkpoint or one of another architecture."""


class OutputError(FacetransferError):
    """The output cannot be written where it was asked for."""


class ProvenanceError(FacetransferError):
    """Signing or reading provenance failed: bad certificate or key, unsupported format, I/O."""


class TrainingOutOfMemoryError(FacetransferError):
    """Training ran out of device memory at a batch size that cannot be lowered further."""


class DivergenceError(FacetransferError):
    """Training keeps producing non-finite losses or gradients, even after rolling back."""


class Interrupted(FacetransferError):
    """Stopped by Ctrl-C / SIGTERM after the current stage saved its work."""

    exit_code = 130
