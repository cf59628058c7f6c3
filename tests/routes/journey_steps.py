"""Steps shared by the journey tests, all through HTTP: the porteur fills every section of a dossier through
the section forms of its page (rows as `rows-<i>-<field>`, as the browser posts them) and uploads the
guichet's required pieces; nothing is written by a factory or a service call.

`send(url, data, files=None)` and `read(url)` are the caller's ways of posting and reading as the porteur
(its own CSRF and status checks); the database is only read (the section versions the page carries in its
hidden field, the pieces the guichet asks for).
"""

import re
from collections.abc import Callable

from app.demo_scenario import section_data
from app.extensions import db
from app.models import Dossier, User

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def section_forms(dossier: Dossier, porteur: User, **kw) -> dict[str, dict]:
    """The sections as the porteur types them in the pages' forms (`kw`: section_data's amounts, jalons)."""
    kw = {"ftap_ae": 300_000, "porteur_ae": 300_000, **kw}
    forms = {}
    for key, data in section_data(dossier, porteur, **kw).items():
        flat = {}
        for name, value in data.items():
            if name in ("rows", "revenues"):  # tables of rows: `rows-0-nature`, `revenues-0-y-2027`
                for index, row in value:
                    flat.update({f"{name}-{index}-{k}": v for k, v in row.items()})
            else:
                flat[name] = value
        forms[key] = flat
    return forms


def fill_dossier(send: Callable, read: Callable, dossier_id: int, porteur: User, **kw) -> None:
    """Every section saved through its form (the declarations the projet form offers all ticked), then the
    guichet's required pieces uploaded. `read(url)` is the page's HTML as the porteur sees it."""
    url = f"/dossiers/{dossier_id}"
    dossier = db.session.get(Dossier, dossier_id)
    forms = section_forms(dossier, porteur, **kw)
    offered = re.findall(
        r'name="declarations"[^>]*value="(\d+)"|value="(\d+)"[^>]*name="declarations"', read(url)
    )
    forms["projet"]["declarations"] = [a or b for a, b in offered]
    for key, data in forms.items():
        db.session.expire_all()
        version = db.session.get(Dossier, dossier_id).section_version(key)
        send(f"{url}/sections/{key}", {**data, "version": str(version)})
    for kind in dossier.guichet.required_attachment_list:
        filename = f"{kind.lower().replace(' ', '-')[:40]}.pdf"
        send(f"{url}/pieces", {"kind": kind}, files={"file": (filename, PDF)})
