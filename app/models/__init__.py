"""All models, imported so that they are registered on the metadata."""

from .audit import AuditEntry
from .committees import Committee
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
    "Committee",
    "Guichet",
    "Opportunity",
    "OpportunityStatus",
    "OpportunityTransition",
    "Organisation",
    "Role",
    "User",
    "UserRole",
]
