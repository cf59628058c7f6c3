"""Every PDF as its reader sees it: `pdfinfo` says tagged (PDF/UA-1) with title, author, subject and creation
date; `pdffonts` lists Marianne embedded; pypdf reads the text positions: no heading is the last text block
of its page, amounts are right-aligned, the minutes have a totals row and the signature block."""

import io
import re
import subprocess

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models.committees import DecisionAmount
from app.pdf import STATIC_ORIGIN, static_file
from app.services import decisions as decision_service
from app.services import meetings as meeting_service
from tests.factories import make_committee_meeting, make_committee_members, make_hub_dossier, make_user

pytestmark = pytest.mark.skipif(
    subprocess.run(["which", "pdfinfo"], capture_output=True).returncode != 0,
    reason="poppler-utils (pdfinfo, pdffonts) is not installed",
)

FOOTER = re.compile(r"^Page \d+ / \d+$")


def pdfinfo(path) -> dict:
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return {k: v.strip() for k, v in (line.split(":", 1) for line in out.splitlines() if ":" in line)}


def fonts(path) -> str:
    return subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout


def blocks(data: bytes) -> list[list[tuple[float, float, str]]]:
    """Per page, the text runs (x, y, text) as pypdf reads them, top to bottom."""
    pages = []
    for page in PdfReader(io.BytesIO(data)).pages:
        runs = []

        def visit(text, cm, tm, font, size, runs=runs):
            if text.strip():
                runs.append((cm[4] + tm[4] * cm[0], cm[5] + tm[5] * cm[3], text.strip()))

        page.extract_text(visitor_text=visit)
        pages.append(sorted(runs, key=lambda r: -r[1]))
    return pages


def assert_no_orphan_heading(data: bytes, headings: list[str]):
    pages = blocks(data)
    assert len(pages) >= 2, "the document must span pages for the break rules to be tested"
    for number, runs in enumerate(pages[:-1], start=1):
        body = [r for r in runs if not FOOTER.match(r[2])]
        last_y = min(r[1] for r in body)
        last_line = " ".join(r[2] for r in body if abs(r[1] - last_y) < 2)
        assert not any(last_line.startswith(h) for h in headings), (number, last_line)


def check_document(tmp_path, data: bytes, title: str, subject: str):
    path = tmp_path / "document.pdf"
    path.write_bytes(data)
    info = pdfinfo(path)
    assert info["Tagged"] == "yes"
    assert info["Title"] == title
    assert info["Author"].startswith("Mutualisation DSI")
    assert info["Subject"].startswith(subject)
    assert re.search(r"\d{4}", info["CreationDate"])
    listed = fonts(path)
    assert "Marianne" in listed and "Marianne-Bold" in listed
    assert all(line.split()[-5] == "yes" for line in listed.splitlines()[2:])  # every font embedded
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)
    assert "RÉPUBLIQUE\nFRANÇAISE" in text or "RÉPUBLIQUE FRANÇAISE" in text
    assert "Liberté" in text and "Fraternité" in text
    return text


def test_dossier_pdf_is_tagged_in_marianne_without_orphan_headings(client, login_as, tmp_path, db_session):
    porteur = make_user("porteur")
    hub = make_hub_dossier(porteur)
    login_as(porteur)
    response = client.get(f"/dossiers/{hub.id}/pdf")
    check_document(
        tmp_path, response.data, f"Contrat de transformation — dossier {hub.reference}", hub.reference
    )
    headings = ["1. Présentation", "2. Présentation", "3. Besoins", "4. Objectifs", "4.1.1", "4.1.2", "4.2 "]
    headings += ["5. Suivi", "5.2 Suivi", "5.3 Modalités", "Annexe", "Parties"]
    assert_no_orphan_heading(response.data, headings)


@pytest.fixture
def long_minutes(db_session, make_opportunity):
    committee, (president, secretary, m1, m2, guest) = make_committee_members("CSIC-TECH")
    secretariat = make_user("secretariat")
    meeting = make_committee_meeting("CSIC-TECH")
    items = [
        meeting_service.add_item(
            meeting,
            kind="opportunite",
            opportunity=make_opportunity(brique=f"Brique {n:02d}", state="retenue_criblage"),
            actor=secretariat,
        )
        for n in range(1, 15)
    ]
    meeting_service.publish_agenda(meeting, actor=secretariat)
    meeting_service.open_meeting(meeting, actor=secretariat)
    for user in (president, secretary, m1):
        meeting_service.record_attendance(meeting, user=user, status="present", actor=secretariat)
    for item in items:
        item.notes = "Le comité débat longuement de l'opportunité. " * 12
        decision = decision_service.record_decision(
            item, outcome="validee", mode="consensus", motivation="Besoin partagé. " * 8, actor=secretariat
        )
        db.session.flush()
        db.session.add_all(
            [
                DecisionAmount(decision_id=decision.id, year=2027, ae=1_200_000, cp=300_000),
                DecisionAmount(decision_id=decision.id, year=2028, ae=800_000, cp=900_000),
            ]
        )
    db.session.commit()
    return meeting, secretariat, president, secretary


def test_minutes_pdf_has_totals_signatures_and_keeps_headings_with_their_item(
    client, login_as, tmp_path, long_minutes
):
    meeting, secretariat, president, secretary = long_minutes
    login_as(secretariat)
    response = client.get(f"/comites/seances/{meeting.id}/proces-verbal.pdf")
    assert response.status_code == 200
    text = check_document(tmp_path, response.data, f"Procès-verbal — {meeting.label}", "Procès-verbal")
    flat = text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "Total 2 000 000 € 1 200 000 €" in flat
    assert "Le président" in flat and president.full_name in flat
    assert "Le secrétaire de séance" in flat and secretary.full_name in flat
    assert_no_orphan_heading(
        response.data, [f"{n}. Brique" for n in range(1, 15)] + ["Présences", "Ordre du jour"]
    )
    # Amounts are right-aligned (poppler's word boxes): in the first amounts table, the « € » of
    # « 1 200 000 € », « 800 000 € » and the total « 2 000 000 € » end at the same x, their first digits not.
    path = tmp_path / "minutes.pdf"
    path.write_bytes(response.data)
    boxes = subprocess.run(
        ["pdftotext", "-bbox", "-f", "1", "-l", "2", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    words = [
        (float(a), float(b), float(c), w)
        for a, b, c, w in re.findall(
            r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)<', boxes
        )
    ]
    euro_right_edges = sorted({round(x_max) for x_min, y, x_max, w in words if w == "€"})
    lines = {}
    for x_min, y, x_max, w in words:
        lines.setdefault(round(y), []).append((x_min, x_max, w))
    ae_rows = [
        ws
        for ws in lines.values()
        if any(w in ("1", "800", "2") for _, _, w in ws) and any(w == "€" for _, _, w in ws)
    ]
    assert len(ae_rows) >= 3, ae_rows
    first_euro = [min((x_max for _, x_max, w in ws if w == "€")) for ws in ae_rows[:3]]
    assert max(first_euro) - min(first_euro) < 1.0, first_euro
    assert len(euro_right_edges) >= 2


def test_only_the_apps_static_files_can_be_fetched(app):
    with app.app_context():
        assert static_file(f"{STATIC_ORIGIN}/static/vendor/dsfr-1.15.3/fonts/Marianne-Regular.woff")
        for url in (
            f"{STATIC_ORIGIN}/static/../../config.py",
            f"{STATIC_ORIGIN}/static/%2e%2e/%2e%2e/config.py",
            "file:///etc/passwd",
            "http://127.0.0.1:5000/static/vendor/dsfr-1.15.3/fonts/Marianne-Regular.woff",
            f"{STATIC_ORIGIN}/etc/passwd",
        ):
            assert static_file(url) is None, url
