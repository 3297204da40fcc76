// An edge service's use of the proxy entries, compiled with `tsc --noEmit` against the generated
// .d.ts by `cargo xtask package`: `defender-tags-wasm/proxy` (Node, CommonJS, ready on import) and
// `defender-tags-wasm/proxy/web` (workers: initialised with the compiled module).
import { EdgeProxy, handleRequest, type ProxyConfig } from "defender-tags-wasm/proxy";
import { initSync, EdgeProxy as WorkerProxy } from "defender-tags-wasm/proxy/web";

export async function edge(request: Request): Promise<Response> {
  const config: ProxyConfig = {
    apiBaseUrl: "https://api.security.microsoft.com",
    allowedOrigins: ["https://portal.contoso.com"],
  };
  const response: Response = await handleRequest(request, config);
  return response;
}

export async function edgeService(request: Request, json: string): Promise<Response> {
  const server = new EdgeProxy(json, "server");
  const host: string = server.listenHost;
  const port: number = server.listenPort;
  const limit: number = server.maxBodyBytes;
  void [host, port, limit];
  const worker = new EdgeProxy(
    {
      apiBaseUrl: "https://api.security.microsoft.com",
      allowedOrigins: ["https://portal.contoso.com"],
      publicUrl: "https://defender-proxy.contoso.com",
      timeoutMs: 10_000,
    },
    "worker",
  );
  const response: Response = await worker.handle(request);
  return response;
}

export function workerEntry(module: WebAssembly.Module): WorkerProxy {
  initSync({ module });
  return new WorkerProxy({ apiBaseUrl: "https://api.security.microsoft.com", allowedOrigins: ["https://portal.contoso.com"] }, "worker");
}
