"""The browser harness itself: a CSP violation, an uncaught error and an axe violation are all caught, so a
green run means something."""

import pytest

from .helpers import axe_check

pytestmark = pytest.mark.e2e


def test_csp_violations_and_page_errors_are_recorded(page):
    page.goto("/plancher")
    with page.expect_console_message(lambda message: "script-src" in message.text):
        page.evaluate("""() => {
            const script = document.createElement("script");
            script.textContent = "window.injected = true";
            document.body.appendChild(script);
        }""")
    with page.expect_event("pageerror", lambda error: "harness boom" in str(error)):
        page.evaluate("() => setTimeout(() => { throw new Error('harness boom'); })")
    assert page.evaluate("() => window.injected") is None  # blocked by script-src 'self'
    assert any("script-src" in v for v in page.log.csp_violations), page.log.csp_violations
    assert any("harness boom" in e for e in page.log.page_errors), page.log.page_errors
    page.log.csp_violations.clear()  # expected here: do not fail the test at teardown
    page.log.page_errors.clear()


def test_axe_check_fails_on_a_serious_violation(page):
    page.goto("/plancher")
    axe_check(page)
    page.evaluate("""() => {
        const img = document.createElement("img");
        img.src = "/static/vendor/dsfr-1.15.3/favicon/favicon.svg";
        document.querySelector("main").appendChild(img);
    }""")
    with pytest.raises(pytest.fail.Exception, match="image-alt"):
        axe_check(page)
