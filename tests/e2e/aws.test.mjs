// AWS environments in the web UI of `slipway serve`, in Debian's Chromium:
// a Lambda function, a bucket and a stack in a moto server (standing in for
// AWS; the real SDK clients reach it through AWS_ENDPOINT_URL), released by
// a real pipeline, shown on the Environments page as the account says they
// serve, and a Lambda rolled back with the Roll back button. Runs inside
// tests/with-keyring.sh: the profile's keys live in a real keychain.

import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";
import { OUT, ROOT, SLIPWAY, sleep, startServe, tempDir, waitFor } from "./support.mjs";

const SCREENSHOTS = join(ROOT, "docs", "screenshots");
const REGION = "eu-west-1";
const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzBROWSERKEY";

async function freePort() {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function startMoto() {
  const port = await freePort();
  const child = spawn(join(ROOT, ".venv/bin/moto_server"), ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitFor("moto to listen", async () => {
    try {
      return (await fetch(`${url}/moto-api/`)).ok;
    } catch {
      return false;
    }
  }, 60_000, 200);
  // moto answers Lambda invokes without Docker; it runs no code either way.
  await fetch(`${url}/moto-api/config`, { method: "POST", body: JSON.stringify({ lambda: { use_docker: false } }) });
  return { child, url };
}

const PIPELINE = `version: 1
name: rel
environments:
  api:
    provider: lambda
    account: prod
    region: ${REGION}
    function: orders-api
    alias: live
  site:
    provider: s3
    account: prod
    region: ${REGION}
    bucket: www.example.com
    delete: true
    cache-control: { "*.html": "no-cache" }
  infra:
    provider: cloudformation
    account: prod
    region: ${REGION}
    stack: orders-infra
    template: template.yml
    parameters: { Version: "#{Build.VERSION}" }
  orders:
    provider: ecs
    account: prod
    region: ${REGION}
    cluster: main
    service: orders
    strategy: rolling
stages:
  - name: Build
    actions:
      - name: package
        type: build
        namespace: Build
        outputs: [fn, web, stack, svc]
        buildspec:
          version: 0.2
          env:
            exported-variables: [VERSION]
          phases:
            build:
              commands: ["export VERSION=$(cat version)"]
          artifacts:
            base-directory: fn
            files: ["**/*"]
            secondary-artifacts:
              web: { base-directory: web, files: ["**/*"] }
              stack: { base-directory: infra, files: ["**/*"] }
              svc: { base-directory: svc, files: ["**/*"] }
  - name: Deploy
    actions:
      - { name: api, type: deploy, environment: api, inputs: [fn] }
      - { name: site, type: deploy, environment: site, inputs: [web] }
      - { name: infra, type: deploy, environment: infra, inputs: [stack] }
      - { name: orders, type: deploy, environment: orders, inputs: [svc] }
`;

const TEMPLATE = `AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  Version:
    Type: String
Resources:
  Release:
    Type: AWS::SSM::Parameter
    Properties:
      Name: /orders/version
      Type: String
      Value: !Ref Version
Outputs:
  Version:
    Value: !Ref Version
`;

/** An ECS task definition (RegisterTaskDefinition's JSON) running `image`. */
const taskdef = (image) =>
  JSON.stringify({
    family: "orders",
    networkMode: "bridge",
    requiresCompatibilities: ["EC2"],
    containerDefinitions: [{ name: "web", image, cpu: 128, memory: 256, essential: true }],
  });

describe("AWS environments on the Environments page", () => {
  let moto;
  let serve;
  let browser;
  const dataDir = tempDir("aws");
  const env = () => ({ AWS_ENDPOINT_URL: moto.url, SLIPWAY_LOG: "warn" });
  const cli = (...args) =>
    execFileSync(SLIPWAY, [...args, "--data-dir", dataDir], { encoding: "utf8", env: { ...process.env, ...env() } });
  const awsEnv = () => {
    const e = { ...process.env, AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing" };
    delete e.AWS_PROFILE;
    return e;
  };
  const aws = (...args) =>
    JSON.parse(
      execFileSync(join(ROOT, ".venv/bin/aws"), ["--endpoint-url", moto.url, "--region", REGION, "--output", "json", ...args], {
        encoding: "utf8",
        env: awsEnv(),
      }) || "null",
    );

  before(async () => {
    moto = await startMoto();
    const zipDir = tempDir("fn");
    writeFileSync(join(zipDir, "handler.py"), "def handler(event, context):\n    return 'v0'\n");
    execFileSync("python3", ["-c", "import shutil,sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2])", join(zipDir, "fn"), zipDir]);
    // moto wants the function's role to exist.
    aws("iam", "create-role", "--role-name", "lambda", "--assume-role-policy-document",
      JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Service: "lambda.amazonaws.com" }, Action: "sts:AssumeRole" }] }));
    aws("lambda", "create-function", "--function-name", "orders-api", "--runtime", "python3.12", "--handler", "handler.handler",
      "--role", "arn:aws:iam::123456789012:role/lambda", "--zip-file", `fileb://${join(zipDir, "fn.zip")}`);
    aws("s3api", "create-bucket", "--bucket", "www.example.com", "--create-bucket-configuration", `LocationConstraint=${REGION}`);
    // A cluster with a container instance and a service on revision 1
    // (moto starts no task; an update sets its running count).
    aws("ecs", "create-cluster", "--cluster-name", "main");
    const instance = aws("ec2", "run-instances", "--image-id", "ami-12c6146b", "--count", "1", "--instance-type", "t3.large");
    aws("ecs", "register-container-instance", "--cluster", "main", "--instance-identity-document",
      JSON.stringify({ instanceId: instance.Instances[0].InstanceId }));
    aws("ecs", "register-task-definition", "--cli-input-json", taskdef("registry.example.com/orders:v0"));
    aws("ecs", "create-service", "--cluster", "main", "--service-name", "orders", "--task-definition", "orders:1", "--desired-count", "2");
    aws("ecs", "update-service", "--cluster", "main", "--service", "orders", "--desired-count", "2");
    execFileSync(SLIPWAY, ["creds", "add", "prod", "--access-key-id", "AKIAEXAMPLEBROWSER", "--region", "us-east-1", "--data-dir", dataDir], {
      input: `${SECRET}\n`,
      env: { ...process.env, ...env() },
    });
    serve = await startServe(dataDir, env());
    browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
    });
  });

  after(async () => {
    await browser?.close();
    if (serve && serve.child.exitCode === null) serve.child.kill("SIGTERM");
    moto?.child.kill();
  });

  it("shows what each AWS environment serves, and rolls a Lambda back with one button", async () => {
    const repo = join(tempDir("repo"), "orders");
    const files = {
      ".slipway/rel.yml": PIPELINE,
      version: "v1",
      "fn/handler.py": "def handler(event, context):\n    return 'v1'\n",
      "web/index.html": "<h1>Orders v1</h1>\n",
      "web/app.css": "h1 { color: teal }\n",
      "infra/template.yml": TEMPLATE,
      "svc/taskdef.json": taskdef("<IMAGE>"),
      "svc/imageDetail.json": JSON.stringify({ ImageURI: "registry.example.com/orders:v1" }),
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(repo, path)), { recursive: true });
      writeFileSync(join(repo, path), text);
    }
    const git = (...args) => execFileSync("git", ["-C", repo, "-c", "user.name=Release Manager", "-c", "user.email=rm@example.com", ...args]);
    git("init", "-q", "-b", "main");
    git("add", "-A");
    git("commit", "-qm", "Orders v1");
    cli("repo", "add", repo, "--trust");
    cli("run", "orders/rel", "--wait");
    writeFileSync(join(repo, "version"), "v2");
    writeFileSync(join(repo, "fn/handler.py"), "def handler(event, context):\n    return 'v2'\n");
    writeFileSync(join(repo, "web/index.html"), "<h1>Orders v2</h1>\n");
    writeFileSync(join(repo, "svc/imageDetail.json"), JSON.stringify({ ImageURI: "registry.example.com/orders:v2" }));
    git("commit", "-qam", "Orders v2");
    cli("run", "orders/rel", "--wait");
    const alias = () => aws("lambda", "get-alias", "--function-name", "orders-api", "--name", "live");
    const v2 = alias().FunctionVersion;
    assert.equal(v2, "2", "the second release published version 2 and the alias points at it");

    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await page.goto(serve.url);
    await page.getByTestId("nav-environments").click();
    const card = (name) => page.locator(`[data-testid="environment"][data-name="${name}"]`);
    // Each environment says what its account serves, read from AWS.
    await card("api")
      .getByTestId("env-serving")
      .waitFor({ timeout: 30_000 })
      .catch(async (e) => {
        await page.screenshot({ path: join(OUT, "environments-aws-failed.png"), fullPage: true });
        throw e;
      });
    assert.match(await card("api").getByTestId("serving-summary").textContent(), /version 2/);
    assert.match(await card("site").getByTestId("serving-summary").textContent(), /www\.example\.com/);
    assert.match(await card("infra").getByTestId("serving-summary").textContent(), /orders-infra.*(CREATE|UPDATE)_COMPLETE/);
    assert.match(await card("orders").getByTestId("serving-summary").textContent(), /orders:3/);
    for (const name of ["api", "site", "infra", "orders"]) {
      assert.equal(await card(name).getByTestId("serving-error").count(), 0, `${name} was read without an error`);
    }
    await page.screenshot({ path: join(SCREENSHOTS, "environments-aws.png"), fullPage: true });

    // One confirmation, then the alias is back on version 1.
    const started = Date.now();
    await card("api").getByTestId("rollback").click();
    await card("api").getByTestId("rollback-confirm").click();
    await waitFor("the alias back on version 1", async () => alias().FunctionVersion === "1", 30_000, 100);
    const ms = Date.now() - started;
    writeFileSync(join(OUT, "aws-browser-rollback-ms.txt"), `${ms}\n`);
    await waitFor("the page to show version 1", async () => /version 1\b/.test(await card("api").getByTestId("serving-summary").textContent()), 30_000);
    const history = JSON.parse(cli("deployments", "api", "--json"));
    assert.equal(history[0].initiator, "user");
    assert.equal(history[0].rollback_of, history[1].id);
    assert.equal(history[0].status, "Succeeded");
    assert.deepEqual(alias().RoutingConfig?.AdditionalVersionWeights ?? {}, {}, "no weight left on the rolled-back version");
    // The profile's secret is nowhere the person sees.
    assert.ok(!(await page.content()).includes(SECRET));
    await sleep(0);
  });
});
