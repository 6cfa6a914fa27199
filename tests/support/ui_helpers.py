"""Starting `facetransfer ui` in a subprocess and driving Debian's headless Chromium at it, with
every name but the loopback address unresolvable, for the ui tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
DRIVER_NAMES = ("chromedriver",)
NO_NETWORK_RULE = "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"


@dataclass
class UiServer:
    process: subprocess.Popen[str]
    address: str  # as printed, with ?token=... when there is one
    log: Path

    @property
    def base(self) -> str:
        """The app on this machine's loopback address (the printed one may name the machine)."""
        return f"http://127.0.0.1:{urlsplit(self.address).port}"

    def request(
        self, path: str, data: Any = None, method: str | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """(status, decoded JSON or text) of a request to the app."""
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        if body is not None:
            request.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, raw, kind = response.status, response.read(), response.headers.get("content-type", "")
        except urllib.error.HTTPError as error:
            status, raw, kind = error.code, error.read(), error.headers.get("content-type", "")
        return status, json.loads(raw) if "json" in kind else raw.decode("utf-8", "replace")

    def stop(self, timeout_s: float = 120) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_ui(workdir: Path, *flags: str, log: Path | None = None, timeout_s: float = 60) -> UiServer:
    """`facetransfer ui --workdir WORKDIR --port 0 FLAGS...`, once it printed its address."""
    log = log or workdir.parent / f"{workdir.name}-ui.log"
    command = [sys.executable, "-m", "facetransfer", "ui", "--workdir", str(workdir), "--port", "0", *flags]
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    line = ""
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line or process.poll() is not None:
            break
    match = re.match(r"facetransfer ui: (\S+)", line)
    if not match:
        process.kill()
        raise RuntimeError(f"the ui did not start: {line!r} {log.read_text()}")
    return UiServer(process, match.group(1), log)


def chromium() -> tuple[str, str] | None:
    """(browser, driver) executables, or None when Chromium or its driver is not installed."""
    browser = next((found for name in CHROMIUM_NAMES if (found := shutil.which(name))), None)
    driver = next((found for name in DRIVER_NAMES if (found := shutil.which(name))), None)
    return (browser, driver) if browser and driver else None


def make_driver(browser: str, driver: str, downloads: Path | None = None) -> Any:
    """Headless Chromium through Selenium: no name resolves but 127.0.0.1, no background traffic, and
    the page's network log kept (see `outside_requests`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in (
        "--headless=new",
        "--no-sandbox",  # the tests may run as root (CI containers)
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        f"--host-resolver-rules={NO_NETWORK_RULE}",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        "--autoplay-policy=no-user-gesture-required",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
    if downloads is not None:
        options.add_experimental_option("prefs", {"download.default_directory": str(downloads)})
    service = Service(executable_path=driver, env={**os.environ, "SE_OFFLINE": "true"})
    return webdriver.Chrome(options=options, service=service)


def requested_urls(driver: Any) -> list[str]:
    """Every URL the page asked for since the last call (Chromium's network log)."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def outside(urls: list[str]) -> list[str]:
    """The URLs that would leave this machine (not loopback, not data:/blob:)."""
    found = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            continue
        if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            found.append(url)
    return found
