//! One read of the ECS provider: clusters, their running tasks, the tasks' definitions and, for
//! tasks on EC2 container instances, the instances' private addresses — the same reads as
//! Traefik's provider, in pages and chunks of 100 as the APIs take them.
//!
//! Where it differs from Traefik on purpose: a failed `DescribeTasks` fails the read (Traefik
//! logs it and goes on without those tasks, so their routes vanish); task definitions are kept
//! by their ARN for as long as a task uses them (a revision never changes; Traefik keeps them
//! 30 minutes by task); a task's `UNHEALTHY` status counts on EC2 as on awsvpc.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;

use aws_sdk_ecs::types::{DesiredStatus, HealthStatus, NetworkMode, Task, TaskDefinition};

use super::aws::{Clients, Instance};
use super::{EcsProvider, Failure};
use crate::provider::ecs::{EcsContainer, PortMapping};

/// How many ARNs one describe call takes.
const CHUNK: usize = 100;

/// Task definitions read so far, by ARN.
#[derive(Default)]
pub struct Definitions(HashMap<String, TaskDefinition>);

/// Reads every running task's containers of the provider's clusters.
pub async fn all(
    c: &Clients,
    p: &EcsProvider,
    defs: &mut Definitions,
) -> Result<Vec<EcsContainer>, Failure> {
    let clusters = if p.auto_discover_clusters {
        list_clusters(c).await?
    } else {
        p.clusters.clone()
    };
    let mut out = Vec::new();
    let mut used = BTreeSet::new();
    for cluster in &clusters {
        let tasks = running_tasks(c, cluster, p.healthy_tasks_only).await?;
        if tasks.is_empty() {
            continue;
        }
        let instances = instances(c, cluster, &tasks).await?;
        for task in &tasks {
            let Some(arn) = task.task_definition_arn() else {
                continue;
            };
            used.insert(arn.to_owned());
            if !defs.0.contains_key(arn) {
                let d = describe_definition(c, arn).await?;
                defs.0.insert(arn.to_owned(), d);
            }
            if let Some(def) = defs.0.get(arn) {
                out.extend(containers(task, def, &instances));
            }
        }
    }
    defs.0.retain(|arn, _| used.contains(arn));
    Ok(out)
}

/// The failure of `action`, with the service's error code and message when it gave them.
fn failed<E, R>(action: &'static str) -> impl Fn(aws_sdk_ecs::error::SdkError<E, R>) -> Failure
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    move |e| {
        use aws_sdk_ecs::error::ProvideErrorMetadata as _;
        let message = match (e.code(), e.message()) {
            (Some(code), Some(m)) => format!("{code}: {m}"),
            (Some(code), None) => code.to_owned(),
            _ => crate::error_text::chain(&e),
        };
        Failure { action, message }
    }
}

async fn list_clusters(c: &Clients) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    let mut pages = c.ecs.list_clusters().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(failed("ecs:ListClusters"))?;
        out.extend(page.cluster_arns().iter().cloned());
    }
    Ok(out)
}

/// The cluster's tasks whose desired status is `RUNNING`, described.
async fn running_tasks(
    c: &Clients,
    cluster: &str,
    healthy_only: bool,
) -> Result<Vec<Task>, Failure> {
    let mut out = Vec::new();
    let mut pages = c
        .ecs
        .list_tasks()
        .cluster(cluster)
        .desired_status(DesiredStatus::Running)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(failed("ecs:ListTasks"))?;
        for arns in page.task_arns().chunks(CHUNK) {
            let described = c
                .ecs
                .describe_tasks()
                .cluster(cluster)
                .set_tasks(Some(arns.to_vec()))
                .send()
                .await
                .map_err(failed("ecs:DescribeTasks"))?;
            out.extend(
                described
                    .tasks()
                    .iter()
                    .filter(|t| kept(t, healthy_only))
                    .cloned(),
            );
        }
    }
    Ok(out)
}

/// Whether a described task is read: with `healthyTasksOnly`, only a `HEALTHY` one (a task
/// without a health check has `UNKNOWN`, as in Traefik).
fn kept(task: &Task, healthy_only: bool) -> bool {
    !healthy_only || task.health_status() == Some(&HealthStatus::Healthy)
}

/// The tasks' container instances' EC2 instances, by container instance ARN (ECS Anywhere's
/// `mi-` instances are not EC2's and are left out, as in Traefik).
async fn instances(
    c: &Clients,
    cluster: &str,
    tasks: &[Task],
) -> Result<HashMap<String, Instance>, Failure> {
    let arns: BTreeSet<String> = tasks
        .iter()
        .filter_map(|t| t.container_instance_arn().map(str::to_owned))
        .collect();
    let arns: Vec<String> = arns.into_iter().collect();
    let mut by_instance: BTreeMap<String, String> = BTreeMap::new();
    for chunk in arns.chunks(CHUNK) {
        let answer = c
            .ecs
            .describe_container_instances()
            .cluster(cluster)
            .set_container_instances(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(failed("ecs:DescribeContainerInstances"))?;
        for ci in answer.container_instances() {
            if let (Some(id), Some(arn)) = (ci.ec2_instance_id(), ci.container_instance_arn()) {
                if !id.starts_with("mi-") {
                    by_instance.insert(id.to_owned(), arn.to_owned());
                }
            }
        }
    }
    let ids: Vec<String> = by_instance.keys().cloned().collect();
    let mut out = HashMap::new();
    for chunk in ids.chunks(CHUNK) {
        for i in c.describe_instances(chunk).await? {
            if let Some(arn) = by_instance.get(&i.id) {
                out.insert(arn.clone(), i);
            }
        }
    }
    Ok(out)
}

async fn describe_definition(c: &Clients, arn: &str) -> Result<TaskDefinition, Failure> {
    let answer = c
        .ecs
        .describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .map_err(failed("ecs:DescribeTaskDefinition"))?;
    answer.task_definition().cloned().ok_or_else(|| Failure {
        action: "ecs:DescribeTaskDefinition",
        message: format!("{arn}: no task definition in the answer"),
    })
}

/// A task's containers that have a definition: awsvpc tasks at their ENI's address with the
/// definition's port mappings; others at their instance's address with ECS's bindings.
fn containers(
    task: &Task,
    def: &TaskDefinition,
    instances: &HashMap<String, Instance>,
) -> Vec<EcsContainer> {
    let awsvpc = def.network_mode() == Some(&NetworkMode::Awsvpc) && !task.attachments().is_empty();
    let instance = task
        .container_instance_arn()
        .and_then(|arn| instances.get(arn));
    let mut out = Vec::new();
    for container in task.containers() {
        let name = container.name().unwrap_or_default();
        let Some(definition) = def
            .container_definitions()
            .iter()
            .find(|d| d.name() == Some(name))
        else {
            tracing::debug!(container = name, "no container definition; left out");
            continue;
        };
        let (ip, state, ports): (_, _, Vec<Option<PortMapping>>) = if awsvpc {
            let Some(eni) = container.network_interfaces().first() else {
                continue;
            };
            let ip = eni.private_ipv4_address().or(eni.ipv6_address());
            let ports = definition
                .port_mappings()
                .iter()
                // In awsvpc mode the host port is the container's (ECS fills it in).
                .map(|m| {
                    let host = m.host_port().filter(|h| *h != 0).or(m.container_port());
                    mapping(m.container_port(), host)
                })
                .collect();
            (
                ip,
                task.last_status().unwrap_or_default().to_ascii_lowercase(),
                ports,
            )
        } else {
            let Some(instance) = instance else {
                tracing::debug!(container = name, "no container instance known; left out");
                continue;
            };
            let ports = container
                .network_bindings()
                .iter()
                .map(|b| mapping(b.container_port(), b.host_port()))
                .collect();
            (
                Some(instance.private_ip.as_str()),
                instance.state.clone(),
                ports,
            )
        };
        out.push(EcsContainer {
            task_arn: task.task_arn().unwrap_or_default().to_owned(),
            group: task.group().unwrap_or_default().to_owned(),
            container: name.to_owned(),
            labels: definition
                .docker_labels()
                .map(|l| l.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_default(),
            ip: ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
            state,
            unhealthy: task.health_status() == Some(&HealthStatus::Unhealthy),
            ports: ports.into_iter().flatten().collect(),
        });
    }
    out
}

/// A port mapping or binding (TCP and UDP alike: Traefik goes by the numbers).
fn mapping(container: Option<i32>, host: Option<i32>) -> Option<PortMapping> {
    Some(PortMapping {
        container: i64::from(container?),
        host: i64::from(host.unwrap_or_default()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_ecs::types::{
        Attachment, Container, ContainerDefinition, NetworkBinding, NetworkInterface,
        PortMapping as Mapping,
    };

    fn definition(mode: NetworkMode, mappings: &[(i32, Option<i32>)]) -> TaskDefinition {
        let mut d = ContainerDefinition::builder()
            .name("web")
            .docker_labels("traefik.enable", "true");
        for &(c, h) in mappings {
            d = d.port_mappings(
                Mapping::builder()
                    .container_port(c)
                    .set_host_port(h)
                    .build(),
            );
        }
        TaskDefinition::builder()
            .network_mode(mode)
            .container_definitions(d.build())
            .build()
    }

    fn task(container: Container, awsvpc: bool) -> Task {
        let mut t = Task::builder()
            .task_arn("arn:aws:ecs:us-east-1:1:task/web/0123456789abcdef")
            .group("service:app")
            .last_status("RUNNING")
            .container_instance_arn("ci-1")
            .containers(container);
        if awsvpc {
            t = t.attachments(
                Attachment::builder()
                    .r#type("ElasticNetworkInterface")
                    .build(),
            );
        }
        t.build()
    }

    #[test]
    fn healthy_tasks_only_keeps_healthy_ones() {
        let healthy = Task::builder().health_status(HealthStatus::Healthy).build();
        let unknown = Task::builder()
            .health_status(HealthStatus::UnknownValue)
            .build();
        assert!(kept(&healthy, true) && kept(&unknown, false));
        assert!(!kept(&unknown, true));
        assert!(!kept(&Task::builder().build(), true));
    }

    #[test]
    fn ec2_tasks_take_their_instance_and_bindings() {
        let c = Container::builder()
            .name("web")
            .network_bindings(
                NetworkBinding::builder()
                    .container_port(80)
                    .host_port(32768)
                    .build(),
            )
            .build();
        let instances = HashMap::from([(
            "ci-1".to_owned(),
            Instance {
                id: "i-1".into(),
                private_ip: "10.0.0.5".into(),
                state: "running".into(),
            },
        )]);
        let got = containers(
            &task(c.clone(), false),
            &definition(NetworkMode::Bridge, &[(80, Some(0))]),
            &instances,
        );
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].ip, Some("10.0.0.5".parse().unwrap()));
        assert_eq!(
            got[0].ports,
            [PortMapping {
                container: 80,
                host: 32768
            }]
        );
        assert_eq!(
            got[0].labels.get("traefik.enable").map(String::as_str),
            Some("true")
        );
        // Its instance unknown: left out.
        assert!(containers(
            &task(c, false),
            &definition(NetworkMode::Bridge, &[]),
            &HashMap::new()
        )
        .is_empty());
    }

    #[test]
    fn awsvpc_tasks_take_their_eni_and_mappings() {
        let eni = NetworkInterface::builder()
            .private_ipv4_address("10.1.0.7")
            .build();
        let c = Container::builder()
            .name("web")
            .network_interfaces(eni)
            .build();
        let def = definition(NetworkMode::Awsvpc, &[(8080, None), (9000, Some(9000))]);
        let got = containers(&task(c, true), &def, &HashMap::new());
        assert_eq!(got[0].ip, Some("10.1.0.7".parse().unwrap()));
        assert_eq!(got[0].state, "running");
        assert_eq!(
            got[0].ports,
            [
                PortMapping {
                    container: 8080,
                    host: 8080
                },
                PortMapping {
                    container: 9000,
                    host: 9000
                }
            ]
        );
        // No ENI yet: left out.
        let bare = Container::builder().name("web").build();
        assert!(containers(&task(bare, true), &def, &HashMap::new()).is_empty());
        // A container the definition does not name: left out.
        let other = Container::builder().name("sidecar").build();
        assert!(containers(&task(other, true), &def, &HashMap::new()).is_empty());
    }
}
