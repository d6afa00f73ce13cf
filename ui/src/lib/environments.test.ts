import { describe, expect, it } from "vitest";
import type { Deployment, EnvironmentInfo, LiveInstance } from "./bindings";
import {
  HISTORY_PAGE,
  canRollBackTo,
  instanceLabel,
  stillRunning,
  mayHaveMore,
  nextHistoryLimit,
  rollbackLabel,
  statusTone,
  trafficPath,
  upsertDeployment,
  withLive,
} from "./environments";

function d(id: string, over: Partial<Deployment> = {}): Deployment {
  return {
    id,
    pipeline: "shop/web",
    environment: "staging",
    provider: "local",
    revision: `${id}aaaaaaaaaa`,
    message: "",
    artifact: `art-${id}`,
    strategy: "blue-green",
    status: "Succeeded",
    initiator: "pipeline",
    rollback_of: null,
    execution_id: null,
    stage: null,
    action: null,
    log: null,
    error: null,
    started_at: 1,
    ended_at: 2,
    ...over,
  };
}

describe("environments", () => {
  it("keeps the history newest first as deployments start and end", () => {
    let list = [d("b"), d("a")];
    list = upsertDeployment(list, d("c", { status: "InProgress" }));
    expect(list.map((x) => x.id)).toEqual(["c", "b", "a"]);
    list = upsertDeployment(list, d("c", { status: "RolledBack" }));
    expect(list.map((x) => x.status)).toEqual(["RolledBack", "Succeeded", "Succeeded"]);
  });

  it("names the revision a rollback restores", () => {
    expect(rollbackLabel("staging", d("1234567"))).toBe("Roll back staging to 1234567");
  });

  it("offers rollback only to earlier good revisions", () => {
    const current = d("b");
    expect(canRollBackTo(d("a"), current)).toBe(true);
    expect(canRollBackTo(current, current)).toBe(false);
    expect(canRollBackTo(d("x", { status: "Failed" }), current)).toBe(false);
    expect(canRollBackTo(d("y", { artifact: current.artifact }), current)).toBe(false);
    expect(statusTone("RolledBack")).toBe("warn");
  });
});

describe("history paging", () => {
  it("reads one more page at a time, and offers more only after a full read", () => {
    expect(nextHistoryLimit(HISTORY_PAGE)).toBe(2 * HISTORY_PAGE);
    expect(mayHaveMore(HISTORY_PAGE, HISTORY_PAGE)).toBe(true);
    expect(mayHaveMore(HISTORY_PAGE + 2, HISTORY_PAGE)).toBe(true);
    expect(mayHaveMore(12, HISTORY_PAGE)).toBe(false);
  });
});

describe("stillRunning", () => {
  it("is true until the deployment is seen finished", () => {
    expect(stillRunning([], "d-1")).toBe(true);
    expect(stillRunning([d("d-1", { status: "InProgress" })], "d-1")).toBe(true);
    expect(stillRunning([d("d-1", { status: "Succeeded" }), d("d-0")], "d-1")).toBe(false);
    expect(stillRunning([d("d-1", { status: "Failed" })], "d-1")).toBe(false);
  });

  it("names an instance by its health first, then by what its process does", () => {
    const i = (over: Partial<LiveInstance>): LiveInstance => ({ index: 0, port: 1, pid: 9, state: "running", health: "healthy", in_service: true, ...over });
    expect(instanceLabel(i({}))).toEqual({ text: "healthy", tone: "ok" });
    expect(instanceLabel(i({ in_service: false })).tone).toBe("warn");
    expect(instanceLabel(i({ health: "unhealthy" }))).toEqual({ text: "unhealthy", tone: "fail" });
    expect(instanceLabel(i({ health: null }))).toEqual({ text: "checking", tone: "warn" });
    expect(instanceLabel(i({ state: "restarting", health: "healthy" })).text).toBe("restarting");
    expect(instanceLabel(i({ state: "stopped", health: null })).text).toBe("stopped");
  });

  it("draws the new set's traffic as steps up to now", () => {
    const points = [
      { at: 1000, percent: 0 },
      { at: 2000, percent: 20 },
      { at: 4000, percent: 100 },
    ];
    // 0..5000 ms over 100 px; 100 % is the top (y 0) of a 50 px box.
    expect(trafficPath(points, 5000, 100, 50)).toBe("M0,50 H25 V40 H75 V0 H100");
    expect(trafficPath([], 5000, 100, 50)).toBe("");
    // Until the hold ends at 9000 ms, the axis runs there and the line stops at now.
    expect(trafficPath(points, 5000, 100, 50, 9000)).toBe("M0,50 H12.5 V40 H37.5 V0 H50");
    // One point at now still draws a line, not a NaN.
    expect(trafficPath([{ at: 5000, percent: 20 }], 5000, 100, 50)).toBe("M0,40 H0");
  });

  it("puts a live view on the environment it is about, and only there", () => {
    const env = (environment: string): EnvironmentInfo => ({
      pipeline: "shop/web",
      environment,
      provider: "local",
      listen: null,
      instances: 2,
      current: null,
      latest: null,
      rollback_target: null,
      live: null,
      serving: null,
    });
    const live = { pipeline: "shop/web", environment: "prod", listen: "127.0.0.1:1", sets: [], progress: null };
    const next = withLive([env("staging"), env("prod")], live);
    expect(next[0].live).toBeNull();
    expect(next[1].live).toEqual(live);
  });
});
