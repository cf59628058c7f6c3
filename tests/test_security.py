"""Security headers."""


def test_csp_is_strict_and_follows_the_configured_provider(app, client):
    csp = client.get("/healthz").headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "style-src 'self';" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    saved = app.config["PROCONNECT_DISCOVERY_URL"]
    app.config["PROCONNECT_DISCOVERY_URL"] = (
        "https://fca.integ01.dev-agentconnect.fr/api/v2/.well-known/openid-configuration"
    )
    try:
        csp = client.get("/healthz").headers["Content-Security-Policy"]
        assert "form-action 'self' https://fca.integ01.dev-agentconnect.fr;" in csp
    finally:
        app.config["PROCONNECT_DISCOVERY_URL"] = saved


def test_other_security_headers(client):
    headers = client.get("/").headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Content-Type-Options"] == "nosniff"
