// Small helpers shared by the end-to-end tests: where the built binaries
// are, starting `slipway serve` and reading the URL it prints, waiting.

import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const TARGET = process.env.CARGO_TARGET_DIR ? resolve(process.env.CARGO_TARGET_DIR) : join(ROOT, "target");
export const SLIPWAY = join(TARGET, "debug", "slipway");
/** The desktop app under test; the memory benchmark points it at a release build. */
export const DESKTOP = process.env.SLIPWAY_DESKTOP ? resolve(process.env.SLIPWAY_DESKTOP) : join(TARGET, "debug", "slipway-desktop");
export const OUT = join(ROOT, "tests", ".out");
mkdirSync(OUT, { recursive: true });

export function tempDir(prefix) {
  return mkdtempSync(join(tmpdir(), `slipway-${prefix}-`));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(what, fn, timeoutMs = 15_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await fn();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ""}`);
}

/** Starts `slipway serve` on a free port; resolves once it printed its URL. */
export async function startServe(dataDir, env = {}) {
  const child = spawn(SLIPWAY, ["serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const lines = createInterface({ input: child.stdout });
  const firstLine = await new Promise((resolveLine, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve printed no URL in 20 s; stderr:\n${stderr}`)), 20_000);
    lines.once("line", (line) => {
      clearTimeout(timer);
      resolveLine(line);
    });
    child.once("exit", (code) => reject(new Error(`serve exited (${code}) before printing a URL; stderr:\n${stderr}`)));
  });
  const url = new URL(firstLine);
  const token = new URLSearchParams(url.hash.slice(1)).get("token");
  const exited = new Promise((r) => child.once("exit", (code, signal) => r({ code, signal })));
  return { child, url: firstLine, origin: url.origin, token, exited, stderr: () => stderr };
}
