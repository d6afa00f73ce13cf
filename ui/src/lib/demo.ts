// The demo offer's pure parts: reading the two port fields and saying what
// the demo creates, where.

import type { DemoRequest, RepositoryInfo } from "./bindings";

/** What the page says after the demo was created. */
export type CreatedDemo = { repo: RepositoryInfo; staging: number; production: number };

/** The demo repository's name, as the engine creates it (core's demo::NAME). */
export const DEMO_REPOSITORY = "demo-shop";
/** Where its environments listen unless told otherwise (core's demo.rs). */
export const DEFAULT_STAGING_PORT = 18080;
export const DEFAULT_PRODUCTION_PORT = 18081;

/** A TCP port from a field: a whole number 1–65535, or why not. */
export function parsePort(text: string, what: string): number | { error: string } {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return { error: `The ${what} port must be a number from 1 to 65535.` };
  const n = Number(t);
  if (n < 1 || n > 65535) return { error: `The ${what} port must be from 1 to 65535, not ${t}.` };
  return n;
}

/** The `demo` request for the two fields, or the first thing wrong with them. */
export function demoRequest(
  staging: string,
  production: string,
): { request: Required<DemoRequest> } | { error: string } {
  const s = parsePort(staging, "staging");
  if (typeof s !== "number") return s;
  const p = parsePort(production, "production");
  if (typeof p !== "number") return p;
  if (s === p) return { error: `Staging and production need two different ports (both are ${s}).` };
  return { request: { staging_port: s, production_port: p } };
}

/** Where an environment of the demo will answer. */
export function demoUrl(port: number): string {
  return `http://127.0.0.1:${port}/`;
}

/** True when the demo repository is already among these pipeline keys (`REPO/PIPELINE`). */
export function hasDemo(pipelineKeys: string[]): boolean {
  return pipelineKeys.some((k) => k.startsWith(`${DEMO_REPOSITORY}/`));
}
