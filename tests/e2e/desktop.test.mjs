// The real desktop app under Xvfb, driven through tauri-driver and
// WebKitWebDriver: the window shows the UI, and its buttons round-trip
// through Tauri IPC to the core and back as events.
//
// Run inside `dbus-run-session --` (the Makefile does): the single-instance
// plugin and WebKitGTK use the session bus.

import { createServer } from "node:net";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
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

const mib = (kib) => (kib / 1024).toFixed(1);

/** The desktop app's process, while it runs. */
function appPid() {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .find((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] === DESKTOP;
      } catch {
        return false;
      }
    });
}

/** A process's parent pid, or undefined once it is gone. */
function parentOf(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(text.slice(text.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

/**
 * The memory of a process and all its descendants, in KiB. RSS counts the
 * shared WebKit libraries once per process; PSS shares them out, so the
 * tree's PSS is what it costs the machine.
 */
function treeMemory(root) {
  const pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map(Number);
  const tree = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const pid of pids) {
      if (!tree.has(pid) && tree.has(parentOf(pid))) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let rss = 0;
  let pss = 0;
  const parts = [];
  for (const pid of tree) {
    try {
      const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const own = Number(/^Pss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      rss += Number(/^Rss:\s+(\d+)/m.exec(rollup)?.[1] ?? 0);
      pss += own;
      const name = /Name:\s+(\S+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
      parts.push(`${name} ${(own / 1024).toFixed(0)}`);
    } catch {}
  }
  return { rss, pss, parts: parts.join(", ") };
}

describe("the desktop app", () => {
  let xvfb;
  let dunst;
  let driver;
  let session;
  let firstPaint;
  /** The app's idle memory, measured by its test; its baseline is measured once the app has quit. */
  let idle;
  const env = { ...process.env, SLIPWAY_HOME: tempDir("desktop") };

  /** Runs `body` (which may await) in the window and returns its value. */
  const inWindow = async (body) => {
    const result = await wd("POST", `/session/${session}/execute/async`, {
      script:
        "const done = arguments[arguments.length - 1];" +
        `(async () => { ${body} })().then((v) => done({ ok: v }), (e) => done({ error: String((e && e.message) || e) }));`,
      args: [],
    });
    assert.equal(result.error, undefined, result.error);
    return result.ok;
  };
  const rpc = (command, request = {}) =>
    inWindow(`return await window.__TAURI_INTERNALS__.invoke('rpc', { command: ${JSON.stringify(command)}, request: ${JSON.stringify(request)} });`);

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

  // The memory baseline, in the same display and session once the app has
  // quit (measured beside it, the shared libraries' pages would be split
  // between the two and flatter both): WebKitGTK alone, one window of the
  // same size showing a line of HTML, with the compositing setting the app
  // chooses for itself.
  const measureBaseline = async () => {
    await waitFor("the app to quit before the baseline", () => appPid() === undefined, 15_000);
    const bare = spawn("/usr/bin/python3", [join(ROOT, "tests", "bench", "bare-webkit.py")], {
      env: { ...env, WEBKIT_DISABLE_COMPOSITING_MODE: "1", GTK_USE_PORTAL: "0" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      await new Promise((resolve, reject) => {
        bare.stdout.on("data", (d) => String(d).includes("ready") && resolve());
        bare.once("exit", (code) => reject(new Error(`the bare WebKitGTK window exited (${code}): make test installs python3-gi`)));
      });
      await sleep(5000);
      const base = treeMemory(bare.pid);
      console.log(
        `FIGURE desktop baseline: bare WebKitGTK window PSS ${mib(base.pss)} MiB (${base.parts}); ` +
          `Slipway idle ${mib(idle.pss)} MiB = ${(idle.pss / base.pss).toFixed(2)}x the baseline, ${mib(idle.pss - base.pss)} MiB more`,
      );
    } finally {
      bare.kill("SIGTERM");
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
    // A real notification server in the session, so the app's OS
    // notifications are shown and can be clicked (`dunstctl action`).
    assert.ok(existsSync("/usr/bin/dunst"), "dunst is missing: make test installs it");
    dunst = spawn("/usr/bin/dunst", [], { env, stdio: "ignore" });
    driver = spawn(TAURI_DRIVER, ["--port", String(DRIVER_PORT), "--native-driver", WEBKIT_DRIVER], {
      env,
      stdio: ["ignore", "inherit", "inherit"],
    });
    await waitFor("tauri-driver to listen", () => fetch(`${DRIVER}/status`).then((r) => r.ok), 20_000);
    const launched = performance.now();
    const created = await wd("POST", "/session", {
      capabilities: { alwaysMatch: { "tauri:options": { application: DESKTOP } } },
    });
    session = created.sessionId;
    await waitText("transport", 30_000);
    firstPaint = performance.now() - launched;
  });

  after(async () => {
    if (session) await wd("DELETE", `/session/${session}`).catch(() => {});
    // SIGTERM, not SIGKILL: tauri-driver then stops WebKitWebDriver too.
    if (driver) {
      driver.kill("SIGTERM");
      await new Promise((r) => (driver.exitCode !== null ? r() : driver.once("exit", r)));
    }
    dunst?.kill("SIGTERM");
    // An app whose window the driver no longer had (closed to the tray)
    // outlives the session: end it as Quit would.
    const left = appPid();
    if (left) process.kill(left, "SIGTERM");
    if (idle) await measureBaseline();
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

  it("builds the tray menu from the records: state, latest executions, Pause watching, Open and Quit", async () => {
    const menu = await rpc("tray_menu");
    const labels = menu.entries.map((e) => e.label);
    assert.ok(labels.some((l) => /^shop\/ci [0-9a-f]{7} — Succeeded$/.test(l)), labels.join(" | "));
    assert.deepEqual(labels.slice(-3), ["Pause watching", "Open Slipway", "Quit"]);
    assert.equal(menu.state, "idle");
    assert.equal(menu.tooltip, "Slipway: idle");
    // The tray's Pause is the settings command; the menu then offers Resume.
    await rpc("settings", { watching_paused: true });
    const paused = await rpc("tray_menu");
    assert.ok(paused.entries.some((e) => e.label === "Resume watching"));
    assert.equal(paused.tooltip, "Slipway: watching paused");
    await rpc("settings", { watching_paused: false });
  });

  it("shows a failed execution as an OS notification; clicking it opens the window on that execution", async () => {
    const dunstctl = (...args) => execFileSync("dunstctl", args, { env, encoding: "utf8" }).trim();
    const repo = join(tempDir("repo"), "broken");
    mkdirSync(join(repo, ".slipway"), { recursive: true });
    writeFileSync(
      join(repo, ".slipway", "ci.yml"),
      "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: command, commands: ['echo no compiler here; exit 3'] }\n",
    );
    const git = (...args) => execFileSync("git", ["-C", repo, "-c", "user.name=Dana", "-c", "user.email=dana@example.com", ...args]);
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-qm", "A build that cannot pass");
    execFileSync(SLIPWAY, ["repo", "add", repo, "--trust"], { env });
    await inWindow("location.hash = '#/repositories'; return true;");
    dunstctl("close-all");
    // Handed to the engine the window hosts; it fails and notifies.
    execFileSync(SLIPWAY, ["run", "broken/ci"], { env });
    await waitFor("the OS notification on screen", () => dunstctl("count", "displayed") === "1", 30_000);
    // A click on it: dunst invokes its default action.
    dunstctl("action", "0");
    const hash = await waitFor(
      "the window to open on the execution",
      () => inWindow("return location.hash.startsWith('#/executions/') ? location.hash : undefined;"),
      15_000,
    );
    const [execution] = JSON.parse(execFileSync(SLIPWAY, ["executions", "broken/ci", "--json", "--limit", "1"], { env, encoding: "utf8" }));
    assert.equal(hash, `#/executions/${execution.id}`);
    assert.equal(execution.status, "Failed");
    // What the server was asked to show: the pipeline, the status, the reason.
    // (dunst files it in its history once it is closed.)
    await waitFor("the notification in dunst's history", () => /broken\/ci Failed/.test(dunstctl("history")), 10_000);
    await waitFor(
      "the execution page",
      () => inWindow("return document.querySelector('[data-testid=\"execution-detail-status\"]')?.textContent?.includes('Failed') || undefined;"),
      15_000,
    );
  });

  it("lists the demo pipeline once the demo is created", async () => {
    const free = () =>
      new Promise((resolve) => {
        const srv = createServer();
        srv.listen(0, "127.0.0.1", () => {
          const { port } = srv.address();
          srv.close(() => resolve(port));
        });
      });
    const repo = await rpc("demo", { staging_port: await free(), production_port: await free() });
    assert.equal(repo.name, "demo-shop");
    assert.equal(repo.trusted, true);
    // Pipelines reads the repositories when it opens.
    await inWindow("location.hash = '#/repositories'; return true;");
    // The desktop app adds repositories with a native folder picker.
    await waitFor("the folder picker button", () => inWindow(`return document.querySelector('[data-testid="repo-pick"]') ? true : undefined;`), 10_000);
    await inWindow("location.hash = '#/pipelines'; return true;");
    await waitFor(
      "the demo pipeline in the window",
      () => inWindow(`return document.querySelector('[data-testid="pipeline-row"][data-key="demo-shop/release"]') ? true : undefined;`),
      20_000,
    );
    await screenshot(join(OUT, "desktop-demo.png"));
  });

  it("starts to first paint and idles within its budgets (measured, see BENCHMARKS.md)", async () => {
    await sleep(3000);
    const app = appPid();
    assert.ok(app, "the app's process");
    idle = treeMemory(app);
    // The UI's first call (on mount, after its first render) as the core
    // saw it, from the core's start at the top of main: no driver in it.
    const status = await rpc("status");
    console.log(
      `FIGURE desktop: UI mounted and asking the core ${status.first_status_after_ms} ms after the app started; ` +
        `launch to UI in the DOM ${Math.round(firstPaint)} ms as the driver saw it (session start included); ` +
        `idle process tree PSS ${mib(idle.pss)} MiB, RSS ${mib(idle.rss)} MiB (${idle.parts})`,
    );
    assert.ok(idle.pss > 0);
    assert.ok(/WebKitWebProces/.test(idle.parts), "the tree includes the web process");
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

  it("closes to the tray on Ctrl+W: the web processes end, the engine keeps running, a second launch opens a fresh window", async () => {
    const app = appPid();
    assert.ok(/WebKitWebProces/.test(treeMemory(app).parts));
    // Ctrl+W as a person presses it, in the window. (Right after the second
    // launch focused the window, the driver can briefly answer "no such
    // window" (a fresh clone's CI saw it once): point it at the window again
    // and retry.)
    const key = (type, value) => ({ type, value });
    const ctrlW = [key("keyDown", "\uE009"), key("keyDown", "w"), key("keyUp", "w"), key("keyUp", "\uE009")];
    await waitFor(
      "the driver to press Ctrl+W in the window",
      async () => {
        if (!/WebKitWebProces/.test(treeMemory(app).parts)) return true; // an earlier press got through
        const handles = await wd("GET", `/session/${session}/window/handles`);
        assert.equal(handles.length, 1, "the one Slipway window");
        await wd("POST", `/session/${session}/window`, { handle: handles[0] });
        await wd("POST", `/session/${session}/actions`, { actions: [{ type: "key", id: "keyboard", actions: ctrlW }] });
        return true;
      },
      10_000,
      300,
    );
    await waitFor("the window's web process to end", () => !/WebKitWebProces/.test(treeMemory(app).parts), 15_000);
    assert.equal(appPid(), app, "the app itself keeps running in the tray");
    await sleep(3000);
    const tray = treeMemory(app);
    // Its engine still takes runs.
    const run = spawnSync(SLIPWAY, ["run", "shop/ci", "--wait"], { env, encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout + run.stderr, /started by the running engine/);
    console.log(`FIGURE desktop tray: closed to the tray, idle process tree PSS ${mib(tray.pss)} MiB, RSS ${mib(tray.rss)} MiB (${tray.parts})`);
    // A second launch hands over to this one, which opens a fresh window.
    const second = spawn(DESKTOP, [], { env, stdio: "ignore" });
    assert.equal(await new Promise((r) => second.once("exit", r)), 0);
    await waitFor("a fresh window's web process", () => /WebKitWebProces/.test(treeMemory(app).parts), 15_000);
  });
});

export { ROOT };
