import { describe, expect, it } from "vitest";
import type { ExecutionDetail, PipelineOverview } from "./bindings";
import { applyExecution, sortPipelines, stageStrip } from "./stages";

const pipeline = (key: string, over: Partial<PipelineOverview> = {}): PipelineOverview => ({
  key,
  repository: key.split("/")[0],
  name: key.split("/")[1],
  file: `.slipway/${key.split("/")[1]}.yml`,
  trusted: true,
  stages: ["Build", "Approve", "Ship"],
  triggers: [],
  latest: null,
  ...over,
});

const detail = (over: Partial<ExecutionDetail> = {}): ExecutionDetail => ({
  id: "e2",
  pipeline: "shop/web",
  repository: "shop",
  status: "InProgress",
  revision: "0123456789abcdef",
  branch: "main",
  message: "Faster checkout",
  trigger: "manual",
  started_at: 10_000,
  ended_at: null,
  error: null,
  variables: {},
  artifacts: [],
  stages: [
    {
      name: "Build",
      status: "Succeeded",
      started_at: 10_000,
      ended_at: 13_500,
      actions: [
        { name: "compile", type: "command", run_order: 1, status: "Succeeded", attempt: 1, started_at: 10_000, ended_at: 13_500, variables: {}, reports: [], error: null, approval: null },
      ],
    },
    {
      name: "Approve",
      status: "InProgress",
      started_at: 13_500,
      ended_at: null,
      actions: [
        { name: "release-manager", type: "approval", run_order: 1, status: "InProgress", attempt: 1, started_at: 13_500, ended_at: null, variables: {}, reports: [], error: null, approval: null },
      ],
    },
    { name: "Ship", status: null, started_at: null, ended_at: null, actions: [] },
  ],
  ...over,
});

describe("the stage strip", () => {
  it("shows a never-run pipeline's declared stages as not run", () => {
    const cells = stageStrip(pipeline("shop/web"), 0);
    expect(cells.map((c) => [c.name, c.tone, c.label])).toEqual([
      ["Build", "NotRun", "Not run"],
      ["Approve", "NotRun", "Not run"],
      ["Ship", "NotRun", "Not run"],
    ]);
  });

  it("shows each stage's status and duration, and the stage waiting for approval", () => {
    const [row] = applyExecution([pipeline("shop/web")], detail())!;
    expect(row.latest?.pending_approval).toBe(true);
    const cells = stageStrip(row, 20_000);
    expect(cells[0]).toMatchObject({ tone: "Succeeded", label: "Succeeded · 3.5 s", waiting: false });
    expect(cells[1]).toMatchObject({ tone: "InProgress", label: "Waiting for approval · 6.5 s", waiting: true });
    expect(cells[2]).toMatchObject({ tone: "NotRun", label: "Not run" });
  });

  it("keeps a newer execution when an older one's update arrives late", () => {
    const [row] = applyExecution([pipeline("shop/web")], detail({ id: "new", started_at: 50_000 }))!;
    const [after] = applyExecution([row], detail({ id: "old", started_at: 10_000 }))!;
    expect(after.latest?.id).toBe("new");
  });

  it("asks for a fresh list when an execution's pipeline has no row", () => {
    expect(applyExecution([pipeline("shop/api")], detail())).toBeUndefined();
  });

  it("puts pipelines waiting for approval first", () => {
    const waiting = applyExecution([pipeline("zoo/web")], detail({ pipeline: "zoo/web" }))![0];
    const sorted = sortPipelines([pipeline("alpha/ci"), waiting, pipeline("beta/ci")]);
    expect(sorted.map((p) => p.key)).toEqual(["zoo/web", "alpha/ci", "beta/ci"]);
  });
});
