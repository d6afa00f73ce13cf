// Toasts: the engine's notifications shown in a corner for a while. They go
// away on their own so that they never hide the page for long (an approval
// toast outlives its approval otherwise); failures stay longer.

import type { Notification, NotificationLevel } from "./bindings";

export type Toast = { id: number; notification: Notification };

/** How long a toast of this level stays, in ms. */
export function toastLifetime(level: NotificationLevel): number {
  return level === "failure" || level === "warning" ? 20_000 : 8_000;
}

/** At most this many toasts at once; the oldest go first. */
export const MAX_TOASTS = 3;

export function addToast(list: Toast[], toast: Toast): Toast[] {
  return [...list, toast].slice(-MAX_TOASTS);
}

export function removeToast(list: Toast[], id: number): Toast[] {
  return list.filter((t) => t.id !== id);
}
