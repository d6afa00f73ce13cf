// The stage strip: what each box of a pipeline's row shows, and the live
// update of a pipeline row from an execution's details.

import type { ExecutionDetail, LatestExecution, PipelineOverview, Status } from "./bindings";
import { formatDuration } from "./format";

export interface StageCell {
  name: string;
  /** A CSS class: the status, or `NotRun` for a stage that has not started. */
  tone: Status | "NotRun";
  /** "Succeeded · 3.2 s", "InProgress · 12 s", "Not run". */
  label: string;
  /** The stage waits for an approval. */
  waiting: boolean;
}

/** How long something took, or has taken so far when it has not ended. */
export function elapsed(startedAt: number | null, endedAt: number | null, now: number): number | undefined {
  if (startedAt === null) return undefined;
  return Math.max(0, (endedAt ?? now) - startedAt);
}

/**
 * The boxes of a pipeline's row: the latest execution's stages when there
 * is one (they are what ran), else the stages the file declares, not run.
 */
export function stageStrip(p: PipelineOverview, now: number): StageCell[] {
  const latest = p.latest;
  if (!latest) return p.stages.map((name) => ({ name, tone: "NotRun", label: "Not run", waiting: false }));
  return latest.stages.map((s) => {
    const ms = elapsed(s.started_at, s.ended_at, now);
    const tone = s.status ?? "NotRun";
    const waiting = latest.pending_approval && s.status === "InProgress";
    const label =
      s.status === null ? "Not run" : `${waiting ? "Waiting for approval" : s.status}${ms === undefined ? "" : ` · ${formatDuration(ms)}`}`;
    return { name: s.name, tone, label, waiting };
  });
}

/** The latest-execution summary a pipeline row shows, from the details. */
export function latestFromDetail(d: ExecutionDetail): LatestExecution {
  const { stages, artifacts: _a, variables: _v, error: _e, ...summary } = d;
  return {
    ...summary,
    stages: stages.map((s) => ({ name: s.name, status: s.status, started_at: s.started_at, ended_at: s.ended_at })),
    pending_approval: stages.some((s) =>
      s.actions.some((a) => a.type === "approval" && a.status === "InProgress" && a.approval === null),
    ),
  };
}

/**
 * Applies an execution's new details to the pipelines list: the row of its
 * pipeline shows it when it is that pipeline's latest (or newer). Returns
 * undefined when no row is its pipeline (the list must be read again).
 */
export function applyExecution(list: PipelineOverview[], d: ExecutionDetail): PipelineOverview[] | undefined {
  const at = list.findIndex((p) => p.key === d.pipeline);
  if (at < 0) return undefined;
  const current = list[at].latest;
  if (current && current.id !== d.id && current.started_at > d.started_at) return list;
  const next = list.slice();
  next[at] = { ...list[at], latest: latestFromDetail(d) };
  return next;
}

/** Pipelines waiting for an approval first, then by their key. */
export function sortPipelines(list: PipelineOverview[]): PipelineOverview[] {
  return list
    .slice()
    .sort(
      (a, b) =>
        Number(b.latest?.pending_approval ?? false) - Number(a.latest?.pending_approval ?? false) ||
        a.key.localeCompare(b.key),
    );
}
