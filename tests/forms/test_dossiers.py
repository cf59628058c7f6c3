"""Dossier section forms (WTForms): they keep the HTML names, coerce nothing away, and take the service's
messages at the field they name, rows included."""

from werkzeug.datastructures import MultiDict

from app.forms import apply_errors
from app.forms.dossiers import section_form
from app.models import Role
from tests.factories import make_dossier, make_user


def test_rows_keep_their_posted_index_and_errors_land_on_the_right_entry(app, db_session):
    dossier = make_dossier(make_user(Role.PORTEUR))
    posted = MultiDict(
        {"version": "2", "rows-0-nature": "Licences", "rows-2-nature": "Hébergement", "rows-2-ae-2026": "-5"}
    )
    with app.test_request_context(method="POST", data=posted):
        form = section_form(dossier, "financement", formdata=posted)
        data = form.section_data()
        assert [index for index, _ in data["rows"]] == [0, 2]
        assert data["rows"][1][1]["nature"] == "Hébergement" and data["rows"][1][1]["ae-2026"] == "-5"
        assert form.version_number() == 2
        apply_errors(
            form, {"rows-2-ae-2026": "AE 2026 : Le montant ne peut pas être négatif.", "total": "Total"}
        )
        assert form.rows.entries[1]["ae-2026"].errors == ["AE 2026 : Le montant ne peut pas être négatif."]
        assert not form.rows.entries[0]["ae-2026"].errors
        assert form.errors_by_name() == {
            "rows-2-ae-2026": "AE 2026 : Le montant ne peut pas être négatif.",
            "total": "Total",
        }


def test_nested_names_of_porteurs_and_staff_helper(app, db_session):
    dossier = make_dossier(make_user(Role.PORTEUR))
    posted = MultiDict({"porteur-projet_name": "Ada", "co-1-organisation": "DILA", "staff-B-cost": "x"})
    with app.test_request_context(method="POST", data=posted):
        porteurs = section_form(dossier, "porteurs", formdata=posted)
        data = porteurs.section_data()
        assert data["porteur-projet_name"] == "Ada" and data["co"] == [(1, data["co"][0][1])]
        assert data["co"][0][1]["organisation"] == "DILA"
        economies = section_form(dossier, "economies", formdata=posted)
        apply_errors(economies, {"staff-B-cost": "Coût moyen catégorie B : invalide"})
        assert economies.staff.B.cost.data == "x"
        assert economies.errors_by_name() == {"staff-B-cost": "Coût moyen catégorie B : invalide"}


def test_saved_values_fill_the_same_fields(app, db_session):
    dossier = make_dossier(make_user(Role.PORTEUR), title="Suite collaborative")
    with app.test_request_context():
        form = section_form(dossier, "projet")
        assert form.title.data == "Suite collaborative"
        assert form.version.data == "0"
