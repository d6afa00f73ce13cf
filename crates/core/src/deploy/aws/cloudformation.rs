//! The `cloudformation` provider: a stack changed through a change set.
//!
//! A deployment sends the revision's template (`template:`, a file of the
//! input artifact) with the environment's parameters (`#{…}` resolved) as
//! a change set — CREATE for a new stack (or one only reviewed so far),
//! UPDATE otherwise — waits for it, records its changes, executes it and
//! follows the stack's events to a final status, then bakes with the
//! environment's alarms. A change set that changes nothing ends the
//! deployment successfully. CloudFormation rolls a failed update back
//! itself; the deployment records the first resource that failed and why.
//!
//! A rollback deploys the target's template (its kept artifact) and the
//! parameters its deployment recorded, the same way, with no bake.
//!
//! Secret parameters (`NoEcho`) are never logged nor recorded
//! ([`params`]).

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use aws_sdk_cloudformation::types::{Capability, ChangeSetType, StackEvent};
use aws_sdk_cloudformation::Client;
use tokio::time::Instant;

use super::{call, Aws};
use crate::creds::Account;
use crate::deploy::monitor::Failure;
use crate::deploy::provider::{Context, Fut, Job, Provider};
use crate::model::{EventStatus, ProviderRecord, Serving, StackChange};
use crate::spec::pipeline::{Environment, Provider as Spec, Strategy};
use crate::store::{Deployment, DeploymentEvent};

mod outcome;
mod params;
mod serving;
mod template;

use outcome::{Kind, Phase};
use params::Param;

/// How long a change set and its execution may take, together.
const TIMEOUT: Duration = Duration::from_secs(3600);
/// The first pause between two polls; each pause doubles, up to
/// [`MAX_POLL`].
const FIRST_POLL: Duration = Duration::from_millis(500);
const MAX_POLL: Duration = Duration::from_secs(5);
/// The most pages of stack events read in one poll.
const EVENT_PAGES: usize = 10;

/// The `cloudformation` provider behind the provider interface.
pub struct CloudFormationProvider;

impl Provider for CloudFormationProvider {
    fn describe(&self, _strategy: &Strategy) -> String {
        "change set".into()
    }

    fn deploy<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), Failure>> {
        Box::pin(async move {
            let wanted = Wanted::to_deploy(job).map_err(super::failed)?;
            apply(job, &wanted).await?;
            bake(job, wanted.stack).await
        })
    }

    fn roll_back<'a>(&'a self, job: &'a Job<'a>) -> Fut<'a, Result<(), String>> {
        Box::pin(async move {
            let wanted = Wanted::to_restore(job)?;
            apply(job, &wanted).await.map_err(|f| f.message)
        })
    }

    fn serving<'a>(
        &'a self,
        ctx: &'a Context,
        spec: &'a Environment,
        _current: Option<&'a Deployment>,
    ) -> Fut<'a, Option<Serving>> {
        Box::pin(read_serving(ctx, spec))
    }
}

/// What the stack is to become.
struct Wanted<'a> {
    stack: &'a str,
    /// The template's path in the artifact, for messages.
    template: &'a str,
    body: String,
    params: Vec<Param>,
    /// The template's `NoEcho` parameters.
    secret: BTreeSet<String>,
    capabilities: &'a [String],
}

impl<'a> Wanted<'a> {
    /// The revision's template with the environment's parameters.
    fn to_deploy(job: &'a Job<'a>) -> Result<Wanted<'a>, String> {
        let d = Definition::of(job)?;
        let params = params::resolve(job.namespaces, d.parameters)?;
        Wanted::with(job, d, params)
    }

    /// The target's template with the parameters its deployment recorded.
    fn to_restore(job: &'a Job<'a>) -> Result<Wanted<'a>, String> {
        let d = Definition::of(job)?;
        let target = job.restores.ok_or("a rollback names what it restores")?;
        let recorded = match job.restored_record() {
            Some(ProviderRecord::CloudFormation { parameters, .. }) => parameters,
            _ => {
                return Err(format!(
                    "deployment {} recorded no stack parameters to restore",
                    target.id
                ))
            }
        };
        Wanted::with(job, d, params::restored(&recorded))
    }

    fn with(job: &'a Job<'a>, d: Definition<'a>, params: Vec<Param>) -> Result<Wanted<'a>, String> {
        let body = template::read(&job.files()?, d.template)?;
        Ok(Wanted {
            stack: d.stack,
            template: d.template,
            secret: template::no_echo(&body),
            body,
            params,
            capabilities: d.capabilities,
        })
    }
}

/// The environment's `cloudformation` definition.
struct Definition<'a> {
    stack: &'a str,
    template: &'a str,
    parameters: &'a [(String, String)],
    capabilities: &'a [String],
}

impl<'a> Definition<'a> {
    fn of(job: &'a Job<'a>) -> Result<Definition<'a>, String> {
        match &job.spec.provider {
            Spec::CloudFormation {
                stack,
                template,
                parameters,
                capabilities,
            } => Ok(Definition {
                stack,
                template,
                parameters,
                capabilities,
            }),
            _ => Err("not a `cloudformation` environment".into()),
        }
    }
}

/// Watches the environment's alarms for its `bake`, recorded as an event.
async fn bake(job: &Job<'_>, stack: &str) -> Result<(), Failure> {
    let Some(bake) = job.spec.bake.map(|b| b.as_std()).filter(|b| !b.is_zero()) else {
        return job.check_stop();
    };
    let started = job.now();
    job.note(&format!(
        "baking for {}s, watching the environment's alarms",
        bake.as_secs()
    ));
    let result = super::watch(job, bake).await;
    let as_event = result.as_ref().map(|_| ()).map_err(|f| f.message.clone());
    job.event(stack, "Bake", started, &as_event);
    result
}

/// Makes the stack what `wanted` says, through a change set; records what
/// it did whatever the outcome.
async fn apply(job: &Job<'_>, wanted: &Wanted<'_>) -> Result<(), Failure> {
    let aws = Aws::of(job).await.map_err(super::failed)?;
    let mut run = Run {
        job,
        client: Client::new(&aws.config("CLOUDFORMATION")),
        wanted,
        place: format!("stack {}, {}", wanted.stack, aws.place()),
        secret: wanted.secret.clone(),
        deadline: Instant::now() + TIMEOUT,
        change_set: None,
        kind: Kind::Create,
        executing: false,
        made: Made {
            stack_id: None,
            change_set: None,
            changes: Vec::new(),
            parameters: params::recorded(&wanted.params, &wanted.secret),
            status: None,
            reason: None,
        },
    };
    let result = run.apply().await;
    if let Err(f) = &result {
        run.failed(f).await;
    }
    result
}

/// The fields of [`ProviderRecord::CloudFormation`] as they are learnt.
struct Made {
    stack_id: Option<String>,
    change_set: Option<String>,
    changes: Vec<StackChange>,
    parameters: Vec<(String, String)>,
    status: Option<String>,
    reason: Option<String>,
}

/// One change set's life, from its creation to the stack's final status.
struct Run<'a> {
    job: &'a Job<'a>,
    client: Client,
    wanted: &'a Wanted<'a>,
    /// "stack orders-infra, profile `prod`, eu-west-1", for errors.
    place: String,
    /// The parameters whose values are never shown.
    secret: BTreeSet<String>,
    deadline: Instant,
    /// The change set's ARN, once made.
    change_set: Option<String>,
    kind: Kind,
    /// ExecuteChangeSet was accepted: the stack is changing.
    executing: bool,
    made: Made,
}

/// What DescribeChangeSet ended with.
enum Ready {
    Changes(Vec<StackChange>),
    /// The change set changes nothing; CloudFormation's words.
    Unchanged(String),
}

impl Run<'_> {
    async fn apply(&mut self) -> Result<(), Failure> {
        let w = self.wanted;
        self.job.note(&format!(
            "stack {}: template {} ({} bytes), {}",
            w.stack,
            w.template,
            w.body.len(),
            params::shown(&w.params, &self.secret)
        ));
        let now = self.stack_now().await?;
        let status = now.as_ref().and_then(|(_, s)| s.clone());
        self.made.stack_id = now.and_then(|(id, _)| id);
        self.kind = outcome::kind(w.stack, status.as_deref());
        if let Kind::Refuse(why) = &self.kind {
            return Err(super::failed(why.clone()));
        }
        let started = self.job.now();
        let ready = match self.create_change_set().await? {
            Some(unchanged) => Ready::Unchanged(unchanged),
            None => self.wait_for_change_set().await?,
        };
        let changes = match ready {
            Ready::Changes(changes) => changes,
            Ready::Unchanged(words) => return self.unchanged(started, status, &words).await,
        };
        let summary = outcome::summary(&changes);
        self.job
            .note(&format!("change set {}: {summary}", self.name()));
        for c in &changes {
            self.job.note(&format!("  {}", outcome::describe(c)));
        }
        self.made.changes = changes;
        self.event("CreateChangeSet", started, Ok(Some(summary)));
        self.job.check_stop()?;
        self.execute().await
    }

    /// The stack's id and status now; `None` when there is no such stack.
    async fn stack_now(&self) -> Result<Option<(Option<String>, Option<String>)>, Failure> {
        let sent = self
            .client
            .describe_stacks()
            .stack_name(self.wanted.stack)
            .send();
        match call("DescribeStacks", sent).await {
            Ok(out) => Ok(out.stacks().first().map(|s| {
                (
                    s.stack_id().map(str::to_string),
                    s.stack_status().map(|x| x.as_str().to_string()),
                )
            })),
            Err(e) if e.contains("does not exist") => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The change set's name: the deployment's, so the console shows which
    /// deployment made it.
    fn name(&self) -> String {
        let id: String = self
            .job
            .record
            .id
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        format!("slipway-{id}")
    }

    /// Makes the change set. `Some(words)` when CloudFormation answers
    /// straight away that nothing would change.
    async fn create_change_set(&mut self) -> Result<Option<String>, Failure> {
        let w = self.wanted;
        let parameters = params::sdk(&w.params);
        let capabilities: Vec<Capability> = w
            .capabilities
            .iter()
            .map(|c| Capability::from(c.as_str()))
            .collect();
        let record = self.job.record;
        let sent = self
            .client
            .create_change_set()
            .stack_name(w.stack)
            .change_set_name(self.name())
            .change_set_type(match self.kind {
                Kind::Create => ChangeSetType::Create,
                _ => ChangeSetType::Update,
            })
            .template_body(&w.body)
            .set_parameters((!parameters.is_empty()).then_some(parameters))
            .set_capabilities((!capabilities.is_empty()).then_some(capabilities))
            .description(format!(
                "Slipway deployment {} of revision {}",
                record.id,
                &record.revision[..record.revision.len().min(12)]
            ))
            .send();
        match call("CreateChangeSet", sent).await {
            Ok(out) => {
                self.change_set = out.id().map(str::to_string);
                self.made.change_set = Some(self.name());
                if let Some(id) = out.stack_id() {
                    self.made.stack_id = Some(id.to_string());
                }
                Ok(None)
            }
            Err(e) if outcome::no_changes(&e) => Ok(Some(e)),
            Err(e) => Err(self.error(e)),
        }
    }

    /// Polls the change set until CloudFormation has worked it out.
    async fn wait_for_change_set(&mut self) -> Result<Ready, Failure> {
        let arn = self.change_set.clone().unwrap_or_else(|| self.name());
        let mut pause = FIRST_POLL;
        loop {
            let sent = self
                .client
                .describe_change_set()
                .change_set_name(&arn)
                .stack_name(self.wanted.stack)
                .send();
            let out = call("DescribeChangeSet", sent)
                .await
                .map_err(|e| self.error(e))?;
            let status = out.status().map(|s| s.as_str()).unwrap_or("");
            let reason = out
                .status_reason()
                .unwrap_or("CloudFormation gave no reason");
            match status {
                "CREATE_COMPLETE" => {
                    self.secret
                        .extend(params::masked_by_aws(out.parameters(), &self.wanted.params));
                    self.made.parameters = params::recorded(&self.wanted.params, &self.secret);
                    let mut changes = outcome::changes(out.changes());
                    let mut token = out.next_token().map(str::to_string);
                    while let Some(next) = token.take() {
                        let sent = self
                            .client
                            .describe_change_set()
                            .change_set_name(&arn)
                            .stack_name(self.wanted.stack)
                            .next_token(next)
                            .send();
                        let page = call("DescribeChangeSet", sent)
                            .await
                            .map_err(|e| self.error(e))?;
                        changes.extend(outcome::changes(page.changes()));
                        token = page.next_token().map(str::to_string);
                    }
                    return Ok(Ready::Changes(changes));
                }
                "FAILED" if outcome::no_changes(reason) => {
                    return Ok(Ready::Unchanged(reason.to_string()))
                }
                "FAILED" => {
                    return Err(self.error(format!("change set {} FAILED: {reason}", self.name())));
                }
                s if s.starts_with("DELETE") => {
                    return Err(
                        self.error(format!("the change set was deleted ({s}) before it ran"))
                    );
                }
                _ => {}
            }
            self.pause(&mut pause, &format!("the change set is still {status}"))
                .await?;
        }
    }

    /// Nothing to do: the stack already has this template and these
    /// parameters. Succeeds, saying so; the empty change set is deleted.
    async fn unchanged(
        &mut self,
        started: i64,
        status: Option<String>,
        words: &str,
    ) -> Result<(), Failure> {
        self.delete_change_set().await;
        self.made.change_set = None;
        self.made.status = status;
        let message = format!(
            "no changes: the stack already has this template and these parameters ({words})"
        );
        self.job
            .note(&format!("stack {}: {message}", self.wanted.stack));
        self.event("CreateChangeSet", started, Ok(Some(message)));
        Ok(())
    }

    /// Executes the change set and follows the stack's events until its
    /// status is final.
    async fn execute(&mut self) -> Result<(), Failure> {
        let stack = self.wanted.stack;
        let stack_id = self.made.stack_id.clone().unwrap_or_else(|| stack.into());
        // Events of earlier operations end where this one's begin.
        let marker = self.newest_event(&stack_id).await?;
        let started = self.job.now();
        let arn = self.change_set.clone().unwrap_or_else(|| self.name());
        let sent = self
            .client
            .execute_change_set()
            .change_set_name(&arn)
            .stack_name(stack)
            .client_request_token(self.name())
            .send();
        call("ExecuteChangeSet", sent)
            .await
            .map_err(|e| self.error(e))?;
        self.executing = true;
        self.job
            .note(&format!("executing change set {}", self.name()));
        let mut seen = HashSet::new();
        let mut events: Vec<StackEvent> = Vec::new();
        let mut pause = FIRST_POLL;
        loop {
            let fresh = self
                .events_since(&stack_id, marker.as_deref(), &mut seen)
                .await?;
            for e in &fresh {
                self.job.note(&format!("{stack}: {}", outcome::line(e)));
            }
            events.extend(fresh);
            let last = events
                .iter()
                .rev()
                .find(|e| outcome::is_stack_event(e, &stack_id))
                .and_then(|e| e.resource_status())
                .map(|s| s.as_str().to_string());
            if let Some(status) = &last {
                match outcome::phase(status) {
                    Phase::Running => {}
                    Phase::Succeeded => {
                        self.made.status = Some(status.clone());
                        self.event("ExecuteChangeSet", started, Ok(Some(status.clone())));
                        return Ok(());
                    }
                    Phase::Failed => {
                        let reason = outcome::failure(&events, &stack_id)
                            .unwrap_or_else(|| "no resource said why".into());
                        self.made.status = Some(status.clone());
                        self.made.reason = Some(reason.clone());
                        let message = format!("stack {stack} ended {status}: {reason}");
                        self.event("ExecuteChangeSet", started, Err(message.clone()));
                        return Err(super::failed(message));
                    }
                }
            }
            let state = last.unwrap_or_else(|| "not started".into());
            self.pause(&mut pause, &format!("the stack is still {state}"))
                .await?;
        }
    }

    /// The id of the stack's newest event (none for a stack without any).
    async fn newest_event(&self, stack_id: &str) -> Result<Option<String>, Failure> {
        let sent = self
            .client
            .describe_stack_events()
            .stack_name(stack_id)
            .send();
        match call("DescribeStackEvents", sent).await {
            Ok(out) => Ok(out
                .stack_events()
                .first()
                .and_then(|e| e.event_id())
                .map(str::to_string)),
            Err(e) if e.contains("does not exist") => Ok(None),
            Err(e) => Err(self.error(e)),
        }
    }

    /// The stack's events newer than `marker` not seen yet, oldest first.
    async fn events_since(
        &self,
        stack_id: &str,
        marker: Option<&str>,
        seen: &mut HashSet<String>,
    ) -> Result<Vec<StackEvent>, Failure> {
        let mut fresh = Vec::new();
        let mut token: Option<String> = None;
        'pages: for _ in 0..EVENT_PAGES {
            let sent = self
                .client
                .describe_stack_events()
                .stack_name(stack_id)
                .set_next_token(token.take())
                .send();
            let out = call("DescribeStackEvents", sent)
                .await
                .map_err(|e| self.error(e))?;
            // Newest first: the first event already known ends the new ones.
            for e in out.stack_events() {
                let id = e.event_id().unwrap_or_default();
                if Some(id) == marker || seen.contains(id) {
                    break 'pages;
                }
                fresh.push(e.clone());
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        fresh.reverse();
        seen.extend(
            fresh
                .iter()
                .filter_map(|e| e.event_id())
                .map(str::to_string),
        );
        Ok(fresh)
    }

    /// Waits `pause` (then longer, up to [`MAX_POLL`]); a stop ends the
    /// wait, and so does the deadline, with `waiting` saying how things
    /// stood.
    async fn pause(&self, pause: &mut Duration, waiting: &str) -> Result<(), Failure> {
        self.job.check_stop()?;
        let wait = *pause;
        *pause = (*pause * 2).min(MAX_POLL);
        if Instant::now() + wait > self.deadline {
            return Err(self.error(format!(
                "gave up after {} minutes: {waiting} (it may still change; see the stack's \
                 events in the CloudFormation console)",
                TIMEOUT.as_secs() / 60
            )));
        }
        let sleep = tokio::time::sleep(wait);
        tokio::pin!(sleep);
        // Whether the pause is still to be waited out: no one can stop
        // the deployment (any more).
        let unstoppable = match self.job.stop.clone() {
            Some(mut stop) => tokio::select! {
                _ = &mut sleep => false,
                stopped = stop.wait_for(|s| *s) => stopped.is_err(),
            },
            None => true,
        };
        if unstoppable {
            sleep.await;
        }
        self.job.check_stop()
    }

    /// An AWS error (or a wait that went wrong), naming where.
    fn error(&self, e: String) -> Failure {
        super::failed(format!("{e} ({})", self.place))
    }

    /// Records why the run failed, and tidies up: an unexecuted change set
    /// is deleted; a stopped update is cancelled (CloudFormation rolls it
    /// back).
    async fn failed(&mut self, f: &Failure) {
        let stack = self.wanted.stack;
        if f.stopped && self.executing {
            if self.kind == Kind::Update {
                let sent = self.client.cancel_update_stack().stack_name(stack).send();
                match call("CancelUpdateStack", sent).await {
                    Ok(_) => self.job.note(&format!(
                        "stopped: cancelled the update of stack {stack}; CloudFormation rolls it back"
                    )),
                    Err(e) => self.job.note(&format!("stopped; {e}")),
                }
            } else {
                self.job.note(&format!(
                    "stopped: stack {stack} is still being created; CloudFormation finishes \
                     (or rolls back) the creation on its own"
                ));
            }
        }
        if !self.executing {
            self.delete_change_set().await;
        }
        if self.made.reason.is_none() {
            let suffix = format!(" ({})", self.place);
            let message = f.message.strip_suffix(&suffix).unwrap_or(&f.message);
            self.made.reason = Some(message.to_string());
        }
        if self.made.status.is_none() {
            if let Ok(Some((_, status))) = self.stack_now().await {
                self.made.status = status;
            }
        }
        self.save();
    }

    /// Deletes the change set, if one was made and not executed (best
    /// effort: a leftover one only clutters the console).
    async fn delete_change_set(&mut self) {
        let Some(arn) = self.change_set.take() else {
            return;
        };
        let sent = self
            .client
            .delete_change_set()
            .change_set_name(&arn)
            .stack_name(self.wanted.stack)
            .send();
        if let Err(e) = call("DeleteChangeSet", sent).await {
            self.job
                .note(&format!("could not delete change set {}: {e}", self.name()));
        }
    }

    /// Records a lifecycle event of the stack (with a message even when it
    /// succeeded), then the record as it stands.
    fn event(&self, event: &str, started: i64, result: Result<Option<String>, String>) {
        let (status, message) = match result {
            Ok(m) => (EventStatus::Succeeded, m),
            Err(m) => (EventStatus::Failed, Some(m)),
        };
        let row = DeploymentEvent {
            instance: self.wanted.stack.to_string(),
            event: event.into(),
            status,
            started_at: started,
            ended_at: self.job.now(),
            message,
            log_excerpt: String::new(),
        };
        if let Err(e) = self
            .job
            .ctx
            .store
            .add_deployment_event(&self.job.record.id, &row)
        {
            tracing::error!(%e, "cannot record a deployment event");
        }
        self.save();
    }

    /// Writes what the run made so far (and tells listeners).
    fn save(&self) {
        let m = &self.made;
        self.job.made(&ProviderRecord::CloudFormation {
            stack: self.wanted.stack.to_string(),
            stack_id: m.stack_id.clone(),
            change_set: m.change_set.clone(),
            changes: m.changes.clone(),
            parameters: m.parameters.clone(),
            status: m.status.clone(),
            reason: m.reason.clone(),
        });
    }
}

/// The stack as its account says it is now.
async fn read_serving(ctx: &Context, spec: &Environment) -> Option<Serving> {
    let Spec::CloudFormation { stack, .. } = &spec.provider else {
        return None;
    };
    let now = ctx.clock.now();
    let aws = match Aws::for_account(&ctx.store, ctx.clock.as_ref(), &Account::of(spec)).await {
        Ok(aws) => aws,
        Err(e) => return Some(serving::unreadable(stack, e, now)),
    };
    let client = Client::new(&aws.config("CLOUDFORMATION"));
    let sent = client.describe_stacks().stack_name(stack).send();
    Some(match call("DescribeStacks", sent).await {
        Ok(out) => match out.stacks().first() {
            Some(s) => serving::of(stack, s, now),
            None => serving::unreadable(
                stack,
                format!("DescribeStacks named no stack {stack} ({})", aws.place()),
                now,
            ),
        },
        Err(e) => serving::unreadable(stack, format!("{e} ({})", aws.place()), now),
    })
}
