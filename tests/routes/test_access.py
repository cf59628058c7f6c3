"""Every route of app.url_map × anonymous and each role; expected statuses come from the declared rules.

The rule each view declares (`public`, `portfolio_readable`, `authenticated`, `requires_role(...)`) decides
what the gate does: anonymous → 302 to /connexion?next=…, a missing role → 403, otherwise the view runs.
When the view runs, a GET is expected to answer 200 unless OK_STATUS says otherwise (a view's own
predicate, a redirect, a sample object that does not exist). POST requests (with a valid CSRF token) are
only checked where the gate refuses them, so nothing is changed. A new route is walked automatically; if
it needs a URL parameter without a sample value, or answers something else than the table says, this
test fails and tells which.
"""

import re

import pytest
from flask import url_for
from werkzeug.routing import AnyConverter

from app import ratelimit
from app.permissions import RULE_ATTR
from app.services import users as users_service
from tests.conftest import FreshRequestClient

ROLES = ("anonymous", "secretariat", "dsi", "porteur", "instructeur", "comite")
MISSING_ID = 999_999
MISSING_TOKEN = "jeton-inconnu"


# View ran → expected status, when not 200: {endpoint: status} or {endpoint: {role: status}}.
# A URL parameter named `*_id` without a sample gets MISSING_ID (`token` and `name` get MISSING_TOKEN): the
# view then answers 404 by default.
def only(*roles: str) -> dict:
    """A view whose own predicate refuses (403) every signed-in role but these."""
    return {role: 403 for role in ROLES if role not in roles and role != "anonymous"}


OK_STATUS = {
    "auth.login": {role: 302 for role in ROLES if role != "anonymous"},  # already logged in → home
    "auth.callback": 400,  # no state: the French error page
    "auth.logout_return": {"anonymous": 302},  # signed in, no valid state: the confirmation page
    "portfolio.create": only("secretariat", "dsi"),  # can_create_opportunity
    "portfolio.edit": only("secretariat"),  # can_edit_opportunity (M043 was not created by the DSI user)
    "committees.rules": only("secretariat"),  # the sample comite user holds no function in CSIC-TECH
    "committees.plan": only("secretariat"),
    "committees.register.index": only("secretariat", "comite"),  # can_view_register
    "committees.register.export": only("secretariat", "comite"),  # can_view_register, as its page
    "guichets.export": {"instructeur": 403},  # the sample instructeur instructs no guichet
}


@pytest.fixture
def samples(db_session, make_user):
    target = make_user("dsi", email="cible.acces@test.gouv.fr", ministry="MI")
    return {
        "code": "M043",
        "org_code": "MI",
        "filename": "app.css",
        "token": MISSING_TOKEN,
        "name": MISSING_TOKEN,
        "ref": MISSING_TOKEN,  # a session reference (/compte/sessions/<ref>/fin)
        "user_id": target.id,
        "role_id": target.roles[0].id,
    }


@pytest.fixture
def no_rate_limit(app):
    saved = app.config["AUTH_RATE_LIMIT"]
    app.config["AUTH_RATE_LIMIT"] = 0
    yield
    app.config["AUTH_RATE_LIMIT"] = saved
    ratelimit.reset()


def declared_rule(app, endpoint):
    if endpoint == "static":
        return ("public", ())
    return getattr(app.view_functions[endpoint], RULE_ATTR)


def gate(app, endpoint, role) -> str:
    """What the declared rule lets happen: "login", "forbidden" or "view"."""
    rule, roles = declared_rule(app, endpoint)
    if rule not in {"public", "portfolio", "opendata", "authenticated", "role"}:
        pytest.fail(f"{endpoint}: rule {rule!r} is new; teach test_access.gate what it lets through")
    if (
        rule == "public"
        or (rule == "portfolio" and app.config["PUBLIC_PORTFOLIO"])
        or (rule == "opendata" and app.config.get("PUBLIC_API"))
    ):
        return "view"
    if role == "anonymous":
        return "login"
    if rule == "role" and role not in {str(r) for r in roles}:
        return "forbidden"
    return "view"


def expected(app, endpoint, method, role, missing_object=False):
    outcome = gate(app, endpoint, role)
    if outcome == "login":
        return 302, "login"
    if outcome == "forbidden":
        return 403, None
    if method == "POST":
        return None  # the view would run and change something: not requested
    wanted = OK_STATUS.get(endpoint, 404 if missing_object else 200)
    if isinstance(wanted, dict):
        wanted = wanted.get(role, 200)
    return wanted, None


def client_for(app, role, make_user):
    """A client whose session is (re)set to a user of `role` before each request (some views log out)."""
    user = None if role == "anonymous" else make_user(role, ministry="MI" if role == "dsi" else None)

    class RoleClient(FreshRequestClient):
        def open(self, *args, **kwargs):
            if user is not None:
                with self.session_transaction() as session_data:
                    session_data["_user_id"] = str(user.id)
                    session_data["_fresh"] = True
            return super().open(*args, **kwargs)

    return RoleClient(app, app.response_class, use_cookies=True)


# Samples that depend on the blueprint or endpoint (a `code` is an opportunity code elsewhere).
SAMPLES_FOR = {
    "committees": {"code": "CSIC-TECH"},
    "api.get_action": {"code": "2.1.1"},
    "api.get_guichet": {"code": "SNAP4"},
    "guichets": {"code": "SNAP4"},
    "chantiers.show": {"code": "2.2"},
    "chantiers.dossiers": {"code": "2.2"},
    "chantiers.ministry": {"code": "MI"},
}


def sample_value(rule, name, samples):
    """Explicit sample, else the first item of an `any(...)` converter, else MISSING_ID for `*_id`."""
    for key in (rule.endpoint, rule.endpoint.split(".")[0]):
        if name in SAMPLES_FOR.get(key, {}):
            return SAMPLES_FOR[key][name]
    if name in samples:
        return samples[name]
    converter = rule._converters.get(name)
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return MISSING_ID if name.endswith("_id") else None


def walk(app, role, make_user, samples) -> tuple[dict, dict]:
    client = client_for(app, role, make_user)
    page = client.get("/mentions-legales").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    wanted, got = {}, {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint):
        values = {k: sample_value(rule, k, samples) for k in rule.arguments}
        missing = sorted(k for k, v in values.items() if v is None)
        assert not missing, f"{rule.rule}: add a sample value for {missing} in test_access.samples"
        with app.test_request_context():
            url = url_for(rule.endpoint, **values)
        for method in sorted(rule.methods & {"GET", "POST"}):
            missing_object = bool({MISSING_ID, MISSING_TOKEN} & set(values.values()))
            expectation = expected(app, rule.endpoint, method, role, missing_object)
            if expectation is None:
                continue
            status, where = expectation
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": token})
            key = f"{method} {rule.rule}"
            wanted[key] = (status, where)
            location = response.headers.get("Location", "")
            got[key] = (response.status_code, "login" if location.startswith("/connexion?next=") else None)
    return wanted, got


@pytest.mark.parametrize("role", ROLES)
def test_every_route_for_every_role(app, db_session, make_user, samples, no_rate_limit, role):
    wanted, got = walk(app, role, make_user, samples)
    assert {f"GET {r.rule}" for r in app.url_map.iter_rules() if "GET" in r.methods} <= set(wanted)
    assert got == wanted


def test_anonymous_reads_the_portfolio_when_it_is_public(app, db_session, make_user, samples, no_rate_limit):
    app.config["PUBLIC_PORTFOLIO"] = True
    try:
        wanted, got = walk(app, "anonymous", make_user, samples)
    finally:
        app.config["PUBLIC_PORTFOLIO"] = False
    assert wanted["GET /opportunites"] == wanted["GET /opportunites/<code:code>"] == (200, None)
    assert wanted["GET /opportunites/nouvelle"] == (302, "login")
    assert got == wanted


def test_every_view_declares_a_rule(app):
    undeclared = [
        endpoint
        for endpoint, view in app.view_functions.items()
        if endpoint != "static" and not hasattr(view, RULE_ATTR)
    ]
    assert undeclared == []


def test_login_redirect_keeps_the_page_asked_for(app, db_session):
    response = app.test_client().get("/admin/utilisateurs?q=dupont")
    assert response.status_code == 302
    assert response.headers["Location"] == "/connexion?next=/admin/utilisateurs?q%3Ddupont"


def test_deactivated_user_session_is_dropped(app, db_session, make_user):
    user = make_user("secretariat")
    other = make_user("secretariat")
    client = FreshRequestClient(app, app.response_class, use_cookies=True)
    with client.session_transaction() as session_data:
        session_data["_user_id"] = str(user.id)
    assert client.get("/admin/utilisateurs").status_code == 200
    users_service.deactivate(user, actor=other)
    assert client.get("/admin/utilisateurs").status_code == 302
