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
        host: core.host.into(),
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

/// Hands a request to the data directory's engine (this process's or
/// another's) and returns the id of what it started.
async fn submit(
    core: &Core,
    kind: crate::store::RequestKind,
    request: &crate::engine::RunRequest,
) -> Result<String, ApiError> {
    Ok(crate::engine::submit(&core.store, &core.data_dir, kind, request, core.clock.now()).await?)
}

pub async fn run(core: &Core, req: RunPipelineRequest) -> Result<ExecutionRequest, ApiError> {
    let request = crate::engine::RunRequest {
        pipeline: req.pipeline,
        revision: req.revision,
        variables: req.variables.unwrap_or_default(),
        trigger: "manual".into(),
        branch: None,
    };
    let id = submit(core, crate::store::RequestKind::Run, &request).await?;
    Ok(ExecutionRequest { id })
}

pub async fn retry(core: &Core, req: ExecutionRequest) -> Result<ExecutionRequest, ApiError> {
    let request = crate::engine::RunRequest {
        pipeline: req.id,
        trigger: "manual".into(),
        ..Default::default()
    };
    let id = submit(core, crate::store::RequestKind::Retry, &request).await?;
    Ok(ExecutionRequest { id })
}

pub async fn deployments(
    core: &Core,
    req: DeploymentsRequest,
) -> Result<DeploymentsResponse, ApiError> {
    Ok(DeploymentsResponse {
        deployments: core.store.deployments(
            req.environment.as_deref(),
            req.pipeline.as_deref(),
            req.limit.unwrap_or(20),
        )?,
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
    let store = &core.store;
    let mut environments = Vec::new();
    for (pipeline, environment) in store.deployment_environments()? {
        let latest = store
            .deployments(Some(&environment), Some(&pipeline), 1)?
            .into_iter()
            .next();
        let current = store.last_good_deployment(&pipeline, &environment, None)?;
        let rollback_target = match &current {
            Some(c) => store.last_good_deployment(&pipeline, &environment, Some(&c.id))?,
            None => None,
        };
        let spec: Option<crate::spec::pipeline::Environment> = latest
            .as_ref()
            .and_then(|d| store.deployment_spec(&d.id).ok().flatten())
            .and_then(|text| serde_json::from_str(&text).ok());
        let (provider, listen, instances) = match spec.map(|s| s.provider) {
            Some(crate::spec::pipeline::Provider::Local {
                instances, listen, ..
            }) => ("local", listen, Some(instances as u32)),
            Some(crate::spec::pipeline::Provider::Command { .. }) => ("command", None, None),
            None => ("local", None, None),
        };
        let live = core
            .engine()
            .and_then(|e| e.deployer.live(&pipeline, &environment));
        environments.push(EnvironmentInfo {
            live,
            pipeline,
            environment,
            provider: provider.into(),
            listen,
            instances,
            current,
            latest,
            rollback_target,
        });
    }
    Ok(EnvironmentsResponse { environments })
}

pub async fn rollback(core: &Core, req: RollbackRequest) -> Result<DeploymentRequest, ApiError> {
    let request = crate::engine::RunRequest {
        pipeline: req.environment,
        revision: req.to,
        variables: req
            .pipeline
            .map(|p| std::collections::BTreeMap::from([("pipeline".to_string(), p)]))
            .unwrap_or_default(),
        trigger: "rollback".into(),
        branch: None,
    };
    let id = submit(core, crate::store::RequestKind::Rollback, &request).await?;
    Ok(DeploymentRequest { id })
}

/// The demo's two router ports: different, and free on 127.0.0.1 now.
fn demo_ports_free((staging, production): (u16, u16)) -> Result<(), ApiError> {
    if staging == production {
        return Err(ApiError::new(
            ErrorCode::InvalidInput,
            format!("staging and production need two different ports (both are {staging})"),
        ));
    }
    for (port, env) in [(staging, "staging"), (production, "production")] {
        if port == 0 {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("the {env} port must be from 1 to 65535"),
            ));
        }
        if let Err(e) = std::net::TcpListener::bind(("127.0.0.1", port)) {
            return Err(ApiError::new(
                ErrorCode::InvalidInput,
                format!("port {port} for the demo's {env} is not free on 127.0.0.1 ({e}); choose another {env} port"),
            ));
        }
    }
    Ok(())
}

pub async fn tray_menu(core: &Core, _: TrayMenuRequest) -> Result<tray::TrayMenu, ApiError> {
    Ok(tray::menu(&core.store)?)
}

pub async fn demo(core: &Core, req: DemoRequest) -> Result<RepositoryInfo, ApiError> {
    let ports = (
        req.staging_port.unwrap_or(crate::demo::STAGING_PORT),
        req.production_port.unwrap_or(crate::demo::PRODUCTION_PORT),
    );
    // Say now, where the demo is offered, that a port cannot be had,
    // rather than at its first deployment. (An existing demo reports
    // itself instead: its own routers may hold the ports.)
    if !core.data_dir.join("demo").join("shop").exists() {
        demo_ports_free(ports)?;
    }
    let repo =
        crate::demo::create(&core.store, &core.data_dir, ports, core.clock.now()).map_err(|e| {
            match e {
                crate::demo::DemoError::Repo(inner) => inner.into(),
                crate::demo::DemoError::Exists(_) => {
                    ApiError::new(ErrorCode::AlreadyExists, e.to_string())
                }
                other => ApiError::new(ErrorCode::Io, other.to_string()),
            }
        })?;
    repositories_changed(core);
    Ok(repo)
}

pub async fn repo_trust(core: &Core, req: RepoTrustRequest) -> Result<RepositoryInfo, ApiError> {
    let repo = crate::repos::set_trusted(&core.store, &req.name, req.trusted.unwrap_or(true))?;
    repositories_changed(core);
    Ok(repo)
}
