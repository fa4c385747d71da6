"""The dashboard page in a real headless Chromium against a real gunicorn (gevent workers).

Playwright drives Debian's /usr/bin/chromium (its own browser download is not used). A
screenshot of the loaded page is written to test-artifacts/ for people to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from g6app.panels import PANEL_KEYS, PANEL_TITLES
from tests.support import status
from tests.support.metrics import scrape

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LOAD_MS = 10_000
CHANGE_MS = 2_000
RESTART_MS = 30_000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module's tests."""
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS,
                                              headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh page (own context) whose console errors fail the test."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert not errors, f"script errors on the page: {errors}"


def open_live(page, url: str) -> None:
    page.goto(url if "/?" in url else url + "/")
    page.wait_for_selector('#conn[data-state="live"]', timeout=LOAD_MS)
    expect(page.locator('.card:not([hidden])[data-hash=""]')).to_have_count(0, timeout=LOAD_MS)


def card_text(page, key: str) -> str:
    return page.inner_text(f"#panel-{key} .lines")


def test_dashboard_shows_all_panels_with_fixture_content(gunicorn_server, page):
    """All eight cards, in panel order, carry the fixture's content, verified hashes and cycle."""
    server = gunicorn_server()
    open_live(page, server.url)
    keys = page.eval_on_selector_all(".card", "cards => cards.map(c => c.dataset.key)")
    assert keys == list(PANEL_KEYS)
    for key in PANEL_KEYS:
        assert page.text_content(f"#panel-{key} .title") == PANEL_TITLES[key]
    assert "NIFTY       19,980.40   +0.10%" in card_text(page, "indices")
    assert "PCR 1.22" in card_text(page, "analytics")
    assert "memory 2.08 GiB" in card_text(page, "resources")
    assert page.inner_text("#cycle") == "40105"
    expect(page.locator('.card[data-verified="ok"]')).to_have_count(len(PANEL_KEYS),
                                                                   timeout=LOAD_MS)
    _, resync = server.get_json("/summary/resync")
    hashes = page.eval_on_selector_all(".card", "cs => cs.map(c => c.dataset.hash)")
    assert hashes == [resync["panels"][key]["hash"] for key in PANEL_KEYS]
    page.wait_for_selector('#health[data-health="ok"]', timeout=LOAD_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_dashboard_change_appears_without_reload_and_highlights_only_that_panel(
        gunicorn_server, page):
    """A new index price shows within two seconds, in the same page, flashing only Indices."""
    server = gunicorn_server()
    open_live(page, server.url)
    page.evaluate("window.__sameDocument = true")
    status.write(server.status_file, status.with_ltp(status.load(), "NIFTY", 20111.5))
    expect(page.locator("#panel-indices .lines")).to_contain_text("20,111.50", timeout=CHANGE_MS)
    flashing = page.eval_on_selector_all(".card.changed", "cs => cs.map(c => c.dataset.key)")
    assert flashing == ["indices"]
    assert page.evaluate("window.__sameDocument") is True
    assert page.inner_text("#changed") != "\u2014"
    shown = page.inner_text("#state-id")  # every worker reaches the state the page shows
    server.wait_all_workers(lambda health: health["id"] == shown)


def test_dashboard_reconnects_after_restart_and_resumes(gunicorn_server, page):
    """Stopping the server shows reconnecting; the restarted one (same port) is resumed, then live."""
    first = gunicorn_server(name="first")
    open_live(page, first.url)
    page.evaluate("window.__sameDocument = true")
    held_id = page.inner_text("#state-id")
    first.stop()
    page.wait_for_selector('#conn[data-state="reconnecting"]', timeout=LOAD_MS)
    second = gunicorn_server(name="second", env={"G6_BIND": f"127.0.0.1:{first.port}"})
    assert second.port == first.port
    page.wait_for_selector('#conn[data-state="live"]', timeout=RESTART_MS)
    assert scrape(second)["g6_sse_http_resumes_total{result=hit}"] >= 1
    assert page.inner_text("#state-id") == held_id
    status.write(second.status_file, status.with_ltp(status.load(), "BANKNIFTY", 45678.9))
    expect(page.locator("#panel-indices .lines")).to_contain_text("45,678.90", timeout=LOAD_MS)
    assert page.evaluate("window.__sameDocument") is True


def test_dashboard_fits_a_phone_and_follows_dark_mode(gunicorn_server, browser):
    """On a phone-sized dark-mode screen the page has no sideways scroll and a dark background."""
    server = gunicorn_server()
    context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark",
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        open_live(page, server.url)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        background = page.evaluate("getComputedStyle(document.body).backgroundColor")
        red, green, blue = (int(part) for part in background[4:-1].split(","))
        assert max(red, green, blue) < 64, background
        widths = page.eval_on_selector_all(".card", "cs => cs.map(c => c.offsetWidth)")
        assert len(set(widths)) == 1 and widths[0] <= 390
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard-phone-dark.png"))
    finally:
        context.close()


def test_dashboard_token_from_url_is_used_and_hidden(gunicorn_server, page):
    """?access_token= opens the stream, then leaves the address bar and never hits the console."""
    token = "dash-token-5b1e"
    server = gunicorn_server(env={"G6_SSE_API_TOKEN": token})
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    open_live(page, server.url + f"/?panels=indices,alerts&access_token={token}#top")
    assert token not in page.url and page.url.endswith("/?panels=indices%2Calerts#top")
    assert page.evaluate("sessionStorage.getItem('g6.token')") == token
    assert "19,980.40" in card_text(page, "indices")
    shown = page.eval_on_selector_all(".card:not([hidden])", "cs => cs.map(c => c.dataset.key)")
    assert shown == ["indices", "alerts"]
    assert not any(token in text for text in console)


def test_dashboard_asks_for_a_token_once_and_connects(gunicorn_server, page):
    """Without a token the page shows the token form (401); a typed token connects it."""
    token = "typed-token-77c0"
    server = gunicorn_server(env={"G6_SSE_API_TOKEN": token})
    page.goto(server.url + "/")
    page.wait_for_selector('#conn[data-state="auth"]', timeout=LOAD_MS)
    assert page.is_visible("#token-form")
    page.fill("#token", token)
    page.click("#token-form button")
    page.wait_for_selector('#conn[data-state="live"]', timeout=LOAD_MS)
    assert not page.is_visible("#token-form") and page.input_value("#token") == ""
    expect(page.locator("#panel-resources .lines")).to_contain_text("cpu 7.3%", timeout=LOAD_MS)
