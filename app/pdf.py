"""Every PDF of the app through one helper: `render_pdf(html, title=, subject=)`.

WeasyPrint with `pdf_variant="pdf/ua-1"` (a tagged, accessible PDF: State documents must be accessible), the
Marianne font of the vendored DSFR, the shared layout (app/templates/pdf/base.css: the « bloc-marque »,
page-break rules, right-aligned amounts, totals rows, signature blocks) and the document's metadata (title,
author, subject, language, creation date). Resources are fetched only from the app's own static folder: user
text never makes the server fetch anything (no remote image, stylesheet or font, no local file elsewhere).
WeasyPrint needs the pango system library; it is imported only when a PDF is asked for.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from flask import current_app, render_template
from werkzeug.security import safe_join

from .services.dossiers import SECTION_LABELS, checks, figures

# The origin under which the app's static files are seen while rendering (never resolved on the network).
STATIC_ORIGIN = "https://pdf.invalid"
AUTHOR = "Mutualisation DSI — communauté des DSI de l'État"
FONT_TYPES = {".woff": "font/woff", ".woff2": "font/woff2", ".ttf": "font/ttf", ".css": "text/css"}


def static_file(url: str) -> Path | None:
    """The file of the app's static folder that `url` names, or None for anything else."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != STATIC_ORIGIN or not parts.path.startswith("/static/"):
        return None
    found = safe_join(current_app.static_folder, unquote(parts.path.removeprefix("/static/")))
    return Path(found) if found and Path(found).is_file() else None


def _fetcher():
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class StaticOnly(URLFetcher):
        """Serves the app's static files (fonts, the stylesheet); refuses every other URL."""

        def fetch(self, url, headers=None):
            path = static_file(url)
            if path is None:
                raise ValueError(f"PDF rendering fetches only the app's static files ({url[:60]})")
            kind = FONT_TYPES.get(path.suffix, "application/octet-stream")
            return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})

    return StaticOnly(allowed_protocols=("https",))


def render_pdf(html: str, *, title: str, subject: str, css: str = "", now: datetime | None = None) -> bytes:
    """A tagged PDF/UA-1 of `html` (a template that includes pdf/_bloc_marque.html), in Marianne; `css` is
    the document's own stylesheet, applied after the shared one."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fetcher, font_config = _fetcher(), FontConfiguration()  # @font-face needs the one font configuration
    sheets = [render_template("pdf/base.css"), css] if css else [render_template("pdf/base.css")]
    stylesheets = [
        CSS(string=s, base_url=STATIC_ORIGIN + "/", url_fetcher=fetcher, font_config=font_config)
        for s in sheets
    ]
    document = HTML(string=html, base_url=STATIC_ORIGIN + "/", url_fetcher=fetcher).render(
        stylesheets=stylesheets, font_config=font_config, pdf_variant="pdf/ua-1"
    )
    metadata = document.metadata
    metadata.title = title
    metadata.authors = [AUTHOR]
    metadata.description = subject
    metadata.lang = metadata.lang or "fr"
    metadata.created = metadata.modified = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return document.write_pdf(pdf_variant="pdf/ua-1")


# --- the documents ----------------------------------------------------------------------------------------


def dossier_html(dossier) -> str:
    missing, verdicts = checks(dossier)
    return render_template(
        "dossiers/pdf.html",
        dossier=dossier,
        fig=figures(dossier, revenues=True),
        verdicts=verdicts,
        missing=missing,
        section_labels=SECTION_LABELS,
    )


def dossier_pdf(dossier) -> bytes:
    return render_pdf(
        dossier_html(dossier),
        title=f"Contrat de transformation — dossier {dossier.reference}",
        subject=f"{dossier.reference} « {dossier.title} », guichet {dossier.guichet.code}",
    )


def minutes_pdf(meeting, quorum) -> bytes:
    html = render_template("minutes/pdf.html", meeting=meeting, quorum=quorum)
    return render_pdf(
        html,
        css=render_template("minutes/pdf.css"),
        title=f"Procès-verbal — {meeting.label}",
        subject=f"Procès-verbal de la séance du comité {meeting.committee.name} ({meeting.committee.code})",
    )
