// The Execution page's timeline: where each action's bar sits on the
// execution's time axis, and which action the page opens on.

import type { ActionRecord, ExecutionDetail } from "./bindings";

/** Left offset and width, in percent of the execution's duration so far. */
export function timelineBar(
  d: Pick<ExecutionDetail, "started_at" | "ended_at">,
  a: Pick<ActionRecord, "started_at" | "ended_at">,
  now: number,
): { left: number; width: number } | undefined {
  if (a.started_at === null) return undefined;
  const end = d.ended_at ?? now;
  const span = Math.max(1, end - d.started_at);
  const left = ((a.started_at - d.started_at) / span) * 100;
  const right = (((a.ended_at ?? end) - d.started_at) / span) * 100;
  const clamp = (x: number) => Math.min(100, Math.max(0, x));
  // A bar stays visible however short the action was.
  return { left: clamp(left), width: Math.max(0.5, clamp(right) - clamp(left)) };
}

/**
 * The action to show: the one the URL names, else the one needing the user
 * (an approval waiting), else one running, else the first that failed,
 * else the last that started.
 */
export function defaultAction(
  d: ExecutionDetail,
  stage?: number,
  action?: string,
): { stage: number; action: string } | undefined {
  if (stage !== undefined && action && d.stages[stage]?.actions.some((a) => a.name === action)) return { stage, action };
  const all = d.stages.flatMap((s, si) => s.actions.map((a) => ({ stage: si, a })));
  const pick =
    all.find(({ a }) => a.type === "approval" && a.status === "InProgress" && a.approval === null) ??
    all.find(({ a }) => a.status === "InProgress") ??
    all.find(({ a }) => a.status === "Failed") ??
    all.filter(({ a }) => a.started_at !== null).pop() ??
    all[0];
  return pick && { stage: pick.stage, action: pick.a.name };
}
