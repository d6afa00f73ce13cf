// Generated from crates/core/src/api by ts-rs. Do not edit: run `make bindings`.

export type ActionLogRequest = { 
/**
 * The execution id.
 */
id: string, 
/**
 * The stage's index in the execution (as in log events).
 */
stage: number, action: string, 
/**
 * Read forward from this byte (a `next_offset` from an earlier page).
 */
offset?: number, 
/**
 * Or read the whole lines just before this byte (an earlier page's
 * `offset`), to page backwards. With neither: the tail of the log.
 */
before?: number, 
/**
 * Most bytes to return; default 256 KiB, at most 4 MiB. A page ends
 * at a line end unless one line is longer than this.
 */
limit?: number, };

export type ActionLogResponse = { 
/**
 * The page's whole lines (secrets were masked when they were written).
 */
text: string, 
/**
 * The byte offset `text` starts at.
 */
offset: number, 
/**
 * The byte offset just past `text`: where the next page starts.
 */
next_offset: number, 
/**
 * The log file's size now; 0 when the action has not written yet.
 */
size: number, };

export type ActionRecord = { name: string, type: ActionType, run_order: number, 
/**
 * None until the action starts.
 */
status: Status | null, 
/**
 * 1 for the first run, 2 after a retry, …
 */
attempt: number, started_at: number | null, ended_at: number | null, 
/**
 * Exported variables (`#{Namespace.NAME}`).
 */
variables: { [key in string]: string }, 
/**
 * Test-report counts, one entry per report group.
 */
reports: Array<ReportCounts>, error: string | null, approval: ApprovalRecord | null, };

export type ActionType = "source" | "build" | "test" | "approval" | "deploy" | "command" | "invoke";

export type ApiError = { code: ErrorCode, message: string, };

export type ApprovalDecision = "Approved" | "Rejected";

export type ApprovalRecord = { decision: ApprovalDecision, comment: string, decided_by: string, decided_at: number, };

export type ArtifactRecord = { name: string, 
/**
 * sha256 of the artifact's manifest: its content address.
 */
digest: string, size: number, files: number, 
/**
 * The action that produced it.
 */
action: string, };

export type DecisionRequest = { id: string, 
/**
 * The approval action; may be left out when only one is waiting.
 */
action?: string, comment?: string, };

export type DecisionResponse = { id: string, 
/**
 * The approval action the decision was recorded for.
 */
action: string, };

export type DemoRequest = { 
/**
 * Where the demo's staging router listens; default 18080.
 */
staging_port?: number, 
/**
 * Where the demo's production router listens; default 18081.
 */
production_port?: number, };

export type DeployProgress = { deployment_id: string, 
/**
 * What it does now, in words ("batch 2 of 3", "20% on green", "baking").
 */
phase: string, 
/**
 * What it does now, as a member of a closed set.
 */
step: ProgressStep, 
/**
 * In-place deployments: the batch being deployed (1-based) and how many.
 */
batch: number | null, batches: number | null, 
/**
 * New-set deployments: the new set's share of traffic over time.
 */
traffic: Array<TrafficPoint>, 
/**
 * When the bake (or a traffic step's hold) ends, in ms since the epoch.
 */
until: number | null, };

export type Deployment = { id: string, 
/**
 * `REPO/PIPELINE` whose file defines the environment.
 */
pipeline: string, environment: string, provider: ProviderKind, 
/**
 * The commit deployed.
 */
revision: string, 
/**
 * First line of its commit message.
 */
message: string, 
/**
 * The artifact's digest in the artifact store (none for a command
 * deployment without an input artifact).
 */
artifact: string | null, 
/**
 * The strategy as written (`blue-green`, `canary 10% every 5s`, …).
 */
strategy: string, status: DeploymentStatus, initiator: Initiator, 
/**
 * The deployment this one undoes, for a rollback.
 */
rollback_of: string | null, 
/**
 * The execution whose deploy action made it.
 */
execution_id: string | null, stage: number | null, action: string | null, 
/**
 * The deployment's log file (hook output, strategy steps).
 */
log: string | null, 
/**
 * Why it failed, was rolled back or stopped.
 */
error: string | null, started_at: number, ended_at: number | null, };

export type DeploymentDetail = { events: Array<DeploymentEvent>, 
/**
 * What an AWS provider made in the account (the version it published,
 * the objects it wrote, the change set's changes, the task definition
 * it registered): what a rollback to this deployment restores.
 */
record: ProviderRecord | null, id: string, 
/**
 * `REPO/PIPELINE` whose file defines the environment.
 */
pipeline: string, environment: string, provider: ProviderKind, 
/**
 * The commit deployed.
 */
revision: string, 
/**
 * First line of its commit message.
 */
message: string, 
/**
 * The artifact's digest in the artifact store (none for a command
 * deployment without an input artifact).
 */
artifact: string | null, 
/**
 * The strategy as written (`blue-green`, `canary 10% every 5s`, …).
 */
strategy: string, status: DeploymentStatus, initiator: Initiator, 
/**
 * The deployment this one undoes, for a rollback.
 */
rollback_of: string | null, 
/**
 * The execution whose deploy action made it.
 */
execution_id: string | null, stage: number | null, action: string | null, 
/**
 * The deployment's log file (hook output, strategy steps).
 */
log: string | null, 
/**
 * Why it failed, was rolled back or stopped.
 */
error: string | null, started_at: number, ended_at: number | null, };

export type DeploymentEvent = { 
/**
 * `blue/0`, `green/2`, or `-` for the environment as a whole.
 */
instance: string, event: string, status: EventStatus, started_at: number, ended_at: number, message: string | null, log_excerpt: string, };

export type DeploymentRequest = { id: string, };

export type DeploymentStatus = "InProgress" | "Succeeded" | "Failed" | "Stopped" | "RolledBack" | "Interrupted";

export type DeploymentsRequest = { 
/**
 * Only this environment's; default every environment.
 */
environment?: string, 
/**
 * `REPO/PIPELINE` or `PIPELINE`; default every pipeline.
 */
pipeline?: string, 
/**
 * Default 20.
 */
limit?: number, };

export type DeploymentsResponse = { 
/**
 * Newest first.
 */
deployments: Array<Deployment>, 
/**
 * What the environment serves now, read from AWS: when one
 * environment's deployments were asked for and its provider can tell.
 */
serving: Serving | null, };

export type EnvironmentInfo = { pipeline: string, environment: string, provider: ProviderKind, 
/**
 * Where its router listens (local provider).
 */
listen: string | null, instances: number | null, 
/**
 * The deployment whose revision it serves.
 */
current: Deployment | null, 
/**
 * The newest deployment, whatever its status.
 */
latest: Deployment | null, 
/**
 * What "Roll back" restores.
 */
rollback_target: Deployment | null, 
/**
 * What serves now, instance by instance, and the progress of a
 * deployment under way: when this process's engine serves it.
 */
live: EnvironmentLive | null, 
/**
 * What serves now, read from AWS (AWS providers).
 */
serving: Serving | null, };

export type EnvironmentLive = { pipeline: string, environment: string, 
/**
 * Where its router listens.
 */
listen: string, 
/**
 * The sets with instances, the serving one first.
 */
sets: Array<LiveSetInfo>, 
/**
 * The deployment moving this environment now, if one is.
 */
progress: DeployProgress | null, };

export type EnvironmentsRequest = Record<symbol, never>;

export type EnvironmentsResponse = { environments: Array<EnvironmentInfo>, };

export type ErrorCode = "unknown_command" | "invalid_request" | "unauthorized" | "forbidden_origin" | "not_found" | "already_exists" | "not_a_repository" | "untrusted" | "already_finished" | "no_engine" | "invalid_input" | "mfa_required" | "credentials" | "io" | "failed" | "internal";

export type Event = { "name": "notification", "payload": Notification } | { "name": "execution", "payload": ExecutionSummary } | { "name": "log", "payload": LogChunk } | { "name": "deployment", "payload": Deployment } | { "name": "environment", "payload": EnvironmentLive };

export type EventStatus = "Succeeded" | "Failed" | "Skipped";

export type ExecutionDetail = { 
/**
 * Why the execution failed or was stopped, when it says more than a status.
 */
error: string | null, 
/**
 * Pipeline variables after `--var` overrides.
 */
variables: { [key in string]: string }, stages: Array<StageRecord>, artifacts: Array<ArtifactRecord>, id: string, 
/**
 * `REPO/PIPELINE`.
 */
pipeline: string, repository: string, status: Status, 
/**
 * The commit id the execution builds.
 */
revision: string, branch: string | null, 
/**
 * First line of the commit message.
 */
message: string, trigger: ExecutionTrigger, started_at: number, ended_at: number | null, };

export type ExecutionRequest = { id: string, };

export type ExecutionSummary = { id: string, 
/**
 * `REPO/PIPELINE`.
 */
pipeline: string, repository: string, status: Status, 
/**
 * The commit id the execution builds.
 */
revision: string, branch: string | null, 
/**
 * First line of the commit message.
 */
message: string, trigger: ExecutionTrigger, started_at: number, ended_at: number | null, };

export type ExecutionTrigger = "manual" | "schedule" | `push:${string}` | `tag:${string}` | `retry:${string}`;

export type ExecutionsRequest = { 
/**
 * `REPO/PIPELINE` or `PIPELINE`; default every pipeline.
 */
pipeline?: string, 
/**
 * Default 20.
 */
limit?: number, };

export type ExecutionsResponse = { executions: Array<ExecutionSummary>, };

export type Fact = { label: string, value: string, };

export type HealthStatus = "healthy" | "unhealthy";

export type Host = "desktop" | "serve" | "cli" | "watch";

export type Initiator = "pipeline" | "user" | "auto-rollback";

export type InstanceStatus = "starting" | "running" | "restarting" | "stopped";

export type Invalidation = { distribution: string, id: string, paths: Array<string>, };

export type LatestExecution = { 
/**
 * The stage strip: each stage of the execution as it is now.
 */
stages: Array<StageStatus>, 
/**
 * An approval action is waiting for a decision.
 */
pending_approval: boolean, id: string, 
/**
 * `REPO/PIPELINE`.
 */
pipeline: string, repository: string, status: Status, 
/**
 * The commit id the execution builds.
 */
revision: string, branch: string | null, 
/**
 * First line of the commit message.
 */
message: string, trigger: ExecutionTrigger, started_at: number, ended_at: number | null, };

export type LiveInstance = { index: number, port: number, pid: number | null, state: InstanceStatus, 
/**
 * The health check's latest verdict; none before it decided.
 */
health: HealthStatus | null, 
/**
 * Whether the router sends it new requests.
 */
in_service: boolean, };

export type LiveSetInfo = { 
/**
 * `blue` or `green`.
 */
name: string, deployment_id: string, revision: string, 
/**
 * Its share of new requests, in percent (0 for a standby set kept for
 * termination-wait, or a set not routed to yet).
 */
percent: number, instances: Array<LiveInstance>, };

export type LogChunk = { execution_id: string, stage: number, action: string, text: string, };

export type Notification = { title: string, body: string, level: NotificationLevel, 
/**
 * What it is about: clicking the notification (or the toast) opens
 * the window on it.
 */
target: NotificationTarget | null, };

export type NotificationLevel = "info" | "success" | "warning" | "failure";

export type NotificationTarget = { "kind": "execution", id: string, } | { "kind": "environment", 
/**
 * `REPO/PIPELINE`.
 */
pipeline: string, environment: string, };

export type NotifyRequest = { title: string, body: string, level?: NotificationLevel, };

export type NotifyResponse = { 
/**
 * How many listeners (windows, browser tabs, the tray) received it.
 */
delivered_to: number, };

export type PipelineOverview = { 
/**
 * `REPO/PIPELINE`: what `run` takes.
 */
key: string, repository: string, name: string, 
/**
 * Path inside the repository, e.g. `.slipway/web.yml`.
 */
file: string, 
/**
 * Whether the repository is trusted, so "Release change" may run it.
 */
trusted: boolean, 
/**
 * The stage names the file declares (the source stage is implicit).
 */
stages: Array<string>, 
/**
 * Human-readable triggers: `push main`, `tag v*`, `schedule 0 3 * * *`;
 * empty for manual-only pipelines.
 */
triggers: Array<string>, latest: LatestExecution | null, };

export type PipelineProblem = { repository: string, 
/**
 * The pipeline file, when one file is at fault.
 */
file: string | null, 
/**
 * What is wrong, with file:line:column where a file is at fault.
 */
message: string, };

export type PipelinesRequest = Record<symbol, never>;

export type PipelinesResponse = { 
/**
 * Every valid pipeline of every repository, by repository then name.
 */
pipelines: Array<PipelineOverview>, 
/**
 * What kept a repository's pipelines from being listed: an invalid
 * file, a missing work tree, a repository without commits.
 */
problems: Array<PipelineProblem>, };

export type ProfileAddRequest = { name: string, access_key_id?: string, secret_access_key?: string, source_profile?: string, role_arn?: string, external_id?: string, mfa_serial?: string, region?: string, duration_seconds?: number, 
/**
 * The role session's name (RoleSessionName); default `slipway-<login>`.
 */
session_name?: string, };

export type ProfileIdentity = { name: string, account: string, arn: string, user_id: string, };

export type ProfileInfo = { name: string, 
/**
 * Long-term keys in the keychain, or a role assumed from its source.
 */
kind: ProfileKind, 
/**
 * The account a role acts in, from its ARN; None for keys profiles.
 */
account: string | null, role_arn: string | null, 
/**
 * The profiles this one is assumed through, from itself to the keys:
 * `[name, source, …, root]`.
 */
chain: Array<string>, region: string | null, mfa_serial: string | null, duration_seconds: number, 
/**
 * When the cached STS session ends (Unix ms); None when none is cached.
 */
session_expires_at: number | null, 
/**
 * The chain cannot be followed (a source profile is gone, or loops).
 */
chain_error: string | null, };

export type ProfileKind = "keys" | "role";

export type ProfileNameRequest = { name: string, };

export type ProfileVerifyRequest = { name: string, 
/**
 * The current 6-digit code of the profile's MFA device, when asked for
 * (error code `mfa_required`).
 */
mfa_code?: string, };

export type ProfilesImportRequest = Record<symbol, never>;

export type ProfilesImportResponse = { 
/**
 * `name (keys)` / `name (role)` for each profile imported.
 */
imported: Array<string>, 
/**
 * `name: reason` for each profile left out.
 */
skipped: Array<string>, };

export type ProfilesRequest = Record<symbol, never>;

export type ProfilesResponse = { profiles: Array<ProfileInfo>, 
/**
 * Why session expiries are unknown (no keychain reachable), if so.
 */
keychain_error: string | null, };

export type ProgressStep = "starting" | "batch" | "shifting" | "holding" | "baking";

export type ProviderKind = "local" | "command" | "lambda" | "s3" | "cloudformation" | "ecs";

export type ProviderRecord = { "provider": "lambda", function: string, alias: string, 
/**
 * The version published for this revision.
 */
version: string, 
/**
 * The version the alias pointed at before.
 */
previous: string | null, } | { "provider": "s3", bucket: string, prefix: string, 
/**
 * Every object of the revision, by key (sorted).
 */
objects: Array<S3Object>, 
/**
 * Keys written (new or changed) and removed by this deployment.
 */
changed: Array<string>, removed: Array<string>, 
/**
 * The CloudFront invalidation made, when `invalidate` names one.
 */
invalidation: Invalidation | null, } | { "provider": "cloudformation", stack: string, stack_id: string | null, change_set: string | null, changes: Array<StackChange>, 
/**
 * The parameters the stack got, `#{…}` resolved: what a rollback
 * deploys again.
 */
parameters: Array<[string, string]>, 
/**
 * The stack's final status, and the failing resource's reason.
 */
status: string | null, reason: string | null, } | { "provider": "ecs", cluster: string, service: string, 
/**
 * The task definition revision registered (its ARN).
 */
task_definition: string, 
/**
 * The images filled in, by container name.
 */
images: Array<[string, string]>, 
/**
 * The task set made for this revision (task-set strategies).
 */
task_set: string | null, };

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

export type RepoListRequest = Record<symbol, never>;

export type RepoListResponse = { repositories: Array<RepositoryInfo>, };

export type RepoNameRequest = { name: string, };

export type RepoTrustRequest = { name: string, 
/**
 * false withdraws trust; default true.
 */
trusted?: boolean, };

export type ReportCounts = { group: string, passed: number, failed: number, skipped: number, };

export type RepositoryInfo = { name: string, path: string, trusted: boolean, added_at: number, 
/**
 * The work tree is gone (moved or deleted) or no longer a git repository.
 */
missing: boolean, };

export type RollbackRequest = { environment: string, 
/**
 * `REPO/PIPELINE` or `PIPELINE`, when several pipelines have the environment.
 */
pipeline?: string, 
/**
 * A successful deployment to restore; default the last successful
 * revision before the current one.
 */
to?: string, };

export type RunPipelineRequest = { 
/**
 * `REPO/PIPELINE`, or `PIPELINE` where one repository has it.
 */
pipeline: string, 
/**
 * A branch, tag or commit; default the head of the current branch.
 */
revision?: string, 
/**
 * Overrides of pipeline variables.
 */
variables?: { [key in string]: string }, };

export type S3Object = { key: string, 
/**
 * The file's SHA-256, hex: what "changed" compares.
 */
sha256: string, size: number, content_type: string, cache_control: string | null, };

export type Serving = { 
/**
 * One line: "alias live → version 7", "stack UPDATE_COMPLETE".
 */
summary: string, 
/**
 * What else the account says, in order (version, task definition,
 * outputs, the revision the bucket holds…).
 */
facts: Array<Fact>, 
/**
 * Who takes the requests: a version or task set and its share.
 */
traffic: Array<Share>, 
/**
 * When it was read, in ms since the epoch.
 */
read_at: number, 
/**
 * Why the state could not be read (the call and AWS's error), if so.
 */
error: string | null, };

export type Settings = { notify_success: boolean, watching_paused: boolean, };

export type SettingsRequest = { notify_success?: boolean, watching_paused?: boolean, };

export type Share = { name: string, 
/**
 * In percent, of 100.
 */
percent: number, };

export type StackChange = { 
/**
 * Add, Modify, Remove, …
 */
action: string, logical_id: string, resource_type: string, 
/**
 * True, False or Conditional (Modify only).
 */
replacement: string | null, };

export type StageRecord = { name: string, 
/**
 * None until the stage starts.
 */
status: Status | null, started_at: number | null, ended_at: number | null, actions: Array<ActionRecord>, };

export type StageStatus = { name: string, 
/**
 * None until the stage starts.
 */
status: Status | null, started_at: number | null, ended_at: number | null, };

export type Status = "InProgress" | "Succeeded" | "Failed" | "Stopping" | "Stopped" | "Superseded" | "Interrupted";

export type StatusRequest = Record<symbol, never>;

export type StatusResponse = { version: string, 
/**
 * The data directory this engine uses (database, workspaces, instances).
 */
data_dir: string, 
/**
 * Which process answers.
 */
host: Host, 
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
 * From the engine's start to the first `status` call, milliseconds:
 * in the desktop app, the window's time to show the UI and ask.
 */
first_status_after_ms: number, 
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

export type StopRequest = { id: string, 
/**
 * End running actions now instead of letting them finish.
 */
abandon?: boolean, };

export type TrafficPoint = { 
/**
 * Milliseconds since the epoch.
 */
at: number, percent: number, };

export type TrayAction = { "kind": "open_execution", id: string, } | { "kind": "rollback", pipeline: string, environment: string, to: string, } | { "kind": "pause_watching" } | { "kind": "resume_watching" } | { "kind": "open" } | { "kind": "quit" };

export type TrayEntry = { 
/**
 * Stable for one action: the menu item's id.
 */
id: string, label: string, action: TrayAction, };

export type TrayMenu = { state: TrayState, 
/**
 * The icon's tooltip: the state in words.
 */
tooltip: string, entries: Array<TrayEntry>, };

export type TrayMenuRequest = Record<symbol, never>;

export type TrayState = "idle" | "running" | "failed" | "approval_waiting";

export type VersionRequest = Record<symbol, never>;

export type VersionResponse = { name: string, version: string, };

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
  /** Executions, newest first, optionally of one pipeline. */
  executions: { request: ExecutionsRequest; response: ExecutionsResponse };
  /** One execution with its stages, actions, variables and artifacts. */
  execution: { request: ExecutionRequest; response: ExecutionDetail };
  /** Approves a waiting approval action. */
  approve: { request: DecisionRequest; response: DecisionResponse };
  /** Rejects a waiting approval action (its stage fails). */
  reject: { request: DecisionRequest; response: DecisionResponse };
  /** Stops an execution: running actions finish, or with `abandon` end now. */
  stop: { request: StopRequest; response: ExecutionRequest };
  /** Starts a pipeline ("Release change") in the running engine. */
  run: { request: RunPipelineRequest; response: ExecutionRequest };
  /** Retries a failed execution's failed actions in the running engine. */
  retry: { request: ExecutionRequest; response: ExecutionRequest };
  /** Deployments, newest first, optionally of one environment or pipeline. */
  deployments: { request: DeploymentsRequest; response: DeploymentsResponse };
  /** One deployment with its per-instance lifecycle events. */
  deployment: { request: DeploymentRequest; response: DeploymentDetail };
  /** Every environment deployed to: what it serves and what a rollback restores. */
  environments: { request: EnvironmentsRequest; response: EnvironmentsResponse };
  /** Rolls an environment back (a new deployment of an earlier revision) in the running engine. */
  rollback: { request: RollbackRequest; response: DeploymentRequest };
  /** Creates the demo repository (a small web service and its release pipeline), trusted. */
  demo: { request: DemoRequest; response: RepositoryInfo };
  /** What the tray shows: the overall state and the menu's entries. */
  tray_menu: { request: TrayMenuRequest; response: TrayMenu };
  /** The person's settings (success notifications, watching paused), changing those given. */
  settings: { request: SettingsRequest; response: Settings };
  /** Every pipeline of every repository (its file at HEAD) with its latest
 execution's stage strip; invalid files and unreadable repositories as problems. */
  pipelines: { request: PipelinesRequest; response: PipelinesResponse };
  /** A page of one action's log: the tail, forward from an offset, or backwards before one. */
  action_log: { request: ActionLogRequest; response: ActionLogResponse };
  /** Credential profiles: metadata, role chains and session expiries, never secrets. */
  profiles: { request: ProfilesRequest; response: ProfilesResponse };
  /** Removes a profile and its keychain items. */
  profile_remove: { request: ProfileNameRequest; response: ProfileNameRequest };
  /** Adds a profile: keys (the secret goes to the keychain, never back) or a role from another profile. */
  profile_add: { request: ProfileAddRequest; response: ProfileNameRequest };
  /** Asks STS who the profile's session is (GetCallerIdentity). */
  profile_verify: { request: ProfileVerifyRequest; response: ProfileIdentity };
  /** Imports the profiles of `~/.aws/config` and `~/.aws/credentials`. */
  profiles_import: { request: ProfilesImportRequest; response: ProfilesImportResponse };
};

export type CommandName = keyof Commands;

export const COMMAND_NAMES: CommandName[] = ["version", "status", "notify", "repo_add", "repo_list", "repo_remove", "repo_trust", "executions", "execution", "approve", "reject", "stop", "run", "retry", "deployments", "deployment", "environments", "rollback", "demo", "tray_menu", "settings", "pipelines", "action_log", "profiles", "profile_remove", "profile_add", "profile_verify", "profiles_import"];
