"""All models, imported so that they are registered on the metadata."""

from .audit import AuditEntry
from .committees import (
    AgendaDocument,
    AgendaItem,
    Attendance,
    Committee,
    CommitteeSession,
    Decision,
    DecisionAmount,
    ItemVote,
    Minutes,
    RegisterEntry,
    SessionTransition,
)
from .guichets import Guichet
from .organisations import Organisation
from .portfolio import (
    Action,
    Backing,
    BackingRole,
    Comment,
    Opportunity,
    OpportunityStatus,
    OpportunityTransition,
)
from .users import Role, User, UserRole
from .voting import (
    Campaign,
    CampaignMinistryResult,
    CampaignParticipation,
    CampaignResult,
    CampaignState,
    CampaignTransition,
    Visibility,
    Vote,
)

__all__ = [
    "Campaign",
    "CampaignMinistryResult",
    "CampaignParticipation",
    "CampaignResult",
    "CampaignState",
    "CampaignTransition",
    "Visibility",
    "Vote",
    "Action",
    "AuditEntry",
    "Backing",
    "BackingRole",
    "Comment",
    "AgendaDocument",
    "AgendaItem",
    "Attendance",
    "Committee",
    "CommitteeSession",
    "Decision",
    "DecisionAmount",
    "ItemVote",
    "Minutes",
    "RegisterEntry",
    "SessionTransition",
    "Guichet",
    "Opportunity",
    "OpportunityStatus",
    "OpportunityTransition",
    "Organisation",
    "Role",
    "User",
    "UserRole",
]
