"""The web console in a real browser (Debian's Chromium, driven by Playwright): what only a browser
checks. A creator signs up, an admin makes them a creator, they upload a generated clip through the file
input (a presigned PUT to the object store, bucket CORS), wait for the transcode and publish; a
multipart upload reads each part's ETag (exposed by the bucket's CORS), fails on one part and resumes
after a reload; a customer finds the content, is declined with a test card (Stripe's error in words),
pays at the Stripe stand-in (the gateway serves it under /stripe in development), and the <video>
element plays the presigned 720p rendition and seeks in it (range requests). A reload keeps the
session (HttpOnly cookie, /auth/refresh with the page's Origin). Every page is screenshotted under
tmp_path; with CODEX_UPDATE_SCREENSHOTS=1 the listing and the player are copied to docs/screenshots/.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, FilePayload, Page, Route, expect, sync_playwright

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "deploy"))

from journey.clips import noisy_clip, pattern_clip  # noqa: E402
from journey.steps import PASSWORD  # noqa: E402
from journey.suite import running_suite  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
# Never `playwright install`: Debian's package is the browser; these flags keep it quiet and offline.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WIDE = {"width": 1280, "height": 900}
NARROW = {"width": 360, "height": 740}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.is_file(),
    reason="Debian's Chromium is not installed (/usr/bin/chromium): `apt-get install -y chromium`",
)


@dataclass
class Pages:
    """Screenshots of every page, checked on the way for labels and for fitting their width."""

    folder: Path
    taken: list[str] = field(default_factory=list)

    def shot(self, page: Page, name: str) -> Path:
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, textarea')]
                .filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label'))
                .map(e => e.name || e.id)"""
        )
        assert unlabelled == [], f"{name}: controls without a label: {unlabelled}"
        width = page.viewport_size["width"] if page.viewport_size else 0
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{name}: the page is {scroll} px wide in a {width} px window"
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(name)
        return path


def new_context(browser: Browser, viewport: dict[str, int] = WIDE) -> BrowserContext:
    return browser.new_context(viewport=viewport)  # type: ignore[arg-type]


def open_page(context: BrowserContext, url: str) -> Page:
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    return page


def problem(page: Page, timeout_ms: float = 5_000) -> str:
    alert = page.get_by_role("alert")
    expect(alert).to_be_visible(timeout=timeout_ms)
    return alert.inner_text()


def sign_up(page: Page, gateway: str, name: str, email: str, pages: Pages) -> None:
    page.goto(f"{gateway}/#/signup")
    page.get_by_label("Display name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill("short")
    pages.shot(page, f"sign-up-{name.lower()}")
    page.get_by_role("button", name="Create the account").click()
    # The auth service's problem details, in words, not a blank page.
    assert "password" in problem(page).lower()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Create the account").click()
    expect(page.get_by_role("link", name=re.compile(rf"{name} \(customer\)"))).to_be_visible()


def keyboard_reaches_the_login_form(page: Page) -> None:
    reached = []
    for _ in range(12):
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate(
                "(e => e.tagName + ':' + (e.labels?.[0]?.textContent || e.textContent))"
                "(document.activeElement)"
            )
        )
    assert {"INPUT:Email", "INPUT:Password", "BUTTON:Log in"} <= set(reached), reached


def drive(browser: Browser, gateway: str, admin_email: str, workdir: Path) -> Pages:
    """The whole story in the browser; returns the screenshots taken."""
    pages = Pages(workdir / "screenshots")
    pages.folder.mkdir(parents=True, exist_ok=True)
    run = "zq" + secrets.token_hex(3)
    word = f"misty{run}"
    title = f"Sunrise over the lake {run}"

    # The creator signs up (a customer at first) and finds their user id on the account page.
    creator = new_context(browser)
    studio = open_page(creator, f"{gateway}/#/signup")
    sign_up(studio, gateway, "Creator", f"creator-{run}@example.com", pages)
    studio.goto(f"{gateway}/#/account")
    creator_id = studio.locator("#my-user-id").inner_text()
    pages.shot(studio, "account")

    # An admin reaches the login form by keyboard, logs in (Enter submits) and makes them a creator.
    admin = new_context(browser)
    desk = open_page(admin, f"{gateway}/#/login")
    # Another browser's session is not this one's (the gateway passes cookies, it keeps none).
    expect(desk.get_by_role("link", name="Log in")).to_be_visible()
    keyboard_reaches_the_login_form(desk)
    desk.get_by_label("Email", exact=True).fill(admin_email)
    desk.get_by_label("Password", exact=True).fill("not the password")
    desk.get_by_label("Password", exact=True).press("Enter")
    assert "incorrect" in problem(desk)  # 401 problem details, in words
    pages.shot(desk, "log-in-refused")
    desk.get_by_label("Password", exact=True).fill(PASSWORD)
    desk.get_by_label("Password", exact=True).press("Enter")
    expect(desk.get_by_role("link", name="Admin", exact=True)).to_be_visible()
    desk.goto(f"{gateway}/#/admin")
    desk.get_by_label("User id", exact=True).fill(creator_id)
    desk.get_by_label("Role", exact=True).select_option("creator")
    desk.get_by_role("button", name="Change the role").click()
    expect(desk.locator("#role-result")).to_contain_text("is now creator")

    # A reload keeps the session (cookie → /auth/refresh) and the new token carries the new role.
    studio.reload()
    studio.wait_for_selector("body[data-ready=true]")
    expect(studio.get_by_role("link", name=re.compile(r"Creator \(creator\)"))).to_be_visible()

    # Upload through the file input (one presigned PUT), describe it, publish once ready.
    studio.goto(f"{gateway}/#/studio")
    clip = pattern_clip(workdir / "sunrise.mp4")
    studio.get_by_label("Video file", exact=True).set_input_files(str(clip))
    studio.get_by_role("button", name="Upload", exact=True).click()
    expect(studio.get_by_text("Stored and checked: sunrise.mp4")).to_be_visible(timeout=60_000)
    studio.get_by_label("Title", exact=True).fill(title)
    description = f"A calm {word} morning, filmed for the console test."
    studio.get_by_label("Description", exact=True).fill(description)
    studio.get_by_label("Price", exact=True).fill("4.99")
    studio.get_by_role("button", name="Save and publish").click()
    expect(studio.locator("#asset-state")).to_have_text("ready", timeout=400_000)
    mine = studio.locator("#my-content li", has_text=title)
    expect(mine.locator(".badge")).to_have_text("published", timeout=60_000)
    pages.shot(studio, "studio")
    # Editing a published item: its page shows the new words.
    mine.get_by_role("button", name=f"Edit {title}").click()
    studio.get_by_label("Description", exact=True).fill(f"{description} Edited in the studio.")
    studio.get_by_role("button", name="Save draft").click()
    expect(studio.get_by_role("status")).to_contain_text("saved (published)")

    multipart_resumes_after_a_reload(studio, gateway, workdir, pages)

    # A file that is no video: the transcode fails, in words; an admin finds it by state and retries.
    not_a_video = FilePayload(name="broken.mp4", mimeType="video/mp4", buffer=b"not a video at all " * 500)
    studio.get_by_label("Video file", exact=True).set_input_files(files=[not_a_video])
    studio.get_by_role("button", name="Upload", exact=True).click()
    assert "The transcode failed" in problem(studio, timeout_ms=120_000)
    desk.goto(f"{gateway}/#/admin")
    desk.get_by_label("State", exact=True).select_option("failed")
    broken = desk.locator("#assets li", has_text="broken.mp4")
    expect(broken.locator(".badge")).to_have_text("failed")
    pages.shot(desk, "admin")
    broken.get_by_role("button", name="Retry broken.mp4").click()
    expect(desk.get_by_role("status")).to_contain_text("broken.mp4 was retried: now ")

    # A customer finds it by a word of its description and buys it.
    customer = new_context(browser)
    shop = open_page(customer, f"{gateway}/#/signup")
    sign_up(shop, gateway, "Customer", f"customer-{run}@example.com", pages)
    shop.get_by_label("Search", exact=True).fill(word)
    shop.get_by_role("button", name="Search").click()
    shop.get_by_role("link", name=title).wait_for()
    pages.shot(shop, "listing")
    shop.get_by_role("link", name=title).click()
    expect(shop.get_by_text("Edited in the studio.")).to_be_visible()
    expect(shop.get_by_role("heading", name="Buy")).to_be_visible()
    shop.get_by_label("Test card", exact=True).select_option("pm_card_chargeDeclined")
    shop.get_by_role("button", name=re.compile("^Pay")).click()
    assert "declined" in problem(shop)  # Stripe's error object, in words
    pages.shot(shop, "buy-declined")
    shop.get_by_label("Test card", exact=True).select_option("pm_card_visa")
    shop.get_by_role("button", name=re.compile("^Pay")).click()
    plays_and_seeks(shop)
    pages.shot(shop, "player")

    # At 360 px wide: the listing and the player fit, and still work.
    narrow = customer.new_page()
    narrow.set_viewport_size(NARROW)  # type: ignore[arg-type]
    narrow.goto(f"{gateway}/#/?q={word}")
    narrow.wait_for_selector("body[data-ready=true]")
    narrow.get_by_role("link", name=title).wait_for()
    pages.shot(narrow, "listing-360px")
    narrow.get_by_role("link", name=title).click()
    narrow.locator("#player").wait_for()
    pages.shot(narrow, "player-360px")
    for context in (creator, admin, customer):
        context.close()
    return pages


def multipart_resumes_after_a_reload(page: Page, gateway: str, workdir: Path, pages: Pages) -> None:
    """A file over the single-PUT limit (8 MiB in `make dev`) goes in 5 MiB parts; the page reads each
    part's ETag. The second part's first PUT is cut off; after a reload the upload resumes, sending only
    what the store lacks."""
    big = noisy_clip(workdir / "noise.mp4", min_bytes=9 * 1024 * 1024)
    puts: list[str] = []
    finished: list[str] = []

    def part_number(url: str) -> str:
        found = re.search(r"partNumber=(\d+)", url)
        return found.group(1) if found else ""

    def cut_second_part(route: Route) -> None:
        number = part_number(route.request.url)
        puts.append(number)
        if number == "2" and puts.count("2") == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route(lambda url: "partNumber=" in url, cut_second_part)
    page.on(
        "requestfinished",
        lambda request: finished.append(part_number(request.url)) if "partNumber=" in request.url else None,
    )
    page.get_by_label("Video file", exact=True).set_input_files(str(big))
    page.get_by_role("button", name="Upload", exact=True).click()
    assert "could not be reached" in problem(page)
    for _ in range(100):  # the first part's PUT goes on to the end
        if "1" in finished:
            break
        page.wait_for_timeout(200)
    assert "1" in finished, "the first part was not stored"
    pages.shot(page, "upload-interrupted")

    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    page.get_by_label("Video file", exact=True).set_input_files(str(big))
    page.get_by_role("button", name="Upload", exact=True).click()
    expect(page.get_by_text("Stored and checked: noise.mp4")).to_be_visible(timeout=60_000)
    assert puts.count("1") == 1, f"part 1 was sent again after the reload: {puts}"
    assert puts.count("2") == 2, puts
    page.unroute_all(behavior="ignoreErrors")


def plays_and_seeks(page: Page) -> None:
    video = page.locator("#player")
    video.wait_for(timeout=90_000)
    expect(page.get_by_label("Quality", exact=True)).to_have_value("720p")
    assert page.evaluate("document.querySelector('#player').canPlayType('video/mp4; codecs=\"avc1.64001f\"')")
    page.evaluate(
        "async () => { const v = document.querySelector('#player'); v.muted = true; await v.play(); }"
    )
    page.wait_for_function("document.querySelector('#player').currentTime > 1.5", timeout=30_000)
    page.evaluate(
        """() => new Promise((resolve, reject) => {
            const v = document.querySelector('#player');
            v.addEventListener('seeked', resolve, {once: true});
            v.addEventListener('error', () => reject(new Error('media error ' + v.error?.code)), {once: 1});
            v.currentTime = 7;
        })"""
    )
    page.wait_for_function("document.querySelector('#player').currentTime > 7.3", timeout=30_000)
    page.evaluate("document.querySelector('#player').pause()")
    assert page.evaluate("document.querySelector('#player').error") is None


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_console_from_upload_to_playback_in_chromium(
    database_url: str, queue_prefix: str, tmp_path: Path
) -> None:
    # The suite first: Playwright's sync API runs an event loop in this thread, and the suite's
    # database set-up uses asyncio.run.
    with running_suite(database_url, queue_prefix, tmp_path) as suite:
        admin_email = "admin-console@example.com"
        suite.create_admin(admin_email, PASSWORD)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                pages = drive(browser, suite.gateway, admin_email, tmp_path)
            finally:
                browser.close()
    assert {"studio", "listing", "player", "admin", "account"} <= set(pages.taken)
    if os.environ.get("CODEX_UPDATE_SCREENSHOTS") == "1":
        target = REPO / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        for name in ("listing", "player"):
            shutil.copyfile(pages.folder / f"{name}.png", target / f"console-{name}.png")
