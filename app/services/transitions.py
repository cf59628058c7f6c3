"""Apply a transition of a state machine: check its table, move, log it, audit it.

The state machines (opportunity, campaign, dossier, meeting, tranche, avenant) share this one helper;
each service keeps only what is its own (who may act, what else changes with the state).

What a move tells people (notifications, mails through the outbox) is declared beside each domain
(`<room>_notifications.py`) with `on_applied(Model, listener)`: the listener runs in the same transaction,
after the move, so a refused or rolled-back move tells nobody.
"""

from collections.abc import Callable

from ..extensions import db
from . import audit
from .errors import DomainError, ValidationFailed

# Model class → listeners called as listener(obj, old_state, new_state, actor=…, reason=…) after each move.
_LISTENERS: dict[type, list[Callable]] = {}


def on_applied(model: type, listener: Callable) -> Callable:
    """Call `listener` after every transition of a `model` object (idempotent registration)."""
    listeners = _LISTENERS.setdefault(model, [])
    if listener not in listeners:
        listeners.append(listener)
    return listener


def apply(
    obj,
    to,
    *,
    actor,
    log,
    action: str,
    summary: str,
    reason: str | None = None,
    state_attr: str = "state",
    error=None,
    field: str | None = None,
    changes: dict | None = None,
    **log_fields,
):
    """Move `obj` to state `to` if its `allowed_transitions()` permits it.

    `log`: the TransitionLog model; `log_fields`: its owner key (e.g. `dossier_id=dossier.id`) and any extra
    column. `action`: the audit action (`dossier.submitted`). `error`: a callable building the domain error
    from the French message (default DomainError); or `field`: the form field a refusal is reported at.
    `changes`: other fields of the audit diff that move with the state (e.g. an opportunity's merge target).
    Returns the old state.
    """
    states = type(to)
    old = states(getattr(obj, state_attr))
    if to not in obj.allowed_transitions():
        message = f"Passage de « {old.label} » à « {to.label} » non autorisé."
        if field:
            raise ValidationFailed({field: message})
        raise (error or DomainError)(message)
    setattr(obj, state_attr, to.value)
    db.session.add(
        log(
            from_state=old.value,
            to_state=to.value,
            reason=reason or None,
            actor_id=getattr(actor, "id", None),
            **log_fields,
        )
    )
    diff = {state_attr: [old.value, to.value]} | (changes or {})
    audit.record(action, obj, actor=actor, summary=summary, changes=diff)
    for listener in _LISTENERS.get(type(obj), ()):
        listener(obj, old, to, actor=actor, reason=reason)
    return old
