//! The ECS provider, `providers.ecs`, as Traefik has it: every `refreshSeconds` the running
//! tasks of the configured clusters (or of every cluster, `autoDiscoverClusters`) are read with
//! read-only calls, their containers turned into routers and services from their task
//! definitions' `dockerLabels` ([`crate::provider::ecs`]), and the table swapped as for Docker.
//!
//! The calls are exactly these, and [`ACTIONS`] is the IAM policy README documents:
//! `ecs:ListClusters` (only with `autoDiscoverClusters`), `ecs:ListTasks`, `ecs:DescribeTasks`,
//! `ecs:DescribeTaskDefinition` (once per task definition revision: revisions never change),
//! `ecs:DescribeContainerInstances` and `ec2:DescribeInstances` (EC2 launch type, for the
//! instances' private addresses). A read that fails (an error, throttling the SDK's own retries
//! did not overcome) keeps the last good table in service, is reported with the action that
//! failed (log, `/api/issues`, the discovery error counter) and tried again after a delay that
//! doubles from 1 s up to the refresh interval.
//!
//! - [`aws`]: the clients: the AWS SDK's region and credential chain, its ECS client, and
//!   EC2's `DescribeInstances` signed with the SDK's SigV4 signer
//! - [`read`]: one read of clusters, tasks, task definitions and instances

use std::sync::Arc;
use std::time::Duration;

use crate::dynamic::{Issue, Snapshot};
use crate::provider::constraints::Constraints;
use crate::provider::container::ContainerSettings;
use crate::provider::ecs::EcsContainer;
use crate::server::Shared;

pub mod aws;
pub mod read;

pub use crate::provider::ecs::PROVIDER;

/// Every action the provider may call: the IAM policy it needs.
/// (Traefik's documented policy also names `ecs:DescribeClusters`, which neither calls, and
/// `ssm:DescribeInstanceInformation`, for ECS Anywhere, which is not supported here.)
pub const ACTIONS: [&str; 6] = [
    "ecs:ListClusters",
    "ecs:ListTasks",
    "ecs:DescribeTasks",
    "ecs:DescribeContainerInstances",
    "ecs:DescribeTaskDefinition",
    "ec2:DescribeInstances",
];

/// `providers.ecs`. Its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct EcsProvider {
    /// `clusters` (names or ARNs).
    pub clusters: Vec<String>,
    /// `autoDiscoverClusters`.
    pub auto_discover_clusters: bool,
    /// `exposedByDefault`.
    pub exposed_by_default: bool,
    /// `healthyTasksOnly`.
    pub healthy_tasks_only: bool,
    /// `defaultRule`.
    pub default_rule: String,
    /// `constraints`, parsed.
    pub constraints: Option<Constraints>,
    /// `refreshSeconds`.
    pub refresh: Duration,
    /// `region` (empty: the AWS SDK's region chain).
    pub region: String,
    /// `accessKeyID` (empty: the AWS SDK's credential chain).
    pub access_key_id: String,
    /// `secretAccessKey`.
    pub secret_access_key: String,
    /// `endpoint` (not Traefik's: an emulator's URL for ECS and EC2; empty: the SDK's
    /// `AWS_ENDPOINT_URL*` variables, else AWS's).
    pub endpoint: String,
}

impl std::fmt::Debug for EcsProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = if self.secret_access_key.is_empty() {
            ""
        } else {
            "***"
        };
        f.debug_struct("EcsProvider")
            .field("clusters", &self.clusters)
            .field("auto_discover_clusters", &self.auto_discover_clusters)
            .field("exposed_by_default", &self.exposed_by_default)
            .field("healthy_tasks_only", &self.healthy_tasks_only)
            .field("default_rule", &self.default_rule)
            .field("constraints", &self.constraints)
            .field("refresh", &self.refresh)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &secret)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl EcsProvider {
    /// Traefik's defaults.
    pub fn traefik_defaults() -> EcsProvider {
        EcsProvider {
            clusters: vec!["default".into()],
            auto_discover_clusters: false,
            exposed_by_default: true,
            healthy_tasks_only: false,
            default_rule: crate::config::DEFAULT_RULE.into(),
            constraints: None,
            refresh: Duration::from_secs(15),
            region: String::new(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            endpoint: String::new(),
        }
    }

    /// The settings the label reader takes.
    pub fn settings(&self, prefix: &str) -> ContainerSettings {
        ContainerSettings {
            prefix: prefix.to_owned(),
            exposed_by_default: self.exposed_by_default,
            default_rule: self.default_rule.clone(),
            constraints: self.constraints.clone(),
            ..ContainerSettings::traefik_defaults(PROVIDER)
        }
    }
}

/// A read that failed: the AWS action and what it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `ecs:DescribeTasks`, ...
    pub action: &'static str,
    /// The error, with the service's code and message when it gave them.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} failed: {}", self.action, self.message)
    }
}

/// The first wait after a failed read; it doubles up to the refresh interval.
pub const RETRY_FIRST: Duration = Duration::from_secs(1);

/// Runs the provider forever.
pub async fn run(shared: Arc<Shared>, p: EcsProvider) {
    let clients = aws::Clients::new(&p).await;
    let settings = p.settings(&shared.config.label_prefix);
    let mut definitions = read::Definitions::default();
    let mut last: Option<Vec<EcsContainer>> = None;
    let mut failing = false;
    let mut delay = RETRY_FIRST;
    loop {
        match read::all(&clients, &p, &mut definitions).await {
            Ok(containers) => {
                delay = RETRY_FIRST;
                if failing || last.as_ref() != Some(&containers) {
                    tracing::info!(
                        provider = PROVIDER,
                        containers = containers.len(),
                        "ECS tasks read"
                    );
                    publish(&shared, &settings, &containers, None).await;
                    last = Some(containers);
                    failing = false;
                }
                tokio::time::sleep(p.refresh).await;
            }
            Err(failure) => {
                shared.metrics.discovery_errors.inc();
                tracing::warn!(provider = PROVIDER, action = failure.action, error = %failure.message, retry_in = ?delay, "ECS read failed; the last good configuration stays in service");
                let kept = last.as_deref().unwrap_or_default();
                publish(&shared, &settings, kept, Some((&failure, delay))).await;
                failing = true;
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(p.refresh.max(RETRY_FIRST));
            }
        }
    }
}

/// Publishes the snapshot of `containers`, with the failure that kept them (if any) as an
/// issue of the provider. Built on the blocking pool with the table (thousands of tasks take
/// milliseconds to read), off the workers that serve requests.
async fn publish(
    shared: &Arc<Shared>,
    settings: &ContainerSettings,
    containers: &[EcsContainer],
    failure: Option<(&Failure, Duration)>,
) {
    let failure = failure.map(|(f, retry)| Issue {
        source: PROVIDER.into(),
        level: "error",
        key: Some(f.action.to_owned()),
        message: format!(
            "{}; the last good configuration stays in service; next try in {retry:?}",
            f.message
        ),
    });
    let (settings, containers) = (settings.clone(), containers.to_vec());
    crate::state::off_workers(shared, move |shared| {
        if let Some(hub) = &shared.hub {
            hub.set(
                PROVIDER,
                crate::cluster::wire::Input::Containers {
                    settings: (&settings).into(),
                    view: crate::provider::ecs::view(&containers, &settings.prefix),
                },
            );
        }
        let mut snap: Snapshot = crate::provider::ecs::snapshot(&containers, &settings);
        snap.issues.extend(failure);
        crate::state::publish(shared, snap);
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_data_plane_builds_what_the_controller_built() {
        use crate::provider::ecs::{self, EcsContainer, PortMapping};
        let task = |arn: &str, ip: &str| EcsContainer {
            task_arn: format!("arn:aws:ecs:us-east-1:1:task/web/{arn}"),
            group: "service:web".into(),
            container: "app".into(),
            labels: [(
                "traefik.http.routers.app.rule".to_owned(),
                "Host(`app.test`)".to_owned(),
            )]
            .into(),
            ip: Some(ip.parse().unwrap()),
            state: "running".into(),
            unhealthy: false,
            ports: vec![PortMapping {
                container: 80,
                host: 32768,
            }],
        };
        let tasks = [
            task("aaaaaaaaaaaa", "10.0.0.1"),
            task("bbbbbbbbbbbb", "10.0.0.2"),
        ];
        let mut p = EcsProvider::traefik_defaults();
        p.constraints = Some(Constraints::parse("!Label(`team`, `b`)").unwrap());
        let settings = p.settings("traefik");
        let input = crate::cluster::wire::Input::Containers {
            settings: (&settings).into(),
            view: ecs::view(&tasks, "traefik"),
        };
        let sent = crate::cluster::wire::encode(&crate::cluster::wire::Message {
            generation: 1,
            providers: [(PROVIDER.to_owned(), input)].into(),
            acme: Default::default(),
        });
        let got = crate::cluster::wire::decode(sent.as_bytes()).unwrap();
        let rebuilt = crate::cluster::wire::snapshot(PROVIDER, &got.providers[PROVIDER]).unwrap();
        let built = ecs::snapshot(&tasks, &settings);
        assert_eq!(rebuilt.config, built.config);
        assert_eq!(rebuilt.issues, built.issues);
        assert_eq!(
            rebuilt.config.http.services["service-web-app"]
                .load_balancer
                .servers
                .len(),
            2
        );
    }

    #[test]
    fn the_secret_is_never_printed() {
        let mut p = EcsProvider::traefik_defaults();
        p.access_key_id = "AKIDEXAMPLE".into();
        p.secret_access_key = "wJalrXUtnFEMI/K7MDENG".into();
        let shown = format!("{p:?}");
        assert!(
            shown.contains("AKIDEXAMPLE") && shown.contains("***"),
            "{shown}"
        );
        assert!(!shown.contains("wJalr"), "{shown}");
    }
}
