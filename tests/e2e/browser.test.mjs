// The web UI and HTTP API of `slipway serve`, in Debian's Chromium.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { OUT, ROOT, SLIPWAY, startServe, tempDir, waitFor } from "./support.mjs";

/** The README shows these: one per page, taken by this test. */
const SCREENSHOTS = join(ROOT, "docs", "screenshots");
mkdirSync(SCREENSHOTS, { recursive: true });

/**
 * Milliseconds from a click on the navigation link `nav` to `count` elements
 * matching `selector` in the DOM, measured inside the page.
 */
function timeNavigation(page, nav, selector, count) {
  return page.evaluate(
    ([nav, selector, count]) =>
      new Promise((resolve) => {
        const t0 = performance.now();
        const observer = new MutationObserver(() => {
          if (document.querySelectorAll(selector).length >= count) {
            observer.disconnect();
            resolve(performance.now() - t0);
          }
        });
        observer.observe(document.body, { childList: true, subtree: true });
        document.querySelector(`[data-testid="${nav}"]`).click();
      }),
    [nav, selector, count],
  );
}

/** A git repository with the given files, committed. */
function gitRepo(name, files, message = "Add the release pipeline") {
  const repo = join(tempDir("repo"), name);
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(repo, path)), { recursive: true });
    writeFileSync(join(repo, path), text);
  }
  const git = (...args) => execFileSync("git", ["-C", repo, "-c", "user.name=Release Manager", "-c", "user.email=rm@example.com", ...args]);
  git("init", "-q", "-b", "main");
  git("add", "-A");
  git("commit", "-qm", message);
  return repo;
}

const RELEASE_PIPELINE = `version: 1
variables:
  APP: web
stages:
  - name: Build
    actions:
      - { name: compile, type: build, buildspec: buildspec.yml, namespace: Build, outputs: [app] }
  - name: Test
    actions:
      - { name: unit, type: test, buildspec: buildspec-test.yml, inputs: [app] }
  - name: Approve
    actions:
      - { name: release-manager, type: approval }
`;

// Colours as cargo prints them, enough lines to scroll, and a pause so the
// execution is seen running.
const BUILDSPEC = String.raw`version: 0.2
env:
  exported-variables: [VERSION]
phases:
  build:
    commands:
      - export VERSION=1.4.2
      - printf '\033[1;32m   Compiling\033[0m web v1.4.2\n'
      - for i in $(seq 1 400); do echo "bundling module $i of 400"; done
      - sleep 2
      - printf '\033[33mwarning\033[0m - 1 unused import\n'
      - mkdir -p dist && echo "hello from web" > dist/index.html
      - echo built web
artifacts:
  files: ["dist/**/*"]
`;

const BUILDSPEC_TEST = String.raw`version: 0.2
phases:
  build:
    commands:
      - mkdir -p reports
      - printf '<testsuite name="web"><testcase name="home"/><testcase name="cart"/><testcase name="checkout"><skipped/></testcase></testsuite>' > reports/TEST-web.xml
      - echo tests done
reports:
  unit:
    files: ["reports/*.xml"]
`;

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/** A port nothing listens on now. */
async function freePort() {
  const { createServer } = await import("node:net");
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

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

  it("adds a repository, releases a change from Pipelines, and follows the execution live", async () => {
    const repo = gitRepo("web", {
      ".slipway/release.yml": RELEASE_PIPELINE,
      "buildspec.yml": BUILDSPEC,
      "buildspec-test.yml": BUILDSPEC_TEST,
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors = [];
    // The 409 of adding the repository twice is the test's own doing.
    page.on("console", (m) => m.type() === "error" && !/status of 409/.test(m.text()) && consoleErrors.push(m.text()));
    await page.goto(serve.url);

    // Repositories: add it by its path, trusted.
    await page.getByTestId("nav-repositories").click();
    await page.getByTestId("repo-path").fill(join(repo, ".slipway"));
    await page.getByTestId("repo-trust-new").check();
    await page.getByTestId("repo-add").click();
    const row = page.locator('[data-testid="repo-row"][data-name="web"]');
    await row.waitFor();
    assert.match(await row.textContent(), /Trusted/);
    // Adding it again says where it already is.
    await page.getByTestId("repo-path").fill(repo);
    await page.getByTestId("repo-add").click();
    assert.match(await page.getByTestId("repo-add-error").textContent(), /already added as `web`/);
    await page.screenshot({ path: join(SCREENSHOTS, "repositories.png"), fullPage: true });

    // Pipelines: never run yet; "Release change" starts it.
    await page.getByTestId("nav-pipelines").click();
    const pipeline = page.locator('[data-testid="pipeline-row"][data-key="web/release"]');
    await pipeline.waitFor();
    assert.match(await pipeline.textContent(), /Never run/);
    const stages = pipeline.getByTestId("stage");
    assert.deepEqual(await stages.evaluateAll((els) => els.map((e) => [e.title, e.dataset.status])), [
      ["Build: Not run", "NotRun"],
      ["Test: Not run", "NotRun"],
      ["Approve: Not run", "NotRun"],
    ]);
    await pipeline.getByTestId("release-change").click();
    // Live, from the event stream: running, with the commit it builds.
    await pipeline.getByTestId("pipeline-status").filter({ hasText: "InProgress" }).waitFor({ timeout: 10_000 });
    assert.match(await pipeline.textContent(), /Add the release pipeline/);
    assert.match(await pipeline.textContent(), /manual/);
    await pipeline.locator('[data-testid="stage"][data-status="InProgress"]').first().waitFor();

    // Open it while it runs: the build's log follows its output.
    await pipeline.getByTestId("pipeline-latest").click();
    await page.getByTestId("execution-title").waitFor();
    assert.equal(await page.getByTestId("execution-title").textContent(), "web/release");
    await page.getByTestId("timeline-action").filter({ hasText: "compile" }).click();
    const log = page.getByTestId("log-viewer");
    await log.getByTestId("log-line").filter({ hasText: "bundling module" }).first().waitFor({ timeout: 10_000 });
    await log.getByTestId("log-line").filter({ hasText: /^built web$/ }).waitFor({ timeout: 20_000 });
    // Colours are kept as styles, not shown as escape codes.
    const warning = log.getByTestId("log-line").filter({ hasText: "warning - 1 unused import" });
    assert.equal(await warning.locator("span.ansi-fg-3").count(), 1);
    assert.doesNotMatch(await warning.textContent(), /\x1b|\[0m/);
    // Only the rows in view are in the DOM, though the log has 400+ lines.
    const rendered = await log.getByTestId("log-line").count();
    assert.ok(rendered > 10 && rendered < 120, `${rendered} rows rendered`);
    // Search finds lines the view does not show yet.
    await log.getByTestId("log-search").fill("module 7 of");
    assert.match(await log.getByTestId("log-hits").textContent(), /of 1\b/);
    await log.getByTestId("log-search").press("Enter");
    await log.locator(".log-line.current").filter({ hasText: "bundling module 7 of 400" }).waitFor();
    await log.getByTestId("log-search").fill("");

    // The approval gate: the pipeline waits, and Pipelines makes it stand out.
    const gate = page.getByTestId("timeline-action").filter({ hasText: "release-manager" });
    await gate.getByText("Waiting for approval").waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId("artifacts").textContent(), /app[\s\S]*B[\s\S]*[0-9a-f]{16}…/);
    assert.match(await page.getByTestId("variables").textContent(), /APP[\s\S]*web/);
    assert.match(await page.getByTestId("report-counts").textContent(), /2 passed, 0 failed, 1 skipped/);
    await page.screenshot({ path: join(SCREENSHOTS, "execution.png"), fullPage: true });
    await page.getByTestId("nav-pipelines").click();
    await page.getByTestId("approvals-waiting").filter({ hasText: "web/release" }).waitFor();
    await pipeline.getByTestId("approval-waiting").waitFor();
    await pipeline.locator('[data-testid="stage"][data-status="InProgress"]').filter({ hasText: "Waiting for approval" }).waitFor();
    await page.screenshot({ path: join(SCREENSHOTS, "pipelines.png"), fullPage: true });

    // Approve it with a comment, from the execution the badge opens on.
    await pipeline.getByTestId("approval-waiting").click();
    await page.getByTestId("approval-box").waitFor();
    await page.getByLabel("Comment (optional)").fill("Ship it");
    await page.getByTestId("approve").click();
    await page.getByTestId("execution-detail-status").filter({ hasText: "Succeeded" }).waitFor({ timeout: 20_000 });
    assert.match(await page.getByTestId("approval-decision").textContent(), /Approved[\s\S]*Ship it/);

    // Back on Pipelines, the strip shows every stage succeeded.
    await page.getByTestId("nav-pipelines").click();
    await pipeline.locator('[data-testid="stage"][data-status="Succeeded"]').nth(2).waitFor();
    assert.equal(await page.getByTestId("approvals-waiting").count(), 0);
    // The dark theme follows the OS setting.
    await page.emulateMedia({ colorScheme: "dark" });
    const bg = await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor);
    assert.equal(bg, "rgb(15, 20, 25)");
    await page.screenshot({ path: join(SCREENSHOTS, "pipelines-dark.png"), fullPage: true });
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });

  it("shows an environment's deployments live and rolls it back with one confirmation", async () => {
    const port = await freePort();
    const server = [
      "import http.server, os",
      "class H(http.server.BaseHTTPRequestHandler):",
      "    protocol_version = 'HTTP/1.1'",
      "    def do_GET(self):",
      "        body = open('version', 'rb').read().strip()",
      "        self.send_response(200)",
      "        self.send_header('Content-Length', str(len(body)))",
      "        self.end_headers()",
      "        self.wfile.write(body)",
      "    def log_message(self, *a):",
      "        pass",
      "http.server.ThreadingHTTPServer(('127.0.0.1', int(os.environ['PORT'])), H).serve_forever()",
      "",
    ].join("\n");
    const pipeline = `version: 1
environments:
  staging:
    provider: local
    instances: 2
    listen: 127.0.0.1:${port}
    run: "exec python3 -u server.py"
    strategy: blue-green
    termination-wait: 5m
stages:
  - name: Deploy
    actions:
      - { name: deploy, type: deploy, environment: staging }
`;
    const repo = gitRepo("storefront", { ".slipway/web.yml": pipeline, "server.py": server, version: "v1" }, "Storefront v1");
    const cli = (...args) => execFileSync(SLIPWAY, [...args, "--data-dir", dataDir], { encoding: "utf8" });
    cli("repo", "add", repo, "--trust");
    const served = async () => (await (await fetch(`http://127.0.0.1:${port}/`)).text()).trim();

    const page = await browser.newPage();
    await page.goto(serve.url);
    await page.getByTestId("nav-environments").click();
    await page.getByTestId("no-environments").waitFor();
    cli("run", "storefront/web", "--wait");
    const env = page.locator('[data-testid="environment"][data-name="staging"]');
    await env.locator('[data-testid="deployment-row"][data-status="Succeeded"]').first().waitFor({ timeout: 30_000 });
    assert.equal(await served(), "v1");
    // What serves, instance by instance, as the engine sees it now.
    const sets = async () =>
      env.getByTestId("live-set").evaluateAll((els) =>
        els.map((el) => ({
          set: el.dataset.set,
          percent: Number(el.dataset.percent),
          instances: [...el.querySelectorAll('[data-testid="instance"]')].map((i) => `${i.dataset.state}/${i.dataset.health}`),
        })),
      );
    const healthy = ["running/healthy", "running/healthy"];
    await waitFor("set blue serving v1 with two healthy instances", async () =>
      JSON.stringify(await sets()) === JSON.stringify([{ set: "blue", percent: 100, instances: healthy }]), 20_000);
    // An instance that dies is restarted by its supervisor; the page follows
    // it from the event stream (no deployment changes, nothing re-read).
    const blue0 = env.locator('[data-testid="live-set"][data-set="blue"] [data-testid="instance"]').first();
    const pid = Number(await blue0.getAttribute("data-pid"));
    assert.ok(pid > 0, "the instance shows its process id");
    process.kill(pid, "SIGKILL");
    await waitFor("the restarted instance's new pid", async () => {
      const now = Number(await blue0.getAttribute("data-pid"));
      return now > 0 && now !== pid;
    }, 20_000);
    // v2, released from a terminal, appears live.
    writeFileSync(join(repo, "version"), "v2");
    execFileSync("git", ["-C", repo, "-c", "user.name=Release Manager", "-c", "user.email=rm@example.com", "commit", "-qam", "Storefront v2"]);
    cli("run", "storefront/web", "--wait");
    await env.getByTestId("deployment-row").nth(1).waitFor({ timeout: 30_000 });
    assert.equal(await served(), "v2");
    // Blue/green: green serves, blue waits out its termination-wait at 0%.
    await waitFor("green serving, blue kept at 0%", async () =>
      JSON.stringify(await sets()) ===
        JSON.stringify([
          { set: "green", percent: 100, instances: healthy },
          { set: "blue", percent: 0, instances: healthy },
        ]), 20_000);
    const button = env.getByTestId("rollback");
    await button.waitFor();
    const v1 = JSON.parse(cli("deployments", "staging", "--json"))[1];
    assert.equal(await button.textContent(), `Roll back staging to ${v1.revision.slice(0, 7)}`);
    await page.screenshot({ path: join(OUT, "environments-storefront.png"), fullPage: true });
    // One confirmation, then the rollback: a switch to the set kept in termination-wait.
    await button.click();
    await env.getByTestId("rollback-confirm").click();
    await env.getByTestId("deployment-row").nth(2).waitFor({ timeout: 30_000 });
    const newest = env.getByTestId("deployment-row").first();
    await newest.and(page.locator('[data-status="Succeeded"]')).waitFor({ timeout: 30_000 });
    const text = await newest.textContent();
    assert.match(text, /user/);
    assert.match(text, /rollback/);
    const history = JSON.parse(cli("deployments", "staging", "--json"));
    assert.equal(history[0].rollback_of, history[1].id);
    assert.ok(text.includes(history[1].id), "the row names the deployment it undoes");
    assert.equal(await served(), "v1");
    // The rollback was one switch: blue serves again, green waits at 0%.
    await waitFor("blue serving again", async () => {
      const now = await sets();
      return now[0]?.set === "blue" && now[0].percent === 100 && now[1]?.set === "green" && now[1].percent === 0;
    }, 20_000);
    await page.close();
  });

  it("shows a pipeline file's error where the pipelines are, and a missing repository", async () => {
    const repo = gitRepo("docs-site", { ".slipway/publish.yml": "version: 1\nstages: 3\n" }, "A broken pipeline");
    execFileSync(SLIPWAY, ["repo", "add", repo, "--data-dir", dataDir]);
    const page = await browser.newPage();
    await page.goto(serve.url);
    const problems = page.getByTestId("pipeline-problems");
    await problems.waitFor();
    assert.match(await problems.textContent(), /docs-site\/\.slipway\/publish\.yml[\s\S]*publish\.yml:2/);
    // Moved or deleted: flagged on Repositories.
    execFileSync("rm", ["-rf", repo]);
    await page.getByTestId("nav-repositories").click();
    await page.locator('[data-testid="repo-row"][data-name="docs-site"]').getByTestId("repo-missing").waitFor();
    await page.close();
  });

  it("lists accounts without secrets, and says how to add one when there are none", async () => {
    const page = await browser.newPage();
    await page.goto(serve.url);
    await page.getByTestId("nav-accounts").click();
    await page.getByTestId("no-profiles").waitFor();
    assert.match(await page.getByTestId("no-profiles").textContent(), /slipway creds add/);
    await page.screenshot({ path: join(SCREENSHOTS, "accounts.png"), fullPage: true });
    await page.close();
  });

  it("shows a million-line log with a screenful of rows in the DOM, and pages back through it", async () => {
    const repo = gitRepo("chatty", {
      ".slipway/verbose.yml":
        "version: 1\nstages:\n  - name: Build\n    actions:\n      - { name: print, type: command, commands: ['seq 1 1000000'] }\n",
    });
    const cli = (...args) => execFileSync(SLIPWAY, [...args, "--data-dir", dataDir], { encoding: "utf8" });
    cli("repo", "add", repo, "--trust");
    const id = JSON.parse(cli("run", "chatty/verbose", "--json")).id;
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(serve.url);
    await page.evaluate((h) => (location.hash = h), `#/executions/${id}/0/print`);
    const log = page.getByTestId("log-viewer");
    await log.getByTestId("log-line").filter({ hasText: /^1000000$/ }).waitFor({ timeout: 15_000 });
    const rows = await log.getByTestId("log-line").count();
    assert.ok(rows < 150, `${rows} rows in the DOM for a million-line log`);
    // Scrolling to the top loads the output before it, keeping the view's place.
    const firstShown = async () => Number(await log.getByTestId("log-line").first().textContent());
    const before = await firstShown();
    for (let i = 0; i < 3; i++) {
      await log.getByTestId("log-scroll").evaluate((el) => (el.scrollTop = 0));
      await page.waitForTimeout(300);
    }
    const after = await firstShown();
    assert.ok(after < before, `earlier lines loaded: first row ${before} -> ${after}`);
    const heap = await page.evaluate(() => performance.memory?.usedJSHeapSize ?? 0);
    console.log(`UI: million-line log: ${rows} rows in the DOM, JS heap ${(heap / 1e6).toFixed(1)} MB`);
    await page.close();
  });

  it("renders the Pipelines page with 200 pipelines (timed, see BENCHMARKS.md)", async () => {
    const files = {};
    for (let i = 0; i < 200; i++) {
      files[`.slipway/service-${String(i).padStart(3, "0")}.yml`] =
        "version: 1\ntriggers:\n  - push: { branches: [main] }\nstages:\n  - name: Build\n    actions:\n      - { name: compile, type: command, commands: ['true'] }\n  - name: Test\n    actions:\n      - { name: unit, type: command, commands: ['true'] }\n";
    }
    const repo = gitRepo("fleet", files, "Two hundred services");
    execFileSync(SLIPWAY, ["repo", "add", repo, "--trust", "--data-dir", dataDir]);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(serve.url);
    await page.getByTestId("nav-accounts").click();
    await page.getByTestId("no-profiles").waitFor();
    // From the click on "Pipelines" to every fleet row in the DOM, measured in the page.
    const ms = await timeNavigation(page, "nav-pipelines", '[data-testid="pipeline-row"][data-key^="fleet/"]', 200);
    assert.equal(await page.locator('[data-testid="pipeline-row"][data-key^="fleet/"]').count(), 200);
    console.log(`UI benchmark: Pipelines page, 200 pipelines: ${ms.toFixed(0)} ms from navigation to rows in the DOM`);
    writeFileSync(join(OUT, "ui-bench.txt"), `pipelines_200_ms ${ms.toFixed(1)}\n`);
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

// A fixture shortcut for volume: one real deployment made by the engine,
// then 99,999 copies of its row (new ids, revisions, artifacts, times;
// every tenth Failed, every fiftieth a user's rollback) written straight into
// the data directory's slipway.db with Python's sqlite3, in the real schema
// (crates/core/src/store/deployments.rs). The real one is kept the newest.
const SEED_DEPLOYMENTS = String.raw`
import hashlib, sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
cols = [r[1] for r in c.execute("PRAGMA table_info(deployments)")]
proto = dict(zip(cols, c.execute("SELECT * FROM deployments ORDER BY seq DESC LIMIT 1").fetchone()))
keys = [k for k in cols if k != "seq"]
t0 = proto["started_at"] - (n + 1) * 60000
def rows():
    for i in range(n):
        d = dict(proto)
        rev = hashlib.sha1(b"%d" % i).hexdigest()
        d.update(id="d-seed%07d" % i, revision=rev, message="Release %d" % i,
                 artifact=hashlib.sha256(rev.encode()).hexdigest(),
                 status="Failed" if i % 10 == 7 else "Succeeded",
                 error="verify failed" if i % 10 == 7 else None,
                 initiator="user" if i % 50 == 49 else "pipeline",
                 rollback_of="d-seed%07d" % (i - 1) if i % 50 == 49 else None,
                 started_at=t0 + i * 60000, ended_at=t0 + i * 60000 + 4000)
        yield [d[k] for k in keys]
with c:
    c.executemany("INSERT INTO deployments (%s) VALUES (%s)" % (",".join(keys), ",".join("?" * len(keys))), rows())
    c.execute("UPDATE deployments SET seq = (SELECT MAX(seq) + 1 FROM deployments) WHERE id = ?", (proto["id"],))
print(c.execute("SELECT COUNT(*) FROM deployments").fetchone()[0])
`;

describe("an environment with 100,000 deployments", () => {
  let serve;
  let browser;
  const dataDir = tempDir("history");
  const cli = (...args) => execFileSync(SLIPWAY, [...args, "--data-dir", dataDir], { encoding: "utf8" });

  before(async () => {
    const repo = gitRepo("fleet", {
      ".slipway/ship.yml":
        "version: 1\nenvironments:\n  production:\n    provider: command\n    deploy: ['true']\nstages:\n  - name: Release\n    actions:\n      - { name: deploy, type: deploy, environment: production }\n",
    }, "Ship the fleet");
    cli("repo", "add", repo, "--trust");
    cli("run", "fleet/ship", "--wait");
    const count = execFileSync("python3", ["-c", SEED_DEPLOYMENTS, join(dataDir, "slipway.db"), "99999"], { encoding: "utf8" });
    assert.equal(count.trim(), "100000");
    serve = await startServe(dataDir);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
  });

  after(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) serve.child.kill("SIGTERM");
  });

  it("renders its history in under a second (timed, see BENCHMARKS.md), newest first, with older pages on request", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(serve.url);
    await page.getByTestId("nav-accounts").click();
    await page.getByTestId("no-profiles").waitFor();
    // From the click on "Environments" to the history rows in the DOM, measured in the page.
    const ms = await timeNavigation(page, "nav-environments", '[data-testid="deployment-row"]', 50);
    const env = page.locator('[data-testid="environment"][data-name="production"]');
    const rows = env.getByTestId("deployment-row");
    assert.equal(await rows.count(), 50);
    const [real, previous] = JSON.parse(cli("deployments", "production", "--limit", "2", "--json"));
    assert.ok((await rows.first().textContent()).includes(real.id), "the newest row is the engine's own deployment");
    assert.match(await rows.nth(1).textContent(), /Release 99998/);
    // The Roll back button names the newest earlier good revision.
    assert.equal(await env.getByTestId("rollback").textContent(), `Roll back production to ${previous.revision.slice(0, 7)}`);
    console.log(`UI benchmark: Environments page, 100,000 deployments: ${ms.toFixed(0)} ms from navigation to the newest 50 rows in the DOM`);
    appendFileSync(join(OUT, "ui-bench.txt"), `environments_100k_deployments_ms ${ms.toFixed(1)}\n`);
    // Older ones, a page at a time.
    await env.getByTestId("history-more").click();
    await rows.nth(99).waitFor();
    assert.equal(await rows.count(), 100);
    assert.match(await rows.nth(99).textContent(), /Release 99900/);
    await page.screenshot({ path: join(OUT, "environments-100k.png"), fullPage: false });
    await page.close();
  });
});

// The demo's whole story, in a data directory of its own: the demo offered on
// an empty Pipelines page, released, approved, released again by a commit,
// and rolled back from Environments. Production's canary holds 1 minute per
// release (the demo's contract), so this takes a few minutes.
describe("the demo, from the empty Pipelines page to a production rollback", () => {
  let serve;
  let browser;
  const dataDir = tempDir("demo");
  const shop = join(dataDir, "demo", "shop");
  const git = (...args) =>
    execFileSync("git", ["-C", shop, "-c", "user.name=Release Manager", "-c", "user.email=rm@example.com", ...args], {
      encoding: "utf8",
    }).trim();
  const cli = (...args) => execFileSync(SLIPWAY, [...args, "--data-dir", dataDir], { encoding: "utf8" });

  before(async () => {
    serve = await startServe(dataDir);
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
  });

  after(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
  });

  it("creates the demo from the button, releases, approves, rolls production back", { timeout: 15 * 60_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const consoleErrors = [];
    // The 400 of the taken port is the test's own doing.
    page.on("console", (m) => m.type() === "error" && !/status of 400/.test(m.text()) && consoleErrors.push(m.text()));
    await page.goto(serve.url);

    // First start: no repository, so Pipelines offers the demo.
    await page.getByTestId("no-pipelines").waitFor();
    const offer = page.getByTestId("demo-offer");
    assert.match(await offer.textContent(), /Build → Test → Staging → Approval → Production/);
    assert.equal(await offer.getByTestId("demo-staging-port").inputValue(), "18080");
    assert.equal(await offer.getByTestId("demo-production-port").inputValue(), "18081");
    await page.screenshot({ path: join(SCREENSHOTS, "pipelines-empty.png"), fullPage: true });

    // A port something else holds: the engine says so, there, and creates nothing.
    const { createServer } = await import("node:net");
    const squatter = createServer();
    await new Promise((r) => squatter.listen(0, "127.0.0.1", r));
    const taken = squatter.address().port;
    const [staging, production] = [await freePort(), await freePort()];
    await offer.getByTestId("demo-staging-port").fill(String(taken));
    await offer.getByTestId("demo-production-port").fill(String(production));
    await offer.getByTestId("demo-create").click();
    assert.match(await offer.getByTestId("demo-error").textContent(), new RegExp(`port ${taken} for the demo's staging is not free`));
    squatter.close();

    // Free ports (CI may hold 18080): created, and listed with where it listens.
    await offer.getByTestId("demo-staging-port").fill(String(staging));
    await offer.getByTestId("demo-create").click();
    const created = page.getByTestId("demo-created");
    await created.waitFor();
    const createdText = await created.textContent();
    assert.ok(createdText.includes(shop), createdText);
    assert.ok(createdText.includes(`http://127.0.0.1:${staging}/`) && createdText.includes(`http://127.0.0.1:${production}/`), createdText);
    const pipeline = page.locator('[data-testid="pipeline-row"][data-key="demo-shop/release"]');
    await pipeline.waitFor();
    assert.deepEqual(await pipeline.getByTestId("stage").evaluateAll((els) => els.map((e) => e.title.split(":")[0])), [
      "Build",
      "Test",
      "Staging",
      "Approval",
      "Production",
    ]);
    assert.equal(await page.getByTestId("demo-later").count(), 0, "no second offer once the demo is there");

    const production_ = async () => {
      const html = await (await fetch(`http://127.0.0.1:${production}/`)).text();
      return /<b id=version>([^<]+)<\/b>/.exec(html)?.[1];
    };

    /** Approves the release waiting on the Pipelines page; returns when production has it. */
    async function approveAndWait(revision, whileDeploying = async () => {}, viaToast = false) {
      await pipeline.getByTestId("approval-waiting").waitFor({ timeout: 5 * 60_000 });
      assert.ok((await pipeline.textContent()).includes(revision.slice(0, 8)), "the row shows the revision waiting");
      if (viaToast) {
        // The "Approval needed" toast opens the execution waiting for it, and goes.
        const toast = page.getByTestId("toast-open").filter({ hasText: "Approval needed" }).filter({ hasText: revision.slice(0, 7) });
        await toast.click();
        assert.match(new URL(page.url()).hash, /^#\/executions\//);
        assert.equal(await toast.count(), 0);
      } else {
        await pipeline.getByTestId("approval-waiting").click();
      }
      await page.getByTestId("approval-box").waitFor();
      await page.getByLabel("Comment (optional)").fill(`Ship ${revision.slice(0, 7)}`);
      await page.getByTestId("approve").click();
      await whileDeploying();
      // The production canary: 20% of the traffic for 1 minute, then the rest.
      await page.getByTestId("execution-detail-status").filter({ hasText: "Succeeded" }).waitFor({ timeout: 5 * 60_000 });
      await page.getByTestId("nav-pipelines").click();
      await pipeline.waitFor();
    }

    // Release 1, from the button: the execution appears live on the row.
    const first = git("rev-parse", "HEAD");
    await pipeline.getByTestId("release-change").click();
    await pipeline.getByTestId("pipeline-status").filter({ hasText: "InProgress" }).waitFor({ timeout: 20_000 });
    await pipeline.getByTestId("approval-waiting").waitFor({ timeout: 5 * 60_000 });
    await page.screenshot({ path: join(SCREENSHOTS, "demo-pipeline.png"), fullPage: true });
    await approveAndWait(first);
    const v1 = await waitFor("production to serve release 1", production_, 30_000);

    // Release 2, from a commit on main: the watcher starts it; it appears live.
    const server = join(shop, "server.py");
    writeFileSync(server, readFileSync(server, "utf8").replace("<h1>Demo shop</h1>", "<h1>Demo shop</h1><p>Now with a cart.</p>"));
    git("commit", "-qam", "Add a cart to the shop");
    const second = git("rev-parse", "HEAD");
    await pipeline.getByTestId("pipeline-status").filter({ hasText: "InProgress" }).waitFor({ timeout: 60_000 });
    assert.match(await pipeline.textContent(), /Add a cart to the shop[\s\S]*push/);
    await approveAndWait(second, async () => {
      // While production's canary holds at 20%: the Environments page shows
      // the new set beside the old one, and the traffic chart.
      await page.getByTestId("nav-environments").click();
      const prod = page.locator('[data-testid="environment"][data-name="production"]');
      await prod.getByTestId("env-phase").filter({ hasText: "20% of traffic" }).waitFor({ timeout: 5 * 60_000 });
      await prod.getByTestId("traffic-chart").waitFor();
      const shares = await prod.getByTestId("live-set").evaluateAll((els) => els.map((el) => Number(el.dataset.percent)).sort((a, b) => a - b));
      assert.deepEqual(shares, [20, 80]);
      assert.equal(await prod.locator('[data-testid="instance"][data-health="healthy"]').count(), 6, "three old and three new instances, all healthy");
      await page.waitForTimeout(10_000); // the chart's line grows through the hold
      await page.screenshot({ path: join(SCREENSHOTS, "environments-canary.png"), fullPage: true });
      await page.goBack();
    }, true);
    const v2 = await waitFor("production to serve release 2", async () => {
      const v = await production_();
      return v !== v1 && v;
    }, 30_000);
    assert.ok(v2.endsWith(second.slice(0, 7)), `${v2} is built from ${second}`);

    // Environments: production serves release 2; Roll back names release 1.
    await page.getByTestId("nav-environments").click();
    const env = page.locator('[data-testid="environment"][data-name="production"]');
    await env.waitFor();
    assert.equal(await env.getByTestId("env-revision").textContent(), second.slice(0, 7));
    assert.match(await env.textContent(), new RegExp(`listens on[\\s\\S]*127\\.0\\.0\\.1:${production}`));
    assert.ok((await page.locator('[data-testid="environment"][data-name="staging"]').count()) === 1);
    const button = env.getByTestId("rollback");
    assert.equal(await button.textContent(), `Roll back production to ${first.slice(0, 7)}`);
    await page.screenshot({ path: join(SCREENSHOTS, "environments.png"), fullPage: true });

    // One confirmation; the rollback is a router switch to the set kept in termination-wait.
    await button.click();
    await env.getByTestId("rollback-confirm").click();
    const newest = env.getByTestId("deployment-row").first();
    await env.locator('[data-testid="deployment-row"]').nth(2).waitFor({ timeout: 60_000 });
    await newest.and(page.locator('[data-status="Succeeded"]')).waitFor({ timeout: 60_000 });
    const history = JSON.parse(cli("deployments", "production", "--json"));
    assert.equal(history[0].initiator, "user");
    assert.equal(history[0].revision, first);
    assert.equal(history[0].rollback_of, history[1].id);
    const row = await newest.textContent();
    assert.match(row, /user/);
    assert.ok(row.includes(history[1].id), `the row names the deployment it undoes: ${row}`);
    assert.equal(await waitFor("production to serve release 1 again", async () => (await production_()) === v1 && v1, 30_000), v1);
    await env.getByTestId("env-revision").filter({ hasText: first.slice(0, 7) }).waitFor();
    // The switch took milliseconds: no "Rolling back…" is left behind.
    await env.getByTestId("rollback-progress").waitFor({ state: "detached", timeout: 10_000 });
    await page.screenshot({ path: join(OUT, "environments-rolled-back.png"), fullPage: true });
    assert.deepEqual(consoleErrors, []);
    await page.close();
  });
});
