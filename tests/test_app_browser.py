"""The sound-library page in a real browser (headless Chromium via selenium) against a live server on an
index of generated clips: text search, play a result, more like this, search by an uploaded example,
classify an upload, an empty and a non-audio upload showing a clear message, keyboard, 360 px width.
Screenshots (app-search.png, app-mobile.png) go to $AURALIGN_SCREENSHOTS when set (docs/figures to
refresh the ones in docs/app.md), else to pytest's temporary folder, so a test run never edits the
checkout."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("browser tests need Chromium: apt-get install -y chromium chromium-driver", allow_module_level=True)
selenium = pytest.importorskip("selenium", reason="browser tests need selenium (pip install -e '.[dev]')")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from app_factory import make_tiny_clap, write_clips  # noqa: E402

FIGURES = Path(os.environ.get("AURALIGN_SCREENSHOTS") or tempfile.mkdtemp(prefix="auralign-screenshots-"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--mute-audio", "--autoplay-policy=no-user-gesture-required", "--window-size=1200,900"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from auralign.apps.search_index import build_index
    from auralign.apps.server import create_app
    from auralign.data.feature_cache import FeatureCache
    from auralign.data.manifest import ManifestRow

    root = tmp_path_factory.mktemp("library")
    model = make_tiny_clap(root / "model")
    clips = write_clips(root / "sounds" / "tones", 8, seconds=2.0)
    (root / "sounds" / "doors").mkdir()
    clips.append(write_clips(root / "spare", 9, seconds=2.0)[8].rename(root / "sounds" / "doors" / "door_slam.wav"))
    rows = [ManifestRow(audio=p, labels=["door"] if "door" in p.name else ["tone"]) for p in clips]
    index, _ = build_index(model, rows, FeatureCache(model.audio_encoder, root=root / "features"), "tiny",
                           root / "index", progress=False)
    port = free_port()
    uv = uvicorn.Server(uvicorn.Config(create_app(model, "tiny", index), host="127.0.0.1", port=port,
                                       log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not uv.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def uploads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("uploads")
    example = write_clips(folder, 3, seconds=2.0)[2]
    (folder / "empty.wav").write_bytes(b"")
    (folder / "notes.wav").write_text("this is text, not sound")
    return {"example": example, "empty": folder / "empty.wav", "text": folder / "notes.wav"}


def wait(driver: webdriver.Chrome, condition, timeout: float = 60.0):
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: condition(d))


def message(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.ID, "message").text


def result_names(driver: webdriver.Chrome) -> list[str]:
    return [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#results .name")]


def search(driver: webdriver.Chrome, text: str) -> None:
    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(text, Keys.ENTER)
    wait(driver, lambda d: f"for “{text}”" in message(d))


def test_text_search_play_and_more_like_this(server: str, browser: webdriver.Chrome) -> None:
    browser.set_window_size(1200, 900)
    browser.get(server)
    wait(browser, lambda d: "9 sounds" in d.find_element(By.ID, "model").text)
    browser.find_element(By.TAG_NAME, "body").send_keys("/")
    assert browser.switch_to.active_element.get_attribute("id") == "q"
    search(browser, "door slam")
    assert result_names(browser)[0] == "door_slam.wav" and len(result_names(browser)) == 9
    first = browser.find_element(By.CSS_SELECTOR, "#results .result")
    assert "door" in first.find_element(By.CSS_SELECTOR, ".tags").text
    wait(browser, lambda d: d.execute_script("return document.querySelector('.thumb').naturalWidth") > 0)
    FIGURES.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(FIGURES / "app-search.png"))

    browser.execute_script("document.querySelector('#results audio').play()")
    wait(browser, lambda d: d.execute_script(
        "const a = document.querySelector('#results audio'); return a.currentTime > 0 && a.duration > 1.9"))

    first.find_element(By.CSS_SELECTOR, "button.more").click()
    wait(browser, lambda d: "sounds like door_slam.wav" in message(d))
    assert "door_slam.wav" not in result_names(browser) and len(result_names(browser)) == 8
    assert browser.switch_to.active_element.get_attribute("class") == "result"


def test_filters_by_folder_and_tag(server: str, browser: webdriver.Chrome) -> None:
    browser.get(server)
    wait(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#tag option")) == 3)
    browser.find_element(By.CSS_SELECTOR, "#folder option[value='sounds/tones']").click()
    search(browser, "door slam")
    assert "door_slam.wav" not in result_names(browser) and len(result_names(browser)) == 8


def test_upload_search_classify_and_bad_uploads(server: str, browser: webdriver.Chrome,
                                                uploads: dict[str, Path]) -> None:
    browser.get(server)
    wait(browser, lambda d: "sounds" in d.find_element(By.ID, "model").text)
    browser.find_element(By.ID, "file").send_keys(str(uploads["example"]))
    browser.find_element(By.ID, "find-similar").click()
    wait(browser, lambda d: "sounds like tone_02.wav" in message(d))
    assert len(result_names(browser)) == 9

    browser.find_element(By.ID, "labels").send_keys("low hum, high whistle, door")
    browser.find_element(By.ID, "classify").click()
    wait(browser, lambda d: "most likely" in message(d))
    classes = browser.find_elements(By.CSS_SELECTOR, "#classes li")
    assert len(classes) == 3 and all("%" in c.text for c in classes)

    browser.find_element(By.ID, "file").send_keys(str(uploads["empty"]))
    browser.find_element(By.ID, "classify").click()
    wait(browser, lambda d: "empty" in message(d))
    assert "error" in browser.find_element(By.ID, "message").get_attribute("class")

    browser.find_element(By.ID, "file").send_keys(str(uploads["text"]))
    browser.find_element(By.ID, "find-similar").click()
    wait(browser, lambda d: "Could not use notes.wav: cannot use this audio: not an audio file" in message(d))


def test_usable_at_360_px(server: str, browser: webdriver.Chrome) -> None:
    browser.set_window_size(360, 800)
    browser.get(server)
    wait(browser, lambda d: "sounds" in d.find_element(By.ID, "model").text)
    search(browser, "door slam")
    wait(browser, lambda d: d.execute_script("return document.querySelector('.thumb').naturalWidth") > 0)
    width = browser.execute_script("return window.innerWidth")
    assert browser.execute_script("return document.documentElement.scrollWidth") <= width
    browser.save_screenshot(str(FIGURES / "app-mobile.png"))
    browser.set_window_size(1200, 900)
