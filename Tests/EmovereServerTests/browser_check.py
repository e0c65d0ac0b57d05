#!/usr/bin/env python3
"""Opens the Emovere web page in headless Chromium with a fake camera and checks that a face is drawn.

Run by BrowserTests.swift with Debian's python3 (python3-selenium, chromium, chromium-driver):
  browser_check.py --url URL --video FILE.y4m --photo FILE.jpg --screenshot OUT.png --frame-limit BYTES
                   [--other-origin URL]
Prints one JSON line with what the page showed; exits 1 (with the browser log) when it showed no face in time or did
not reopen a stream the server closed (a message over the server's --max-frame-bytes, BYTES).
With --other-origin (the same server under another name, which the server allows as an origin), it also reports
what a page of each origin can do with the other one's API and stream.
"""
import argparse
import json
import sys
import time

from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

# Non-transparent pixels of the overlay canvas inside each reported face box (box, label and bars are drawn there).
OVERLAY_PIXELS = """
const overlay = document.getElementById('overlay');
const context = overlay.getContext('2d');
const data = context.getImageData(0, 0, overlay.width, overlay.height).data;
let painted = 0;
for (let index = 3; index < data.length; index += 4) if (data[index] > 0) painted++;
return painted;
"""

# Run as a page of one origin against `target` (the server under another name): what the page can read of the API
# and whether the stream opens. A browser hides an answer without CORS headers ("blocked").
CROSS_ORIGIN_CALLS = """
const [target, done] = [arguments[0], arguments[arguments.length - 1]];
const opens = (url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve(true); };
    socket.onerror = () => resolve(false);
});
(async () => {
    const result = {};
    try { result.models = String((await fetch(target + 'v1/models')).status); } catch (error) { result.models = 'blocked'; }
    try {
        const answer = await fetch(target + 'v1/analyze', {method: 'POST', headers: {'Content-Type': 'image/jpeg'},
                                                          body: 'not an image'});
        result.analyze = answer.status + ' ' + (await answer.json()).error.message;
    } catch (error) { result.analyze = 'blocked'; }
    result.stream = await opens(target.replace(/^http/, 'ws') + 'v1/stream');
    done(result);
})();
"""

# The server closes the stream (a binary message over its frame limit: 1009) while the page streams: the page must say
# it reconnects and then show faces again on the reopened stream. Returns the status line's texts from the close on.
SERVER_CLOSES_THE_STREAM = """
const [overLimit, seconds, done] = arguments;
const texts = [];
new MutationObserver(() => texts.push(status.textContent))
    .observe(status, {childList: true, characterData: true, subtree: true});
socket.send(new ArrayBuffer(overLimit));
const deadline = Date.now() + seconds * 1000;
(function wait() {
    const closed = texts.findIndex((text) => text.includes('reconnecting in 1 s (try 1 of'));
    if ((closed >= 0 && texts.slice(closed).some((text) => text.startsWith('#'))) || Date.now() > deadline) {
        return done(texts.slice(Math.max(0, closed)).filter((text, index, all) => text !== all[index - 1]).slice(0, 4));
    }
    setTimeout(wait, 100);
})();
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--video", required=True)
    parser.add_argument("--photo", required=True)
    parser.add_argument("--screenshot", required=True)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--driver", default="/usr/bin/chromedriver")
    parser.add_argument("--other-origin")
    parser.add_argument("--frame-limit", type=int, required=True, help="the server's --max-frame-bytes")
    # Generous: the point is that the page works, not its speed, and the suite runs on busy 2-core machines.
    parser.add_argument("--timeout", type=float, default=300)
    arguments = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = arguments.chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1400", "--use-fake-device-for-media-stream",
                 "--use-fake-ui-for-media-stream", "--use-file-for-fake-video-capture=" + arguments.video]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(arguments.driver), options=options)
    driver.set_page_load_timeout(arguments.timeout)
    driver.set_script_timeout(arguments.timeout)
    result = {}
    try:
        started = time.monotonic()
        driver.get(arguments.url)
        driver.find_element(By.ID, "camera-button").click()
        try:
            WebDriverWait(driver, arguments.timeout, poll_frequency=0.2).until(
                lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-faces") or 0) > 0
                and d.find_element(By.TAG_NAME, "body").get_attribute("data-emotion"))
        except TimeoutException:
            result["error"] = "no face box with an emotion label within %.0f s" % arguments.timeout
        result["secondsToFirstFace"] = round(time.monotonic() - started, 2)
        body = driver.find_element(By.TAG_NAME, "body")
        result["faces"] = int(body.get_attribute("data-faces") or 0)
        result["emotion"] = body.get_attribute("data-emotion")
        result["status"] = driver.find_element(By.ID, "status").text
        result["overlayPixels"] = driver.execute_script(OVERLAY_PIXELS)
        # Streaming goes on: wait for a few more analysed frames (a slow, busy machine gets the full timeout).
        try:
            WebDriverWait(driver, arguments.timeout, poll_frequency=0.2).until(
                lambda d: int(d.find_element(By.TAG_NAME, "body").get_attribute("data-frames") or 0) >= 3)
        except TimeoutException:
            result.setdefault("error", "fewer than 3 frames analysed within %.0f s" % arguments.timeout)
        result["stats"] = driver.find_element(By.ID, "stats").text
        result["framesAnalysed"] = int(body.get_attribute("data-frames") or 0)
        # The page gives up 10 s before Selenium's own script timeout, so a page that never reopens reports its texts.
        try:
            result["reconnectStatuses"] = driver.execute_async_script(
                SERVER_CLOSES_THE_STREAM, arguments.frame_limit + 1, max(10, arguments.timeout - 10))
        except TimeoutException:
            result["reconnectStatuses"] = []
        statuses = result["reconnectStatuses"]
        if not (statuses and "reconnecting in" in statuses[0] and any(text.startswith("#") for text in statuses[1:])):
            result.setdefault("error", "no face drawn after the server closed the stream")

        # The photo drop zone's file input takes the keyboard's focus (a hidden one could only be used with a mouse).
        result["fileInputFocusable"] = driver.execute_script(
            "const input = document.getElementById('file-input'); input.focus(); return document.activeElement === input;")
        driver.find_element(By.ID, "file-input").send_keys(arguments.photo)
        try:
            WebDriverWait(driver, arguments.timeout, poll_frequency=0.2).until(
                lambda d: d.find_element(By.ID, "photo-status").get_attribute("data-faces") is not None)
        except TimeoutException:
            result.setdefault("error", "the photo upload showed no result within %.0f s" % arguments.timeout)
        result["photoFaces"] = int(driver.find_element(By.ID, "photo-status").get_attribute("data-faces") or -1)
        result["photoStatus"] = driver.find_element(By.ID, "photo-status").text
        driver.save_screenshot(arguments.screenshot)
        result["screenshot"] = arguments.screenshot
        # A camera that goes away (unplugged) ends its track: the page stops and says so.
        driver.execute_script("document.getElementById('video').srcObject.getVideoTracks()[0].dispatchEvent(new Event('ended'));")
        result["cameraLossStatus"] = driver.find_element(By.ID, "status").text
        result["cameraButton"] = driver.find_element(By.ID, "camera-button").text
        if arguments.other_origin:
            result["fromPage"] = driver.execute_async_script(CROSS_ORIGIN_CALLS, arguments.other_origin)
            driver.get(arguments.other_origin)
            result["fromOtherPage"] = driver.execute_async_script(CROSS_ORIGIN_CALLS, arguments.url)
        if "error" in result:
            result["browserLog"] = [entry.get("message") for entry in driver.get_log("browser")][-20:]
    finally:
        driver.quit()
    print(json.dumps(result))
    return 1 if "error" in result else 0


if __name__ == "__main__":
    sys.exit(main())
