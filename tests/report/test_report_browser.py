"""The report in a real headless browser (Debian's chromium + chromedriver, driven by selenium):
no script errors, the scatter and the animation drawn, hover shows a point's index and label.

A screenshot is written to test-output/report/ at the repository root (git-ignored).
"""

import shutil
from pathlib import Path

import pytest
from report_data import HOSTILE

from zlens.report import build_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
OUTPUT = Path(__file__).resolve().parents[2] / "test-output" / "report"

COLOURED_PIXELS = """
    var c = document.getElementById(arguments[0]), px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    var n = 0;
    for (var i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 0 && (Math.abs(px[i] - px[i + 1]) > 30 || Math.abs(px[i + 1] - px[i + 2]) > 30)) n++;
    }
    return n;
"""

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="chromium / chromedriver not installed (apt-get install -y chromium chromium-driver)",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from selenium import webdriver  # in the test extra
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tmp_path_factory.mktemp("chromium-profile")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,5200"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def test_page_renders_without_script_errors_with_the_scatter_drawn(small_run, browser, tmp_path):
    page = build_report(small_run, tmp_path / "report.html", gif=False)
    browser.get(page.as_uri())

    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    state = browser.execute_script("return window.zlensReport")
    assert state["errors"] == []
    assert state["scatterPoints"] == small_run.n_samples
    assert state["frameCount"] == len(small_run.epochs) and state["frameShown"] == len(small_run.epochs) - 1
    # the canvases hold drawn points: count coloured pixels (the axes and text are grey)
    for canvas in ("zl-scatter", "zl-motion"):
        coloured = browser.execute_script(COLOURED_PIXELS, canvas)
        assert coloured > 500, canvas
    assert browser.execute_script("return document.querySelectorAll('script').length") == 3

    OUTPUT.mkdir(parents=True, exist_ok=True)
    shot = OUTPUT / "report_page.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    shutil.copy(shot, tmp_path / "report_page.png")


def test_hover_shows_the_sample_index_and_its_label_as_text(small_run, browser, tmp_path):
    page = build_report(small_run, tmp_path / "report.html", gif=False)
    browser.get(page.as_uri())
    tip = browser.execute_script("""
        var canvas = document.getElementById('zl-scatter'), box = canvas.getBoundingClientRect();
        var xy = window.zlensReport.scatterXY(0);
        canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + xy[0], clientY: box.top + xy[1]}));
        var tip = document.getElementById('zl-tip');
        return [tip.style.display, tip.textContent];
    """)
    assert tip[0] == "block"
    assert tip[1].startswith("sample #")
    # sample 0's label is the hostile string: shown as text, never parsed as HTML
    index = int(tip[1].split("#")[1].split()[0])
    assert str(small_run.labels[index]) in tip[1]
    if index == 0:
        assert HOSTILE in tip[1]
    assert browser.execute_script("return document.querySelectorAll('script').length") == 3


def test_the_animation_plays_through_every_frame(small_run, browser, tmp_path):
    page = build_report(small_run, tmp_path / "report.html", gif=False)
    browser.get(page.as_uri())
    browser.execute_script("var s = document.getElementById('zl-slider'); s.value = 0;"
                           "s.dispatchEvent(new Event('input'));")
    assert browser.execute_script("return window.zlensReport.frameShown") == 0
    browser.find_element("id", "zl-play").click()
    from selenium.webdriver.support.ui import WebDriverWait

    last = len(small_run.epochs) - 1
    WebDriverWait(browser, 10).until(lambda d: d.execute_script("return window.zlensReport.frameShown") == last)
    assert browser.find_element("id", "zl-epoch").text == f"epoch {small_run.epochs[-1]}"
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
