"""The options of `facetransfer ui` (`[ui]`), declared once (see `facetransfer.options`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from facetransfer.options import check_options, option

DEFAULT_PORT = 7860
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


@dataclass(frozen=True)
class UiConfig:
    """Options of the local web app (`[ui]`)."""

    SECTION: ClassVar[str] = "ui"

    host: str = option(
        "127.0.0.1",
        "address to listen on; any address but loopback needs the access token printed at start",
        metavar="ADDRESS",
    )
    port: int = option(DEFAULT_PORT, "port to listen on (0: any free port)", minimum=0, maximum=65535)
    workdir: str = option(
        ".", "folder whose swaps the app lists, and where new swaps are written", metavar="DIR"
    )
    root: list[str] = option(
        [], "more folders the file browser may open (the work folder and home always can)", metavar="DIR"
    )
    max_upload_mb: float = option(2048.0, "largest file an upload may be", unit="MB", minimum=1, maximum=1e6)
    open: bool = option(False, "open the page in the default web browser")

    def __post_init__(self) -> None:
        check_options(self)

    @property
    def is_loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS or self.host.startswith("127.")
