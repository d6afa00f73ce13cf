import { describe, expect, it } from "vitest";
import type { ExecutionSummary } from "./bindings";
import { upsertExecution } from "./executions";

const exec = (id: string, status: ExecutionSummary["status"]): ExecutionSummary => ({
  id,
  pipeline: "shop/release",
  repository: "shop",
  status,
  revision: "0123456789abcdef",
  branch: "main",
  message: "Fix checkout",
  trigger: "manual",
  started_at: 0,
  ended_at: null,
});

describe("live execution updates", () => {
  it("change the row of the execution they name", () => {
    const list = [exec("b", "InProgress"), exec("a", "Succeeded")];
    const next = upsertExecution(list, exec("b", "Failed"));
    expect(next.map((e) => [e.id, e.status])).toEqual([
      ["b", "Failed"],
      ["a", "Succeeded"],
    ]);
  });
  it("put a new execution on top and keep the list bounded", () => {
    const list = [exec("b", "Succeeded"), exec("a", "Succeeded")];
    const next = upsertExecution(list, exec("c", "InProgress"), 2);
    expect(next.map((e) => e.id)).toEqual(["c", "b"]);
  });
});
