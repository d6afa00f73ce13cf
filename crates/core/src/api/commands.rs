//! The command table's handlers that are not in a module of their own:
//! status and notifications, repositories, executions, deployments, the
//! demo and the tray.

use super::*;

pub async fn version(_core: &Core, _: VersionRequest) -> Result<VersionResponse, ApiError> {
    Ok(VersionResponse {
        name: "slipway".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    })
}

pub async fn status(core: &Core, _: StatusRequest) -> Result<StatusResponse, ApiError> {
    let now = core.clock.now();
    Ok(StatusResponse {
        version: env!("CARGO_PKG_VERSION").into(),
        data_dir: core.data_dir.display().to_string(),
        host: core.host,
        os: crate::platform::os_name().into(),
        pid: std::process::id(),
        started_at: core.started_at,
        uptime_ms: (now - core.started_at).max(0),
        first_status_after_ms: *core
            .first_status
            .get_or_init(|| (now - core.started_at).max(0)),
        database: core.store.path().display().to_string(),
        repositories: core.store.repositories()?.len() as u32,
        commands: COMMANDS.iter().map(|c| c.to_string()).collect(),
    })
}

pub async fn notify(core: &Core, req: NotifyRequest) -> Result<NotifyResponse, ApiError> {
    let delivered_to = core.emit(Event::Notification(Notification {
        title: req.title,
        body: req.body,
        level: req.level,
        target: None,
    }));
    Ok(NotifyResponse { delivered_to })
}

pub async fn repo_add(core: &Core, req: RepoAddRequest) -> Result<RepositoryInfo, ApiError> {
    let path = std::path::Path::new(&req.path);
    let now = core.clock.now();
    let added = crate::repos::add(
        &core.store,
        path,
        req.name.as_deref(),
        req.trust.unwrap_or(false),
        now,
    )?;
    repositories_changed(core);
    Ok(added)
}

/// Tells a running engine (maybe in another process) to re-read the
/// repository list, so watching follows without a restart.
fn repositories_changed(core: &Core) {
    let _ = crate::engine::wake::poke(&core.data_dir, crate::engine::wake::REPOSITORIES);
}

pub async fn repo_list(core: &Core, _: RepoListRequest) -> Result<RepoListResponse, ApiError> {
    Ok(RepoListResponse {
        repositories: crate::repos::list(&core.store)?,
    })
}

pub async fn repo_remove(core: &Core, req: RepoNameRequest) -> Result<RepositoryInfo, ApiError> {
    let removed = crate::repos::remove(&core.store, &req.name)?;
    repositories_changed(core);
    Ok(removed)
}

pub async fn executions(
    core: &Core,
    req: ExecutionsRequest,
) -> Result<ExecutionsResponse, ApiError> {
    let (repository, pipeline) = match req.pipeline.as_deref() {
        Some(p) => match p.split_once('/') {
            Some((r, p)) => (Some(r.to_string()), Some(p.to_string())),
            None => (None, Some(p.to_string())),
        },
        None => (None, None),
    };
    Ok(ExecutionsResponse {
        executions: core.store.executions(
            repository.as_deref(),
            pipeline.as_deref(),
            req.limit.unwrap_or(20),
        )?,
    })
}

pub async fn execution(core: &Core, req: ExecutionRequest) -> Result<ExecutionDetail, ApiError> {
    core.store.execution(&req.id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("no execution `{}` (see `slipway executions`)", req.id),
        )
    })
}

async fn decide(
    core: &Core,
    req: DecisionRequest,
    approve: bool,
) -> Result<DecisionResponse, ApiError> {
    let action = crate::engine::decide_approval(
        &core.store,
        &core.data_dir,
        &req.id,
        req.action.as_deref(),
        approve,
        req.comment.as_deref().unwrap_or(""),
        core.clock.now(),
    )?;
    Ok(DecisionResponse { id: req.id, action })
}

pub async fn approve(core: &Core, req: DecisionRequest) -> Result<DecisionResponse, ApiError> {
    decide(core, req, true).await
}

pub async fn reject(core: &Core, req: DecisionRequest) -> Result<DecisionResponse, ApiError> {
    decide(core, req, false).await
}

pub async fn stop(core: &Core, req: StopRequest) -> Result<ExecutionRequest, ApiError> {
    crate::engine::request_stop(
        &core.store,
        &core.data_dir,
        &req.id,
        req.abandon.unwrap_or(false),
    )?;
    Ok(ExecutionRequest { id: req.id })
}

pub async fn run(core: &Core, req: RunPipelineRequest) -> Result<ExecutionRequest, ApiError> {
    let request = crate::model::EngineRequest::Run(crate::model::RunRequest {
        pipeline: req.pipeline,
        revision: req.revision,
        variables: req.variables.unwrap_or_default(),
        trigger: crate::model::ExecutionTrigger::Manual,
        branch: None,
    });
    let id = execution_started(core.submit(request).await?)?;
    Ok(ExecutionRequest { id })
}

pub async fn retry(core: &Core, req: ExecutionRequest) -> Result<ExecutionRequest, ApiError> {
    let request =
        crate::model::EngineRequest::Retry(crate::model::RetryRequest { execution: req.id });
    let id = execution_started(core.submit(request).await?)?;
    Ok(ExecutionRequest { id })
}

fn execution_started(started: crate::model::Started) -> Result<String, ApiError> {
    started
        .execution()
        .map(|id| id.0)
        .ok_or_else(|| ApiError::internal("the engine answered a run with a deployment"))
}

pub async fn deployments(
    core: &Core,
    req: DeploymentsRequest,
) -> Result<DeploymentsResponse, ApiError> {
    let deployments = core.store.deployments(
        req.environment.as_deref(),
        req.pipeline.as_deref(),
        req.limit.unwrap_or(20),
    )?;
    // One environment's history also says what it serves now, read from
    // where it runs (AWS environments).
    let serving = match (&req.environment, deployments.first()) {
        (Some(_), Some(newest)) => {
            match crate::deploy::overview::spec_of(&core.store, &newest.id) {
                Some(spec) => {
                    let current = core.store.last_good_deployment(
                        &newest.pipeline,
                        &newest.environment,
                        None,
                    )?;
                    let deployer = core.deployer();
                    crate::deploy::overview::serving(&deployer, &spec, current.as_ref()).await
                }
                None => None,
            }
        }
        _ => None,
    };
    Ok(DeploymentsResponse {
        deployments,
        serving,
    })
}

pub async fn deployment(core: &Core, req: DeploymentRequest) -> Result<DeploymentDetail, ApiError> {
    core.store.deployment(&req.id)?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            format!("no deployment `{}` (see `slipway deployments ENV`)", req.id),
        )
    })
}

pub async fn environments(
    core: &Core,
    _: EnvironmentsRequest,
) -> Result<EnvironmentsResponse, ApiError> {
    let deployer = core.deployer();
    Ok(EnvironmentsResponse {
        environments: crate::deploy::overview::environments(&core.store, &deployer).await?,
    })
}

pub async fn rollback(core: &Core, req: RollbackRequest) -> Result<DeploymentRequest, ApiError> {
    let id = core
        .submit(crate::model::EngineRequest::Rollback(req))
        .await?
        .deployment()
        .ok_or_else(|| ApiError::internal("the engine answered a rollback with an execution"))?;
    Ok(DeploymentRequest { id: id.0 })
}

pub async fn tray_menu(core: &Core, _: TrayMenuRequest) -> Result<tray::TrayMenu, ApiError> {
    Ok(tray::menu(&core.store)?)
}

pub async fn demo(core: &Core, req: DemoRequest) -> Result<RepositoryInfo, ApiError> {
    let ports = (
        req.staging_port.unwrap_or(crate::demo::STAGING_PORT),
        req.production_port.unwrap_or(crate::demo::PRODUCTION_PORT),
    );
    let repo =
        crate::demo::create(&core.store, &core.data_dir, ports, core.clock.now()).map_err(|e| {
            match e {
                crate::demo::DemoError::Repo(inner) => inner.into(),
                other => ApiError::new(other.code(), other.to_string()),
            }
        })?;
    repositories_changed(core);
    Ok(repo)
}

pub async fn repo_trust(core: &Core, req: RepoTrustRequest) -> Result<RepositoryInfo, ApiError> {
    let trusted = req.trusted.unwrap_or(true);
    let repo = crate::repos::set_trusted(&core.store, &req.name, trusted, core.clock.now())?;
    repositories_changed(core);
    Ok(repo)
}
