// A real OAuth 2.0 / OpenID Connect issuer (oidc-provider) shaped like the OpenAI one,
// for codex-login's interoperability tests. Dev keys, in-memory storage, loopback only.
//
// stdout carries JSON lines only: one {"event":"ready",...} line, then one line per
// provider event. Everything else (oidc-provider's notices and warnings) goes to stderr.
//
// Environment: PORT (0 = any free port), CLIENT_ID, CLAIMS_JSON, ACCESS_TOKEN_TTL,
// TOKEN_EXCHANGE=fail, DEVICE_INTERVAL (seconds; adds `interval` to the device code answer,
// which oidc-provider leaves out), DEVICE_CODE_TTL (seconds, default 600),
// EXIT_ON_STDIN_EOF=1 (exit when the parent closes our stdin), DEFAULT_ROUTES=1 (keep
// oidc-provider's own routes, /auth, /token, /token/revocation, /device/auth, ..., instead
// of OpenAI's paths: a default-shaped server, found only through its metadata).
import * as crypto from 'node:crypto';
import * as http from 'node:http';

// oidc-provider prints its NOTICE lines with console.info: keep stdout for JSON lines.
console.info = console.error;
console.log = console.error;

const { default: Provider, errors } = await import('oidc-provider');

const env = process.env;
const CLIENT_ID = env.CLIENT_ID || 'app_EMoamEEZ73f0CkXaXp7hrann';
const ACCESS_TOKEN_TTL = Number.parseInt(env.ACCESS_TOKEN_TTL || '3600', 10);
const AUTH_CLAIM = 'https://api.openai.com/auth';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';
const DEVICE_INTERVAL = env.DEVICE_INTERVAL ? Number.parseInt(env.DEVICE_INTERVAL, 10) : undefined;
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const API_KEY_TYPE = 'urn:openai:params:oauth:token-type:api-key';
// The resource (audience) of the JWT access tokens, as in OpenAI's own access tokens.
const API_RESOURCE = 'https://api.openai.com/v1';
// OpenAI's paths (the default), or oidc-provider's own routes with DEFAULT_ROUTES=1.
const OPENAI_ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  revocation: '/oauth/revoke',
  device_authorization: '/oauth/device/code',
  code_verification: '/device',
};
const DEFAULT_ROUTES = env.DEFAULT_ROUTES === '1';

// CLAIMS_JSON is merged over these; a null value removes the claim. `email` is a top-level
// ID token claim, every other key goes into the https://api.openai.com/auth object.
const claimValues = {
  email: 'user@example.com',
  chatgpt_plan_type: 'pro',
  chatgpt_account_id: 'acc-123',
  chatgpt_user_id: 'user-123',
  organization_id: 'org-1',
  project_id: 'proj-1',
  completed_platform_onboarding: true,
  is_org_owner: false,
  ...JSON.parse(env.CLAIMS_JSON || '{}'),
};
const { email, ...authValues } = claimValues;
const authClaim = Object.fromEntries(Object.entries(authValues).filter(([, v]) => v !== null));
// USERS_JSON: claims of particular logins (by the name typed at sign-in), merged over
// the ones above, so that one issuer serves several people and workspaces.
const users = JSON.parse(env.USERS_JSON || '{}');

function claimsOf(sub) {
  const { email: userEmail, ...userAuth } = users[sub] || {};
  return {
    sub, name: sub, email: userEmail ?? email ?? undefined, email_verified: true,
    [AUTH_CLAIM]: { ...authClaim, ...userAuth },
  };
}

let seq = 0;
function log(event, fields = {}) {
  seq += 1;
  process.stdout.write(`${JSON.stringify({ event, seq, ...fields })}\n`);
}

function errorFields(err) {
  return {
    error: err.error ?? err.message,
    error_description: err.error_description,
    error_detail: err.error_detail,
  };
}

async function tokenExchange(ctx) {
  const { params, client } = ctx.oidc;
  if (env.TOKEN_EXCHANGE === 'fail') {
    throw new errors.InvalidGrant('token exchange disabled by TOKEN_EXCHANGE=fail');
  }
  if (params.requested_token !== 'openai-api-key') {
    throw new errors.InvalidRequest('requested_token must be openai-api-key');
  }
  if (params.subject_token_type !== ID_TOKEN_TYPE) {
    throw new errors.InvalidRequest(`subject_token_type must be ${ID_TOKEN_TYPE}`);
  }
  if (!params.subject_token) {
    throw new errors.InvalidRequest('missing required parameter subject_token');
  }
  let payload;
  try {
    ({ payload } = await ctx.oidc.provider.IdToken.validate(params.subject_token, client));
  } catch (err) {
    throw new errors.InvalidGrant(`invalid subject_token: ${err.message}`);
  }
  // IdToken.validate ignores expiry (it serves id_token_hint); an exchange must not.
  if (payload.exp < Date.now() / 1000) {
    throw new errors.InvalidGrant('subject_token is expired');
  }
  ctx.body = {
    access_token: `sk-proj-${crypto.randomBytes(24).toString('base64url')}`,
    token_type: 'Bearer',
    issued_token_type: API_KEY_TYPE,
  };
}

const configuration = {
  clients: [{
    client_id: CLIENT_ID,
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    redirect_uris: ['http://localhost/auth/callback'],
    grant_types: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE, DEVICE_CODE],
    response_types: ['code'],
  }],
  ...(DEFAULT_ROUTES ? {} : { routes: OPENAI_ROUTES }),
  responseTypes: ['code'],
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: {
    openid: ['sub', AUTH_CLAIM],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  conformIdTokenClaims: false,
  async findAccount(ctx, sub) {
    return {
      accountId: sub,
      async claims() {
        return claimsOf(sub);
      },
    };
  },
  // The Codex login sends no prompt=consent; issue a refresh token whenever allowed (for
  // the device grant too).
  async issueRefreshToken(ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: true,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => API_RESOURCE,
      // Without this, a request with the openid scope gets an opaque userinfo token.
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'openid profile email offline_access',
        audience: API_RESOURCE,
        accessTokenFormat: 'jwt',
        accessTokenTTL: ACCESS_TOKEN_TTL,
      }),
    },
  },
  // The access token JWT carries the account claims too, as OpenAI's does.
  extraTokenClaims: async () => ({ [AUTH_CLAIM]: authClaim }),
  ttl: {
    AccessToken: ACCESS_TOKEN_TTL,
    IdToken: 3600,
    RefreshToken: 14 * 24 * 3600,
    Grant: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Interaction: 3600,
    DeviceCode: Number.parseInt(env.DEVICE_CODE_TTL || '600', 10),
  },
};

const server = http.createServer();
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(Number.parseInt(env.PORT || '0', 10), '127.0.0.1', resolve);
});
const issuer = `http://127.0.0.1:${server.address().port}`;
const provider = new Provider(issuer, configuration);
provider.registerGrantType(TOKEN_EXCHANGE, tokenExchange, [
  'requested_token', 'subject_token', 'subject_token_type',
]);

// grant_id (when the request got that far) ties token requests of one login together.
const grantId = (ctx) => ctx.oidc.entities?.Grant?.jti ?? ctx.oidc.entities?.RefreshToken?.grantId;
provider.on('grant.success', (ctx) => log('grant.success', {
  grant_type: ctx.oidc.params.grant_type, client_id: ctx.oidc.client?.clientId, grant_id: grantId(ctx),
  path: ctx.path,
}));
provider.on('grant.error', (ctx, err) => log('grant.error', {
  grant_type: ctx.oidc.params?.grant_type, grant_id: grantId(ctx), path: ctx.path, ...errorFields(err),
}));
provider.on('refresh_token.consumed', (token) => log('refresh_token.consumed', {
  grant_id: token.grantId, rotations: token.rotations,
}));
provider.on('refresh_token.saved', (token) => log('refresh_token.saved', {
  grant_id: token.grantId, rotations: token.rotations,
}));
provider.on('grant.revoked', (ctx, grantId) => log('grant.revoked', {
  grant_id: grantId, route: ctx.oidc.route,
}));
provider.on('revocation.error', (ctx, err) => log('revocation.error', {
  path: ctx.path, ...errorFields(err),
}));
provider.on('authorization.success', (ctx) => log('authorization.success', {
  client_id: ctx.oidc.client?.clientId,
}));
provider.on('authorization.error', (ctx, err) => log('authorization.error', errorFields(err)));
provider.on('device_authorization.success', (ctx, body) => log('device_authorization.success', {
  client_id: ctx.oidc.client?.clientId, user_code: body.user_code, path: ctx.path,
}));
provider.on('device_authorization.error', (ctx, err) => log('device_authorization.error', errorFields(err)));
provider.on('code_verification.error', (ctx, err) => log('code_verification.error', errorFields(err)));
provider.on('server_error', (ctx, err) => log('server_error', {
  path: ctx.path, message: err.message, stack: err.stack,
}));
// oidc-provider has no revocation.success event: log every answered revocation here.
provider.use(async (ctx, next) => {
  await next();
  if (ctx.oidc?.route === 'revocation' && ctx.status === 200) {
    log('revocation.success', { token_type_hint: ctx.oidc.params?.token_type_hint, path: ctx.path });
  }
  if (ctx.oidc?.route === 'discovery' && ctx.method === 'GET') {
    log('discovery', { path: ctx.path, status: ctx.status, host: ctx.get('host') });
  }
  if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && DEVICE_INTERVAL) {
    ctx.body = { ...ctx.body, interval: DEVICE_INTERVAL };
  }
});

server.on('request', provider.callback());
if (env.EXIT_ON_STDIN_EOF === '1') {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
process.stdout.write(`${JSON.stringify({ event: 'ready', issuer, default_routes: DEFAULT_ROUTES })}\n`);
