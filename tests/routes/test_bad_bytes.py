"""Control characters (NUL and the other C0/C1 controls but tab, line feed and carriage return) in a query
string, a form field or a path answer 400 with a French message, before any view runs (PostgreSQL
answered 500 on a NUL). A bounded fuzz test sends them through every query and form parameter."""

import html
import inspect
import re
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.routing import AnyConverter
from wtforms.fields.core import UnboundField

from app import forms as forms_package
from app.forms import committees, dossiers, followup, guichets, notifications, portfolio, users, voting
from app.models import Role
from app.openapi import LIST_PARAMETERS
from app.security import BAD_BYTES_MESSAGE

ROOT = Path(__file__).resolve().parents[2]
READ_BY_HAND = re.compile(r"request\.(?:args|form|values)\.get(?:list)?\(\"([\w-]+)\"")
FORBIDDEN = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)]]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def form_field_names() -> list[str]:
    """Every field name of every WTForms form of app/forms (plus the nested rows' first names), every
    parameter the views read from the request themselves, and the API's declared query parameters."""
    names = {"q", "page", "csrf_token"}
    for path in (ROOT / "app").rglob("*.py"):
        names.update(READ_BY_HAND.findall(path.read_text()))
    for parameters in LIST_PARAMETERS.values():
        names.update(parameter["name"] for parameter in parameters)
    for module in (
        forms_package,
        committees,
        dossiers,
        followup,
        guichets,
        notifications,
        portfolio,
        users,
        voting,
    ):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            for name, value in vars(cls).items():
                if isinstance(value, UnboundField):
                    names.update({name, f"{name}-0", f"rows-0-{name}"})
    return sorted(names)


FIELDS = form_field_names()


def routes(app, method: str) -> list[str]:
    """One URL per rule accepting `method` (parameters filled with plausible values; a 404 is fine, what
    matters is that the refusal comes first)."""
    urls = []
    for rule in app.url_map.iter_rules():
        if method not in rule.methods or rule.endpoint == "static":
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters.get(name)
            values[name] = sorted(converter.items)[0] if isinstance(converter, AnyConverter) else "1"
        try:
            urls.append(rule.build(values, append_unknown=False)[1])
        except Exception:  # noqa: BLE001 - a converter refusing "1": keep the rules that build
            continue
    return sorted(set(urls))


def hostile_text():
    return st.tuples(
        st.text(alphabet=string.ascii_letters + "éà ", max_size=8),
        st.sampled_from(FORBIDDEN),
        st.text(max_size=8),
    ).map("".join)


def assert_refused(response):
    assert response.status_code == 400, response.status_code
    if not response.is_json:
        assert BAD_BYTES_MESSAGE in html.unescape(response.get_data(as_text=True))


def test_nul_in_a_search_comment_and_path(client, login_as, make_user, make_opportunity, csrf):
    opportunity = make_opportunity()
    login_as(make_user(Role.SECRETARIAT))
    assert_refused(client.get("/opportunites?q=a%00b"))
    assert_refused(client.get("/dossiers/instruction?q=%00"))
    assert_refused(client.get(f"/opportunites/{opportunity.code}%00"))
    token = csrf(client)
    assert_refused(
        client.post(
            f"/opportunites/{opportunity.code}/commentaires", data={"csrf_token": token, "body": "a\x00b"}
        )
    )
    assert_refused(
        client.post(
            f"/opportunites/{opportunity.code}/commentaires", data={"csrf_token": token, "body\x01": "x"}
        )
    )
    api = client.get("/api/v1/opportunities?q=%00")
    assert api.status_code == 400 and api.is_json and "caractères de contrôle" in api.get_json()["detail"]


def test_tabs_and_new_lines_are_welcome(client, login_as, make_user, make_opportunity, csrf):
    opportunity = make_opportunity()
    login_as(make_user(Role.SECRETARIAT))
    assert client.get("/opportunites?q=a%09b%0Ac").status_code == 200
    response = client.post(
        f"/opportunites/{opportunity.code}/commentaires",
        data={"csrf_token": csrf(client), "body": "Ligne 1\r\nLigne 2\tfin"},
    )
    assert response.status_code == 303


@pytest.fixture
def signed_in(client, login_as, make_user):
    login_as(make_user(Role.SECRETARIAT))
    return client


def test_fuzz_every_query_parameter(app, signed_in):
    urls = routes(app, "GET")

    @FUZZ
    @given(
        url=st.sampled_from(urls), name=st.sampled_from(FIELDS), value=hostile_text(), in_name=st.booleans()
    )
    def check(url, name, value, in_name):
        query = {value: "x"} if in_name else {name: value}
        assert_refused(signed_in.get(url, query_string=query))

    check()


def test_fuzz_every_form_field(app, signed_in, csrf):
    urls = routes(app, "POST")
    token = csrf(signed_in)

    @FUZZ
    @given(url=st.sampled_from(urls), name=st.sampled_from(FIELDS), value=hostile_text())
    def check(url, name, value):
        assert_refused(signed_in.post(url, data={"csrf_token": token, name: value, "other": "ok"}))

    check()
