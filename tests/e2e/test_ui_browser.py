"""`facetransfer ui` in real headless Chromium (Debian's `chromium` and `chromium-driver`, through
Selenium), with every host name but 127.0.0.1 unresolvable and the page's network log checked: no
request leaves the machine. The short test drives the form's refusals and a failing swap; the slow
one runs a `tiny` swap of two GRID clips from the page to the playing result and finds the work
folder finished from the command line. Set FACETRANSFER_UI_SCREENSHOTS=DIR to keep a screenshot of
each screen."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from facetransfer.modelfolder.checkpoints import latest_checkpoint, read_state
from ui_helpers import UiServer, chromium, make_driver, outside, requested_urls, start_ui

pytestmark = pytest.mark.e2e

FOUND = chromium()
REQUIRED = bool(os.environ.get("FACETRANSFER_REQUIRE_BROWSER"))  # set by .ci/run: no skipping there
needs_chromium = pytest.mark.skipif(
    FOUND is None and not REQUIRED,
    reason="Chromium and chromedriver are not installed (apt-get install chromium chromium-driver; "
    ".ci/run installs them)",
)


def wait_for(what: str, check: Callable[[], Any], timeout_s: float = 60, every_s: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def screenshot(driver: Any, name: str, scroll_to: str | None = None) -> None:
    folder = os.environ.get("FACETRANSFER_UI_SCREENSHOTS")
    if folder:
        if scroll_to:
            driver.execute_script(f"document.querySelector({scroll_to!r}).scrollIntoView()")
        Path(folder).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(folder) / f"ui-{name}.png"))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    assert FOUND is not None, "FACETRANSFER_REQUIRE_BROWSER is set but chromium or chromedriver is missing"
    driver = make_driver(*FOUND)
    requested: list[str] = []
    driver.requested = requested
    try:
        yield driver
        requested.extend(requested_urls(driver))
        assert requested, "the network log is empty: the check below would prove nothing"
        assert outside(requested) == [], "the page asked for something outside this machine"
    finally:
        driver.quit()


def text_of(driver: Any, selector: str) -> str:
    return str(driver.execute_script(f"return document.querySelector({selector!r}).textContent"))


def js(driver: Any, script: str) -> Any:
    return driver.execute_script(script)


def prop(driver: Any, selector: str, expression: str) -> Any:
    """`document.querySelector(selector)<expression>` in the page, None when nothing matches."""
    return driver.execute_script(
        f"const e = document.querySelector({selector!r}); return e ? e{expression} : null"
    )


def elements(driver: Any, selector: str) -> list[Any]:
    return list(driver.find_elements("css selector", selector))


def choose(driver: Any, button: str, folder: Path, names: list[str], shot: str | None = None) -> None:
    """Pick files in the app's file browser: open it, go to `folder`, select `names`, use them."""
    driver.find_element("css selector", button).click()
    typed = driver.find_element("css selector", "#browser-typed")
    typed.clear()
    typed.send_keys(str(folder))
    driver.find_element("css selector", "#browser-go").click()
    wait_for(
        "the folder listing",
        lambda: (
            prop(driver, "#browser", ".dataset.loading") is None
            and text_of(driver, "#browser-path") == str(folder)
        ),
        10,
    )
    for name in names:
        item = wait_for(
            name,
            lambda name=name: driver.find_elements("css selector", f'li[data-path="{folder / name}"]'),
            10,
        )
        item[0].click()
    if shot:
        screenshot(driver, shot)
    driver.find_element("css selector", "#browser-use-selected").click()


def set_option(driver: Any, flag: str, value: str) -> None:
    js(driver, "document.querySelector('#all-options-box').open = true")
    element = driver.find_element("css selector", f"#opt-{flag}")
    if element.tag_name == "select":
        from selenium.webdriver.support.ui import Select

        Select(element).select_by_value(value)
    else:
        element.clear()
        if value:
            element.send_keys(value)


def job_state(driver: Any) -> str:
    return text_of(driver, "#job-state")


@pytest.fixture
def media(tmp_path: Path) -> Path:
    folder = tmp_path / "media"
    folder.mkdir()
    (folder / "not_a_video.mp4").write_text("text, not a video\n")
    return folder


@needs_chromium
def test_the_form_refuses_bad_input_with_one_line(browser: Any, tmp_path: Path, media: Path) -> None:
    work = tmp_path / "work"
    server = start_ui(work, "--root", str(media))
    try:
        browser.get(server.address)
        wait_for(
            "the empty list", lambda: js(browser, "return !document.querySelector('#jobs-empty').hidden")
        )
        browser.get(server.base + "/#/new")
        wait_for("the form", lambda: browser.find_elements("css selector", "#opt-preset"), 20)

        # a path outside the allowed roots is refused in the file browser
        browser.find_element("css selector", "#browse-target").click()
        typed = browser.find_element("css selector", "#browser-typed")
        typed.send_keys("/etc")
        browser.find_element("css selector", "#browser-go").click()
        error = wait_for("the refusal", lambda: text_of(browser, "#browser-error"), 10)
        assert error.startswith("/etc: outside the folders this app may open")
        browser.find_element("css selector", "#browser button[value=cancel]").click()

        # a bad option value: one line, nothing started
        choose(browser, "#browse-target", media, ["not_a_video.mp4"])
        choose(browser, "#browse-sources", media, ["not_a_video.mp4"])
        set_option(browser, "crop-size", "5")
        set_option(browser, "minutes", "1")
        browser.find_element("css selector", "#start").click()
        error = wait_for("the option error", lambda: text_of(browser, "#form-error"), 10)
        assert error.startswith("--crop-size ([extract] crop-size) must be between 32")
        assert not work.exists() or not any(work.glob("*.work"))
        screenshot(browser, "new-swap-error")

        # a file that is not a video: the swap fails with the command's one-line error
        set_option(browser, "crop-size", "")
        set_option(browser, "preset", "tiny")
        browser.find_element("css selector", "#start").click()
        wait_for("the swap page", lambda: "#/job/" in browser.current_url, 10)
        wait_for("the failure", lambda: job_state(browser) == "failed", 120)
        error = text_of(browser, "#job-error")
        assert "not_a_video.mp4" in error and "\n" not in error and "Traceback" not in error
        assert "failed" in js(
            browser, "return document.querySelector('[data-stage=extract_source]').dataset.state"
        )
        browser.get(server.base + "/#/jobs")
        row = wait_for("the list", lambda: browser.find_elements("css selector", "#jobs-table tbody tr"), 10)
        assert "failed: " in row[0].text and "not_a_video.mp4" in row[0].text
    finally:
        server.stop()


@needs_chromium
@pytest.mark.slow
def test_a_tiny_swap_from_the_page_to_the_playing_result(
    browser: Any, tmp_path: Path, shared_data: Path
) -> None:
    grid = shared_data / "video" / "grid"
    work = tmp_path / "work"
    server: UiServer = start_ui(work, "--root", str(shared_data))
    try:
        browser.get(server.address)
        browser.get(server.base + "/#/new")
        wait_for("the form", lambda: browser.find_elements("css selector", "#opt-preset"), 20)
        choose(browser, "#browse-sources", grid, ["bbaf2n.mpg"], shot="file-browser")
        choose(browser, "#browse-target", grid, ["lbbc2a.mpg"])
        for flag, value in {
            "preset": "tiny",
            "iterations": "100000",
            "compare": "true",
            "crop-size": "96",
            "preview-every": "10",
            "log-every": "5",
            "save-every-steps": "20",
            "encoder-preset": "ultrafast",
        }.items():
            set_option(browser, flag, value)
        js(browser, "document.querySelector('#all-options-box').open = false")
        screenshot(browser, "new-swap", scroll_to="#view-new")
        browser.find_element("css selector", "#start").click()
        wait_for("the swap page", lambda: "#/job/bbaf2n-to-lbbc2a" in browser.current_url, 10)

        # training: the step moves, a preview appears and changes, the loss plot gets points
        def step() -> int:
            text = text_of(browser, "#train-numbers")
            return int(text.split()[1]) if text.startswith("step ") else -1

        first = wait_for("training", lambda: step() > 0 and step(), 300)
        wait_for("the step to move", lambda: step() > first, 60)
        version = wait_for(
            "a preview", lambda: js(browser, "return document.querySelector('#preview').dataset.version"), 60
        )
        wait_for(
            "a newer preview",
            lambda: prop(browser, "#preview", ".dataset.version") != version,
            60,
        )
        assert prop(browser, "#preview", ".naturalWidth") > 64
        wait_for(
            "loss points",
            lambda: int(js(browser, "return document.querySelector('#loss-plot').dataset.points || 0")) >= 3,
            30,
        )
        assert js(browser, "return document.querySelector('#loss-plot polyline.source').points.length") >= 3
        screenshot(browser, "training")

        # stop (it saves), then continue for a few seconds more
        browser.find_element("css selector", "#stop").click()
        wait_for("stopped", lambda: job_state(browser) == "stopped", 120)
        stopped_at = step()
        browser.find_element("css selector", "#more-minutes").clear()
        browser.find_element("css selector", "#more-minutes").send_keys("5")
        browser.find_element("css selector", "#continue").click()
        wait_for("running again", lambda: job_state(browser) == "running", 60)
        wait_for("training past the stop", lambda: step() > stopped_at, 120)

        # convert now with the current model, to the playing result
        browser.find_element("css selector", "#convert").click()
        wait_for("done", lambda: job_state(browser) == "done", 300)
        video = wait_for(
            "the result player", lambda: browser.find_elements("css selector", "#compare-video"), 30
        )[0]
        assert video is not None
        played = browser.execute_async_script(
            "const done = arguments[0]; const v = document.querySelector('#result-video');"
            "v.muted = true; v.play().then(() => done('playing')).catch((e) => done(String(e)));"
        )
        assert played == "playing"
        start = js(browser, "return document.querySelector('#result-video').currentTime")
        wait_for(
            "the video to play",
            lambda: js(browser, "return document.querySelector('#result-video').currentTime") > start + 0.3,
            20,
        )
        wait_for(
            "the provenance verdict",
            lambda: (
                "MARKED"
                in js(browser, "return (document.querySelector('#verify-text') || {}).textContent || ''")
            ),
            120,
        )
        screenshot(browser, "result", scroll_to="#result")

        # the evaluation: its numbers and its plot on the page
        browser.find_element("css selector", "#evaluate").click()
        wait_for("the evaluation", lambda: len(elements(browser, "#evaluate-table tr")) > 2, 600)
        assert "identity_to_source" in text_of(browser, "#evaluate-table")
        wait_for("the plot", lambda: (prop(browser, "#evaluation img", ".naturalWidth") or 0) > 100, 30)
        screenshot(browser, "evaluation", scroll_to="#evaluation")
        # a second swap, on a file that is not a video, fails beside it in the list
        (work / "notes.mp4").write_text("not a video\n")
        status, _ = server.request(
            "/api/jobs",
            data={"sources": [str(grid / "bbaf2n.mpg")], "target": str(work / "notes.mp4"),
                  "options": {"preset": "tiny", "minutes": 1}},
        )  # fmt: skip
        assert status == 201
        browser.get(server.base + "/#/jobs")
        wait_for("the failure in the list", lambda: "failed: " in text_of(browser, "#jobs-table tbody"), 120)
        assert "done" in text_of(browser, "#jobs-table tbody")
        screenshot(browser, "swaps")
    finally:
        server.stop()

    # the command line finds the same work folder finished: every stage up to date
    workdir = work / "bbaf2n-to-lbbc2a.work"
    checkpoint = latest_checkpoint(workdir / "model")
    assert checkpoint is not None
    step_now = read_state(checkpoint).step
    command = [
        sys.executable,
        "-m",
        "facetransfer",
        "swap",
        str(grid / "bbaf2n.mpg"),
        str(grid / "lbbc2a.mpg"),
        "-o",
        str(work / "bbaf2n-to-lbbc2a.mp4"),
        "--config",
        str(workdir / "ui" / "swap.toml"),
        "--iterations",
        str(step_now),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("skipped (up to date)") == 5, result.stdout
