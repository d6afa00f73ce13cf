import type { ExecutionSummary } from "./bindings";

/** Applies a live update: replaces the execution it names, or adds it on top. */
export function upsertExecution(list: ExecutionSummary[], update: ExecutionSummary, limit = 20): ExecutionSummary[] {
  const at = list.findIndex((e) => e.id === update.id);
  if (at >= 0) {
    const next = list.slice();
    next[at] = update;
    return next;
  }
  return [update, ...list].slice(0, limit);
}
