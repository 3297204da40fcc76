// MSAL glue for the defender-tags web UI (ES module, no dependencies but MSAL's UMD bundle,
// which index.html loads first as `globalThis.msal`).
//
// The Rust side (crates/web-ui/src/msal.rs) binds to `globalThis.defenderTagsAuth`. A global is
// used instead of an ES import so that the wasm module can load (and its DOM tests run) without
// this file.
//
// Tokens: MSAL keeps its own cache in sessionStorage (cacheLocation below): a sign-in survives a
// reload of the tab, ends with the tab, and is never shared with other tabs or written to disk by
// our code. This module never stores, logs or posts a token; it hands it to the caller (the Rust
// API client), which sends it only to the configured API origin.
//
// Demo mode (the local emulator): MSAL refuses an authority that is not https
// ("authority_uri_insecure") and checks that the discovery document's issuer has the authority's
// scheme and host. The emulator is plain http on a loopback address. So in demo mode MSAL is
// given an https *alias* of the emulator origin (https://127.0.0.1:PORT/...) plus:
//   - a network client (system.networkClient, INetworkModule) that sends requests for the alias
//     to the real http origin and, in JSON replies (the OIDC discovery document), rewrites the
//     http origin back to the alias, as a TLS-terminating proxy in front of the emulator would;
//   - a navigation client (system.navigationClient, INavigationClient) that maps the alias to
//     the http origin when MSAL sends the browser to the authorize endpoint.
// This is enabled only when the page itself is served over http from a loopback host and the
// authority is an http loopback origin, and it maps only that one origin, so it can never
// downgrade a real (Entra ID) sign-in.

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

let app = null;
let scopes = [];
// The configured tenant's id (a GUID) when known: MSAL's cache is per tab, not per tenant, so
// after a tenant switch it may still hold the other tenant's account, which must not be used.
let tenantId = "";

function isLoopbackPage() {
  return window.location.protocol === "http:" && LOOPBACK_HOSTS.has(window.location.hostname);
}

/** Maps the https alias of the emulator origin to the real http origin and back. */
class LoopbackAlias {
  /** httpOrigin: the emulator's origin, e.g. http://127.0.0.1:41234 (the page's own, or another
   *  loopback origin when the page is hosted elsewhere, as behind nginx in the tests). */
  constructor(httpOrigin) {
    this.http = httpOrigin;
    this.https = "https://" + new URL(httpOrigin).host;
  }
  toHttp(url) {
    return url === this.https || url.startsWith(this.https + "/")
      ? this.http + url.slice(this.https.length)
      : url;
  }
  toHttps(text) {
    return text.split(this.http).join(this.https);
  }
}

function headerDict(headers) {
  const out = {};
  headers.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return out;
}

/** INetworkModule for demo mode: fetch through the loopback alias. */
class LoopbackNetworkClient {
  constructor(alias) {
    this.alias = alias;
  }
  async send(method, url, options) {
    const init = { method, headers: (options && options.headers) || {} };
    if (method === "POST") init.body = (options && options.body) || "";
    const response = await fetch(this.alias.toHttp(url), init);
    const text = await response.text();
    let body;
    try {
      body = JSON.parse(method === "GET" ? this.alias.toHttps(text) : text);
    } catch (_) {
      body = {};
    }
    return { headers: headerDict(response.headers), body, status: response.status };
  }
  sendGetRequestAsync(url, options) {
    return this.send("GET", url, options);
  }
  sendPostRequestAsync(url, options) {
    return this.send("POST", url, options);
  }
}

/** INavigationClient for demo mode: leave the app for the emulator's http authorize page. */
class LoopbackNavigationClient extends globalThis.msal.NavigationClient {
  constructor(alias) {
    super();
    this.alias = alias;
  }
  navigateExternal(url, options) {
    return super.navigateExternal(this.alias.toHttp(url), options);
  }
  navigateInternal(url, options) {
    return super.navigateInternal(this.alias.toHttp(url), options);
  }
}

/** Turns MSAL's (or any) error into an Error whose message starts with a stable code. */
function describe(e) {
  if (e && e.errorCode) {
    const err = new Error(`${e.errorCode}: ${e.errorMessage || e.message || ""}`.trim());
    err.code = e.errorCode;
    err.interactionRequired = e instanceof globalThis.msal.InteractionRequiredAuthError;
    return err;
  }
  return e instanceof Error ? e : new Error(String(e));
}

function summary(account) {
  if (!account) return null;
  return {
    name: account.name || account.username || "",
    username: account.username || "",
    tenantId: account.tenantId || "",
  };
}

/** Reads the permission claims (not the signature: that is the API's job) of an access token. */
function permissionClaims(token) {
  try {
    const part = token.split(".")[1] || "";
    const b64 = part.replace(/-/g, "+").replace(/_/g, "/");
    const json = decodeURIComponent(
      Array.from(atob(b64 + "===".slice((b64.length + 3) % 4)))
        .map((c) => "%" + c.charCodeAt(0).toString(16).padStart(2, "0"))
        .join(""),
    );
    const claims = JSON.parse(json);
    const scp = typeof claims.scp === "string" ? claims.scp.split(" ").filter(Boolean) : [];
    const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
    // What the connection check shows: who the token is for and where it is valid (never the
    // token itself, nor any claim that could be replayed).
    const str = (v) => (typeof v === "string" ? v : "");
    return {
      scp,
      roles,
      aud: Array.isArray(claims.aud) ? claims.aud.map(String).join(" ") : str(claims.aud),
      tid: str(claims.tid),
      iss: str(claims.iss),
      exp: typeof claims.exp === "number" ? claims.exp : 0,
    };
  } catch (_) {
    return { scp: [], roles: [], aud: "", tid: "", iss: "", exp: 0 };
  }
}

function ofThisTenant(account) {
  return !tenantId || !account.tenantId || account.tenantId.toLowerCase() === tenantId.toLowerCase();
}

function activeAccount() {
  if (!app) return null;
  const active = app.getActiveAccount();
  if (active && ofThisTenant(active)) return active;
  const mine = app.getAllAccounts().filter(ofThisTenant);
  if (mine.length > 0) {
    app.setActiveAccount(mine[0]);
    return mine[0];
  }
  app.setActiveAccount(null);
  return null;
}

/**
 * Creates MSAL and completes a redirect sign-in if the page is the redirect target.
 * config: { clientId, authority, redirectUri, scopes: string[], demo: bool, tenantId?: string }
 * Resolves to the signed-in account ({ name, username, tenantId }) or null.
 */
async function init(config) {
  scopes = Array.from(config.scopes || []);
  const system = {};
  let authority = config.authority;
  const auth = {
    clientId: config.clientId,
    redirectUri: config.redirectUri,
    postLogoutRedirectUri: config.redirectUri,
  };
  tenantId = config.tenantId || "";
  if (config.demo) {
    if (!isLoopbackPage()) {
      throw new Error("demo_mode_unavailable: demo mode needs the page served over http from a loopback address");
    }
    const authorityUrl = new URL(authority);
    if (authorityUrl.protocol !== "http:" || !LOOPBACK_HOSTS.has(authorityUrl.hostname)) {
      throw new Error("demo_mode_unavailable: the demo authority must be an http loopback address");
    }
    const alias = new LoopbackAlias(authorityUrl.origin);
    authority = alias.toHttps(authority);
    auth.knownAuthorities = [authorityUrl.host];
    system.networkClient = new LoopbackNetworkClient(alias);
    system.navigationClient = new LoopbackNavigationClient(alias);
  }
  auth.authority = authority;
  try {
    app = new globalThis.msal.PublicClientApplication({
      auth,
      cache: { cacheLocation: "sessionStorage" },
      system,
    });
    await app.initialize();
    const result = await app.handleRedirectPromise();
    if (result && result.account) {
      app.setActiveAccount(result.account);
    }
    return summary(activeAccount());
  } catch (e) {
    throw describe(e);
  }
}

/** Starts the redirect sign-in (the page navigates away). */
async function signIn() {
  if (!app) throw new Error("not_initialized: sign-in is not configured");
  try {
    await app.loginRedirect({ scopes });
  } catch (e) {
    throw describe(e);
  }
}

/**
 * Forgets the account in this tab (MSAL's cache) without a round trip to the identity provider.
 * `clearCache`, not `logoutRedirect` with its navigation cancelled: the latter leaves MSAL's
 * "interaction in progress" flag set, so the next sign-in failed with interaction_in_progress
 * until the page was reloaded.
 */
async function signOut() {
  if (!app) return;
  const account = activeAccount();
  try {
    await app.clearCache(account ? { account } : undefined);
    app.setActiveAccount(null);
  } catch (e) {
    throw describe(e);
  }
}

/**
 * A token for the configured scopes: silently from MSAL's cache or refresh token, else by an
 * interactive redirect (InteractionRequiredAuthError). With `otherScopes` (the Graph scope), a
 * token for those instead, silently only (consent_required when it needs the user). Resolves to
 * { accessToken, scp: string[], roles: string[] }.
 */
async function getToken(forceRefresh, otherScopes) {
  const account = activeAccount();
  if (!app || !account) throw new Error("not_signed_in: sign in first");
  // A token for another resource (Microsoft Graph, for advanced hunting) is only ever asked for
  // silently: it is optional, so it must never send the user away from the page.
  const other = Array.isArray(otherScopes) && otherScopes.length > 0;
  try {
    const result = await app.acquireTokenSilent({
      scopes: other ? Array.from(otherScopes, String) : scopes,
      account,
      forceRefresh: !!forceRefresh,
      // Cache, then refresh token, and no hidden-iframe renewal: our pages refuse to be framed
      // (CSP frame-ancestors 'none'), so that renewal could only time out after 10 s and then
      // fail with timed_out instead of asking the user to sign in again.
      cacheLookupPolicy: globalThis.msal.CacheLookupPolicy.AccessTokenAndRefreshToken,
    });
    return { accessToken: result.accessToken, ...permissionClaims(result.accessToken) };
  } catch (e) {
    // An expired or revoked refresh token is answered invalid_grant, which only a new sign-in fixes.
    const needsInteraction = e instanceof globalThis.msal.InteractionRequiredAuthError || e?.errorCode === "invalid_grant";
    if (needsInteraction && other) {
      throw new Error(
        `consent_required: a token for ${otherScopes.join(" ")} needs you to sign in again or an administrator's consent (${describe(e).message})`,
      );
    }
    if (needsInteraction) {
      if (redirectsHeld > 0) {
        // A bulk run is in flight: leaving the page now would lose its report and undo.
        throw new Error(
          "sign_in_required: your sign-in needs renewing. The run stopped here so its report and undo are kept; sign in again, then run the machines not yet changed.",
        );
      }
      await app.acquireTokenRedirect({ scopes, account });
      throw new Error("interaction_required: redirecting to sign in");
    }
    throw describe(e);
  }
}

/** Counted, so overlapping holders (two runs in two embedded widgets) cannot release each other. */
let redirectsHeld = 0;

/** While held (a bulk run is in flight), getToken never redirects away from the page. */
function holdRedirects(held) {
  redirectsHeld = Math.max(0, redirectsHeld + (held ? 1 : -1));
}

globalThis.defenderTagsAuth = Object.freeze({ init, signIn, signOut, getToken, holdRedirects, isLoopbackPage });
