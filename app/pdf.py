"""The dossier as a PDF in the contract's layout (WeasyPrint; needs the pango system library)."""

from flask import render_template

from .services.dossiers import SECTION_LABELS, checks, figures


def dossier_html(dossier) -> str:
    missing, verdicts = checks(dossier)
    return render_template(
        "dossiers/pdf.html",
        dossier=dossier,
        fig=figures(dossier),
        verdicts=verdicts,
        missing=missing,
        section_labels=SECTION_LABELS,
    )


def _no_fetch(url: str, *args, **kwargs):
    """User text never makes the server fetch anything (no remote images, stylesheets or fonts)."""
    raise ValueError(f"PDF rendering does not fetch resources ({url[:40]})")


def dossier_pdf(dossier) -> bytes:
    from weasyprint import HTML

    return HTML(string=dossier_html(dossier), url_fetcher=_no_fetch).write_pdf()
