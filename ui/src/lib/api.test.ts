import { describe, expect, it } from "vitest";
import { Api, ApiError, httpTransport, inDesktopApp, tokenFromHash } from "./api";

const TOKEN = "0123456789abcdef0123456789abcdef";

/** A stand-in for the network that records requests and answers like `slipway serve`. */
function fakeFetch(status: number, body: unknown) {
  const seen: { url: string; init: RequestInit }[] = [];
  const fn = async (url: string, init: RequestInit) => {
    seen.push({ url, init });
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  };
  return { fn, seen };
}

describe("the serve token", () => {
  it("is read from the URL fragment serve prints", () => {
    expect(tokenFromHash(`#token=${TOKEN}`)).toBe(TOKEN);
  });
  it("is refused when it is not a hex token", () => {
    expect(tokenFromHash("#token=<script>")).toBeUndefined();
    expect(tokenFromHash("")).toBeUndefined();
  });
});

describe("transport choice", () => {
  it("uses Tauri IPC only inside the desktop app", () => {
    expect(inDesktopApp({ __TAURI_INTERNALS__: {} })).toBe(true);
    expect(inDesktopApp({})).toBe(false);
  });
});

describe("the HTTP transport", () => {
  it("posts the request with the bearer token and returns the response", async () => {
    const net = fakeFetch(200, { name: "slipway", version: "1.2.3" });
    const api = new Api(httpTransport(TOKEN, net.fn));
    const version = await api.call("version", {});
    expect(version.version).toBe("1.2.3");
    expect(net.seen[0].url).toBe("/api/version");
    expect((net.seen[0].init.headers as Record<string, string>).Authorization).toBe(`Bearer ${TOKEN}`);
  });

  it("turns the engine's error into an ApiError with its stable code", async () => {
    const net = fakeFetch(404, { code: "unknown_command", message: "unknown command `x`" });
    const api = new Api(httpTransport(TOKEN, net.fn));
    await expect(api.transport.call("x", {})).rejects.toMatchObject({
      code: "unknown_command",
      message: "unknown command `x`",
    });
  });

  it("says what to do when there is no token, without calling the network", async () => {
    const net = fakeFetch(200, {});
    const api = new Api(httpTransport(undefined, net.fn));
    const err = await api.call("status", {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toContain("slipway serve");
    expect(net.seen).toHaveLength(0);
  });
});
