import { describe, expect, it } from "vitest";
import type { Deployment } from "./bindings";
import { HISTORY_PAGE, canRollBackTo, stillRunning, mayHaveMore, nextHistoryLimit, rollbackLabel, statusTone, upsertDeployment } from "./environments";

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
});
