"""Start-up time and page weight of `facetransfer ui`.

Start-up: from starting `facetransfer ui --port 0` to the first page served, measured `--repeat`
times (the fastest run counts: the least disturbed one on a shared machine), split into the moment
the address is printed and the moment `GET /` and everything the page loads on opening (its CSS,
its script, the form's options, the jobs list) have answered. For reference, `facetransfer --help`
(the command line's own start-up) and the import of the web framework alone (Starlette and uvicorn,
and FastAPI with uvicorn for comparison, when installed) are timed in the same run. The app's
resident memory after the first page is read from /proc.

Page weight: the bytes of each file the page loads on opening, uncompressed (the app serves them as
they are), with the options of the form.

Usage: python benchmarks/ui.py [--repeat N] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

PAGE_FILES = ("/", "/static/app.css", "/static/app.js", "/api/options", "/api/jobs")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as response:
        return bytes(response.read())


def _rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(match.group(1)) / 1024 if match else float("nan")


def start_up(folder: Path) -> dict[str, Any]:
    """One start: seconds to the printed address, to `GET /`, to every file of the first page."""
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "facetransfer", "ui", "--workdir", str(folder), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        printed = time.perf_counter() - started
        match = re.match(r"facetransfer ui: (http://\S+?)/?$", line.strip())
        if not match:
            raise RuntimeError(f"unexpected first line {line!r}")
        base = match.group(1)
        sizes = {}
        for index, path in enumerate(PAGE_FILES):
            sizes[path] = len(_get(base + path))
            if index == 0:
                first_page = time.perf_counter() - started
        whole_page = time.perf_counter() - started
        rss = _rss_mib(process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    return {"printed_s": printed, "first_page_s": first_page, "whole_page_s": whole_page, "rss_mib": rss,
            "sizes": sizes}  # fmt: skip


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json", default=None, metavar="OUT.json")
    args = parser.parse_args()

    runs, help_s, frameworks = [], [], {}
    imports = {
        "starlette+uvicorn": "import starlette.applications, starlette.routing, starlette.responses, uvicorn",
        "fastapi+uvicorn": "import fastapi, uvicorn",
    }
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.repeat):
            runs.append(start_up(Path(folder)))
            help_s.append(timed([sys.executable, "-m", "facetransfer", "--help"]))
            for name, statement in imports.items():
                try:
                    frameworks.setdefault(name, []).append(timed([sys.executable, "-c", statement]))
                except subprocess.CalledProcessError:
                    frameworks[name] = []
    best = min(runs, key=lambda run: run["first_page_s"])
    sizes = best["sizes"]
    result = {
        "runs": runs,
        "best": best,
        "help_s": min(help_s),
        "framework_import_s": {name: min(times) for name, times in frameworks.items() if times},
        "page_bytes": sum(sizes.values()),
    }
    print(f"{'measure':44} {'value':>10}")
    print(f"{'facetransfer --help (reference)':44} {result['help_s']:9.2f}s")
    for name, seconds in result["framework_import_s"].items():
        print(f"{'import ' + name:44} {seconds:9.2f}s")
    print(f"{'ui: address printed':44} {best['printed_s']:9.2f}s")
    print(f"{'ui: first page (GET /) served':44} {best['first_page_s']:9.2f}s")
    print(f"{'ui: everything the page loads on opening':44} {best['whole_page_s']:9.2f}s")
    print(f"{'ui: resident memory after the first page':44} {best['rss_mib']:8.0f} MiB")
    for path, size in sizes.items():
        print(f"{'  bytes ' + path:44} {size:10d}")
    print(f"{'page weight (all of the above)':44} {result['page_bytes']:10d}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
