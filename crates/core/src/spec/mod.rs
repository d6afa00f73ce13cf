//! The file formats users bring: `.slipway/*.yml` pipelines, CodeBuild
//! `buildspec.yml` and CodeDeploy `appspec.yml`/`appspec.json`.
