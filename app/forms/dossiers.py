"""Dossier forms: sections are posted as plain fields (tables as rows-<i>-<column>) and parsed here into
the raw
strings the services validate; the global CSRF protection checks every POST."""

import re

ROW = re.compile(r"^(rows|co)-(\d{1,3})-(.+)$")
BLANK_ROWS = 2  # empty rows offered at the end of each table (no JavaScript needed to add a line)


def section_data(formdata) -> dict:
    """{'field': value, 'rows': [(index, {column: value})], 'co': [...]} from a posted section."""
    data: dict = {}
    tables: dict[str, dict[int, dict]] = {}
    for key in formdata:
        match = ROW.match(key)
        if match:
            prefix, index, column = match[1], int(match[2]), match[3]
            tables.setdefault(prefix, {}).setdefault(index, {})[column] = formdata.get(key, "")
        elif key not in ("csrf_token", "version"):
            data[key] = formdata.get(key, "")
    for prefix, rows in tables.items():
        data[prefix] = sorted(rows.items())
    return data


def version(formdata) -> int:
    try:
        return int(formdata.get("version", "0"))
    except ValueError:
        return -1


def uploaded_files(files, name: str) -> list[tuple[str, bytes]]:
    """(filename, content) of the non-empty files posted under `name`."""
    out = []
    for storage in files.getlist(name):
        if storage and storage.filename:
            out.append((storage.filename, storage.read()))
    return out


def amount_text(value: int | None) -> str:
    return f"{value:,}".replace(",", " ") if value else ""


def initial_data(dossier, key: str) -> dict:
    """The saved values of a section in the shape `section_data` returns (strings, as a form shows them)."""
    if key == "projet":
        return {
            "title": dossier.title,
            "start_year": str(dossier.start_year),
            "starts_on": dossier.starts_on.isoformat() if dossier.starts_on else "",
            "ends_on": dossier.ends_on.isoformat() if dossier.ends_on else "",
            "opportunity_code": dossier.opportunity.code if dossier.opportunity else "",
        }
    if key == "porteurs":
        data: dict = {
            "porteur_organisation": dossier.porteur_organisation.code if dossier.porteur_organisation else ""
        }
        co: dict[int, dict] = {}
        order: list[int] = []
        for referent in dossier.referents:
            if referent.is_porteur:
                data[f"porteur-{referent.role}_name"] = referent.name
                data[f"porteur-{referent.role}_email"] = referent.email
            else:
                if referent.organisation_id not in co:
                    co[referent.organisation_id] = {"organisation": referent.organisation.code}
                    order.append(referent.organisation_id)
                co[referent.organisation_id][f"{referent.role}_name"] = referent.name
                co[referent.organisation_id][f"{referent.role}_email"] = referent.email
        data["co"] = [(i, co[org]) for i, org in enumerate(order)]
        return data
    if key in ("enjeu", "solution", "gouvernance"):
        return {key: getattr(dossier, key) or ""}
    if key == "beneficiaires":
        return {
            "rows": [
                (i, {"group": b.group_name, "population": str(b.population or "")})
                for i, b in enumerate(dossier.beneficiaries)
            ]
        }
    if key == "indicateurs":
        fields = ("objective", "indicator", "calculation", "current_value", "target_value", "frequency")
        return {
            "rows": [
                (i, {f: getattr(row, f) or "" for f in fields}) for i, row in enumerate(dossier.indicators)
            ]
        }
    if key == "financement":
        rows = []
        for i, line in enumerate(dossier.financing_lines):
            financer = (
                f"co:{line.financer_organisation.code}" if line.financer == "co_porteur" else line.financer
            )
            row = {
                "nature": line.nature,
                "category": line.category,
                "programme": line.programme,
                "financer": financer,
                "phase": line.phase,
            }
            for amount in line.amounts:
                row[f"ae-{amount.year}"] = amount_text(amount.ae)
                row[f"cp-{amount.year}"] = amount_text(amount.cp)
            rows.append((i, row))
        return {"rows": rows}
    if key == "economies":
        rows = []
        for i, line in enumerate(dossier.savings_lines):
            row = {"nature": line.nature, "category": line.category, "programme": line.programme}
            for amount in line.amounts:
                row[f"y-{amount.year}"] = amount_text(amount.amount)
            rows.append((i, row))
        data = {"rows": rows, "impact_indirect": dossier.impact_indirect or ""}
        for staff in dossier.staff_savings:
            data[f"staff-{staff.category}-cost"] = amount_text(staff.average_cost)
            data[f"staff-{staff.category}-{staff.year}"] = str(staff.jobs)
        return data
    if key == "jalons":
        return {
            "rows": [
                (
                    i,
                    {
                        "number": str(j.number),
                        "due_on": j.due_on.isoformat(),
                        "description": j.description,
                        "deliverables": j.deliverables or "",
                        "is_procurement": "1" if j.is_procurement else "",
                    },
                )
                for i, j in enumerate(dossier.jalons)
            ]
        }
    return {}


def with_blank_rows(rows: list, blank: int = BLANK_ROWS) -> list:
    """Saved (or posted) rows re-indexed 0…n-1, plus `blank` empty rows to add lines without JavaScript."""
    start = (max(i for i, _ in rows) + 1) if rows else 0
    return list(rows) + [(start + n, {}) for n in range(blank)]
