"""Record audit entries in the caller's transaction."""

from ..extensions import db
from ..models import AuditEntry


def record(action: str, obj, *, actor=None, summary: str = "", changes: dict | None = None) -> AuditEntry:
    """Append an audit entry; `action` is "<noun>.<past verb>"; `changes` maps field → [old, new]."""
    db.session.flush()  # the object needs its id
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        action=action,
        object_type=type(obj).__tablename__ if obj is not None else "system",
        object_id=str(getattr(obj, "id", "") or ""),
        summary=summary,
        changes=changes or None,
    )
    db.session.add(entry)
    return entry


def diff(obj, values: dict) -> dict:
    """Fields of `values` that differ from `obj`, as {field: [old, new]}."""
    return {k: [getattr(obj, k), v] for k, v in values.items() if getattr(obj, k) != v}
