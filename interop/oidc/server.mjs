// server.mjs runs panva's oidc-provider on 127.0.0.1 for the refresh library's
// interop tests (../oidc_test.go). It is a test fixture, not an example of a
// production setup: in-memory storage, development signing keys, plain http.
//
//	node server.mjs [--rotate=on|off] [--access-ttl=SECONDS] [--refresh-ttl=SECONDS]
//	                [--extra-clients=FILE] [--dpop-nonce=on|off]
//	                [--tls-cert=FILE --tls-key=FILE --tls-ca=FILE]
//
// --rotate sets oidc-provider's rotateRefreshToken for every client: on (the
// default here) issues a new refresh token on each refresh and consumes the old
// one; off keeps the refresh token (the same value comes back). The TTLs are those
// of access tokens (default 60) and refresh tokens (default 3600).
//
// --extra-clients names a JSON file of more clients, {"name": metadata, ...}, in
// oidc-provider's client metadata: private_key_jwt clients with their public
// "jwks", client_secret_jwt clients, clients with dpop_bound_access_tokens. The
// ready line lists them with the others. DPoP (RFC 9449) is always enabled;
// --dpop-nonce=on makes every proof need a server nonce.
//
// --tls-cert, --tls-key and --tls-ca (PEM files) make it listen with https and
// ask for client certificates signed by the CA, with mutual-TLS client
// authentication (RFC 8705 tls_client_auth, matched on the subject DN) and
// certificate-bound access tokens, which the resource checks against the
// certificate its caller presents.
//
// It listens on an ephemeral port and prints one JSON line to stdout once it is
// ready:
//
//	{"type":"ready","issuer":"http://127.0.0.1:PORT","token_endpoint":"…/token",
//	 "resource":"…/resource","rotate":true,"clients":{"basic":{"client_id":…,
//	 "client_secret":…,"token_endpoint_auth_method":…},"post":{…},"public":{…}}}
//
// oidc-provider itself prints NOTICE lines to stdout and WARNING lines to stderr
// (Node 20 is below its supported runtime); readers skip lines that are not JSON.
//
// Then it reads commands from stdin, one JSON object a line, and answers each
// with one JSON line on stdout carrying the same "id":
//
//	{"id":1,"op":"mint","client":"basic","scope":"openid offline_access read"}
//	  → {"id":1,"refresh_token":"…"}
//	    A Grant for the scope and a refresh token in that grant, stored where a
//	    completed authorization-code flow with consent for offline_access leaves
//	    them. "expired":true stores a refresh token whose exp has passed (kept in
//	    storage, as a database that has not yet purged it would). "jkt" binds
//	    it to a DPoP key's thumbprint, as a public client's DPoP sign-in does.
//	{"id":2,"op":"events"}
//	  → {"id":2,"events":[{"name":"grant.error","error":"invalid_grant",
//	     "detail":"refresh token already used","client_id":"…",
//	     "refresh_token":"…"}, …]}
//	    Every token endpoint outcome so far, with the refresh token the request
//	    presented. "detail" is the server-side reason, which oidc-provider does not
//	    send to clients.
//
// Its discovery document is at /.well-known/openid-configuration, and the
// revocation endpoint (RFC 7009) is enabled. At the end of stdin it exits. The protected resource, GET /resource, answers
// 200 with the token's client_id and scope for a valid Bearer access token, and
// 401 with WWW-Authenticate: Bearer error="invalid_token" otherwise.

import { hash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTLSServer } from 'node:https';
import { createInterface } from 'node:readline';
import process from 'node:process';

import Provider from 'oidc-provider';

function flag(name, fallback) {
  const prefix = `--${name}=`;
  const arg = process.argv.slice(2).find((a) => a.startsWith(prefix));
  return arg === undefined ? fallback : arg.slice(prefix.length);
}

function seconds(name, fallback) {
  const v = Number(flag(name, String(fallback)));
  if (!Number.isInteger(v) || v <= 0) {
    throw new Error(`--${name} must be a positive whole number of seconds`);
  }
  return v;
}

const rotateFlag = flag('rotate', 'on');
if (rotateFlag !== 'on' && rotateFlag !== 'off') {
  throw new Error('--rotate must be on or off');
}
const rotate = rotateFlag === 'on';
const dpopNonceFlag = flag('dpop-nonce', 'off');
if (dpopNonceFlag !== 'on' && dpopNonceFlag !== 'off') {
  throw new Error('--dpop-nonce must be on or off');
}
const accessTTL = seconds('access-ttl', 60);
const refreshTTL = seconds('refresh-ttl', 3600);

// The secret of the client_secret_basic client holds every character that
// RFC 6749 §2.3.1 form-encoding changes: a client that sends it raw in the Basic
// header fails (oidc-provider form-decodes the header, so '+' becomes a space
// and a lone '%' is malformed).
const clients = {
  basic: {
    client_id: 'interop-basic',
    client_secret: 'b+a/s:i%c&=secret with spaces~1',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  post: {
    client_id: 'interop-post',
    client_secret: 'p+o/s:t%&=secret~2',
    token_endpoint_auth_method: 'client_secret_post',
  },
  public: {
    client_id: 'interop-public',
    token_endpoint_auth_method: 'none',
  },
};

const extraClients = flag('extra-clients', '');
if (extraClients !== '') {
  Object.assign(clients, JSON.parse(readFileSync(extraClients, 'utf8')));
}

const accountId = 'interop-user';

// Node closes an idle keep-alive connection after 5 s by default; a client that
// posts on it at that moment gets a connection reset, and Go does not resend a
// POST that it has written. Keep connections for longer than any test runs.
const tlsCert = flag('tls-cert', '');
const tls = tlsCert !== '';
const server = tls
  ? createTLSServer({
    cert: readFileSync(tlsCert),
    key: readFileSync(flag('tls-key', '')),
    ca: readFileSync(flag('tls-ca', '')),
    requestCert: true,
    rejectUnauthorized: false, // certificateAuthorized decides, per request
  })
  : createServer();
server.keepAliveTimeout = 600_000;
await new Promise((resolve, reject) => {
  server.once('error', reject);
  server.listen(0, '127.0.0.1', resolve);
});
const { port } = server.address();
const issuer = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;

// The client certificate of a request, or undefined.
function peerCertificate(socket) {
  const cert = socket.getPeerX509Certificate?.();
  return cert ?? undefined;
}

const provider = new Provider(issuer, {
  clients: Object.values(clients).map((c) => ({
    ...c,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: ['https://client.example/cb'],
  })),
  scopes: ['openid', 'offline_access', 'read', 'write'],
  rotateRefreshToken: rotate,
  clientAuthMethods: ['client_secret_basic', 'client_secret_jwt', 'client_secret_post', 'private_key_jwt', 'none',
    ...(tls ? ['tls_client_auth'] : [])],
  clockTolerance: 0,
  ttl: {
    AccessToken: accessTTL,
    AuthorizationCode: 60,
    Grant: 86400,
    IdToken: 3600,
    Interaction: 3600,
    RefreshToken: refreshTTL,
    Session: 86400,
  },
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
  features: {
    devInteractions: { enabled: false },
    // Revocation (RFC 7009) for oidc_revoke_test.go; discovery is always on.
    revocation: { enabled: true },
    dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => dpopNonceFlag === 'on' },
    mTLS: {
      enabled: tls,
      tlsClientAuth: true,
      certificateBoundAccessTokens: true,
      getCertificate: (ctx) => peerCertificate(ctx.socket),
      certificateAuthorized: (ctx) => ctx.socket.authorized === true,
      certificateSubjectMatches: (ctx, property, expected) => property === 'tls_client_auth_subject_dn'
        && peerCertificate(ctx.socket)?.subject === expected,
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  cookies: { keys: ['interop-cookie-key-not-secret'] },
});

// Token endpoint outcomes, for the "events" command.
const events = [];
provider.on('grant.success', (ctx) => {
  events.push({
    name: 'grant.success',
    client_id: ctx.oidc.client?.clientId,
    refresh_token: ctx.oidc.params?.refresh_token,
  });
});
provider.on('grant.error', (ctx, err) => {
  events.push({
    name: 'grant.error',
    error: err.error,
    detail: err.error_detail,
    client_id: ctx.oidc.client?.clientId,
    refresh_token: ctx.oidc.params?.refresh_token,
  });
});
provider.on('server_error', (_ctx, err) => {
  events.push({ name: 'server_error', error: 'server_error', detail: String(err) });
  console.error('oidc-provider server_error:', err);
});

async function resource(req, res) {
  const [scheme, token] = (req.headers.authorization ?? '').split(' ');
  // A DPoP token is looked up too, but its proof is not checked here: the
  // jwsverify module checks every proof Transport sends, with go-jose.
  const at = ['bearer', 'dpop'].includes(scheme?.toLowerCase()) && token
    ? await provider.AccessToken.find(token)
    : undefined;
  const bound = at?.['x5t#S256'];
  const cert = bound ? peerCertificate(req.socket) : undefined;
  if (!at || at.isExpired || (bound && (!cert || hash('sha256', cert.raw, 'base64url') !== bound))) {
    res.writeHead(401, {
      'Content-Type': 'application/json',
      'WWW-Authenticate': 'Bearer realm="interop", error="invalid_token"',
    });
    res.end('{"error":"invalid_token"}');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ client_id: at.clientId, scope: at.scope, jkt: at.jkt }));
}

const callback = provider.callback();
server.on('request', (req, res) => {
  if (req.url === '/resource') {
    resource(req, res).catch((err) => {
      console.error('resource:', err);
      res.writeHead(500);
      res.end();
    });
    return;
  }
  callback(req, res);
});

async function mint({ client: name, scope, expired, jkt }) {
  const c = clients[name];
  if (!c) {
    throw new Error(`unknown client ${JSON.stringify(name)}`);
  }
  if (typeof scope !== 'string' || !scope.split(' ').includes('offline_access')) {
    throw new Error('scope must include offline_access for a refresh token to be issued');
  }
  const client = await provider.Client.find(c.client_id);
  const grant = new provider.Grant({ accountId, clientId: client.clientId });
  grant.addOIDCScope(scope);
  const grantId = await grant.save();
  const now = Math.floor(Date.now() / 1000);
  const rt = new provider.RefreshToken({
    accountId,
    authTime: now,
    client,
    grantId,
    gty: 'authorization_code',
    scope,
    // A public client's sign-in with DPoP binds its refresh token to the key
    // (RFC 9449 §5): "jkt" mints one bound so.
    ...(jkt ? { jkt } : {}),
  });
  if (!expired) {
    return rt.save();
  }
  // RefreshToken.save stores for the remaining lifetime, so a token whose exp
  // has passed would never be stored: write it through the adapter with a
  // storage lifetime of its own, the way a database row outlives its exp.
  rt.iat = now - 120;
  rt.exp = now - 60;
  rt.jti = rt.generateTokenId();
  const { value, payload } = await rt.getValueAndPayload();
  await rt.adapter.upsert(rt.jti, payload, 300);
  return value;
}

function send(obj) {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch {
    send({ error: `not JSON: ${line.slice(0, 80)}` });
    return;
  }
  try {
    switch (cmd.op) {
      case 'mint':
        send({ id: cmd.id, refresh_token: await mint(cmd) });
        break;
      case 'events':
        send({ id: cmd.id, events });
        break;
      default:
        throw new Error(`unknown op ${JSON.stringify(cmd.op)}`);
    }
  } catch (err) {
    send({ id: cmd.id, error: [err?.message ?? err, err?.error_description].filter(Boolean).join(': ') });
  }
});
lines.on('close', () => {
  server.close();
  process.exit(0);
});

send({
  type: 'ready',
  issuer,
  token_endpoint: `${issuer}/token`,
  resource: `${issuer}/resource`,
  rotate,
  access_ttl: accessTTL,
  refresh_ttl: refreshTTL,
  clients,
});
