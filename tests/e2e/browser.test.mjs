// The web UI and HTTP API of `slipway serve`, in Debian's Chromium.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { OUT, SLIPWAY, startServe, tempDir } from "./support.mjs";

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

const version = execFileSync(SLIPWAY, ["--version"], { encoding: "utf8" }).trim().split(" ")[1];

describe("slipway serve", () => {
  let serve;
  let browser;
  const dataDir = tempDir("serve");

  before(async () => {
    serve = await startServe(dataDir);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
  });

  after(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) serve.child.kill("SIGTERM");
  });

  const post = (path, { token, origin, body = "{}" } = {}) =>
    fetch(`${serve.origin}${path}`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        ...(token ? { Authorization: `Bearer ${token}` } : {}),
        ...(origin ? { Origin: origin } : {}),
      },
      body,
    });

  it("prints a loopback URL carrying a token as its first line", () => {
    assert.match(serve.url, /^http:\/\/127\.0\.0\.1:\d+\/#token=[0-9a-f]{64}$/);
  });

  it("refuses API calls without the token, or with a wrong one", async () => {
    const missing = await post("/api/status");
    assert.equal(missing.status, 401);
    assert.equal((await missing.json()).code, "unauthorized");
    const wrong = await post("/api/status", { token: "0".repeat(64) });
    assert.equal(wrong.status, 401);
    const events = await fetch(`${serve.origin}/api/events`);
    assert.equal(events.status, 401);
  });

  it("refuses calls from a page of another origin, even with the token", async () => {
    const res = await post("/api/status", { token: serve.token, origin: "http://evil.example" });
    assert.equal(res.status, 403);
    assert.equal((await res.json()).code, "forbidden_origin");
  });

  it("answers commands with JSON, and unknown ones with a stable error code", async () => {
    const res = await post("/api/status", { token: serve.token, origin: serve.origin });
    assert.equal(res.status, 200);
    const status = await res.json();
    assert.equal(status.data_dir, dataDir);
    assert.equal(status.host, "serve");
    assert.equal(status.version, version);

    const unknown = await post("/api/launch_rockets", { token: serve.token });
    assert.equal(unknown.status, 404);
    assert.equal((await unknown.json()).code, "unknown_command");

    const bad = await post("/api/notify", { token: serve.token, body: "{not json" });
    assert.equal(bad.status, 400);
    assert.equal((await bad.json()).code, "invalid_request");
  });

  it("shows the UI, talks to the engine, and receives events live", async () => {
    const page = await browser.newPage();
    const consoleErrors = [];
    page.on("console", (m) => m.type() === "error" && consoleErrors.push(m.text()));
    await page.goto(serve.url);
    await page.getByTestId("version").waitFor();
    assert.equal(await page.title(), "Slipway");
    assert.equal(await page.getByTestId("version").textContent(), version);
    assert.equal(await page.getByTestId("data-dir").textContent(), dataDir);
    assert.equal(await page.getByTestId("transport").textContent(), "Browser");
    assert.ok(!page.url().includes("token="), `the token is removed from the address bar: ${page.url()}`);

    // The button's call goes out over HTTP; the notification comes back over SSE.
    await page.getByTestId("notify").click();
    await page.getByTestId("toast").filter({ hasText: "Slipway is connected" }).waitFor({ timeout: 10_000 });
    assert.match(await page.getByTestId("delivery").textContent(), /Delivered to [1-9]\d* listener/);

    // A reload keeps working: the token stays in this tab's session storage.
    await page.reload();
    await page.getByTestId("version").waitFor();
    await page.screenshot({ path: join(OUT, "browser.png"), fullPage: true });
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  it("shows an execution that a terminal started, live, as the engine runs it", async () => {
    const repo = join(tempDir("repo"), "shop");
    mkdirSync(join(repo, ".slipway"), { recursive: true });
    writeFileSync(
      join(repo, ".slipway", "ci.yml"),
      "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: command, commands: ['sleep 1', 'echo built'] }\n",
    );
    const git = (...args) => execFileSync("git", ["-C", repo, ...args]);
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("-c", "user.name=Release Manager", "-c", "user.email=rm@example.com", "commit", "-qm", "Add the CI pipeline");
    const cli = (...args) => execFileSync(SLIPWAY, [...args, "--data-dir", dataDir], { encoding: "utf8" });
    cli("repo", "add", repo, "--trust");

    const page = await browser.newPage();
    await page.goto(serve.url);
    await page.getByTestId("no-executions").waitFor();
    // serve hosts the engine: the CLI hands the run over and returns.
    const id = cli("run", "shop/ci").trim();
    const row = page.getByTestId("execution-row").filter({ hasText: "shop/ci" });
    await row.getByText("InProgress").waitFor({ timeout: 10_000 });
    await row.getByText("Succeeded").waitFor({ timeout: 20_000 });
    assert.match(await row.textContent(), /Add the CI pipeline/);
    assert.equal(JSON.parse(cli("execution", id, "--json")).status, "Succeeded");
    await page.screenshot({ path: join(OUT, "browser-executions.png"), fullPage: true });
    await page.close();
  });

  it("tells a page opened without the token what to do", async () => {
    const page = await browser.newPage();
    await page.goto(serve.origin + "/");
    const error = await page.getByTestId("error").textContent();
    assert.match(error, /open the URL that `slipway serve` printed/i);
    await page.close();
  });

  it("stops cleanly on SIGTERM", async () => {
    serve.child.kill("SIGTERM");
    const { code } = await serve.exited;
    assert.equal(code, 0, serve.stderr());
  });
});
