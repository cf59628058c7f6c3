"""`make screens`: refresh the screenshots of docs/screens/ (linked from the README).

Starts the app as `make run` does (embedded defaults), but on free ports and a temporary SQLite database, so
that it never touches a developer's `make run`: the reference data, the demo accounts and the living demo
(`flask demo scenario`); the ProConnect test provider and the mail catcher; the web server. Then Chromium
(Playwright, as the e2e tests) logs in as each role through the test provider's form and saves a PNG of each
page of SHOTS, 1 280 px wide, reduced to a 256-colour palette (a few tens of KB each).

Not part of the test suite: run it when a page changes (`make screens`), look at the images, commit them.
`--reflow 320` takes no screenshot: it loads each page of the RGAA sample at 320 px and fails when one scrolls
horizontally (criterion 10.11 of docs/rgaa/grid.yaml); `--reflow 1280 --text-spacing` applies the WCAG text
spacing first and also fails on text cut off by its box (10.12); `--reflow 1280 --text-zoom` the same with
the text at 200 % (10.4).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = ROOT / "docs" / "screens"
CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 1280, 900
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Shot:
    name: str  # docs/screens/<name>.png
    account: str  # the demo account that looks at it (app/demo.py)
    url: str  # a path, with {placeholders} filled from ids() below; a #fragment is scrolled to the top
    caption: str  # the README's words for it


# The pages to capture, in the README's order; the dossier's step pages follow the dossier page, one per
# step of `dossier_sections.STEPS` (a draft of the demo, since a deposited dossier has no steps).
SHOTS = [
    Shot("accueil-secretariat", "secretariat@demo.gouv.fr", "/", "Accueil du secrétariat"),
    Shot("accueil-dsi", "dsi@demo.gouv.fr", "/", "Accueil d'un membre DSI"),
    Shot("accueil-porteur", "porteur@demo.gouv.fr", "/", "Accueil d'un porteur de projet"),
    Shot("accueil-instructeur", "instructeur@demo.gouv.fr", "/", "Accueil d'un instructeur"),
    Shot("accueil-comite", "comite@demo.gouv.fr", "/", "Accueil d'un membre de comité"),
    Shot("portefeuille", "dsi@demo.gouv.fr", "/opportunites", "Le portefeuille d'opportunités"),
    Shot("bulletin", "dsi@demo.gouv.fr", "/campagnes/{ballot}#bulletin", "Un bulletin de vote MoSCoW"),
    Shot("dossier", "porteur@demo.gouv.fr", "/dossiers/{dossier}", "La page d'un dossier"),
    "STEPS",  # replaced by one Shot per step of dossier_sections.STEPS (all_shots())
    Shot("seance", "comite@demo.gouv.fr", "/comites/seances/{meeting}", "Une séance de comité"),
]


# The pages of the RGAA sample (docs/rgaa/grid.yaml, by key), for `--reflow WIDTH`: each is loaded at that
# width and must not scroll horizontally (RGAA 10.11; data tables scroll inside their own focusable box).
SAMPLE = {
    "home_secretariat": ("secretariat@demo.gouv.fr", "/"),
    "home_dsi": ("dsi@demo.gouv.fr", "/"),
    "home_porteur": ("porteur@demo.gouv.fr", "/"),
    "home_instructeur": ("instructeur@demo.gouv.fr", "/"),
    "home_comite": ("comite@demo.gouv.fr", "/"),
    "portfolio": ("dsi@demo.gouv.fr", "/opportunites"),
    "opportunity": ("dsi@demo.gouv.fr", "/opportunites/M043"),
    "ballot": ("dsi@demo.gouv.fr", "/campagnes/{ballot}"),
    "results": ("dsi@demo.gouv.fr", "/campagnes/{results}/resultats"),
    "dossier": ("porteur@demo.gouv.fr", "/dossiers/{dossier}"),
    "dossier_steps": ("porteur@demo.gouv.fr", "/dossiers/{draft}/etapes/financement"),
    "instruction": ("instructeur@demo.gouv.fr", "/dossiers/instruction"),
    "meeting": ("comite@demo.gouv.fr", "/comites/seances/{meeting}"),
    "live": ("secretariat@demo.gouv.fr", "/comites/seances/{meeting}/direct"),
    "minutes": ("comite@demo.gouv.fr", "/comites/seances/{meeting}/proces-verbal"),
    "register": ("secretariat@demo.gouv.fr", "/comites/registre"),
    "followup": ("porteur@demo.gouv.fr", "/dossiers/{followed}/suivi"),
    "admin": ("secretariat@demo.gouv.fr", "/admin/rappels"),
}
OVERFLOW = """() => ({scroll: document.documentElement.scrollWidth, inner: window.innerWidth,
  wide: [...document.querySelectorAll('main *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1
    && !e.closest('.fr-table__wrapper, .fr-table__container, [data-app-scroll]')).slice(0, 3)
    .map(e => e.tagName + '.' + e.className)})"""


def all_shots() -> list[Shot]:
    """SHOTS with the dossier's step pages in place of "STEPS" (imported late: config.py reads the
    environment when `app` is first imported, after main() has pointed it at the temporary database)."""
    from app.services.dossier_sections import steps

    step_shots = [
        Shot(f"dossier-etape-{n}", "porteur@demo.gouv.fr", f"/dossiers/{{draft}}/etapes/{step.slug}",
             f"Dossier, étape « {step.title} »")
        for n, step in enumerate(steps(), start=1)
    ]  # fmt: skip
    return [shot for entry in SHOTS for shot in (step_shots if entry == "STEPS" else [entry])]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask(*args: str, env: dict) -> None:
    """A CLI command of the app, quiet unless it fails (then its output is shown)."""
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"flask {' '.join(args)} : code {done.returncode}")


def ids(env: dict) -> dict[str, int]:
    """The demo's objects the URLs point at (read from the temporary database)."""
    os.environ.update(env, AUTO_MIGRATE="false")  # migrated already by `flask data load`

    from sqlalchemy import select

    from app import create_app
    from app.demo_scenario import MARKER
    from app.extensions import db
    from app.models import Committee, Dossier, Meeting
    from app.models.committees import MeetingState
    from app.models.voting import Campaign, CampaignState

    with create_app().app_context():
        ballot = db.session.scalar(select(Campaign.id).where(Campaign.title == MARKER))
        results = db.session.scalar(select(Campaign.id).where(Campaign.state == CampaignState.PUBLIEE))
        followed = db.session.scalar(select(Dossier.id).where(Dossier.title == "Hub de services aux usagers"))
        dossier = db.session.scalar(
            select(Dossier.id).where(Dossier.title == "Plateforme de données des politiques sociales")
        )
        draft = db.session.scalar(
            select(Dossier.id).where(Dossier.title == "Messagerie instantanée souveraine")
        )
        meeting = db.session.scalar(
            select(Meeting.id)
            .join(Committee)
            .where(Committee.code == "CSIC-TECH", Meeting.state == MeetingState.PV_PUBLIE)
        )
    return {
        "ballot": ballot,
        "dossier": dossier,
        "draft": draft,
        "meeting": meeting,
        "results": results,
        "followed": followed,
    }


def optimised(png: bytes) -> bytes:
    """The screenshot as a 256-colour palette PNG, compressed at the maximum."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    palette = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out = io.BytesIO()
    palette.save(out, format="PNG", optimize=True, compress_level=9)
    return out.getvalue()


def sign_in(page, base: str, email: str) -> None:
    """The real journey, as tests/e2e/helpers.py sign_in: ProConnect button, the provider's form."""
    page.goto(base + "/connexion")
    page.get_by_role("button", name=re.compile("ProConnect")).click()
    page.locator("input[name=sub]").fill(email)
    page.get_by_role("button", name="Autoriser").click()
    page.locator("#current-user").wait_for()


def capture(base: str, values: dict, shots: list[Shot]) -> list[tuple[Shot, int]]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    done = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        contexts = {}
        for shot in shots:
            if shot.account not in contexts:
                context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="fr-FR")
                page = context.new_page()
                sign_in(page, base, shot.account)
                contexts[shot.account] = page
            page = contexts[shot.account]
            response = page.goto(base + shot.url.format(**values))
            if response is None or response.status != 200:
                raise RuntimeError(f"{shot.url} : HTTP {response and response.status}")
            page.locator("main h1").first.wait_for()
            if "#" in shot.url:
                page.locator("#" + shot.url.split("#", 1)[1]).evaluate("e => e.scrollIntoView()")
            data = optimised(page.screenshot(full_page=False))
            (OUT / f"{shot.name}.png").write_bytes(data)
            done.append((shot, len(data)))
            print(f"  docs/screens/{shot.name}.png  {len(data) // 1024} Ko  ({shot.caption})", flush=True)
        browser.close()
    return done


# WCAG 1.4.12 / RGAA 10.12 text spacing, as a user style sheet sets it (the page's CSP is bypassed for it).
TEXT_SPACING = """* { line-height: 1.5 !important; letter-spacing: 0.12em !important;
  word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }"""
# RGAA 10.4: the characters' size at 200 % (DSFR sizes are in rem: this is the browser's text-only zoom).
TEXT_ZOOM = "html { font-size: 200% !important; }"
# Text cut off by its box: an element hiding its overflow while its content is larger than the box. Not
# counted: the DSFR controls whose label is hidden on purpose (icon-only pagination links: screen readers).
CLIPPED = """() => [...document.querySelectorAll('main *, header *, footer *')].filter(e => {
  const s = getComputedStyle(e), r = e.getBoundingClientRect();
  if (!r.width || !r.height || !e.textContent.trim()) return false;
  if (e.closest('.fr-sr-only, [hidden], .fr-collapse, .fr-pagination__link')) return false;
  const hides = v => ['hidden', 'clip'].includes(v);
  return (hides(s.overflowY) && e.scrollHeight > e.clientHeight + 2)
    || (hides(s.overflowX) && e.scrollWidth > e.clientWidth + 2);
}).slice(0, 3).map(e => e.tagName + '.' + e.className + ' « ' + e.textContent.trim().slice(0, 40) + ' »')"""


def reflow(base: str, values: dict, width: int, style: str = "") -> bool:
    """Each page of the RGAA sample at `width` px, with the user style sheet `style` if any: True when none
    scrolls horizontally and, with a style, no text is cut off by its box."""
    from playwright.sync_api import sync_playwright

    from app import accessibility

    assert set(SAMPLE) == {p.key for p in accessibility.grid().pages}, "SAMPLE and the grid's pages differ"
    fits = True
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        pages = {}
        for key, (account, url) in SAMPLE.items():
            if account not in pages:  # signed in at full width (the header's account link is in view)
                context = browser.new_context(
                    viewport={"width": WIDTH, "height": HEIGHT}, locale="fr-FR", bypass_csp=bool(style)
                )
                pages[account] = context.new_page()
                sign_in(pages[account], base, account)
                pages[account].set_viewport_size({"width": width, "height": HEIGHT})
            page = pages[account]
            response = page.goto(base + url.format(**values))
            page.locator("main h1").first.wait_for()
            clipped = []
            if style:
                page.add_style_tag(content=style)
                clipped = page.evaluate(CLIPPED)
            measure = page.evaluate(OVERFLOW)
            ok = response.status == 200 and measure["scroll"] <= measure["inner"] and not clipped
            fits &= ok
            verdict = "ok" if ok else f"TROP LARGE {measure}" if not clipped else f"TEXTE COUPÉ {clipped}"
            print(f"  {key:<17} {url:<42} {verdict}", flush=True)
        browser.close()
    return fits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="names of the shots to refresh (default: all)")
    parser.add_argument(
        "--reflow", type=int, metavar="WIDTH", help="no screenshot: check the RGAA sample at WIDTH px (10.11)"
    )
    parser.add_argument(
        "--text-spacing", action="store_true", help="with --reflow: the WCAG text spacing (10.12)"
    )
    parser.add_argument("--text-zoom", action="store_true", help="with --reflow: text at 200 %% (10.4)")
    options = parser.parse_args()

    from scripts.services import die_with_parent, start_mail_catcher, start_oidc_provider

    work = Path(tempfile.mkdtemp(prefix="screens-"))
    port, oidc, smtp = free_port(), free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        APP_ENV="development",
        FLASK_SKIP_DOTENV="1",
        DATABASE_URL=f"sqlite:///{work / 'screens.sqlite3'}",
        UPLOAD_DIR=str(work / "uploads"),
        BASE_URL=base,
        PORT=str(port),
        PROCONNECT_DISCOVERY_URL=f"http://127.0.0.1:{oidc}/.well-known/openid-configuration",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(smtp),
        REDIS_URL="",
    )
    processes: list[subprocess.Popen] = []
    try:
        print("Base temporaire, données de référence et scénario de démonstration…", flush=True)
        flask("data", "load", env=env)
        flask("demo", "accounts", env=env)
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "preexec_fn": die_with_parent}
        processes += [p for p in (start_oidc_provider(env, **quiet), start_mail_catcher(env, **quiet)) if p]
        flask("demo", "scenario", env=env)
        web = subprocess.Popen(
            [str(BIN / "flask"), "--app", "wsgi", "run", "--port", str(port), "--with-threads"],
            cwd=ROOT,
            env=env,
            **quiet,
        )
        processes.append(web)
        from scripts.dev import wait_until_serving

        if not wait_until_serving(f"{base}/healthz", web):
            raise RuntimeError("le serveur web ne répond pas")
        if options.reflow:
            style = (TEXT_SPACING if options.text_spacing else "") + (TEXT_ZOOM if options.text_zoom else "")
            extra = (", espacement du texte WCAG" if options.text_spacing else "") + (
                ", texte à 200 %" if options.text_zoom else ""
            )
            print(f"Échantillon RGAA à {options.reflow} px de large{extra} :", flush=True)
            if not reflow(base, ids(env), options.reflow, style):
                raise SystemExit(1)
        else:
            print(f"Captures ({WIDTH} px de large) :", flush=True)
            values = ids(env)  # first: it points `app` at the temporary database
            shots = [s for s in all_shots() if not options.only or s.name in options.only]
            capture(base, values, shots)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()


if __name__ == "__main__":
    main()
