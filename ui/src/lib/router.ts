// A small hash router: the page lives in the URL fragment (`#/pipelines`,
// `#/executions/ID`), so links work in the desktop webview and in a browser
// served from any path, and reloads and the back button keep the page.
// `#token=…` (from `slipway serve`) is not a route; api.ts takes it away.

import type { NotificationTarget } from "./bindings";

export type Route =
  | { page: "pipelines" }
  | { page: "execution"; id: string; stage?: number; action?: string }
  | { page: "environments" }
  | { page: "repositories" }
  | { page: "accounts" }
  | { page: "not-found"; path: string };

/** The pages the nav lists, in order. */
export const NAV: { page: Route["page"]; label: string; href: string }[] = [
  { page: "pipelines", label: "Pipelines", href: "#/pipelines" },
  { page: "environments", label: "Environments", href: "#/environments" },
  { page: "repositories", label: "Repositories", href: "#/repositories" },
  { page: "accounts", label: "Accounts", href: "#/accounts" },
];

/** Reads a route from `location.hash`. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "");
  if (path === "" || path === "/" || path.startsWith("token=")) return { page: "pipelines" };
  const parts = path.replace(/^\//, "").split("/").map(safeDecode);
  switch (parts[0]) {
    case "pipelines":
      if (parts.length === 1) return { page: "pipelines" };
      break;
    case "environments":
      if (parts.length === 1) return { page: "environments" };
      break;
    case "repositories":
      if (parts.length === 1) return { page: "repositories" };
      break;
    case "accounts":
      if (parts.length === 1) return { page: "accounts" };
      break;
    case "executions": {
      const [, id, stage, action] = parts;
      if (!id) break;
      if (stage === undefined) return { page: "execution", id };
      const index = Number(stage);
      if (!Number.isInteger(index) || index < 0 || !action || parts.length > 4) break;
      return { page: "execution", id, stage: index, action };
    }
  }
  return { page: "not-found", path };
}

/** The `#/…` link to a route. */
export function href(route: Route): string {
  switch (route.page) {
    case "execution": {
      const base = `#/executions/${encodeURIComponent(route.id)}`;
      return route.stage !== undefined && route.action
        ? `${base}/${route.stage}/${encodeURIComponent(route.action)}`
        : base;
    }
    case "not-found":
      return "#/pipelines";
    default:
      return `#/${route.page}`;
  }
}

/** The page that shows what a notification is about. The desktop shell
 * has the one other copy of this mapping, for a window that opens on it. */
export function targetRoute(target: NotificationTarget): Route {
  switch (target.kind) {
    case "execution":
      return { page: "execution", id: target.id };
    case "environment":
      return { page: "environments" };
  }
}

/** The `#/…` link to what a notification is about. */
export function targetHref(target: NotificationTarget): string {
  return href(targetRoute(target));
}

/** Goes to a route (adds a history entry, like following a link). */
export function navigate(route: Route): void {
  location.hash = href(route);
}

function safeDecode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}
