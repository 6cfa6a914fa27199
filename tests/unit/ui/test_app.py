"""The app's HTTP side through a real `facetransfer ui` process: access token, Host check, allowed
roots, uploads, one-line errors, and a swap that fails on a bad input."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ui_helpers import UiServer, start_ui

Folders = tuple[Path, Path]  # the app's folder, a media folder given with --root


@pytest.fixture
def folders(tmp_path: Path) -> Folders:
    work, media = tmp_path / "work", tmp_path / "media"
    work.mkdir()
    media.mkdir()
    (media / "not_a_video.mp4").write_text("this is text, not a video\n")
    (media / "also_text.mp4").write_text("more text\n")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "secret.mp4").write_text("secret")
    (media / "escape").symlink_to(tmp_path / "private")
    return work, media


@pytest.fixture
def server(folders: Folders) -> Iterator[UiServer]:
    work, media = folders
    running = start_ui(work, "--root", str(media), "--max-upload-mb", "1")
    yield running
    assert running.stop() in (0, 130)


def test_loopback_needs_no_token_but_a_loopback_host(server: UiServer) -> None:
    assert "token" not in server.address
    status, page = server.request("/")
    assert status == 200 and "<title>facetransfer</title>" in page
    status, payload = server.request("/api/jobs", headers={"Host": "attacker.example:80"})
    assert status == 403 and "loopback" in payload["error"]
    status, payload = server.request(
        "/api/jobs", data={}, method="POST", headers={"Origin": "http://attacker.example"}
    )
    assert status == 403


def test_paths_outside_the_roots_are_refused(server: UiServer, folders: Folders) -> None:
    _, media = folders
    for path in ("/etc", str(media / "escape"), str(media / "escape" / "secret.mp4"), str(media / "..")):
        status, payload = server.request(f"/api/browse?path={path}")
        assert status == 403 and "outside the folders this app may open" in payload["error"], path
    status, payload = server.request(
        "/api/jobs",
        data={
            "sources": [str(media / "escape" / "secret.mp4")],
            "target": str(media / "also_text.mp4"),
            "options": {"minutes": 1},
        },
    )
    assert status == 403 and "outside" in payload["error"]
    status, listing = server.request(f"/api/browse?path={media}")
    assert status == 200 and [entry["name"] for entry in listing["entries"]] == [
        "also_text.mp4",
        "not_a_video.mp4",
    ]


def test_uploads_are_limited_and_land_in_the_work_folder(server: UiServer, folders: Folders) -> None:
    work, _ = folders
    status, payload = server.request("/api/upload?name=clip.mp4", data=None, method="PUT")
    assert status == 400 and "empty" in payload["error"]
    big = b"0" * 1_500_000
    request = urllib.request.Request(server.base + "/api/upload?name=big.mp4", data=big, method="PUT")
    try:
        urllib.request.urlopen(request, timeout=30)
        raise AssertionError("a 1.5 MB upload passed a 1 MB limit")
    except urllib.error.HTTPError as error:
        assert error.code == 400 and b"limit" in error.read()
    request = urllib.request.Request(
        server.base + "/api/upload?name=small%20one.mp4", data=b"abc", method="PUT"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    assert sorted(path.name for path in (work / "uploads").iterdir()) == ["small_one.mp4"]


def test_a_bad_option_is_one_line_before_anything_runs(server: UiServer, folders: Folders) -> None:
    work, media = folders
    status, payload = server.request(
        "/api/jobs",
        data={
            "sources": [str(media / "also_text.mp4")],
            "target": str(media / "not_a_video.mp4"),
            "options": {"crop-size": 5, "minutes": 1},
        },
    )
    assert status == 400 and payload["error"].startswith("--crop-size ([extract] crop-size) must be between")
    assert list(work.iterdir()) == []


def test_a_bad_input_fails_the_swap_with_its_one_line_error(server: UiServer, folders: Folders) -> None:
    work, media = folders
    status, payload = server.request(
        "/api/jobs",
        data={
            "sources": [str(media / "also_text.mp4")],
            "target": str(media / "not_a_video.mp4"),
            "options": {"preset": "tiny", "minutes": 1},
        },
    )
    assert status == 201
    name = payload["name"]
    assert name == "also_text-to-not_a_video"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status, detail = server.request(f"/api/jobs/{name}")
        if detail["state"] == "failed":
            break
        time.sleep(0.5)
    assert detail["state"] == "failed"
    error = detail["status"]["error"]
    assert "also_text.mp4" in error and "\n" not in error and "Traceback" not in error
    assert detail["line"] == f"failed: {error}"
    assert (work / f"{name}.work" / "ui" / "swap.toml").is_file()
    status, listed = server.request("/api/jobs")
    assert [job["name"] for job in listed["jobs"]] == [name]


def test_any_other_address_needs_the_printed_token(tmp_path: Path) -> None:
    running = start_ui(tmp_path, "--host", "0.0.0.0")
    try:
        assert "?token=" in running.address
        token = running.address.split("?token=")[1]
        for path in ("/", "/api/jobs", "/api/options", "/static/app.js", "/api/browse?path=/"):
            status, _ = running.request(path)
            assert status == 401, path
        status, _ = running.request("/api/jobs", headers={"Authorization": "Bearer wrong"})
        assert status == 401
        status, payload = running.request("/api/jobs", headers={"Authorization": f"Bearer {token}"})
        assert status == 200 and payload == {"jobs": []}
        status, _ = running.request("/api/jobs", headers={"Cookie": f"facetransfer_token={token}"})
        assert status == 200
    finally:
        running.stop()


def test_swaps_queue_and_run_one_at_a_time(server: UiServer, folders: Folders) -> None:
    _, media = folders
    names = []
    for source in ("also_text.mp4", "not_a_video.mp4"):
        status, payload = server.request(
            "/api/jobs",
            data={"sources": [str(media / source)], "target": str(media / "not_a_video.mp4"),
                  "options": {"preset": "tiny", "minutes": 1}, "name": f"job-{source[:4]}"},
        )  # fmt: skip
        assert status == 201
        names.append(payload["name"])
    first, second = (server.request(f"/api/jobs/{name}")[1] for name in names)
    assert first["state"] in ("queued", "running") and second["state"] == "queued"
    assert second["line"] == "queued"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        details = [server.request(f"/api/jobs/{name}")[1] for name in names]
        if all(detail["state"] == "failed" for detail in details):
            break
        time.sleep(0.5)
    first, second = details
    assert first["state"] == second["state"] == "failed"
    assert second["status"]["started"] >= first["status"]["finished"]  # never both at once


def test_a_work_folder_cannot_make_the_app_serve_a_file_outside_the_roots(
    server: UiServer, folders: Folders
) -> None:
    work, media = folders
    secret = media.parent / "private" / "secret.mp4"
    (work / "evil.work").mkdir()
    stages = {"format": "facetransfer-work", "version": 1, "stages": {"convert": {"output": str(secret)}}}
    (work / "evil.work" / "stages.json").write_text(json.dumps(stages))
    status, listed = server.request("/api/jobs")
    assert [job["name"] for job in listed["jobs"]] == ["evil"]
    status, payload = server.request("/api/jobs/evil/files/output")
    assert status == 403 and "outside the folders this app may open" in payload["error"]
    status, _ = server.request("/api/jobs/..%2Fetc/files/output")
    assert status == 404
