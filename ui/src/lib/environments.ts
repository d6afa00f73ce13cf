// The Environments page's pure parts: keeping a deployment history current
// from the event stream, and the words the Roll back button uses.

import type { Deployment, DeploymentStatus } from "./bindings";

/** Puts `d` into `list` (newest first): replaced if known, prepended if new. */
export function upsertDeployment(list: Deployment[], d: Deployment): Deployment[] {
  const i = list.findIndex((x) => x.id === d.id);
  if (i >= 0) {
    const copy = list.slice();
    copy[i] = d;
    return copy;
  }
  return [d, ...list];
}

/** The pill colour of a deployment status. */
export function statusTone(status: DeploymentStatus): "ok" | "fail" | "warn" | "" {
  switch (status) {
    case "Succeeded":
      return "ok";
    case "Failed":
    case "Interrupted":
      return "fail";
    case "RolledBack":
    case "Stopped":
      return "warn";
    default:
      return "";
  }
}

export function shortRevision(revision: string): string {
  return revision.slice(0, 7);
}

/** "Roll back staging to 1a2b3c4": what the button and its confirmation say. */
export function rollbackLabel(environment: string, target: Deployment): string {
  return `Roll back ${environment} to ${shortRevision(target.revision)}`;
}

/** Earlier successful rows a person may roll back to (not the one serving). */
export function canRollBackTo(d: Deployment, current: Deployment | null): boolean {
  return d.status === "Succeeded" && current !== null && d.id !== current.id && d.artifact !== current.artifact;
}

/**
 * How many history rows a page of the table holds. An environment may have
 * a hundred thousand deployments; the page reads the newest ones and more on
 * request, so the DOM and the memory stay bounded by what a person asks for.
 */
export const HISTORY_PAGE = 50;

/** The next history limit after "Show more". */
export function nextHistoryLimit(limit: number): number {
  return limit + HISTORY_PAGE;
}

/**
 * Whether older deployments may exist beyond `shown`: a read of `limit` rows
 * that came back full. (Rows arriving live can make `shown` exceed it.)
 */
export function mayHaveMore(shown: number, limit: number): boolean {
  return shown >= limit;
}

/**
 * Whether deployment `id` is still to be shown as in progress: not already
 * seen finished in `rows`. A quick rollback (a router switch) can finish,
 * and its event arrive, before the call that started it has returned.
 */
export function stillRunning(rows: Deployment[], id: string): boolean {
  const row = rows.find((d) => d.id === id);
  return row === undefined || row.status === "InProgress";
}
