//! The Accounts page: credential profiles as metadata only. Every value
//! here comes from the database or is an STS identity or an expiry time;
//! no key, token or secret is ever put in a response (the creds module
//! keeps them in the keychain and these handlers never ask for them).

use super::{ApiError, Core};
use super::{ProfileIdentity, ProfileInfo, ProfileNameRequest, ProfileVerifyRequest};
use super::{ProfilesImportRequest, ProfilesImportResponse, ProfilesRequest, ProfilesResponse};
use crate::creds;

pub async fn profiles(core: &Core, _: ProfilesRequest) -> Result<ProfilesResponse, ApiError> {
    let store = core.store.clone();
    // The keychain is a blocking D-Bus / OS call.
    tokio::task::spawn_blocking(move || {
        let mut keychain_error = None;
        let mut out = Vec::new();
        for p in store.profiles()? {
            let (chain, chain_error) = match creds::chain(&store, &p.name) {
                Ok(chain) => (chain.into_iter().map(|p| p.name).collect(), None),
                Err(e) => (vec![p.name.clone()], Some(e.to_string())),
            };
            // One unreachable keychain is enough to know: do not ask again
            // for every profile.
            let session_expires_at = if keychain_error.is_none() {
                creds::cached_session_expiry(&store, &p.name).unwrap_or_else(|e| {
                    keychain_error = Some(e.to_string());
                    None
                })
            } else {
                None
            };
            out.push(ProfileInfo {
                kind: p.kind(),
                account: p.role_account().map(str::to_string),
                duration_seconds: p.duration(),
                name: p.name,
                role_arn: p.role_arn,
                chain,
                region: p.region,
                mfa_serial: p.mfa_serial,
                session_expires_at,
                chain_error,
            });
        }
        Ok(ProfilesResponse {
            profiles: out,
            keychain_error,
        })
    })
    .await
    .map_err(ApiError::internal)?
}

pub async fn profile_remove(
    core: &Core,
    req: ProfileNameRequest,
) -> Result<ProfileNameRequest, ApiError> {
    let store = core.store.clone();
    let name = req.name.clone();
    tokio::task::spawn_blocking(move || creds::remove(&store, &name))
        .await
        .map_err(ApiError::internal)??;
    Ok(req)
}

pub async fn profile_verify(
    core: &Core,
    req: ProfileVerifyRequest,
) -> Result<ProfileIdentity, ApiError> {
    let id = creds::whoami(
        &core.store,
        &req.name,
        core.clock.as_ref(),
        req.mfa_code.as_deref(),
    )
    .await?;
    Ok(ProfileIdentity {
        name: req.name,
        account: id.account,
        arn: id.arn,
        user_id: id.user_id,
    })
}

pub async fn profiles_import(
    core: &Core,
    _: ProfilesImportRequest,
) -> Result<ProfilesImportResponse, ApiError> {
    let store = core.store.clone();
    let now = core.clock.now();
    let report = tokio::task::spawn_blocking(move || creds::import(&store, None, None, now))
        .await
        .map_err(ApiError::internal)??;
    Ok(ProfilesImportResponse {
        imported: report
            .imported
            .into_iter()
            .map(|i| format!("{} ({})", i.name, i.kind))
            .collect(),
        skipped: report
            .skipped
            .into_iter()
            .map(|s| format!("{}: {}", s.name, s.reason))
            .collect(),
    })
}

/// Adds a profile: either keys (the secret goes straight to the keychain;
/// the answer carries only the name) or a role assumed from another profile.
pub async fn profile_add(
    core: &Core,
    req: super::ProfileAddRequest,
) -> Result<ProfileNameRequest, ApiError> {
    let profile = creds::Profile {
        name: req.name.trim().to_string(),
        source_profile: req.source_profile.filter(|s| !s.is_empty()),
        role_arn: req.role_arn.filter(|s| !s.is_empty()),
        region: req.region.filter(|s| !s.is_empty()),
        mfa_serial: req.mfa_serial.filter(|s| !s.is_empty()),
        external_id: req.external_id.filter(|s| !s.is_empty()),
        duration_seconds: req.duration_seconds,
        session_name: req.session_name.filter(|s| !s.is_empty()),
        added_at: core.clock.now(),
    };
    let store = core.store.clone();
    let name = profile.name.clone();
    tokio::task::spawn_blocking(move || {
        if profile.is_role() {
            return creds::add_role(&store, &profile);
        }
        let (Some(id), Some(secret)) = (req.access_key_id, req.secret_access_key) else {
            return Err(creds::CredsError::InvalidProfile {
                name: profile.name.clone(),
                reason: "give an access key id and its secret access key, or a source profile and a role ARN".into(),
            });
        };
        let keys = creds::keys_from_input(id.trim(), secret);
        creds::add_keys(&store, &profile, &keys)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(ProfileNameRequest { name })
}
