"""Jinja setup: filters (Markdown; dates, euros, numbers from app/formatting.py), globals (vendor assets,
permission predicates, the state enums and their named groups, so templates never spell a state name)."""

import json
from functools import lru_cache
from pathlib import Path

import markdown as markdown_lib
import nh3
from flask import has_request_context, url_for
from jinja2 import StrictUndefined
from markupsafe import Markup

from . import accessibility, permissions
from .extensions import attachment_max_bytes, request_max_bytes
from .formatting import (  # noqa: F401  (re-exported: the formatting is app/formatting.py's)
    format_date,
    format_datetime,
    format_euros,
    format_megabytes,
    format_number,
    format_percent,
)
from .forms import dsfr as dsfr_markup
from .models import (
    AvenantState,
    CampaignState,
    DossierState,
    ReminderStatus,
    ReviewState,
    RuleCode,
    RuleKind,
    TrancheState,
    Visibility,
)
from .models.committees import DEFAULT_RULE, BodyKind, MeetingState
from .models.dossiers import EndorsementDecision
from .models.export_jobs import ExportJobState
from .models.portfolio import BackingRole, Moscow, OpportunityState

ALLOWED_TAGS = {
    "p",
    "br",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "code",
    "pre",
    "blockquote",
    "a",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "hr",
}


# A pure function of its text, and the costliest step of a page showing one (Python-Markdown builds its
# parser and extensions on each call: 0.3 ms for an opportunity's besoin): the last texts rendered are kept.
MARKDOWN_KEPT = 1024


@lru_cache(maxsize=MARKDOWN_KEPT)
def render_markdown(text: str | None) -> Markup:
    """Markdown → HTML sanitised by nh3 (links get rel=noopener noreferrer)."""
    html = markdown_lib.markdown(text or "", extensions=["sane_lists", "tables"], output_format="html")
    return Markup(
        nh3.clean(
            html,
            tags=ALLOWED_TAGS,
            attributes={"a": {"href", "title"}},
            url_schemes={"http", "https", "mailto"},
            link_rel="noopener noreferrer",
        )
    )


def besoin_markdown(text: str | None) -> Markup:
    """The annex texts use blank lines for paragraphs and "- " lines for lists; make lists start cleanly."""
    lines, previous = [], ""
    for line in (text or "").split("\n"):
        if line.startswith("- ") and previous and not previous.startswith("- "):
            lines.append("")
        lines.append(line)
        previous = line
    return render_markdown("\n".join(lines))


def init_app(app) -> None:
    if app.testing:
        app.jinja_env.undefined = StrictUndefined
    manifest_path = Path(app.static_folder) / "vendor" / "manifest.json"
    versions = json.loads(manifest_path.read_text())

    def vendor(package: str, path: str) -> str:
        return url_for("static", filename=f"vendor/{package}-{versions[package]}/{path}")

    app.jinja_env.filters.update(
        markdown=render_markdown,
        besoin=besoin_markdown,
        datetime=format_datetime,
        euros=format_euros,
        number=format_number,
        date=format_date,
        percent=format_percent,
        megabytes=format_megabytes,
    )

    def page_link(endpoint: str, **values) -> str | None:
        """The URL of a page, or None outside a request: templates shared with the PDFs and mails (rendered
        by the jobs, without a request) then print the name without a link."""
        return url_for(endpoint, **values) if has_request_context() else None

    def link_base(endpoint: str, key: str, **values) -> str | None:
        """The URL of `endpoint` up to its last part `key`, for a list whose lines append their own value:
        one url_for for all its links (a long list spent its time building them). None outside a request,
        as page_link."""
        if not has_request_context():
            return None
        url = url_for(endpoint, **values, **{key: 0})
        if not url.endswith("/0"):
            raise ValueError(f"{key} is not the last part of {endpoint}'s URL")
        return url[:-1]

    app.jinja_env.globals.update(
        vendor=vendor,
        page_link=page_link,
        link_base=link_base,
        can=permissions,
        OpportunityState=OpportunityState,
        CampaignState=CampaignState,
        Visibility=Visibility,
        DossierState=DossierState,
        ReviewState=ReviewState,
        TrancheState=TrancheState,
        AvenantState=AvenantState,
        RuleCode=RuleCode,
        EndorsementDecision=EndorsementDecision,
        RuleKind=RuleKind,
        MeetingState=MeetingState,
        ExportJobState=ExportJobState,
        BodyKind=BodyKind,
        DEFAULT_RULE=DEFAULT_RULE,
        ReminderStatus=ReminderStatus,
        Moscow=Moscow,
        BackingRole=BackingRole,
        service_name="Mutualisation DSI",
        attachment_max_bytes=attachment_max_bytes,
        request_max_bytes=request_max_bytes,
        # the footer's « Accessibilité : … » says what the self-audit grid shows (app/accessibility.py)
        accessibility_status=accessibility.footer_status,
        # the commonest DSFR controls, rendered in Python (dsfr/_forms.html binds its macros' names to them)
        dsfr_field=dsfr_markup.field,
        dsfr_select=dsfr_markup.select,
        dsfr_label=dsfr_markup.label_markup,
        dsfr_messages=dsfr_markup.messages,
        error_links=dsfr_markup.error_links,
    )
