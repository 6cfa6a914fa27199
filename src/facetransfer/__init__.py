"""facetransfer: video face transfer with a shared-encoder autoencoder."""

__version__ = "0.1.0"
TOOL_NAME = "facetransfer"

__all__ = ["TOOL_NAME", "__version__"]
