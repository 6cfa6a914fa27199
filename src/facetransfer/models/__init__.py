"""Face-swap autoencoders: the contract every model follows (`base`), their building blocks, the
architectures (`df`, `liae`) and the registry that names them.

Importing this package registers the built-in architectures and loads PyTorch. The configurations
and presets, which need no PyTorch, are `facetransfer.presets`.
"""

from facetransfer.models import df, liae  # noqa: F401  (importing an architecture registers it)
from facetransfer.models.base import SIDES, FaceSwapModel, Side
from facetransfer.models.registry import MODELS, build_model, register_model

__all__ = ["MODELS", "SIDES", "FaceSwapModel", "Side", "build_model", "register_model"]
