import { ApiError } from "./api";

/** The engine's message for a failed call, as the page shows it. */
export function message(e: unknown): string {
  return e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
}
