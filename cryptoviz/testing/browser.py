"""Headless Chromium (Debian's) over the dashboard: every page opened, logged in when asked, and
checked for what a visitor sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# Debian's chromium, headless, with nothing that reaches for the network (see infra.md)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str:
    import shutil

    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Debian's chromium is missing: `make install` installs it")
    return found


# (url path, heading, texts the page must show, whether it draws a Plotly chart)
PageCheck = tuple[str, str, list[str], bool]


def _log_in(page: Any, field: Any, heading: Any, password: str, attempts: int = 3) -> None:
    """Submit the login form until the page shows: a submit can be lost when it lands while the
    new session's first run is still going (the form is then simply there again, unsubmitted)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(attempts):
        field.or_(heading).first.wait_for(timeout=30000)
        if not field.is_visible():
            return
        field.fill(password)
        page.get_by_role("button", name="Log in").click()
        try:
            heading.wait_for(timeout=10000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"still not logged in after {attempts} submits of the form")


def render_pages(url: str, pages: list[PageCheck], shots: Path, password: str | None = None) -> None:
    """Open every page in headless Chromium, log in when asked, and check what a visitor sees: the
    heading, the texts, the chart, no exception box, no traceback. Screenshots go to `shots`
    (page-<path>.png, or page-<path>.failed.png when the page never showed)."""
    from playwright.sync_api import sync_playwright

    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        for path, title, texts, chart in pages:
            page.goto(f"{url}/{path}")
            shot = shots / f"page-{path or 'home'}.png"
            field = page.get_by_label("Password", exact=True)
            heading = page.get_by_text(title, exact=True).first
            try:
                if password is not None:  # a visit without a session logs in first
                    _log_in(page, field, heading, password)
                heading.wait_for(timeout=30000)
                if chart:
                    page.locator(".js-plotly-plot").first.wait_for(timeout=30000)
                for text in texts:  # a page paints top to bottom: each text is waited for (in the
                    # page, maybe hidden: a data frame's cells are a hidden table under its canvas)
                    page.get_by_text(text).first.wait_for(state="attached", timeout=30000)
            except Exception as exc:
                page.screenshot(path=str(shot.with_suffix(".failed.png")), full_page=True)
                raise AssertionError(f"{path or 'home'}: {exc}") from None
            page.wait_for_timeout(1500)  # let the data frames paint before the screenshot
            body = page.inner_text("body")
            assert page.locator('[data-testid="stException"]').count() == 0, f"{path}: an exception box"
            assert "Traceback" not in body
            assert "Deploy" not in body, f"{path or 'home'}: Streamlit's toolbar shows (dashboard/.streamlit)"
            page.screenshot(path=str(shot), full_page=True)
        browser.close()
