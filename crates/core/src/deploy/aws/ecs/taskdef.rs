//! The artifact's task definition: `taskdef.json` (the JSON of
//! RegisterTaskDefinition's input, as `aws ecs register-task-definition
//! --cli-input-json` takes it) with its images filled in the way
//! CodePipeline's ECS actions fill them, turned into the SDK's input.
//!
//! Fields are read strictly: one this module does not know is an error
//! naming it, rather than a revision registered without it. The fields
//! `describe-task-definition` adds (ARN, revision, status…) are dropped,
//! so its output (or its `taskDefinition` member) can be used as is.

use std::collections::HashMap;
use std::path::Path;

use aws_sdk_ecs::operation::register_task_definition::builders::RegisterTaskDefinitionInputBuilder;
use aws_sdk_ecs::types as ecs;
use serde::Deserialize;

/// The file CodePipeline's standard ECS action reads: which container
/// gets which image.
pub const IMAGE_DEFINITIONS: &str = "imagedefinitions.json";
/// The file CodePipeline's ECS blue/green action reads: one image for the
/// task definition's placeholder.
pub const IMAGE_DETAIL: &str = "imageDetail.json";
/// The placeholders `imageDetail.json` fills: AWS's examples write
/// `<IMAGE1_NAME>`; `<IMAGE>` is the short form.
pub const PLACEHOLDERS: [&str; 2] = ["<IMAGE>", "<IMAGE1_NAME>"];

/// What `describe-task-definition` reports that RegisterTaskDefinition
/// does not take.
const OUTPUT_ONLY: [&str; 9] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
    "inferenceAccelerators",
];

/// A task definition as the artifact gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskDef {
    pub family: String,
    pub container_definitions: Vec<Container>,
    pub cpu: Option<Text>,
    pub memory: Option<Text>,
    pub network_mode: Option<String>,
    #[serde(default)]
    pub requires_compatibilities: Vec<String>,
    pub execution_role_arn: Option<String>,
    pub task_role_arn: Option<String>,
    #[serde(default)]
    pub volumes: Vec<Volume>,
    #[serde(default)]
    pub tags: Vec<Tag>,
    pub runtime_platform: Option<RuntimePlatform>,
    pub ephemeral_storage: Option<EphemeralStorage>,
    pub pid_mode: Option<String>,
    pub ipc_mode: Option<String>,
}

/// A value the API takes as a string that files often write as a number
/// (`"cpu": 256`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Text {
    Text(String),
    Number(serde_json::Number),
}

impl Text {
    fn text(&self) -> String {
        match self {
            Text::Text(s) => s.clone(),
            Text::Number(n) => n.to_string(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    pub name: String,
    pub image: String,
    pub cpu: Option<i32>,
    pub memory: Option<i32>,
    pub memory_reservation: Option<i32>,
    pub essential: Option<bool>,
    #[serde(default)]
    pub port_mappings: Vec<PortMapping>,
    #[serde(default)]
    pub environment: Vec<NameValue>,
    #[serde(default)]
    pub command: Vec<String>,
    #[serde(default)]
    pub entry_point: Vec<String>,
    pub working_directory: Option<String>,
    pub user: Option<String>,
    #[serde(default)]
    pub secrets: Vec<SecretRef>,
    pub log_configuration: Option<LogConfiguration>,
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub depends_on: Vec<Dependency>,
    #[serde(default)]
    pub mount_points: Vec<MountPoint>,
    pub readonly_root_filesystem: Option<bool>,
    pub stop_timeout: Option<i32>,
    pub start_timeout: Option<i32>,
    #[serde(default)]
    pub docker_labels: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortMapping {
    pub container_port: Option<i32>,
    pub host_port: Option<i32>,
    pub protocol: Option<String>,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameValue {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretRef {
    pub name: String,
    pub value_from: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfiguration {
    pub log_driver: String,
    #[serde(default)]
    pub options: HashMap<String, String>,
    #[serde(default)]
    pub secret_options: Vec<SecretRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheck {
    pub command: Vec<String>,
    pub interval: Option<i32>,
    pub timeout: Option<i32>,
    pub retries: Option<i32>,
    pub start_period: Option<i32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Dependency {
    pub container_name: String,
    pub condition: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MountPoint {
    pub source_volume: Option<String>,
    pub container_path: Option<String>,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Volume {
    pub name: String,
    pub host: Option<HostVolume>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HostVolume {
    pub source_path: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuntimePlatform {
    pub cpu_architecture: Option<String>,
    pub operating_system_family: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EphemeralStorage {
    pub size_in_gib: i32,
}

/// One entry of `imagedefinitions.json`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImageDefinition {
    name: String,
    image_uri: String,
}

/// `imageDetail.json`.
#[derive(Debug, Clone, Deserialize)]
struct ImageDetail {
    #[serde(rename = "ImageURI")]
    image_uri: String,
}

/// Reads `taskdef` (`file` names it in messages): the task definition
/// itself, or `describe-task-definition`'s answer around it.
pub fn parse(text: &str, file: &str) -> Result<TaskDef, String> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("{file} is not JSON: {e}"))?;
    if let Some(inner) = value.get("taskDefinition").filter(|v| v.is_object()) {
        value = inner.clone();
    }
    let Some(map) = value.as_object_mut() else {
        return Err(format!(
            "{file} is not a task definition (a JSON object with `family` and `containerDefinitions`)"
        ));
    };
    for key in OUTPUT_ONLY {
        map.remove(key);
    }
    let def: TaskDef = serde_json::from_value(value).map_err(|e| format!("{file}: {e}"))?;
    if def.container_definitions.is_empty() {
        return Err(format!("{file}: `containerDefinitions` is empty"));
    }
    Ok(def)
}

impl TaskDef {
    /// Fills the images in from the artifact's `imagedefinitions.json`
    /// (each named container's image replaced) and `imageDetail.json`
    /// (the [`PLACEHOLDERS`] replaced), whichever it has, and checks no
    /// placeholder is left.
    pub fn fill_images(
        &mut self,
        image_definitions: Option<&str>,
        image_detail: Option<&str>,
    ) -> Result<(), String> {
        if let Some(text) = image_definitions {
            let defs: Vec<ImageDefinition> = serde_json::from_str(text).map_err(|e| {
                format!(
                    "{IMAGE_DEFINITIONS} is not a list of {{\"name\": container, \"imageUri\": image}}: {e}"
                )
            })?;
            for d in defs {
                let Some(c) = self
                    .container_definitions
                    .iter_mut()
                    .find(|c| c.name == d.name)
                else {
                    return Err(format!(
                        "{IMAGE_DEFINITIONS} names container `{}`, which the task definition does not define (it has {})",
                        d.name,
                        self.container_names()
                    ));
                };
                c.image = d.image_uri;
            }
        }
        if let Some(text) = image_detail {
            let detail: ImageDetail = serde_json::from_str(text)
                .map_err(|e| format!("{IMAGE_DETAIL} is not {{\"ImageURI\": image}}: {e}"))?;
            for c in &mut self.container_definitions {
                for p in PLACEHOLDERS {
                    c.image = c.image.replace(p, &detail.image_uri);
                }
            }
        }
        if let Some(c) = self
            .container_definitions
            .iter()
            .find(|c| c.image.contains('<'))
        {
            return Err(format!(
                "container `{}`'s image is still the placeholder `{}`: the artifact needs {IMAGE_DETAIL} \
                 ({{\"ImageURI\": …}}, which fills {}) or {IMAGE_DEFINITIONS} naming the container",
                c.name,
                c.image,
                PLACEHOLDERS.join(" and ")
            ));
        }
        Ok(())
    }

    /// Every container's image, by container name.
    pub fn images(&self) -> Vec<(String, String)> {
        self.container_definitions
            .iter()
            .map(|c| (c.name.clone(), c.image.clone()))
            .collect()
    }

    fn container_names(&self) -> String {
        self.container_definitions
            .iter()
            .map(|c| format!("`{}`", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The RegisterTaskDefinition input.
    pub fn input(&self) -> Result<RegisterTaskDefinitionInputBuilder, String> {
        let containers = self
            .container_definitions
            .iter()
            .map(Container::sdk)
            .collect::<Result<Vec<_>, _>>()?;
        let volumes = self
            .volumes
            .iter()
            .map(|v| {
                ecs::Volume::builder()
                    .name(&v.name)
                    .set_host(v.host.as_ref().map(|h| {
                        ecs::HostVolumeProperties::builder()
                            .set_source_path(h.source_path.clone())
                            .build()
                    }))
                    .build()
            })
            .collect::<Vec<_>>();
        let tags = self
            .tags
            .iter()
            .map(|t| ecs::Tag::builder().key(&t.key).value(&t.value).build())
            .collect::<Vec<_>>();
        Ok(
            aws_sdk_ecs::operation::register_task_definition::RegisterTaskDefinitionInput::builder(
            )
            .family(&self.family)
            .set_container_definitions(Some(containers))
            .set_cpu(self.cpu.as_ref().map(Text::text))
            .set_memory(self.memory.as_ref().map(Text::text))
            .set_network_mode(self.network_mode.as_deref().map(ecs::NetworkMode::from))
            .set_requires_compatibilities(non_empty(
                self.requires_compatibilities
                    .iter()
                    .map(|c| ecs::Compatibility::from(c.as_str()))
                    .collect(),
            ))
            .set_execution_role_arn(self.execution_role_arn.clone())
            .set_task_role_arn(self.task_role_arn.clone())
            .set_volumes(non_empty(volumes))
            .set_tags(non_empty(tags))
            .set_runtime_platform(self.runtime_platform.as_ref().map(|p| {
                ecs::RuntimePlatform::builder()
                    .set_cpu_architecture(
                        p.cpu_architecture
                            .as_deref()
                            .map(ecs::CpuArchitecture::from),
                    )
                    .set_operating_system_family(
                        p.operating_system_family
                            .as_deref()
                            .map(ecs::OsFamily::from),
                    )
                    .build()
            }))
            .set_ephemeral_storage(self.ephemeral_storage.as_ref().map(|e| {
                ecs::EphemeralStorage::builder()
                    .size_in_gib(e.size_in_gib)
                    .build()
            }))
            .set_pid_mode(self.pid_mode.as_deref().map(ecs::PidMode::from))
            .set_ipc_mode(self.ipc_mode.as_deref().map(ecs::IpcMode::from)),
        )
    }
}

impl Container {
    fn sdk(&self) -> Result<ecs::ContainerDefinition, String> {
        let what = format!("container `{}`", self.name);
        let secrets = |list: &[SecretRef]| {
            list.iter()
                .map(|s| {
                    ecs::Secret::builder()
                        .name(&s.name)
                        .value_from(&s.value_from)
                        .build()
                        .map_err(|e| format!("{what}: a secret: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let log = match &self.log_configuration {
            Some(l) => Some(
                ecs::LogConfiguration::builder()
                    .log_driver(ecs::LogDriver::from(l.log_driver.as_str()))
                    .set_options((!l.options.is_empty()).then(|| l.options.clone()))
                    .set_secret_options(non_empty(secrets(&l.secret_options)?))
                    .build()
                    .map_err(|e| format!("{what}: logConfiguration: {e}"))?,
            ),
            None => None,
        };
        let health = match &self.health_check {
            Some(h) => Some(
                ecs::HealthCheck::builder()
                    .set_command(Some(h.command.clone()))
                    .set_interval(h.interval)
                    .set_timeout(h.timeout)
                    .set_retries(h.retries)
                    .set_start_period(h.start_period)
                    .build()
                    .map_err(|e| format!("{what}: healthCheck: {e}"))?,
            ),
            None => None,
        };
        let depends_on = self
            .depends_on
            .iter()
            .map(|d| {
                ecs::ContainerDependency::builder()
                    .container_name(&d.container_name)
                    .condition(ecs::ContainerCondition::from(d.condition.as_str()))
                    .build()
                    .map_err(|e| format!("{what}: dependsOn: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let ports = self
            .port_mappings
            .iter()
            .map(|p| {
                ecs::PortMapping::builder()
                    .set_container_port(p.container_port)
                    .set_host_port(p.host_port)
                    .set_protocol(p.protocol.as_deref().map(ecs::TransportProtocol::from))
                    .set_name(p.name.clone())
                    .set_app_protocol(
                        p.app_protocol
                            .as_deref()
                            .map(ecs::ApplicationProtocol::from),
                    )
                    .build()
            })
            .collect();
        let environment = self
            .environment
            .iter()
            .map(|kv| {
                ecs::KeyValuePair::builder()
                    .name(&kv.name)
                    .value(&kv.value)
                    .build()
            })
            .collect();
        let mounts = self
            .mount_points
            .iter()
            .map(|m| {
                ecs::MountPoint::builder()
                    .set_source_volume(m.source_volume.clone())
                    .set_container_path(m.container_path.clone())
                    .set_read_only(m.read_only)
                    .build()
            })
            .collect();
        Ok(ecs::ContainerDefinition::builder()
            .name(&self.name)
            .image(&self.image)
            .set_cpu(self.cpu)
            .set_memory(self.memory)
            .set_memory_reservation(self.memory_reservation)
            .set_essential(self.essential)
            .set_port_mappings(non_empty(ports))
            .set_environment(non_empty(environment))
            .set_command(non_empty(self.command.clone()))
            .set_entry_point(non_empty(self.entry_point.clone()))
            .set_working_directory(self.working_directory.clone())
            .set_user(self.user.clone())
            .set_secrets(non_empty(secrets(&self.secrets)?))
            .set_log_configuration(log)
            .set_health_check(health)
            .set_depends_on(non_empty(depends_on))
            .set_mount_points(non_empty(mounts))
            .set_readonly_root_filesystem(self.readonly_root_filesystem)
            .set_stop_timeout(self.stop_timeout)
            .set_start_timeout(self.start_timeout)
            .set_docker_labels((!self.docker_labels.is_empty()).then(|| self.docker_labels.clone()))
            .build())
    }
}

fn non_empty<T>(list: Vec<T>) -> Option<Vec<T>> {
    (!list.is_empty()).then_some(list)
}

/// The artifact's task definition at `path` (relative to `dir`), its
/// images filled in from the image files beside it at the artifact's root.
pub fn read(dir: &Path, path: &str) -> Result<TaskDef, String> {
    let file = dir.join(path);
    let text = std::fs::read_to_string(&file)
        .map_err(|e| format!("cannot read the task definition `{path}` in the artifact: {e}"))?;
    let mut def = parse(&text, path)?;
    let optional = |name: &str| -> Result<Option<String>, String> {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {name} in the artifact: {e}")),
        }
    };
    def.fill_images(
        optional(IMAGE_DEFINITIONS)?.as_deref(),
        optional(IMAGE_DETAIL)?.as_deref(),
    )?;
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TASKDEF: &str = r#"{
        "family": "orders",
        "cpu": 256,
        "memory": "512",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "taskRoleArn": "arn:aws:iam::123456789012:role/task",
        "containerDefinitions": [
            {
                "name": "web",
                "image": "<IMAGE1_NAME>",
                "cpu": 128,
                "memory": 256,
                "essential": true,
                "portMappings": [{"containerPort": 8080, "protocol": "tcp"}],
                "environment": [{"name": "MODE", "value": "live"}],
                "command": ["serve", "--port", "8080"]
            },
            {
                "name": "log-router",
                "image": "public.ecr.aws/fluent/fluent-bit:2",
                "essential": false,
                "memoryReservation": 50
            }
        ]
    }"#;

    #[test]
    fn image_detail_fills_the_placeholder() {
        let mut def = parse(TASKDEF, "taskdef.json").unwrap();
        def.fill_images(
            None,
            Some(r#"{"ImageURI": "1234.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:ab"}"#),
        )
        .unwrap();
        assert_eq!(
            def.images(),
            vec![
                (
                    "web".to_string(),
                    "1234.dkr.ecr.eu-west-1.amazonaws.com/orders@sha256:ab".to_string()
                ),
                (
                    "log-router".to_string(),
                    "public.ecr.aws/fluent/fluent-bit:2".to_string()
                ),
            ]
        );
        let short = TASKDEF.replace("<IMAGE1_NAME>", "<IMAGE>");
        let mut def = parse(&short, "taskdef.json").unwrap();
        def.fill_images(None, Some(r#"{"ImageURI": "orders:9"}"#))
            .unwrap();
        assert_eq!(def.container_definitions[0].image, "orders:9");
    }

    #[test]
    fn image_definitions_replace_named_containers() {
        let mut def = parse(TASKDEF, "taskdef.json").unwrap();
        def.fill_images(
            Some(r#"[{"name": "web", "imageUri": "orders:7"}, {"name": "log-router", "imageUri": "fluent-bit:3"}]"#),
            None,
        )
        .unwrap();
        assert_eq!(def.container_definitions[0].image, "orders:7");
        assert_eq!(def.container_definitions[1].image, "fluent-bit:3");

        let mut def = parse(TASKDEF, "taskdef.json").unwrap();
        let err = def
            .fill_images(Some(r#"[{"name": "api", "imageUri": "orders:7"}]"#), None)
            .unwrap_err();
        assert!(
            err.contains("names container `api`") && err.contains("`web`, `log-router`"),
            "{err}"
        );
    }

    #[test]
    fn a_placeholder_left_unfilled_is_an_error() {
        let mut def = parse(TASKDEF, "taskdef.json").unwrap();
        let err = def.fill_images(None, None).unwrap_err();
        assert!(
            err.contains("container `web`'s image is still the placeholder `<IMAGE1_NAME>`"),
            "{err}"
        );
        let two = TASKDEF.replace("public.ecr.aws/fluent/fluent-bit:2", "<IMAGE2_NAME>");
        let mut def = parse(&two, "taskdef.json").unwrap();
        let err = def
            .fill_images(None, Some(r#"{"ImageURI": "orders:9"}"#))
            .unwrap_err();
        assert!(
            err.contains("`log-router`") && err.contains("<IMAGE2_NAME>"),
            "{err}"
        );
    }

    #[test]
    fn the_json_becomes_the_register_input() {
        let mut def = parse(TASKDEF, "taskdef.json").unwrap();
        def.fill_images(None, Some(r#"{"ImageURI": "orders:9"}"#))
            .unwrap();
        let input = def.input().unwrap().build().unwrap();
        assert_eq!(input.family(), Some("orders"));
        assert_eq!(input.cpu(), Some("256"));
        assert_eq!(input.memory(), Some("512"));
        assert_eq!(input.network_mode(), Some(&ecs::NetworkMode::Awsvpc));
        assert_eq!(
            input.requires_compatibilities(),
            &[ecs::Compatibility::Fargate]
        );
        assert_eq!(
            input.execution_role_arn(),
            Some("arn:aws:iam::123456789012:role/exec")
        );
        assert_eq!(
            input.task_role_arn(),
            Some("arn:aws:iam::123456789012:role/task")
        );
        let web = &input.container_definitions()[0];
        assert_eq!(web.name(), Some("web"));
        assert_eq!(web.image(), Some("orders:9"));
        assert_eq!(web.cpu(), 128);
        assert_eq!(web.memory(), Some(256));
        assert_eq!(web.essential(), Some(true));
        assert_eq!(web.port_mappings()[0].container_port(), Some(8080));
        assert_eq!(
            web.port_mappings()[0].protocol(),
            Some(&ecs::TransportProtocol::Tcp)
        );
        assert_eq!(web.environment()[0].name(), Some("MODE"));
        assert_eq!(web.environment()[0].value(), Some("live"));
        assert_eq!(web.command(), &["serve", "--port", "8080"]);
        let router = &input.container_definitions()[1];
        assert_eq!(router.essential(), Some(false));
        assert_eq!(router.memory_reservation(), Some(50));
        assert!(router.port_mappings().is_empty());
    }

    #[test]
    fn describe_output_is_accepted_and_unknown_fields_are_named() {
        let described = format!(
            r#"{{"taskDefinition": {}}}"#,
            TASKDEF.replacen(
                "\"family\"",
                "\"taskDefinitionArn\": \"arn:aws:ecs:eu-west-1:1:task-definition/orders:3\", \"revision\": 3, \"status\": \"ACTIVE\", \"family\"",
                1
            )
        );
        assert_eq!(parse(&described, "taskdef.json").unwrap().family, "orders");

        let unknown = TASKDEF.replacen(
            "\"essential\": true",
            "\"essential\": true, \"volumesFrom\": []",
            1,
        );
        let err = parse(&unknown, "taskdef.json").unwrap_err();
        assert!(
            err.starts_with("taskdef.json: unknown field `volumesFrom`"),
            "{err}"
        );
        let err = parse("[]", "taskdef.json").unwrap_err();
        assert!(err.contains("not a task definition"), "{err}");
        let err = parse(
            r#"{"family": "x", "containerDefinitions": []}"#,
            "taskdef.json",
        )
        .unwrap_err();
        assert!(err.contains("`containerDefinitions` is empty"), "{err}");
    }
}
