import { describe, expect, it } from "vitest";
import type { ActionRecord, ExecutionDetail } from "./bindings";
import { defaultAction, timelineBar } from "./timeline";

const action = (name: string, over: Partial<ActionRecord> = {}): ActionRecord => ({
  name,
  type: "build",
  run_order: 1,
  status: "Succeeded",
  attempt: 1,
  started_at: 0,
  ended_at: 10,
  variables: {},
  reports: [],
  error: null,
  approval: null,
  ...over,
});

const exec = (stages: ActionRecord[][]): ExecutionDetail => ({
  id: "e",
  pipeline: "shop/web",
  repository: "shop",
  status: "InProgress",
  revision: "abc",
  branch: "main",
  message: "m",
  trigger: "manual",
  started_at: 0,
  ended_at: null,
  error: null,
  variables: {},
  artifacts: [],
  stages: stages.map((actions, i) => ({ name: `S${i}`, status: null, started_at: null, ended_at: null, actions })),
});

describe("the execution timeline", () => {
  it("places each action on the execution's time axis", () => {
    expect(timelineBar({ started_at: 1000, ended_at: 3000 }, { started_at: 1500, ended_at: 2500 }, 0)).toEqual({ left: 25, width: 50 });
    // Still running: the bar reaches now.
    expect(timelineBar({ started_at: 0, ended_at: null }, { started_at: 500, ended_at: null }, 1000)).toEqual({ left: 50, width: 50 });
    expect(timelineBar({ started_at: 0, ended_at: 100 }, { started_at: null, ended_at: null }, 0)).toBeUndefined();
    expect(timelineBar({ started_at: 0, ended_at: 100_000 }, { started_at: 5, ended_at: 6 }, 0)!.width).toBe(0.5);
  });

  it("opens on what needs the user: an approval waiting, then what runs, then what failed", () => {
    const waiting = exec([[action("compile")], [action("ok?", { type: "approval", status: "InProgress", ended_at: null })]]);
    expect(defaultAction(waiting)).toEqual({ stage: 1, action: "ok?" });
    const failed = exec([[action("compile"), action("lint", { status: "Failed" })], [action("ship", { status: null, started_at: null })]]);
    expect(defaultAction(failed)).toEqual({ stage: 0, action: "lint" });
    const done = exec([[action("compile")], [action("ship")]]);
    expect(defaultAction(done)).toEqual({ stage: 1, action: "ship" });
  });

  it("keeps the action the URL names, when it exists", () => {
    const d = exec([[action("compile")], [action("ship")]]);
    expect(defaultAction(d, 0, "compile")).toEqual({ stage: 0, action: "compile" });
    expect(defaultAction(d, 0, "nope")).toEqual({ stage: 1, action: "ship" });
  });
});
