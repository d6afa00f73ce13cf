// The real desktop app under Xvfb, driven through tauri-driver and
// WebKitWebDriver: the window shows the UI, and its buttons round-trip
// through Tauri IPC to the core and back as events.
//
// Run inside `dbus-run-session --` (the Makefile does): the single-instance
// plugin and WebKitGTK use the session bus.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DESKTOP, OUT, ROOT, SLIPWAY, TARGET, sleep, tempDir, waitFor } from "./support.mjs";

const TAURI_DRIVER = process.env.TAURI_DRIVER ?? join(TARGET, "tools", "bin", "tauri-driver");
const WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver";
const DRIVER_PORT = Number(process.env.TAURI_DRIVER_PORT ?? 4444);
const DRIVER = `http://127.0.0.1:${DRIVER_PORT}`;

/** One WebDriver call; throws with the driver's message on an error. */
async function wd(method, path, body) {
  const res = await fetch(DRIVER + path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
  return json.value;
}

describe("the desktop app", () => {
  let xvfb;
  let driver;
  let session;
  const env = { ...process.env, SLIPWAY_HOME: tempDir("desktop") };

  const find = async (testId) =>
    Object.values(await wd("POST", `/session/${session}/element`, { using: "css selector", value: `[data-testid="${testId}"]` }))[0];
  const text = async (testId) => wd("GET", `/session/${session}/element/${await find(testId)}/text`);
  const waitText = (testId, timeout) => waitFor(`[data-testid=${testId}]`, () => text(testId), timeout);

  // WebKitWebDriver's own screenshot can show a stale first paint; the X
  // server's picture of the window is what a person sees.
  const screenshot = async (path) => {
    await sleep(300);
    if (existsSync("/usr/bin/import")) {
      execFileSync("/usr/bin/import", ["-window", "root", "-crop", "1100x720+0+0", path], { env });
    } else {
      const png = await wd("GET", `/session/${session}/screenshot`);
      writeFileSync(path, Buffer.from(png, "base64"));
    }
  };

  before(async () => {
    assert.ok(existsSync(DESKTOP), `build the app first (${DESKTOP} is missing): make test does`);
    assert.ok(existsSync(TAURI_DRIVER), `tauri-driver is missing at ${TAURI_DRIVER}: make test installs it`);
    if (!env.DISPLAY) {
      env.DISPLAY = ":97";
      xvfb = spawn("Xvfb", [env.DISPLAY, "-screen", "0", "1280x800x24", "-nolisten", "tcp"], { stdio: "ignore" });
      await sleep(500);
    }
    driver = spawn(TAURI_DRIVER, ["--port", String(DRIVER_PORT), "--native-driver", WEBKIT_DRIVER], {
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    await waitFor("tauri-driver to listen", () => fetch(`${DRIVER}/status`).then((r) => r.ok), 20_000);
    const created = await wd("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application: DESKTOP } } },
    });
    session = created.sessionId;
  });

  after(async () => {
    if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
    // SIGTERM, not SIGKILL: tauri-driver then stops WebKitWebDriver too.
    if (driver) {
      driver.kill("SIGTERM");
      await new Promise((r) => (driver.exitCode !== null ? r() : driver.once("exit", r)));
    }
    xvfb?.kill("SIGTERM");
  });

  it("opens a window titled Slipway showing the UI", async () => {
    assert.equal(await wd("GET", `/session/${session}/title`), "Slipway");
    assert.equal(await waitText("transport"), "Desktop");
  });

  it("answers the UI's status call over IPC from the core", async () => {
    const version = await waitText("version", 30_000);
    assert.match(version, /^\d+\.\d+\.\d+/);
    assert.equal(await text("data-dir"), env.SLIPWAY_HOME);
  });

  it("round-trips a button through IPC and back as an event", async () => {
    await wd("POST", `/session/${session}/element/${await find("notify")}/click`, {});
    const delivery = await waitText("delivery");
    assert.match(delivery, /Delivered to [1-9]\d* listener/);
    const toast = await waitText("toast");
    assert.match(toast, /Slipway is connected/);
  });

  it("hosts the engine: a commit to a watched repository shows up as an execution", async () => {
    const repo = join(tempDir("repo"), "shop");
    mkdirSync(join(repo, ".slipway"), { recursive: true });
    writeFileSync(
      join(repo, ".slipway", "ci.yml"),
      "version: 1\ntriggers:\n  - push:\n      branches: [main]\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: command, commands: ['echo built'] }\n",
    );
    const git = (...args) =>
      execFileSync("git", ["-C", repo, "-c", "user.name=Dana", "-c", "user.email=dana@example.com", ...args]);
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-qm", "Add the CI pipeline");
    execFileSync(SLIPWAY, ["repo", "add", repo, "--trust"], { env });
    writeFileSync(join(repo, "README.md"), "The shop.\n");
    git("add", "-A");
    git("commit", "-qm", "Describe the shop");
    const row = await waitFor(
      "the pushed commit's execution to succeed",
      async () => {
        const rows = await wd("POST", `/session/${session}/elements`, {
          using: "css selector",
          value: '[data-testid="execution-row"]',
        });
        for (const r of rows) {
          const text = await wd("GET", `/session/${session}/element/${Object.values(r)[0]}/text`);
          if (text.includes("Describe the shop") && text.includes("Succeeded")) return text;
        }
        return undefined;
      },
      30_000,
    );
    assert.match(row, /push:main/);
    await screenshot(join(OUT, "desktop.png"));
  });

  it("builds the tray menu from the records: state, latest executions, Open and Quit", async () => {
    const menu = await wd("POST", `/session/${session}/execute/async`, {
      script:
        "const done = arguments[arguments.length - 1];" +
        "window.__TAURI_INTERNALS__.invoke('rpc', { command: 'tray_menu', request: {} })" +
        ".then(done, (e) => done({ error: String(e && e.message || e) }));",
      args: [],
    });
    assert.equal(menu.error, undefined, menu.error);
    const labels = menu.entries.map((e) => e.label);
    assert.ok(labels.some((l) => /^shop\/ci [0-9a-f]{7} — Succeeded$/.test(l)), labels.join(" | "));
    assert.deepEqual(labels.slice(-2), ["Open Slipway", "Quit"]);
    assert.equal(menu.state, "idle");
    assert.equal(menu.tooltip, "Slipway: idle");
  });

  it("hands a second launch over to the running window", async () => {
    const second = spawn(DESKTOP, [], { env, stdio: "ignore" });
    const code = await Promise.race([
      new Promise((r) => second.once("exit", (c) => r(c))),
      sleep(20_000).then(() => "still running"),
    ]);
    if (code === "still running") second.kill("SIGKILL");
    assert.equal(code, 0, "the second instance exits once it has focused the first");
    // The first window is still there and still answers.
    assert.equal(await wd("GET", `/session/${session}/title`), "Slipway");
  });
});

export { ROOT };
