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
 * The SQLite database holding every record.
 */
database: string, 
/**
 * How many repositories were added.
 */
repositories: number, 
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

export type RepoAddRequest = { 
/**
 * The repository's work tree, or any folder inside it.
 */
path: string, 
/**
 * Default: the work tree's folder name.
 */
name?: string, 
/**
 * Trust it now, so its pipelines may run.
 */
trust?: boolean, };

export type RepositoryInfo = { name: string, path: string, trusted: boolean, added_at: number, 
/**
 * The work tree is gone (moved or deleted) or no longer a git repository.
 */
missing: boolean, };

export type RepoListRequest = Record<symbol, never>;

export type RepoListResponse = { repositories: Array<RepositoryInfo>, };

export type RepoNameRequest = { name: string, };

export type RepoTrustRequest = { name: string, 
/**
 * false withdraws trust; default true.
 */
trusted?: boolean, };

export type ApiError = { code: ErrorCode, message: string, };

export type ErrorCode = "unknown_command" | "invalid_request" | "unauthorized" | "forbidden_origin" | "not_found" | "already_exists" | "not_a_repository" | "invalid_input" | "io" | "internal";

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
  /** Adds a local git repository (untrusted unless `trust`). */
  repo_add: { request: RepoAddRequest; response: RepositoryInfo };
  /** Every added repository, with whether it is missing. */
  repo_list: { request: RepoListRequest; response: RepoListResponse };
  /** Forgets a repository (its files are not touched). */
  repo_remove: { request: RepoNameRequest; response: RepositoryInfo };
  /** Trusts a repository, so its pipelines may run (or withdraws trust). */
  repo_trust: { request: RepoTrustRequest; response: RepositoryInfo };
};

export type CommandName = keyof Commands;

export const COMMAND_NAMES: CommandName[] = ["version", "status", "notify", "repo_add", "repo_list", "repo_remove", "repo_trust"];
