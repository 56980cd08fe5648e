/** An in-process server on a loopback port for the HTTP tests, over the bundled arith-tiny model. */
import { loadModel, type Model } from "../../lib/model/model.ts";
import { createHandler, type ServeHandler, type ServeOptions } from "../../lib/serve/server.ts";

/** The bundled 64-token-context model the tests serve. */
export const ARITH_TINY = new URL("../../scripts/assets/arith-tiny", import.meta.url).pathname;

/** A parsed response body: the tests read its fields as the API documents them. */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** A running server: its base URL, handler (scheduler and counters) and model. */
export interface TestServer {
  readonly url: string;
  readonly handler: ServeHandler;
  readonly model: Model;
  /** POSTs `body` (JSON-encoded unless a string) to `path`; returns the status and the parsed body. */
  post(path: string, body: unknown, headers?: HeadersInit): Promise<{ status: number; json: Json }>;
  /** GETs `path`; returns the status and the parsed body (null when empty). */
  get(path: string, headers?: HeadersInit): Promise<{ status: number; json: Json }>;
}

/**
 * Runs `fn` against a server on 127.0.0.1, port 0, and stops it (and frees the model) afterwards; it serves
 * `modelDir` (default the bundled arith-tiny).
 */
export async function withServer(
  fn: (s: TestServer) => Promise<void>,
  options: Partial<ServeOptions> & { modelDir?: string } = {},
): Promise<void> {
  const { modelDir = ARITH_TINY, ...serveOptions } = options;
  const model = await loadModel(modelDir);
  const handler = createHandler(model, { servedName: "arith-tiny", maxRows: 64, ...serveOptions });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler.handle);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const read = async (res: Response) => {
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };
  const s: TestServer = {
    url,
    handler,
    model,
    post: async (path, body, headers = {}) =>
      read(
        await fetch(url + path, {
          method: "POST",
          body: typeof body === "string" ? body : JSON.stringify(body),
          headers: { "content-type": "application/json", ...headers },
        }),
      ),
    get: async (path, headers = {}) => read(await fetch(url + path, { headers })),
  };
  try {
    await fn(s);
  } finally {
    await server.shutdown();
    // The scheduler serves views over the model (or merged copies sharing it): both go.
    handler.scheduler.model.release();
    model.release();
  }
}
