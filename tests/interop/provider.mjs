// Test only: panva's oidc-provider (OpenID Certified) configured like ProConnect, for tests/interop.
//
// ProConnect's federation runs this very library; what is configured here follows docs/proconnect.md:
// - issuer with the /api/v2 path, routes /authorize /token /userinfo /session/end /jwks (§1);
// - one client: client_secret_post, RS256 id_token AND RS256-signed userinfo (application/jwt), exact
//   redirect and post-logout URIs (§3, §4, §8);
// - scopes given_name usual_name uid siret idp_id organization_label (no `profile`), `claims` parameter,
//   acr values eidas1 / eidas2 / eidas3 / *-mfa (§2, §6); a level the agent's identity provider cannot
//   give ends in `access_denied` « none of the requested ACRs could be obtained », like ProConnect;
// - strict checks like ProConnect's Y000400: unknown authorization parameters, state or nonce shorter than
//   32 characters, end-session without state are refused; PKCE S256 is required (ProConnect supports it,
//   this harness insists so the client's verifier is really checked);
// - end_session validates id_token_hint (signature, audience) and the registered post-logout URI.
//
// Test hooks (no user interface; the suite drives the interaction over HTTP):
//   PUT  /test/accounts/:sub          JSON claims of an agent (email, given_name, usual_name, siret, ...)
//   PUT  /test/faults/:sub            JSON list of faults for that agent: "id_token_other_aud"
//   GET  /interaction/:uid            the pending interaction (JSON: prompt, params)
//   POST /interaction/:uid/login      form: sub, acr (the level the agent's identity provider gives)
//   POST /interaction/:uid/deny       the agent refuses
//
// Environment: PORT, CLIENT_ID, CLIENT_SECRET, APP_URL (the app's BASE_URL).

import crypto from 'node:crypto';
import http from 'node:http';

import Provider from 'oidc-provider';

const PORT = Number(process.env.PORT || 5002);
const CLIENT_ID = process.env.CLIENT_ID || 'mutualisation-dev';
const CLIENT_SECRET = process.env.CLIENT_SECRET || 'dev-client-secret';
const APP_URL = (process.env.APP_URL || 'http://127.0.0.1:5000').replace(/\/$/, '');
const PREFIX = '/api/v2';
const ISSUER = `http://127.0.0.1:${PORT}${PREFIX}`;
const ACR_VALUES = ['eidas0', 'eidas0-mfa', 'eidas1', 'eidas1-mfa', 'eidas2', 'eidas3'];
const IDENTITY_CLAIMS = ['given_name', 'usual_name', 'uid', 'siret', 'idp_id', 'organization_label'];
const AUTHORIZE_PARAMS = new Set([
  'response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'nonce', 'claims', 'prompt',
  'acr_values', 'idp_hint', 'login_hint', 'siret_hint', 'code_challenge', 'code_challenge_method',
]);
const FAULTS = new Set(['id_token_other_aud']);

const accounts = new Map(); // sub -> claims
const faults = new Map(); // sub -> Set of faults

const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingJwk = { ...privateKey.export({ format: 'jwk' }), kid: 'interop-rs256', alg: 'RS256', use: 'sig' };

const configuration = {
  clients: [{
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    redirect_uris: [`${APP_URL}/connexion/retour`],
    post_logout_redirect_uris: [`${APP_URL}/deconnexion/retour`],
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_post',
    id_token_signed_response_alg: 'RS256',
    userinfo_signed_response_alg: 'RS256',
  }],
  jwks: { keys: [signingJwk] },
  cookies: { keys: ['interop-cookie-key-not-secret'] },
  routes: {
    authorization: '/authorize',
    token: '/token',
    userinfo: '/userinfo',
    end_session: '/session/end',
    jwks: '/jwks',
  },
  scopes: ['openid', 'email', ...IDENTITY_CLAIMS],
  claims: {
    openid: ['sub'],
    email: ['email'],
    ...Object.fromEntries(IDENTITY_CLAIMS.map((name) => [name, [name]])),
    acr: null,
    amr: null,
    auth_time: null,
  },
  acrValues: ACR_VALUES,
  responseTypes: ['code'],
  pkce: { methods: ['S256'], required: () => true },
  features: {
    devInteractions: { enabled: false },
    pushedAuthorizationRequests: { enabled: false },
    claimsParameter: { enabled: true },
    jwtUserinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => {
        ctx.body = `<!doctype html><html lang="fr"><body><h1>Déconnexion</h1>${form}
          <button form="op.logoutForm" name="logout" value="yes">Se déconnecter</button></body></html>`;
      },
      postLogoutSuccessSource: async (ctx) => { ctx.body = 'Déconnecté.'; },
    },
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: async (ctx, sub) => {
    if (!accounts.has(sub)) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...accounts.get(sub) }) };
  },
  // Consent is ProConnect's business, not the service's: every requested scope and claim is granted.
  loadExistingGrant: async (ctx) => {
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
    grant.addOIDCClaims([...ctx.oidc.requestParamClaims]);
    await grant.save();
    return grant;
  },
  renderError: async (ctx, out) => {
    ctx.type = 'json';
    ctx.body = out;
  },
};

const provider = new Provider(ISSUER, configuration);
provider.proxy = false;
const oidc = provider.callback();

function send(res, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function refuse(res, description) {
  console.log(`refused: ${description}`);
  send(res, 400, { error: 'invalid_request', error_description: description });
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

const b64 = (data) => Buffer.from(data).toString('base64url');

function resign(idToken, changes) {
  const [header, payload] = idToken.split('.');
  const claims = { ...JSON.parse(Buffer.from(payload, 'base64url')), ...changes };
  const input = `${header}.${b64(JSON.stringify(claims))}`;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}

// The token response, rewritten for the subjects with a fault (correctly signed by this provider).
function withTokenFaults(res) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    try {
      const body = JSON.parse(chunk.toString());
      const [, payload] = body.id_token.split('.');
      const { sub } = JSON.parse(Buffer.from(payload, 'base64url'));
      if (faults.get(sub)?.has('id_token_other_aud')) {
        body.id_token = resign(body.id_token, { aud: 'another-client', azp: CLIENT_ID });
        const text = JSON.stringify(body);
        res.setHeader('Content-Length', Buffer.byteLength(text));
        return end(text, ...rest);
      }
    } catch { /* not a token response: unchanged */ }
    return end(chunk, ...rest);
  };
}

function checkStrictly(url, res) {
  const params = url.searchParams;
  if (url.pathname === `${PREFIX}/authorize`) {
    const unknown = [...params.keys()].filter((name) => !AUTHORIZE_PARAMS.has(name));
    if (unknown.length) return refuse(res, `Y000400 unknown parameters: ${unknown.join(', ')}`), false;
    for (const name of ['state', 'nonce']) {
      if ((params.get(name) || '').length < 32) return refuse(res, `Y000400 ${name} shorter than 32`), false;
    }
  }
  if (url.pathname === `${PREFIX}/session/end` && !params.get('state')) {
    return refuse(res, 'Y000400 state is required'), false;
  }
  return true;
}

async function interaction(req, res, url) {
  const [, , uid, action] = url.pathname.split('/');
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return refuse(res, 'interaction mismatch');
  if (req.method === 'GET') return send(res, 200, { prompt: details.prompt, params: details.params });
  const form = new URLSearchParams(await readBody(req));
  let result;
  if (action === 'deny') {
    result = { error: 'access_denied', error_description: 'End-User aborted interaction' };
  } else {
    const sub = form.get('sub');
    if (!accounts.has(sub)) return refuse(res, `unknown account ${sub}`);
    const acr = form.get('acr') || 'eidas1';
    const requested = JSON.parse(details.params.claims || '{}')?.id_token?.acr;
    if (requested?.essential && Array.isArray(requested.values) && !requested.values.includes(acr)) {
      // What ProConnect answers when the identity provider cannot reach the level asked for.
      result = { error: 'access_denied', error_description: 'none of the requested ACRs could be obtained' };
    } else {
      result = { login: { accountId: sub, acr, amr: acr.endsWith('-mfa') ? ['pwd', 'otp'] : ['pwd'] } };
    }
  }
  return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function testHook(req, res, url) {
  const [, , kind, sub] = url.pathname.split('/').map(decodeURIComponent);
  const body = JSON.parse(await readBody(req));
  if (kind === 'accounts') accounts.set(sub, body);
  else if (kind === 'faults' && body.every((f) => FAULTS.has(f))) faults.set(sub, new Set(body));
  else return refuse(res, `bad test hook ${kind}`);
  res.writeHead(204);
  return res.end();
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  try {
    if (url.pathname.startsWith('/test/') && req.method === 'PUT') return await testHook(req, res, url);
    if (url.pathname.startsWith('/interaction/')) return await interaction(req, res, url);
    if (url.pathname === PREFIX || url.pathname.startsWith(`${PREFIX}/`)) {
      if (!checkStrictly(url, res)) return undefined;
      if (url.pathname === `${PREFIX}/token`) withTokenFaults(res);
      req.originalUrl = req.url;
      req.url = req.url.slice(PREFIX.length) || '/';
      return oidc(req, res);
    }
    return send(res, 404, { error: 'not_found' });
  } catch (error) {
    console.error(error);
    return send(res, 500, { error: 'server_error', error_description: String(error) });
  }
});

server.listen(PORT, '127.0.0.1', () => {
  console.log(`oidc-provider (interop) ${ISSUER} for ${APP_URL}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
