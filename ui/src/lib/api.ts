// The one API client. It speaks to the same command table over whichever
// transport the page runs in: Tauri IPC inside the desktop app, HTTP (with
// the `slipway serve` token) in a browser. Types come from bindings.ts,
// generated from the Rust types.

import type { ApiError as ApiErrorBody, CommandName, Commands, ErrorCode, Event } from "./bindings";

/** A command failed: `code` is stable (branch on it), `message` is for people. */
export class ApiError extends Error {
  readonly code: ErrorCode | "transport";
  constructor(code: ErrorCode | "transport", message: string) {
    super(message);
    this.name = "ApiError";
    this.code = code;
  }
}

export type EventListener = (event: Event) => void;

export interface Transport {
  readonly kind: "tauri" | "http";
  call(command: string, request: unknown): Promise<unknown>;
  /** Starts delivering events to `listener`; returns the function that stops it. */
  subscribe(listener: EventListener): () => void;
}

function isApiErrorBody(value: unknown): value is ApiErrorBody {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as ApiErrorBody).code === "string" &&
    typeof (value as ApiErrorBody).message === "string"
  );
}

function toApiError(value: unknown): ApiError {
  if (value instanceof ApiError) return value;
  if (isApiErrorBody(value)) return new ApiError(value.code, value.message);
  return new ApiError("transport", value instanceof Error ? value.message : String(value));
}

// ---- Tauri IPC -----------------------------------------------------------

/** True inside the desktop app's webview. */
export function inDesktopApp(win: object = globalThis): boolean {
  return "__TAURI_INTERNALS__" in win;
}

export function tauriTransport(): Transport {
  return {
    kind: "tauri",
    async call(command, request) {
      const { invoke } = await import("@tauri-apps/api/core");
      try {
        return await invoke("rpc", { command, request });
      } catch (err) {
        throw toApiError(err);
      }
    },
    subscribe(listener) {
      let stop: (() => void) | undefined;
      let stopped = false;
      void import("@tauri-apps/api/event").then(({ listen }) =>
        listen<Event>("slipway://event", (e) => listener(e.payload)).then((unlisten) => {
          if (stopped) unlisten();
          else stop = unlisten;
        }),
      );
      return () => {
        stopped = true;
        stop?.();
      };
    },
  };
}

// ---- HTTP (slipway serve) ------------------------------------------------

const TOKEN_KEY = "slipway.token";

/** The token `slipway serve` put in the URL fragment (`#token=…`), if any. */
export function tokenFromHash(hash: string): string | undefined {
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  const token = params.get("token");
  return token && /^[0-9a-f]{16,}$/i.test(token) ? token : undefined;
}

/**
 * Takes the token from the URL fragment (then removes it from the address
 * bar, so it is not bookmarked or shared by accident) or from this tab's
 * session storage.
 */
export function takeToken(loc: Location = location, storage: Storage = sessionStorage): string | undefined {
  const fromHash = tokenFromHash(loc.hash);
  if (fromHash) {
    storage.setItem(TOKEN_KEY, fromHash);
    history.replaceState(null, "", loc.pathname + loc.search);
    return fromHash;
  }
  return storage.getItem(TOKEN_KEY) ?? undefined;
}

type Fetch = (input: string, init: RequestInit) => Promise<Response>;

export function httpTransport(token: string | undefined, fetchFn: Fetch = (i, r) => fetch(i, r)): Transport {
  return {
    kind: "http",
    async call(command, request) {
      if (!token) {
        throw new ApiError(
          "unauthorized",
          "No API token: open the URL that `slipway serve` printed (it ends in #token=…).",
        );
      }
      let response: Response;
      try {
        response = await fetchFn(`/api/${encodeURIComponent(command)}`, {
          method: "POST",
          headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
          body: JSON.stringify(request ?? {}),
        });
      } catch (err) {
        throw new ApiError("transport", `Slipway is not answering: ${(err as Error).message}`);
      }
      const body: unknown = await response.json().catch(() => undefined);
      if (!response.ok) {
        throw isApiErrorBody(body)
          ? toApiError(body)
          : new ApiError("transport", `HTTP ${response.status} from /api/${command}`);
      }
      return body;
    },
    subscribe(listener) {
      if (!token || typeof EventSource === "undefined") return () => {};
      const source = new EventSource(`/api/events?token=${encodeURIComponent(token)}`);
      source.onmessage = (msg) => {
        try {
          listener(JSON.parse(msg.data) as Event);
        } catch {
          // A malformed event is dropped; the stream goes on.
        }
      };
      return () => source.close();
    },
  };
}

// ---- The client ----------------------------------------------------------

export function pickTransport(): Transport {
  return inDesktopApp() ? tauriTransport() : httpTransport(takeToken());
}

export class Api {
  constructor(readonly transport: Transport) {}

  async call<K extends CommandName>(
    command: K,
    request: Commands[K]["request"],
  ): Promise<Commands[K]["response"]> {
    return (await this.transport.call(command, request)) as Commands[K]["response"];
  }

  onEvent(listener: EventListener): () => void {
    return this.transport.subscribe(listener);
  }
}

let shared: Api | undefined;

/** The page's API client, created on first use with the right transport. */
export function api(): Api {
  shared ??= new Api(pickTransport());
  return shared;
}
