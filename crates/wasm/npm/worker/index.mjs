// The edge proxy as a Cloudflare Workers module (also runs in plain workerd).
//
// Uses the package's proxy entry (web build) with the .wasm imported as a module (Workers compile it at
// deploy time; they forbid compiling WebAssembly from bytes at run time). Configuration comes
// from the worker's environment, validated by the same Rust code as the Node server's
// proxy.json:
//   API_BASE_URL     the Defender API host, e.g. https://api.security.microsoft.com (required)
//   ALLOWED_ORIGINS  exact origins of the calling pages: a JSON list, or a comma-separated string
//   PUBLIC_URL       optional: the proxy's origin as clients see it (default: the request's)
//   TIMEOUT_MS       optional: upstream timeout in milliseconds
// An invalid environment answers every request 500 ProxyMisconfigured naming the variable, and
// nothing is forwarded.
import { initSync, EdgeProxy } from "../proxy/web/defender_tags_proxy.js";
import wasmModule from "../proxy/web/defender_tags_proxy_bg.wasm";

initSync({ module: wasmModule });

const VARIABLES = {
  API_BASE_URL: "apiBaseUrl",
  ALLOWED_ORIGINS: "allowedOrigins",
  PUBLIC_URL: "publicUrl",
  TIMEOUT_MS: "timeoutMs",
};

function parseList(text) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`invalid proxy configuration:\nALLOWED_ORIGINS: not a JSON list (${e.message})`);
  }
}

function configFrom(env) {
  const config = {};
  const origins = env.ALLOWED_ORIGINS;
  if (env.API_BASE_URL !== undefined) config.apiBaseUrl = env.API_BASE_URL;
  if (origins !== undefined) {
    config.allowedOrigins =
      typeof origins === "string" && !origins.trim().startsWith("[")
        ? origins.split(",").map((o) => o.trim()).filter((o) => o !== "")
        : typeof origins === "string"
          ? parseList(origins)
          : origins;
  }
  if (env.PUBLIC_URL !== undefined && env.PUBLIC_URL !== "") config.publicUrl = env.PUBLIC_URL;
  if (env.TIMEOUT_MS !== undefined && env.TIMEOUT_MS !== "") {
    config.timeoutMs = typeof env.TIMEOUT_MS === "number" ? env.TIMEOUT_MS : Number(env.TIMEOUT_MS);
  }
  return config;
}

/** Field names in the Rust messages, shown with the variable that sets them. */
function explain(message) {
  let text = message;
  for (const [variable, field] of Object.entries(VARIABLES)) {
    text = text.replaceAll(`\n${field}`, `\n${variable} (${field})`);
  }
  return text;
}

// The environment is the same for every request of an isolate: validate it once.
let cached;
function proxyFor(env) {
  if (cached?.env === env) return cached;
  try {
    cached = { env, proxy: new EdgeProxy(configFrom(env), "worker") };
  } catch (e) {
    const message = explain(`${e?.message ?? e}`);
    console.error(`defender-tags-proxy: ${message}`);
    cached = { env, error: message };
  }
  return cached;
}

export default {
  async fetch(request, env) {
    const { proxy, error } = proxyFor(env);
    if (error !== undefined) {
      return Response.json({ error: { code: "ProxyMisconfigured", message: error } }, { status: 500 });
    }
    const response = await proxy.handle(request);
    if (response.status >= 400) {
      // Workers logs: method, path, status, origin and the refusal code; never the token.
      const code = await response
        .clone()
        .json()
        .then((b) => b?.error?.code, () => undefined);
      console.log(
        `${request.method} ${new URL(request.url).pathname} ${response.status} origin=${request.headers.get("origin") ?? "-"} refused=${code ?? response.status}`,
      );
    }
    return response;
  },
};
