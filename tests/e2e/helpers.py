"""Browser test helpers: axe-core check, keyboard focus inspection, reading the results table."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = next((ROOT / "app" / "static" / "vendor").glob("axe-core-*/axe.min.js"))
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
BLOCKING_IMPACTS = {"serious", "critical"}
# axe files an ARIA reference to a missing id under "incomplete" (needs review), not "violations"; our pages
# never point at ids that are absent, so treat it as a violation (it caught aria-describedby="None").
STRICT_INCOMPLETE = {"aria-valid-attr-value"}

_axe_source = None


def wait_until_ready(page) -> None:
    """The page's scripts have run: DSFR has started (it marks <html data-fr-js="true"> once its components
    have rewritten their markup) and htmx is loaded. A concrete DOM condition, not network silence."""
    page.locator("main").wait_for(state="attached")
    page.wait_for_function(
        "() => document.documentElement.dataset.frJs === 'true' && window.htmx !== undefined"
    )


def axe_check(page, context: str | None = None) -> None:
    """Run axe-core on the page; fail listing every serious or critical WCAG 2.1 A/AA violation.

    The source is evaluated through the DevTools protocol, which the page's CSP (script-src 'self')
    does not govern; the page itself is left as served.
    """
    global _axe_source
    if _axe_source is None:
        _axe_source = AXE_JS.read_text(encoding="utf-8")
    page.evaluate(_axe_source + "\n;void 0")
    page.wait_for_function("() => window.axe !== undefined")
    results = page.evaluate(
        r"""async ([context, tags, strict]) => {
            const result = await axe.run(context || document, {runOnly: {type: "tag", values: tags},
                                                              resultTypes: ["violations", "incomplete"]});
            const incomplete = result.incomplete.filter(v => strict.includes(v.id));
            return result.violations.concat(incomplete).map(v => ({id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.slice(0, 5).map(n => n.target.join(" ") + " — "
                    + (n.failureSummary || n.any.concat(n.all, n.none).map(c => c.message).join("; "))
                        .replace(/\s+/g, " "))}));
        }""",
        [context, AXE_TAGS, sorted(STRICT_INCOMPLETE)],
    )
    blocking = [v for v in results if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        lines = [f"axe: {len(blocking)} serious/critical violation(s) on {page.url}"]
        for v in blocking:
            lines.append(f"- {v['id']} ({v['impact']}): {v['help']}")
            lines.extend(f"    {t}" for t in v["targets"])
        pytest.fail("\n".join(lines), pytrace=False)


def focus_style(page) -> dict:
    """Computed focus-relevant styles of the focused element (and of its label's ::before for DSFR
    checkboxes and radios, whose ring is drawn there)."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            const pick = s => ({outline: `${s.outlineStyle} ${s.outlineWidth} ${s.outlineColor}`,
                                shadow: s.boxShadow, offset: s.outlineOffset});
            const styles = {self: pick(getComputedStyle(el))};
            if (el.matches("input[type=checkbox], input[type=radio]") && el.labels && el.labels[0]) {
                styles.label = pick(getComputedStyle(el.labels[0], "::before"));
            }
            return styles;
        }"""
    )


def describe_focus(page) -> str:
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return "body";
            const text = (el.innerText || el.value || el.getAttribute("aria-label") || "")
                .trim().slice(0, 40);
            const path = [];
            for (let node = el; node && node.nodeType === 1 && path.length < 4; node = node.parentElement) {
                const siblings = node.parentElement ? [...node.parentElement.children] : [node];
                const id = node.id ? "#" + node.id : "";
                path.unshift(`${node.tagName.toLowerCase()}${id}:${siblings.indexOf(node)}`);
            }
            return path.join(">") + " [" + text + "]";
        }"""
    )


def tab_until(page, selector: str, limit: int = 150) -> int:
    """Press Tab until the focused element matches `selector`; return how many presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        if page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector):
            return presses
    pytest.fail(f"{selector!r} not reached with {limit} Tab presses on {page.url}", pytrace=False)


def rows(page) -> list[str]:
    """Codes of the opportunities listed in the results table, in order."""
    return page.locator("#results tbody tr td:first-child").all_inner_texts()


def count_text(page) -> str:
    return re.sub(r"\s+", " ", page.locator("#result-count").inner_text()).strip()


def sign_in(page, email: str, start: str = "/connexion") -> None:
    """The real journey: the ProConnect button, then the test provider's form (its `sub` is the e-mail)."""
    page.goto(start)
    page.get_by_role("button", name=re.compile("ProConnect")).click()
    page.locator("input[name=sub]").fill(email)
    page.get_by_role("button", name="Autoriser").click()
    page.locator("#current-user").wait_for()  # back on the app, signed in: the header names the user
