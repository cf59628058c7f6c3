"""Demo accounts of the local ProConnect test provider, one per role (development only).

Pure data: read by `flask demo accounts` (pre-registers them with their roles), by the login page in
mock mode (lists them) and by scripts/oidc_provider.py (serves their claims). The provider's `sub` is
the e-mail, so typing the e-mail on the provider's form logs in as that account.
"""

DEMO_SIRET = "13002526500013"  # DINUM
DEMO_ORGANIZATION = "Direction interministérielle du numérique"

DEMO_ACCOUNTS = (
    {
        "email": "secretariat@demo.gouv.fr",
        "given_name": "Camille",
        "usual_name": "Martin",
        "role": "secretariat",
        "label": "Secrétariat (administre tout)",
    },
    {
        "email": "dsi@demo.gouv.fr",
        "given_name": "Dominique",
        "usual_name": "Bernard",
        "role": "dsi",
        "ministry": "MI",
        "label": "Membre DSI du ministère de l'Intérieur (MI)",
    },
    {
        "email": "porteur@demo.gouv.fr",
        "given_name": "Alex",
        "usual_name": "Petit",
        "role": "porteur",
        "label": "Porteur de projet",
    },
    {
        "email": "instructeur@demo.gouv.fr",
        "given_name": "Sacha",
        "usual_name": "Durand",
        "role": "instructeur",
        "guichet": "SNAP4",
        "label": "Instructeur du guichet SNAP4",
    },
    {
        "email": "comite@demo.gouv.fr",
        "given_name": "Claude",
        "usual_name": "Leroy",
        "role": "comite",
        "committee": "CSIC-TECH",
        "function": "president",
        "label": "Président du comité CSIC-TECH",
    },
)


def provider_claims(account: dict) -> dict:
    """The ProConnect claims the test provider returns for a demo account."""
    local = account["email"].split("@")[0]
    return {
        "email": account["email"],
        "given_name": account["given_name"],
        "usual_name": account["usual_name"],
        "uid": f"demo-{local}",
        "siret": DEMO_SIRET,
        "idp_id": "demo-fi",
        "organization_label": DEMO_ORGANIZATION,
        "acr": "eidas1",
    }
