// Generated from crates/core/src/api by ts-rs. Do not edit: run `make bindings`.

export type VersionRequest = Record<symbol, never>;

export type VersionResponse = { name: string, version: string, };

export type StatusRequest = Record<symbol, never>;

export type StatusResponse = { version: string, 
/**
 * The data directory this engine uses (database, workspaces, instances).
 */
data_dir: string, 
/**
 * Which process answers: `desktop`, `serve` or `cli`.
 */
host: string, 
/**
 * The operating system (`linux`, `macos`, `windows`).
 */
os: string, pid: number, 
/**
 * When this engine started, Unix milliseconds.
 */
started_at: number, 
/**
 * How long it has been up, milliseconds.
 */
uptime_ms: number, 
/**
 * Every command the table answers.
 */
commands: Array<string>, };

export type NotifyRequest = { title: string, body: string, level?: NotificationLevel, };

export type NotifyResponse = { 
/**
 * How many listeners (windows, browser tabs, the tray) received it.
 */
delivered_to: number, };

export type ApiError = { code: ErrorCode, message: string, };

export type ErrorCode = "unknown_command" | "invalid_request" | "unauthorized" | "forbidden_origin" | "io" | "internal";

export type Event = { "name": "notification", "payload": Notification };

export type Notification = { title: string, body: string, level: NotificationLevel, };

export type NotificationLevel = "info" | "success" | "warning" | "failure";

/** Every command: its request and response types. */
export type Commands = {
  /** The engine's name and version. */
  version: { request: VersionRequest; response: VersionResponse };
  /** What this engine is and where it keeps its data. */
  status: { request: StatusRequest; response: StatusResponse };
  /** Sends a notification to every listener (tray, windows, browser tabs). */
  notify: { request: NotifyRequest; response: NotifyResponse };
};

export type CommandName = keyof Commands;

export const COMMAND_NAMES: CommandName[] = ["version", "status", "notify"];
