"""Browser fixtures: Debian chromium driven by Playwright (sync API) against the committed `live_server`.

Every test gets a fresh browser context; its `page` records console errors, uncaught page errors,
Content-Security-Policy violations and 5xx responses. A CSP violation, an uncaught script error or a
server error fails the test. Helpers (axe, focus, Tab) are in helpers.py.
"""

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (or `make chromium`)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def base_url(live_server, live_app):
    """The live server, with the portfolio readable anonymously (the config is read per request)."""
    previous = live_app.config["PUBLIC_PORTFOLIO"]
    live_app.config["PUBLIC_PORTFOLIO"] = True
    yield live_server
    live_app.config["PUBLIC_PORTFOLIO"] = previous


class BrowserLog:
    """What a browser context reported while a test ran."""

    def __init__(self):
        self.csp_violations: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.server_errors: list[str] = []

    def attach(self, page) -> None:
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(f"{page.url}: {error}"))
        page.on("response", self._response)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            self.csp_violations.append(text)
        elif message.type == "error":
            self.console_errors.append(text)

    def _response(self, response) -> None:
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {response.request.method} {response.url}")

    def problems(self) -> list[str]:
        return (
            [f"CSP violation: {v}" for v in self.csp_violations]
            + [f"uncaught page error: {e}" for e in self.page_errors]
            + [f"server error: {e}" for e in self.server_errors]
        )


@pytest.fixture
def new_page(browser, base_url):
    """Factory of pages in fresh contexts (e.g. a second one with JavaScript disabled); all are checked."""
    contexts = []
    logs = []

    def make(**context_options):
        options = {"base_url": base_url, "locale": "fr-FR", "viewport": {"width": 1280, "height": 900}}
        options.update(context_options)
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        log = BrowserLog()
        log.attach(page)
        context.on("page", log.attach)
        logs.append(log)
        page.log = log
        return page

    yield make
    for context in contexts:
        context.close()
    problems = [problem for log in logs for problem in log.problems()]
    if problems:
        pytest.fail("The browser reported:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def page(new_page):
    return new_page()


# --- signing in through the real ProConnect flow (local test provider) ----------------------------------


@pytest.fixture(scope="session")
def proconnect(live_app, base_url, oidc_provider):
    """The live app signs in with the provider process; the demo accounts are registered with their roles."""
    saved = {
        k: live_app.config[k]
        for k in (
            "PROCONNECT_DISCOVERY_URL",
            "PROCONNECT_MIN_ACR",
            "PROCONNECT_USERINFO_FORMAT",
            "AUTH_RATE_LIMIT",
        )
    }
    live_app.config.update(
        PROCONNECT_DISCOVERY_URL=f"{oidc_provider}/.well-known/openid-configuration",
        PROCONNECT_MIN_ACR="",
        PROCONNECT_USERINFO_FORMAT="jwt",
        AUTH_RATE_LIMIT=0,
    )
    result = live_app.test_cli_runner().invoke(args=["demo", "accounts"])
    assert result.exit_code == 0, result.output
    yield oidc_provider
    live_app.config.update(saved)
