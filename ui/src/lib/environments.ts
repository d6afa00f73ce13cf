// The Environments page's pure parts: keeping a deployment history current
// from the event stream, and the words the Roll back button uses.

import type { Deployment, DeploymentStatus, EnvironmentInfo, EnvironmentLive, LiveInstance, TrafficPoint } from "./bindings";

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

/** The words and colour of one live instance: health first, then its process state. */
export function instanceLabel(i: LiveInstance): { text: string; tone: "ok" | "fail" | "warn" | "" } {
  if (i.state === "stopped") return { text: "stopped", tone: "" };
  if (i.state === "restarting") return { text: "restarting", tone: "fail" };
  if (i.health === "unhealthy") return { text: "unhealthy", tone: "fail" };
  if (i.state === "starting") return { text: "starting", tone: "warn" };
  if (i.health === "healthy") return { text: i.in_service ? "healthy" : "healthy, out of service", tone: i.in_service ? "ok" : "warn" };
  return { text: "checking", tone: "warn" };
}

/**
 * The SVG path of a traffic chart: the new set's share as a step line from
 * the first point to `now`, in a `width` × `height` box (0% at the bottom).
 * The time axis runs to `end` when that is later than now (the end of the
 * current hold or bake), so the line grows towards it.
 */
export function trafficPath(points: TrafficPoint[], now: number, width: number, height: number, end = now): string {
  if (points.length === 0) return "";
  const start = points[0].at;
  const last = Math.max(now, points[points.length - 1].at);
  const span = Math.max(end, last, start + 1) - start;
  const x = (t: number) => ((t - start) / span) * width;
  const y = (percent: number) => height - (percent / 100) * height;
  const fmt = (n: number) => Number(n.toFixed(1));
  let d = `M${fmt(x(start))},${fmt(y(points[0].percent))}`;
  for (let i = 1; i < points.length; i++) {
    d += ` H${fmt(x(points[i].at))} V${fmt(y(points[i].percent))}`;
  }
  return `${d} H${fmt(x(last))}`;
}

/** Replaces the live view of the environment `live` is about. */
export function withLive(list: EnvironmentInfo[], live: EnvironmentLive): EnvironmentInfo[] {
  return list.map((e) => (e.pipeline === live.pipeline && e.environment === live.environment ? { ...e, live } : e));
}
