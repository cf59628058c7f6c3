"""Who may do what.

Route rules: every view declares one with a decorator below (`public`, `portfolio_readable`,
`authenticated`, `requires_role`); `enforce_route_rule` runs before each request and refuses a view
that declared none. Object rules: `can_<verb>_<noun>(user, obj)` predicates, used by routes (403),
services (defence in depth) and templates (to show or hide buttons). Scoped queries
`<nouns>_visible_to(user)` make an object the user may not see a 404.
"""

import hmac
from functools import wraps

from flask import current_app, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import bindparam, false, or_, select, true

from .extensions import db
from .models import (
    AgendaItem,
    Campaign,
    CampaignState,
    Dossier,
    DossierReferent,
    DossierState,
    Guichet,
    Meeting,
    Opportunity,
    OpportunityState,
    Role,
    Visibility,
)
from .models.committees import MeetingState, MemberFunction

RULE_ATTR = "access_rule"


def _declare(rule: str, roles: tuple[str, ...] = ()):
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            return view(*args, **kwargs)

        setattr(wrapper, RULE_ATTR, (rule, roles))
        return wrapper

    return decorator


public = _declare("public")
portfolio_readable = _declare("portfolio")
authenticated = _declare("authenticated")


def requires_role(*roles: Role):
    return _declare("role", tuple(roles))


def route_rule(endpoint: str | None):
    view = current_app.view_functions.get(endpoint) if endpoint else None
    if view is None:
        return ("public", ())  # 404s, static files
    if endpoint == "static":
        return ("public", ())
    return getattr(view, RULE_ATTR, ("authenticated", ()))


def enforce_route_rule():
    """before_request hook: returns None when allowed, else ("login" | "forbidden")."""
    rule, roles = route_rule(request.endpoint)
    user = current_user
    if rule == "public":
        return None
    if rule == "portfolio" and current_app.config["PUBLIC_PORTFOLIO"]:
        return None
    if rule == "opendata" and current_app.config["PUBLIC_API"]:
        return None
    if not user.is_authenticated:
        return "login"
    if rule == "role" and not any(user.has_role(r) for r in roles):
        return "forbidden"
    return None


# --- predicates -----------------------------------------------------------------------------------


def _is(user, role: Role) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.has_role(role))


def is_secretariat(user) -> bool:
    return _is(user, Role.SECRETARIAT)


def can_create_opportunity(user) -> bool:
    return is_secretariat(user) or _is(user, Role.DSI)


def can_edit_opportunity(user, opportunity: Opportunity) -> bool:
    if opportunity.state in OpportunityState.TARGET_REQUIRED:
        return False
    if is_secretariat(user):
        return True
    return (
        _is(user, Role.DSI)
        and opportunity.created_by_id == user.id
        and opportunity.state in OpportunityState.AUTHOR_EDITABLE
    )


def can_change_opportunity_state(user, opportunity: Opportunity) -> bool:
    return is_secretariat(user)


def can_comment_opportunity(user, opportunity: Opportunity) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False))


def can_back_opportunity(user, opportunity: Opportunity, organisation=None) -> bool:
    if is_secretariat(user):
        return True
    if not _is(user, Role.DSI):
        return False
    return organisation is None or organisation.id in user.ministries()


def can_view_audit(user) -> bool:
    return is_secretariat(user)


def can_import_portfolio(user) -> bool:
    return is_secretariat(user)


def can_administer(user) -> bool:
    return is_secretariat(user)


# --- voting (MoSCoW prioritisation campaigns) -----------------------------------------------------------
# Drafts are seen by the secretariat only. While a campaign is open nobody sees anybody else's votes; results
# (and their exports) are seen by the secretariat once the campaign is closed and by every signed-in user once
# published; named ballots only for `named` campaigns; vote audit entries by the secretariat only when the
# campaign is anonymous, by every results reader when it is named, never while open.


def can_manage_campaigns(user) -> bool:
    return is_secretariat(user)


# --- criblage ([002] §4) ----------------------------------------------------------------------------


def can_open_criblage(user) -> bool:
    return is_secretariat(user)


def can_view_criblage(user) -> bool:
    """DSI members and the secretariat review the portfolio together."""
    return is_secretariat(user) or _is(user, Role.DSI)


def can_score_criblage(user, criblage) -> bool:
    return criblage.is_open and can_view_criblage(user)


def can_retain_criblage(user, criblage) -> bool:
    return criblage.is_open and is_secretariat(user)


def campaigns_visible_to(user):
    query = select(Campaign)
    if not is_secretariat(user):
        query = query.where(Campaign.state != CampaignState.BROUILLON)
    return query


def elector_ministry(user, campaign: Campaign) -> tuple[bool, int | None]:
    """(is the user in the electorate, the ministry the vote counts for). A DSI member of several ministries
    votes for the one with the smallest id among those admitted; one without a ministry counts for none."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.active:
        return False, None
    limited = {m.id for m in campaign.ministries}
    ministries = [r.organisation_id for r in user.roles if r.role == Role.DSI]
    if not ministries:
        return False, None
    if limited:
        admitted = [m for m in ministries if m in limited]
        return (True, min(admitted)) if admitted else (False, None)
    with_ministry = [m for m in ministries if m is not None]
    return True, (min(with_ministry) if with_ministry else None)


def can_edit_campaign(user, campaign) -> bool:
    return is_secretariat(user) and campaign.state == CampaignState.BROUILLON


def can_vote_in_campaign(user, campaign) -> bool:
    return campaign.state == CampaignState.OUVERTE and elector_ministry(user, campaign)[0]


def can_view_campaign_results(user, campaign) -> bool:
    if campaign.state == CampaignState.PUBLIEE:
        return bool(user is not None and getattr(user, "is_authenticated", False))
    return campaign.state == CampaignState.CLOSE and is_secretariat(user)


def can_view_named_ballots(user, campaign) -> bool:
    return campaign.visibility == Visibility.NAMED and can_view_campaign_results(user, campaign)


def can_view_vote_audit(user, campaign) -> bool:
    if campaign.visibility == Visibility.ANONYMOUS:
        return campaign.state in CampaignState.FROZEN and is_secretariat(user)
    return can_view_campaign_results(user, campaign)


def can_override_priority(user, campaign) -> bool:
    return is_secretariat(user) and campaign.state == CampaignState.PUBLIEE


# --- reminders / notifications ------------------------------------------------------------------------------


def can_configure_reminders(user) -> bool:
    """Offsets of the reminder kinds, retries of failed sends, the /admin/rappels page."""
    return is_secretariat(user)


# --- open data: API, exports, dashboard (issue 8) ---------------------------------------------------------
# The JSON API and the open-data exports are readable by anyone when PUBLIC_API is true, else by signed-in
# users (anonymous: the login redirect, or 401 JSON for a client asking for JSON). They only carry public
# fields: no agent's name or e-mail. In-app exports reuse the rule and the predicates of the page they export.

opendata_readable = _declare("opendata")


# --- committees (meetings, agenda, votes, decisions, register, minutes) -------------------------------------
# Committees and published agendas are readable by every signed-in user; a planned (unpublished) or cancelled
# meeting only by the secretariat and the committee's members. The secretariat, and the président or
# secrétaire of the committee, run its meetings. Named votes and draft minutes are seen by the committee and
# the secretariat; published minutes and decisions by every signed-in user.

PUBLIC_MEETING_STATES = (MeetingState.ODJ_PUBLIE, MeetingState.TENUE, MeetingState.PV_PUBLIE)


def function_of(user, committee) -> MemberFunction | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    for r in user.roles:
        if r.role == Role.COMITE and r.committee_id == committee.id:
            return MemberFunction(r.function or "membre")
    return None


def committee_function(user, committee):
    return function_of(user, committee)


def is_committee_member(user, committee) -> bool:
    return committee_function(user, committee) is not None


def can_manage_committee(user, committee=None) -> bool:
    return is_secretariat(user)


def _steers(user, committee) -> bool:
    return is_secretariat(user) or committee_function(user, committee) in (
        MemberFunction.PRESIDENT,
        MemberFunction.SECRETAIRE,
    )


def can_plan_meeting(user, committee) -> bool:
    """Only a committee holds séances: not a one-off meeting (a record), a person or a working group."""
    return committee.meets and _steers(user, committee)


def can_run_meeting(user, meeting) -> bool:
    return _steers(user, meeting.committee)


def can_record_decision(user, meeting) -> bool:
    return can_run_meeting(user, meeting)


def can_review_minutes(user, meeting) -> bool:
    return is_secretariat(user) or committee_function(user, meeting.committee) == MemberFunction.PRESIDENT


def can_view_meeting(user, meeting) -> bool:
    if is_secretariat(user) or is_committee_member(user, meeting.committee):
        return True
    return bool(getattr(user, "is_authenticated", False)) and meeting.state in PUBLIC_MEETING_STATES


def meetings_visible_to(user):
    committees = meeting_scope(user)
    query = select(Meeting)
    return query if committees is None else query.where(meeting_filter(committees))


def meeting_scope(user) -> list[int] | None:
    """What `user` reads of the committee sessions: None for every one (the secretariat), else the
    committees whose sessions it reads beyond the published ones (meeting_filter)."""
    if is_secretariat(user):
        return None
    mine = {r.committee_id for r in getattr(user, "roles", []) if r.role == Role.COMITE and r.committee_id}
    return sorted(mine) or [-1]


def meeting_filter(committees):
    """The sessions a reader of meeting_scope's `committees` (a list, or an expanding bound parameter) reads:
    the published ones and every session of its committees."""
    return or_(Meeting.state.in_(PUBLIC_MEETING_STATES), Meeting.committee_id.in_(committees))


def can_view_named_votes(user, meeting) -> bool:
    return is_secretariat(user) or is_committee_member(user, meeting.committee)


def can_view_minutes(user, meeting) -> bool:
    if meeting.state == MeetingState.PV_PUBLIE:
        return bool(getattr(user, "is_authenticated", False))
    return meeting.minutes is not None and (
        is_secretariat(user) or is_committee_member(user, meeting.committee)
    )


def can_view_register(user) -> bool:
    return is_secretariat(user) or _is(user, Role.COMITE)


def can_verify_register(user) -> bool:
    return is_secretariat(user)


def can_report_followup(user, dossier) -> bool:
    """Jalons reached, indicator values and credits consumed: the porteur's side and the secretariat."""
    if is_secretariat(user):
        return True
    if not getattr(user, "is_authenticated", False):
        return False
    return dossier.created_by_id == user.id or any(r.email == user.email.lower() for r in dossier.referents)


def can_review_followup(user, dossier) -> bool:
    """Validate or question a follow-up report: the instructeurs of the dossier's guichet, the secretariat."""
    return is_secretariat(user) or (
        getattr(user, "is_authenticated", False) and is_instructor_of(user, dossier)
    )


def can_manage_contract(user, dossier) -> bool:
    """Prepare the contract, record its signature, start and close the follow-up: the secretariat (no
    guichet names another role today)."""
    return is_secretariat(user)


def can_decide_tranche(user, dossier) -> bool:
    """Plan, release, suspend or cancel a tranche: the fund's secretariat ([004] §6: « le montant de chaque
    tranche sera définitivement arrêté par le secrétariat du fonds »)."""
    return is_secretariat(user)


def can_record_avenant(user, dossier) -> bool:
    """Record an avenant and its signature: the fund's secretariat ([000] §8)."""
    return is_secretariat(user)


def can_propose_for_agenda(user, dossier) -> bool:
    """Hand an instructed dossier (avis given) to its deciding committee: its instructeurs, the
    secretariat."""
    return dossier.state == DossierState.INSTRUIT and (
        is_secretariat(user) or is_instructor_of(user, dossier)
    )


# --- guichets and dossiers (issue 5) ---------------------------------------------------------------------
# Guichets are readable by every signed-in user; the secretariat edits their rules and instructors. A
# dossier is seen by its porteur (creator), by the référents named on it (e-mail of their account), by the
# instructors of its guichet (or of an ancestor guichet) once submitted, and by the secretariat; anybody
# else gets a 404. Private annotations are for the instruction side only.


def can_edit_guichet(user, guichet=None) -> bool:
    return is_secretariat(user)


def _directly_instructed(user) -> set[int]:
    """Guichets the user is named instructeur of (their roles, loaded with the user)."""
    return {r.guichet_id for r in getattr(user, "roles", []) if r.role == Role.INSTRUCTEUR and r.guichet_id}


def _instructed_guichets_query(direct):
    """The ids of the guichets in `direct` (ids, or an expanding bound parameter) and of their descendants,
    in SQL (a recursive CTE): a query of dossiers filters on it within its own statement."""
    tree = select(Guichet.id).where(Guichet.id.in_(direct)).cte("instructed_guichets", recursive=True)
    tree = tree.union_all(select(Guichet.id).where(Guichet.parent_id == tree.c.id))
    return select(tree.c.id)


def instructed_guichet_ids(user) -> set[int]:
    """Guichets the user instructs, with their descendants."""
    direct = _directly_instructed(user)
    if not direct:
        return set()
    cache_key = ("instructed_guichets", user.id, frozenset(direct))
    if has_request_context() and cache_key in g.setdefault("permission_cache", {}):
        return g.permission_cache[cache_key]
    children: dict[int, list[int]] = {}
    for guichet_id, parent_id in db.session.execute(select(Guichet.id, Guichet.parent_id)):
        children.setdefault(parent_id, []).append(guichet_id)
    result, todo = set(), list(direct)
    while todo:
        current = todo.pop()
        if current not in result:
            result.add(current)
            todo.extend(children.get(current, []))
    if has_request_context():
        g.permission_cache[cache_key] = result
    return result


def dossiers_visible_to(user):
    shape, values = dossier_scope(user)
    query = select(Dossier)
    return query if shape == ("all",) else query.where(dossier_filter(shape, values))


def dossier_scope(user) -> tuple[tuple[str, ...], dict]:
    """What `user` reads of the dossiers, as (the shape of the filter: the kinds of reader the user is, the
    values that filter needs): dossier_filter(shape, values) is that filter. A statement built once per
    shape, the values bound at each execution (`bound_values`), serves every reader of that shape."""
    if not getattr(user, "is_authenticated", False):
        return ("nobody",), {}
    if is_secretariat(user):
        return ("all",), {}
    shape, values = ["own"], {"reader_id": user.id, "reader_email": user.email.lower()}
    if direct := _directly_instructed(user):
        shape.append("instructed")
        values["instructed"] = sorted(direct)
    if ministries := user.ministries():
        shape.append("ministries")
        values["ministries"] = sorted(ministries)
    if committees := [r.committee_id for r in user.roles if r.role == Role.COMITE and r.committee_id]:
        shape.append("committees")
        values["committees"] = sorted(set(committees))
    return tuple(shape), values


# The values each kind of reader binds (dossier_scope), lists as expanding parameters.
_SCOPE_VALUES = {
    "own": ("reader_id", "reader_email"),
    "instructed": ("instructed",),
    "ministries": ("ministries",),
    "committees": ("committees",),
}


def bound_values(shape: tuple[str, ...]) -> dict:
    """The bound parameters standing for dossier_scope's values in a statement built once per shape."""
    return {
        name: bindparam(name, expanding=kind != "own")
        for kind in shape
        for name in _SCOPE_VALUES.get(kind, ())
    }


def dossier_filter(shape: tuple[str, ...], values: dict):
    """The filter of the dossiers a reader of `shape` reads (dossier_scope), `values` literal or bound."""
    if shape == ("nobody",):
        return false()
    if shape == ("all",):
        return true()
    clauses = [porteur_side_filter(values["reader_id"], values["reader_email"])]
    if "instructed" in shape:
        clauses.append(
            Dossier.guichet_id.in_(_instructed_guichets_query(values["instructed"]))
            & (Dossier.state != DossierState.BROUILLON)
        )
    if "ministries" in shape:
        # The porteur ministry's DNUM reads its deposited dossiers (it endorses France Relance ones).
        clauses.append(
            Dossier.porteur_organisation_id.in_(values["ministries"])
            & (Dossier.state != DossierState.BROUILLON)
        )
    if "committees" in shape:
        # Members of a committee read the dossiers put on one of its agendas.
        clauses.append(
            Dossier.id.in_(
                select(AgendaItem.dossier_id)
                .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                .where(Meeting.committee_id.in_(values["committees"]), AgendaItem.dossier_id.is_not(None))
            )
        )
    return or_(*clauses)


def porteur_side_dossiers(user):
    """The dossiers `user` carries (created, or named among its référents): `is_porteur_side` in SQL."""
    if not getattr(user, "is_authenticated", False):
        return select(Dossier).where(false())
    return select(Dossier).where(porteur_side_filter(user.id, user.email.lower()))


def porteur_side_filter(reader_id, reader_email):
    """The dossiers the reader created or is named among the référents of (values literal or bound)."""
    return or_(
        Dossier.created_by_id == reader_id,
        Dossier.id.in_(select(DossierReferent.dossier_id).where(DossierReferent.email == reader_email)),
    )


def is_porteur_side(user, dossier) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return dossier.created_by_id == user.id or any(r.email == user.email.lower() for r in dossier.referents)


def instructs(user) -> bool:
    """Instructs dossiers somewhere: the secretariat, an instructeur of any guichet (of a given dossier:
    can_instruct_dossier)."""
    return is_secretariat(user) or _is(user, Role.INSTRUCTEUR)


def is_instructor_of(user, dossier) -> bool:
    """Named instructeur of the dossier's guichet or of one of its ancestors: read on the guichet's chain of
    parents (the pages of one dossier load it joined) rather than on every guichet's id and parent."""
    direct = _directly_instructed(user)
    if not direct or dossier.guichet is None:
        return False
    return any(g.id in direct for g in (dossier.guichet, *dossier.guichet.ancestors()))


def can_create_dossier(user, guichet=None) -> bool:
    """Any signed-in agent may apply (the guichet being open is checked with the other fields)."""
    return bool(getattr(user, "is_authenticated", False))


def can_edit_section(user, dossier, key: str) -> bool:
    if (
        key == "signataires"
        and dossier.state in (DossierState.DECIDE, DossierState.CONVENTIONNE)
        and can_manage_contract(user, dossier)
    ):
        return True  # the secretariat completes the signatories and their dates when the contract is signed
    if not is_porteur_side(user, dossier):
        return False
    if dossier.state == DossierState.BROUILLON:
        return True
    request = dossier.open_request
    return (
        dossier.state == DossierState.COMPLEMENTS_DEMANDES
        and request is not None
        and key in request.section_keys
    )


def can_fill_dossier_steps(user, dossier) -> bool:
    """The step-by-step form (/dossiers/<id>/etapes): the porteur side, while the porteur may edit the dossier
    (a draft, or compléments asked: the reopened sections editable, the others read-only)."""
    return is_porteur_side(user, dossier) and dossier.state in DossierState.EDITABLE


def can_submit_dossier(user, dossier) -> bool:
    return is_porteur_side(user, dossier) and dossier.state in (
        DossierState.BROUILLON,
        DossierState.COMPLEMENTS_DEMANDES,
    )


def can_withdraw_dossier(user, dossier) -> bool:
    return is_porteur_side(user, dossier) and dossier.state in (
        DossierState.BROUILLON,
        DossierState.DEPOSE,
        DossierState.EN_INSTRUCTION,
        DossierState.COMPLEMENTS_DEMANDES,
        DossierState.INSTRUIT,
        DossierState.INSCRIT_COMITE,
    )


def can_instruct_dossier(user, dossier, any_state: bool = False) -> bool:
    if dossier.state == DossierState.BROUILLON:
        return False
    if not (is_secretariat(user) or is_instructor_of(user, dossier)):
        return False
    return any_state or dossier.state in (
        DossierState.DEPOSE,
        DossierState.EN_INSTRUCTION,
        DossierState.COMPLEMENTS_DEMANDES,
    )


def can_endorse_dossier(user, dossier) -> bool:
    """A DSI member of the porteur's ministry endorses a deposited France Relance dossier ([003] §1)."""
    if not getattr(user, "is_authenticated", False) or not dossier.needs_endorsement:
        return False
    if dossier.state not in (DossierState.DEPOSE, DossierState.EN_INSTRUCTION):
        return False
    return dossier.porteur_organisation_id in user.ministries()


def can_annotate_dossier(user, dossier) -> bool:
    return dossier.state != DossierState.BROUILLON and (
        is_secretariat(user) or is_instructor_of(user, dossier)
    )


def can_message_dossier(user, dossier) -> bool:
    if dossier.state == DossierState.BROUILLON:
        return False
    return is_porteur_side(user, dossier) or is_secretariat(user) or is_instructor_of(user, dossier)


def can_export_guichet(user, guichet) -> bool:
    return is_secretariat(user) or guichet.id in instructed_guichet_ids(user)


def can_see_export_job(user, job, session_token: str | None) -> bool:
    """A background export (app/services/export_jobs.py) is its requester's only: the signed-in user who
    asked, or, asked anonymously (open data), the browser session that asked."""
    if job.requester_id is not None:
        return bool(getattr(user, "is_authenticated", False) and user.id == job.requester_id)
    return bool(session_token and job.session_token and hmac.compare_digest(job.session_token, session_token))
