"""The notebooks in a real JupyterLab, driven in headless Chromium through Playwright.

Needs ``pip install playwright`` and Debian's ``chromium`` (``/usr/bin/chromium``; Playwright's own browser
download is not used). One test edits scene 1 in the editor widget, clicks Render and waits for the short to
load in its ``<video>`` (the screenshot goes to ``$SHORTSKIT_ARTIFACTS``, else the test's temporary folder);
another records a voice sample with the voice panel's Record button from Chromium's fake microphone.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("SHORTSKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # we run as root in CI containers
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
EDITED = "Meet the octopus! I was edited in the browser."


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A JupyterLab on 127.0.0.1 serving a copy of notebooks/ and examples/; yields (url, its folder)."""
    pytest.importorskip("jupyterlab", reason="the notebook extra (jupyterlab) is not installed")
    root = tmp_path / "lab"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "examples", root / "examples")
    settings = tmp_path / "lab-settings" / "@jupyterlab"
    for plugin, values in {
        "apputils-extension/notification": {"fetchNews": "false"},  # no "fetch Jupyter news?" toast
        "notebook-extension/tracker": {"autoStartDefaultKernel": True},  # no "Select Kernel" dialog
    }.items():
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "SHORTSKIT_WORKSPACE": str(tmp_path / "ws"),
        "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "lab-workspaces"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    argv = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.open_browser=False",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip
    log = (tmp_path / "lab.log").open("wb")
    server = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start:\n{(tmp_path / 'lab.log').read_text()[-3000:]}")
                time.sleep(0.3)
        yield f"{url}/lab/tree/notebooks/02_scene_editor.ipynb?token={token}", root
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def _playwright() -> Any:
    """playwright's sync API, or a skip saying what is missing."""
    playwright = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright)"
    )
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return playwright


def _artifacts(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("SHORTSKIT_ARTIFACTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _run_all(page: Any, url: str) -> None:
    """Open the notebook at ``url`` and run all its cells once its kernel is up."""
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
    # the kernel is up and connected (before that, Run All would run nothing)
    page.locator(".jp-StatusBar-TextItem", has_text="Python 3 (ipykernel) | Idle").wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def test_edit_a_scene_and_render_in_jupyterlab(lab: tuple[str, Path], tmp_path: Path) -> None:
    playwright = _playwright()
    url, root = lab
    artifacts = _artifacts(tmp_path)
    shot = artifacts / "editor.png"

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            _run_all(page, url)

            scene1 = page.locator(".widget-textarea textarea").first
            scene1.wait_for(timeout=60_000)
            scene1.fill(EDITED)
            scene1.press("Tab")  # leave the box, as a person would
            page.locator("button.widget-button", has_text="Render").click()
            # the short, not a scene preview: loaded (readyState >= 1) and about as long as the story
            page.wait_for_function(
                "() => [...document.querySelectorAll('video')].some(v => v.readyState >= 1 && v.duration > 15)",
                timeout=90_000,
            )
            link = page.locator("a", has_text="Download edited.mp4")  # served by Jupyter, saved on click
            assert "/files/notebooks/out/edited.mp4" in (link.get_attribute("href") or "")
            assert link.get_attribute("download") == "edited.mp4"
            page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # fold the file list
            page.locator("video").last.scroll_into_view_if_needed()
            page.screenshot(path=str(shot))
        except Exception:
            page.screenshot(path=str(artifacts / "editor-failure.png"))  # what the page showed when it failed
            raise
        finally:
            browser.close()

    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    meta = json.loads((root / "notebooks" / "out" / "edited.json").read_text())
    assert meta["scenes"][0]["text"] == EDITED  # the render used the story as edited in the browser


def test_record_a_voice_sample_in_jupyterlab(lab: tuple[str, Path], tmp_path: Path) -> None:
    """The voice panel's Record button, with Chromium's fake microphone (a beep a second)."""
    playwright = _playwright()
    url = lab[0].replace("02_scene_editor.ipynb", "03_voice_cloning.ipynb")
    artifacts = _artifacts(tmp_path)
    microphone = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]

    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + microphone, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 2000})
            _run_all(page, url)
            # the notebook loads its own made-up sample first; then a person records one
            page.locator(".widget-html", has_text="sample.wav:").first.wait_for(timeout=90_000)
            record = page.locator("button.shortskit-record")
            record.click()
            page.locator("button.shortskit-record", has_text="Stop").wait_for(timeout=10_000)
            page.wait_for_timeout(6_500)
            record.click()
            shown = page.locator(".widget-html", has_text="recording.webm:").first
            shown.wait_for(timeout=60_000)
            assert "converted to 24 kHz mono" in shown.inner_text()
        except Exception:
            page.screenshot(path=str(artifacts / "recorder-failure.png"))
            raise
        finally:
            browser.close()
    recorded = tmp_path / "ws" / "voices-library" / ".scratch" / "recording.webm"  # the lab's $SHORTSKIT_WORKSPACE
    assert recorded.read_bytes()[:4] == b"\x1aE\xdf\xa3"  # WebM (EBML), as Chromium's MediaRecorder writes it
