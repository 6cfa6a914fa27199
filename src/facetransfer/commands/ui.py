"""`facetransfer ui [--host 127.0.0.1] [--port 7860] [--workdir DIR] [--open]`: a local web app to
start swaps, queue them, watch them train and see the results (see docs/UI.md). The web framework
is imported here, when the command runs, so the other commands start without it."""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
import threading
from typing import Any

from facetransfer.commands.configs import add_config_flags, add_stage_flags, print_config, resolve_configs
from facetransfer.errors import ConfigError
from facetransfer.ui.config import UiConfig

STAGES = {"ui": UiConfig}


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "ui",
        help="a local web app: start swaps from the browser, watch them train, see the results",
        description="Serve the facetransfer web app on this machine and print its address. It lists "
        "the swaps in --workdir, starts new ones (run one at a time, as `facetransfer swap` does), "
        "and shows their progress, previews, losses and results. Listening on any address but "
        "loopback needs the access token it prints.",
    )
    add_config_flags(parser)
    add_stage_flags(parser, STAGES)
    parser.set_defaults(func=run, parser=parser)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ConfigError(
            f"--host {host} --port {port}: cannot listen there ({error.strerror}); choose another --port"
        ) from None
    sock.listen(64)
    sock.set_inheritable(False)
    return sock


def run(args: argparse.Namespace) -> int:
    config: UiConfig = resolve_configs(args, args.parser, STAGES)["ui"]
    if args.print_config:
        return print_config({"ui": config})
    try:
        import uvicorn

        from facetransfer.ui.app import create_app
    except ModuleNotFoundError as error:
        raise ConfigError(
            f"the ui needs {error.name}, which is not installed; run pip install 'facetransfer[ui]'"
        ) from None
    from facetransfer.ui.jobs import find_work_folders
    from facetransfer.ui.runner import Runner, recover_statuses

    token = None if config.is_loopback else secrets.token_urlsafe(24)
    sock = _bind(config.host, config.port)
    runner = Runner()
    app = create_app(config, token, runner)
    root = app.app.state.ui.root
    recover_statuses(find_work_folders(root))
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):  # every address: name the machine, as others reach it
        host = socket.gethostname()
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    print(f"facetransfer ui: {address}", flush=True)
    print(f"  swaps in {root}; Ctrl-C stops (a running swap saves first)", file=sys.stderr, flush=True)
    if config.open:
        import webbrowser

        threading.Timer(0.5, webbrowser.open, args=(address,)).start()
    # the page keeps an event stream open: closing waits for it at most a few seconds
    settings = uvicorn.Config(
        app, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(settings)
    runner.start()
    try:
        server.run(sockets=[sock])
    finally:
        runner.close()
        sock.close()
    return 0
