"""The open-data package read by frictionless (the reference Data Package implementation): the served
datapackage.json with the served CSV files is valid (types, required, unique, enums, primary and foreign
keys), carries its metadata, and a file that breaks a rule is reported by frictionless."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.routes.test_api import public_api, published_data  # noqa: F401

FRICTIONLESS = Path(sys.executable).with_name("frictionless")


def download_package(client, folder: Path) -> dict:
    descriptor = client.get("/exports/donnees/datapackage.json").get_json()
    for resource in descriptor["resources"]:
        name = resource["name"]
        response = client.get(f"/exports/donnees/{name}.csv")
        assert response.status_code == 200
        (folder / f"{name}.csv").write_bytes(response.data)
        assert resource["path"].endswith(f"/exports/donnees/{name}.csv")
        resource["path"] = f"{name}.csv"  # validated offline, beside the descriptor
    (folder / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False))
    return descriptor


def frictionless_validate(folder: Path) -> dict:
    result = subprocess.run(
        [str(FRICTIONLESS), "validate", "--json", "datapackage.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(result.stdout)


def errors_of(report: dict) -> list[str]:
    return [
        f"{task['name']}: {error['type']} {error.get('note', '')}"
        for task in report.get("tasks", [])
        for error in task.get("errors", [])
    ] + [f"package: {e['type']} {e.get('note', '')}" for e in report.get("errors", [])]


@pytest.mark.usefixtures("public_api")
def test_frictionless_validates_the_served_package(client, published_data, tmp_path):  # noqa: F811
    descriptor = download_package(client, tmp_path)
    assert descriptor["licenses"][0]["name"] == "etalab-2.0"
    assert descriptor["version"] and descriptor["title"] and descriptor["description"]
    assert descriptor["contributors"]
    schemas = {r["name"]: r["schema"] for r in descriptor["resources"]}
    assert all(s["primaryKey"] for s in schemas.values())  # never null
    statut = next(f for f in schemas["opportunites"]["fields"] if f["name"] == "statut")
    assert "retenue_criblage" in statut["constraints"]["enum"] and statut["constraints"]["required"]
    assert schemas["soutiens"]["foreignKeys"][0]["reference"]["resource"] == "opportunites"
    report = frictionless_validate(tmp_path)
    assert report["valid"], errors_of(report)
    assert {t["name"] for t in report["tasks"]} == set(schemas)
    rows = {t["name"]: t["stats"].get("rows", t["stats"].get("rowCount")) for t in report["tasks"]}
    assert rows["opportunites"] > 100 and rows["decisions"] == 1, report["tasks"][0]["stats"]


@pytest.mark.usefixtures("public_api")
def test_frictionless_reports_a_broken_rule(client, published_data, tmp_path):  # noqa: F811
    download_package(client, tmp_path)
    path = tmp_path / "decisions.csv"
    header, row = path.read_text().splitlines()
    cells = row.split(",")
    cells[4], cells[6] = "M99999", "peut-etre"  # an unknown opportunity, an outcome outside the enum
    path.write_text("\n".join([header, ",".join(cells)]) + "\n")
    report = frictionless_validate(tmp_path)
    assert not report["valid"]
    kinds = {e.split(": ")[1].split()[0] for e in errors_of(report)}
    assert {"constraint-error", "foreign-key"} <= kinds, errors_of(report)


@pytest.mark.usefixtures("public_api")
def test_the_open_data_page_lists_each_file_with_size_date_schema_and_preview(client, published_data):  # noqa: F811
    home = client.get("/").get_data(as_text=True)
    assert 'href="/exports/">Données ouvertes</a>' in home  # the footer of every page
    page = client.get("/exports/").get_data(as_text=True).replace("\u00a0", " ").replace("\u202f", " ")
    for name in ("opportunites", "actions", "guichets", "decisions"):
        facts = page.split(f'id="faits-{name}">', 1)[1].split("</p>", 1)[0]
        csv_size = len(client.get(f"/exports/donnees/{name}.csv").data)
        shown = re.search(r"([\d ]+(?:,\d)?) ko", facts)
        assert shown and abs(float(shown[1].replace(" ", "").replace(",", ".")) - csv_size / 1024) <= 0.05
        assert " ligne" in facts and "mis à jour le " in facts and "datapackage.json" in facts
        assert "Aperçu : les " in page and f"premières lignes de {name}.csv" in page
    assert "1 décision" not in page  # rows are counted in « lignes »
    assert "1 ligne" in page.split('id="faits-decisions">', 1)[1].split("</p>", 1)[0]
