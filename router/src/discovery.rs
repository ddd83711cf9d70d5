//! Staying current: list once, follow `/events`, rebuild, swap.
//!
//! Docker is reached only through socket-guard (bollard over `DOCKER_HOST=tcp://...`). On
//! `kill` or `stop` the container is marked stopping at once, so new requests avoid it before
//! it dies (Traefik waits for `die`, which is how a stopping container still gets traffic).
//! Other events lead to a re-list: the first after a quiet spell at once, the rest of a burst
//! debounced ([`DEBOUNCE`]) into one re-list at the end of the window, so a started container
//! is routed one list after its `start` event and a burst of events costs at most two lists
//! per window. Each re-list first reads the events already on their way ([`DRAIN_GAP`]), so
//! a storm's events, which come faster than a table is built, make one re-list. The containers a list was for are listed once more at the end of the window:
//! the daemon announces some changes (`pause`) before its list shows them. A re-list asks only for the containers the events named (one list filtered by
//! their ids, up to [`TARGETED_MAX`]), not for every container on the host; the periodic
//! resync and reconnects list everything.
//! When the stream ends or the guard is down, the last good table keeps serving while
//! discovery reconnects with backoff and resyncs fully.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, EventMessage};
use bollard::query_parameters::{EventsOptions, ListContainersOptions};
use bollard::Docker;
use futures_util::StreamExt;

use crate::config::ContainerProvider;
use crate::container_cache::Cache;
use crate::provider::container::{self, ContainerInfo, ContainerSettings, Health, RunState};
use crate::server::Shared;

/// The window a burst of events is collected in before one re-list (and the least time
/// between two re-lists).
pub const DEBOUNCE: Duration = Duration::from_millis(50);
/// Most containers a re-list asks for by id; a burst that names more lists everything. The
/// daemon looks each id up (its list's fast path for `id` filters), so a storm of a few
/// hundred starts among 10,000 containers lists those, not all (a whole list of 10,000 was
/// most of a 200-container storm's convergence); 500 full ids make a request head of about
/// 37 KB, within socket-guard's 64 KiB.
pub const TARGETED_MAX: usize = 500;
/// Most events already received that one re-list takes in (the rest wait for the next).
const DRAIN_MAX: usize = 10_000;
/// How long the events stream must be quiet before a re-list: the events of one storm come
/// back to back, microseconds apart.
const DRAIN_GAP: Duration = Duration::from_millis(1);
/// Safety-net full resync, in case an event was missed.
const RESYNC: Duration = Duration::from_secs(60);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Container events that change routing.
const EVENTS: &[&str] = &[
    "start",
    "stop",
    "kill",
    "die",
    "pause",
    "unpause",
    "health_status",
    "destroy",
    "rename",
    "update",
    "connect",
    "disconnect",
];

/// Connects bollard to socket-guard at `endpoint` (`host:port`): plain HTTP, or with `tls`
/// (`providers.docker.tls`) HTTPS to the guard's mutual-TLS listener, verified as Traefik
/// verifies it (the CA given, else Mozilla's roots; the client certificate when given).
///
/// Connections are kept between requests (bollard's own HTTP client opens one per request:
/// a re-list after every event would cost a TCP handshake, and the guard a connection to the
/// daemon), for at most [`GUARD_IDLE`].
pub fn connect(endpoint: &str, tls: Option<&crate::dynamic::ClientTls>) -> Result<Docker, String> {
    let client = guard_client_builder().build(connector(tls)?);
    let scheme = if tls.is_some() { "https" } else { "http" };
    Docker::connect_with_custom_transport(
        move |req: bollard::BollardRequest| {
            let client = client.clone();
            async move {
                client
                    .request(req)
                    .await
                    .map_err(|err| bollard::errors::Error::HyperLegacyError { err })
            }
        },
        Some(format!("{scheme}://{endpoint}")),
        10,
        bollard::API_DEFAULT_VERSION,
    )
    .map_err(|e| e.to_string())
}

/// How long a connection to socket-guard is kept unused: under the guard's shortest
/// `GUARD_HEADER_TIMEOUT` (1 s), after which the guard closes an idle connection, so a
/// request is never sent on a connection the guard is closing.
const GUARD_IDLE: Duration = Duration::from_millis(500);

/// The HTTP client settings of every connection to socket-guard.
fn guard_client_builder() -> hyper_util::client::legacy::Builder {
    let mut b = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new());
    b.pool_timer(hyper_util::rt::TokioTimer::new())
        .pool_idle_timeout(GUARD_IDLE);
    b
}

/// A connector to socket-guard: HTTPS with `tls` (`providers.*.tls`), else plain HTTP.
fn connector(
    tls: Option<&crate::dynamic::ClientTls>,
) -> Result<hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>, String>
{
    let config = crate::client_tls::config(tls)?;
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(config);
    Ok(match tls {
        Some(_) => builder.https_only().enable_http1().wrap_connector(http),
        None => builder.https_or_http().enable_http1().wrap_connector(http),
    })
}

/// A client for the raw JSON reads the Swarm provider makes (bollard's models drop fields it
/// needs), over the same channel as bollard's; and its base URL (`https://` with `tls`).
pub fn raw_client(
    endpoint: &str,
    tls: Option<&crate::dynamic::ClientTls>,
) -> Result<(RawClient, String), String> {
    let client = guard_client_builder().build(connector(tls)?);
    let scheme = if tls.is_some() { "https" } else { "http" };
    Ok((client, format!("{scheme}://{endpoint}")))
}

/// See [`raw_client`].
pub type RawClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// The provider's socket-guard address.
pub fn endpoint(p: &ContainerProvider) -> &str {
    p.endpoint.as_deref().unwrap_or("socket-guard:2375")
}

/// Runs the Docker provider forever (with `watch=false`: lists until one list succeeds).
pub async fn run(shared: Arc<Shared>, provider: ContainerProvider, docker: Docker) {
    let own_id = own_container_id();
    let mut backoff = Duration::from_millis(100);
    let mut stopping: HashMap<String, std::time::Instant> = HashMap::new();
    let mut last = Published::default();
    loop {
        // Subscribe first, then list: nothing that happens in between is lost.
        let mut filters = HashMap::new();
        filters.insert(
            "type".to_owned(),
            vec!["container".to_owned(), "network".to_owned()],
        );
        filters.insert(
            "event".to_owned(),
            EVENTS.iter().map(|e| (*e).to_owned()).collect(),
        );
        let mut events = docker
            .events(Some(EventsOptions {
                since: None,
                until: None,
                filters: Some(filters),
            }))
            .boxed();
        // Shared with the reconfiguration it is published to (no copy of 10,000 containers'
        // labels for each), and changed in place between reconfigurations.
        let mut cache = match list(&docker).await {
            Ok(c) => Cache::new(c),
            Err(e) => {
                shared.metrics.discovery_errors.inc();
                tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, docker_host = %endpoint(&provider), "cannot list containers through socket-guard; keeping the last table");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        retain_stopping(&mut stopping, &cache);
        publish(
            &shared,
            &provider,
            &cache,
            &stopping,
            own_id.as_deref(),
            &mut last,
        )
        .await;
        backoff = Duration::from_millis(100);
        if !provider.watch {
            tracing::info!("providers.docker.watch is false: containers were read once");
            return;
        }

        let mut dirty = false;
        // What the events since the last list named: these containers, or everything.
        let mut named: BTreeSet<String> = BTreeSet::new();
        let mut everything = false;
        // Containers listed once after their events, listed again at the end of the window:
        // the daemon sends some events (`pause`, for one) before its list shows the change.
        let mut again: BTreeSet<String> = BTreeSet::new();
        let mut last_list = tokio::time::Instant::now();
        let mut resync = tokio::time::interval(RESYNC);
        resync.tick().await;
        loop {
            let timer = async {
                if dirty {
                    tokio::time::sleep_until(last_list + DEBOUNCE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let relist_now = tokio::select! {
                ev = events.next() => match ev {
                    Some(Ok(ev)) => {
                        if note_event(&ev, &mut stopping, &mut named, &mut everything) {
                            publish(&shared, &provider, &cache, &stopping, own_id.as_deref(), &mut last).await;
                        }
                        // The first event after a quiet spell is acted on at once; the rest of
                        // a burst waits for one re-list at the end of the window.
                        let quiet = !dirty && last_list.elapsed() >= DEBOUNCE;
                        dirty = true;
                        quiet
                    }
                    Some(Err(e)) => {
                        shared.metrics.discovery_errors.inc();
                        tracing::warn!(error = %e, "events stream failed; resyncing");
                        break;
                    }
                    None => {
                        tracing::warn!("events stream ended; resyncing");
                        break;
                    }
                },
                () = timer => true,
                _ = resync.tick() => {
                    dirty = true;
                    everything = true;
                    false
                }
            };
            if relist_now {
                // Every event already on its way goes into this re-list: a storm's events
                // arrive faster than one reconfiguration, and left in the stream each would
                // make a re-list (and a table) of its own. The stream is read until it has
                // been quiet for [`DRAIN_GAP`] (its bytes pass through the HTTP client's
                // connection task first: what is in the socket is not yet in the stream). (A
                // container to unroute at once is, in this re-list's table: it is marked
                // stopping.)
                let drained = drain_burst(&mut events, DRAIN_GAP, |ev| {
                    note_event(ev, &mut stopping, &mut named, &mut everything);
                })
                .await;
                if drained.is_err() {
                    shared.metrics.discovery_errors.inc();
                    tracing::warn!("events stream ended or failed; resyncing");
                    break;
                }
                dirty = false;
                let fresh = std::mem::take(&mut named);
                let mut ids = std::mem::take(&mut again);
                ids.extend(fresh.iter().cloned());
                let whole = std::mem::take(&mut everything) || ids.len() > TARGETED_MAX;
                tracing::debug!(whole, ids = ids.len(), "re-list");
                let started = std::time::Instant::now();
                let listed = if whole {
                    list(&docker).await.map(Cache::new)
                } else {
                    list_ids(&docker, &ids).await.map(|found| {
                        let mut c = std::mem::take(&mut cache);
                        c.update(&ids, found);
                        c
                    })
                };
                tracing::debug!(took_us = started.elapsed().as_micros() as u64, "listed");
                match listed {
                    Ok(c) => {
                        cache = c;
                        retain_stopping(&mut stopping, &cache);
                        publish(
                            &shared,
                            &provider,
                            &cache,
                            &stopping,
                            own_id.as_deref(),
                            &mut last,
                        )
                        .await;
                        // The window starts when the reconfiguration is done: with thousands
                        // of containers it takes longer than the window, and the events that
                        // came meanwhile are one burst, not a quiet spell's first event.
                        last_list = tokio::time::Instant::now();
                        if !whole && !fresh.is_empty() {
                            again = fresh;
                            dirty = true;
                        }
                    }
                    Err(e) => {
                        shared.metrics.discovery_errors.inc();
                        tracing::warn!(error = %e, "re-list failed; resyncing");
                        break;
                    }
                }
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// How long a container marked stopping stays unrouted while Docker still reports it
/// running: a process that survives its signal (it handled SIGTERM, or `docker stop` gave up)
/// is routed again after this.
const STOPPING_FOR: Duration = Duration::from_secs(30);

/// Forgets stopping marks of containers that are no longer running or that survived.
fn retain_stopping(stopping: &mut HashMap<String, std::time::Instant>, cache: &Cache) {
    stopping.retain(|id, since| {
        since.elapsed() < STOPPING_FOR
            && cache
                .positions(id)
                .iter()
                .any(|&i| cache.list()[i].state == RunState::Running)
    });
}

/// Reads `events` until none has come for `gap`, handing each to `note`, for at most
/// [`DEBOUNCE`] and [`DRAIN_MAX`] events (a daemon that never stops sending still gets its
/// re-list); `Err` when the stream ended or failed.
async fn drain_burst<E>(
    events: &mut (impl futures_util::Stream<Item = Result<EventMessage, E>> + Unpin),
    gap: Duration,
    mut note: impl FnMut(&EventMessage),
) -> Result<usize, ()> {
    let end = tokio::time::Instant::now() + DEBOUNCE;
    for read in 0..DRAIN_MAX {
        let until = end.min(tokio::time::Instant::now() + gap);
        match tokio::time::timeout_at(until, events.next()).await {
            Ok(Some(Ok(ev))) => note(&ev),
            Ok(_) => return Err(()),
            Err(_) => return Ok(read),
        }
    }
    Ok(DRAIN_MAX)
}

/// Notes what an event asks for: its container to be listed again (or everything, for an
/// event that names none), and whether the table must be rebuilt at once to unroute a
/// stopping container.
fn note_event(
    ev: &EventMessage,
    stopping: &mut HashMap<String, std::time::Instant>,
    named: &mut BTreeSet<String>,
    everything: &mut bool,
) -> bool {
    let unroute = apply_event(ev, stopping);
    if let Some(id) = &unroute {
        tracing::debug!(container = %id, action = ev.action.as_deref().unwrap_or(""), "stopping: unrouted at once");
    }
    tracing::debug!(kind = ?ev.typ, action = ev.action.as_deref().unwrap_or(""), container = ?event_container(ev), "event");
    match event_container(ev) {
        Some(id) => {
            named.insert(id);
        }
        None => *everything = true,
    }
    unroute.is_some()
}

/// Applies an event to the stopping set; returns the container id when it must be unrouted
/// at once.
fn apply_event(
    ev: &EventMessage,
    stopping: &mut HashMap<String, std::time::Instant>,
) -> Option<String> {
    let action = ev.action.as_deref().unwrap_or("");
    let id = ev.actor.as_ref().and_then(|a| a.id.clone())?;
    let signal = ev
        .actor
        .as_ref()
        .and_then(|a| a.attributes.as_ref())
        .and_then(|a| a.get("signal"))
        .map(String::as_str);
    // `docker kill -s HUP` (a reload) is a kill event too: only terminating signals count.
    let terminating = matches!(
        signal,
        None | Some("2" | "3" | "9" | "15" | "SIGINT" | "SIGQUIT" | "SIGKILL" | "SIGTERM")
    );
    match action {
        "kill" if terminating => stopping
            .insert(id.clone(), std::time::Instant::now())
            .is_none()
            .then_some(id),
        "stop" => stopping
            .insert(id.clone(), std::time::Instant::now())
            .is_none()
            .then_some(id),
        "start" | "unpause" => {
            stopping.remove(&id);
            None
        }
        _ => None,
    }
}

/// The container an event is about: the actor of a container event, the `container`
/// attribute of a network's `connect` or `disconnect`.
fn event_container(ev: &EventMessage) -> Option<String> {
    let actor = ev.actor.as_ref()?;
    let id = match ev.typ.map(|t| t.to_string()).as_deref() {
        Some("network") => actor.attributes.as_ref()?.get("container")?.clone(),
        _ => actor.id.clone()?,
    };
    (!id.is_empty()).then_some(id)
}

/// The containers of `ids` as they are now (those gone, or out of the guard's scope, are
/// absent), in one list filtered by id.
pub async fn list_ids(
    docker: &Docker,
    ids: &BTreeSet<String>,
) -> Result<Vec<ContainerInfo>, bollard::errors::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut filters = HashMap::new();
    filters.insert("id".to_owned(), ids.iter().cloned().collect());
    let opts = ListContainersOptions {
        all: true,
        filters: Some(filters),
        ..Default::default()
    };
    let summaries = docker.list_containers(Some(opts)).await?;
    Ok(summaries.into_iter().filter_map(convert).collect())
}

/// Lists every container (stopped ones too: their routes stay known and answer 503).
pub async fn list(docker: &Docker) -> Result<Vec<ContainerInfo>, bollard::errors::Error> {
    let opts = ListContainersOptions {
        all: true,
        ..Default::default()
    };
    let summaries = docker.list_containers(Some(opts)).await?;
    Ok(summaries.into_iter().filter_map(convert).collect())
}

/// bollard's summary -> the pure model's view.
pub fn convert(s: ContainerSummary) -> Option<ContainerInfo> {
    let id = s.id?;
    let name = s
        .names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_owned())
        .unwrap_or_else(|| id.chars().take(12).collect());
    let status = s.status.unwrap_or_default();
    let health = if status.contains("(healthy)") {
        Health::Healthy
    } else if status.contains("(unhealthy)") {
        Health::Unhealthy
    } else if status.contains("(health: starting)") {
        Health::Starting
    } else {
        Health::None
    };
    let state = match s.state {
        Some(ContainerSummaryStateEnum::RUNNING) => RunState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => RunState::Paused,
        Some(ContainerSummaryStateEnum::STOPPING) => RunState::Stopping,
        _ => RunState::Stopped,
    };
    let networks: BTreeMap<String, Option<IpAddr>> = s
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default()
        .into_iter()
        .map(|(name, ep)| {
            // IPv4, else the global IPv6 address (an IPv6-only network), as Traefik reads it.
            let ip = ep
                .ip_address
                .filter(|ip| !ip.is_empty())
                .or(ep.global_ipv6_address.filter(|ip| !ip.is_empty()))
                .and_then(|ip| ip.parse().ok());
            (name, ip)
        })
        .collect();
    // Every exposed port, UDP ones too: Traefik picks the lowest of them all
    // (`NetworkSettings.Ports`, whatever the protocol), so a UDP-only image is served.
    let ports = s.ports.unwrap_or_default();
    let exposed_ports: BTreeSet<u16> = ports.iter().map(|p| p.private_port).collect();
    Some(ContainerInfo {
        id,
        name,
        labels: s.labels.unwrap_or_default().into_iter().collect(),
        state,
        health,
        networks,
        bindings: bindings(&ports),
        network_mode: s
            .host_config
            .and_then(|h| h.network_mode)
            .unwrap_or_default(),
        exposed_ports,
    })
}

/// Each container port's first binding on the host (`useBindPortIP`).
fn bindings(ports: &[bollard::models::PortSummary]) -> BTreeMap<u16, (String, u16)> {
    let mut out = BTreeMap::new();
    for p in ports {
        if let Some(public) = p.public_port {
            out.entry(p.private_port)
                .or_insert_with(|| (p.ip.clone().unwrap_or_default(), public));
        }
    }
    out
}

/// What a provider published last: its view of the containers and the router's own networks
/// (from which its snapshot is made, and nothing else), kept as a hash rather than a second
/// copy of the view (megabytes at 10,000 containers). The hash is SipHash with this process's
/// random keys: two different views pass for the same with a chance of 2^-64 at each
/// comparison, and no one can make them do so without the keys.
#[derive(Default)]
pub struct Published {
    keys: std::hash::RandomState,
    last: Option<u64>,
}

impl Published {
    /// Whether the view of the containers whose memo keys are `keys` (those at the positions
    /// `marked` shown stopping) with `own` is the one published last; it is the last one from
    /// now on. Hashed from the keys and the positions: the view itself is made only when it
    /// changed (a copy of 10,000 containers' labels, for every re-list otherwise), and the
    /// containers themselves are not read.
    fn unchanged(&mut self, keys: &[u64], marked: &[usize], own: &BTreeSet<String>) -> bool {
        use std::hash::{BuildHasher, Hash, Hasher};
        let mut h = self.keys.build_hasher();
        keys.hash(&mut h);
        marked.hash(&mut h);
        own.hash(&mut h);
        let h = h.finish();
        self.last.replace(h) == Some(h)
    }
}

/// The positions of the containers shown as stopping (in order): they run, and a `kill` or
/// `stop` of them was seen.
fn marked_stopping(cache: &Cache, stopping: &HashMap<String, std::time::Instant>) -> Vec<usize> {
    let mut marked: Vec<usize> = stopping
        .keys()
        .flat_map(|id| cache.positions(id))
        .filter(|&i| cache.list()[i].state == RunState::Running)
        .collect();
    marked.sort_unstable();
    marked.dedup();
    marked
}

/// The view of the cache with the containers at `marked` shown stopping, and its memo keys
/// (those of the marked containers worked out again).
fn view_of(cache: &Cache, marked: &[usize]) -> (Arc<Vec<ContainerInfo>>, Vec<u64>) {
    let mut keys = cache.keys().to_vec();
    if marked.is_empty() {
        return (cache.list().clone(), keys);
    }
    let mut view = cache.list().to_vec();
    for &i in marked {
        view[i].state = RunState::Stopping;
        keys[i] = container::memo_key(&view[i]);
    }
    (Arc::new(view), keys)
}

/// Builds the table from the cached view (with stopping containers marked) and swaps it in
/// when it changed, logging the difference (off the request-serving workers). A view equal to
/// the one published `last` (the re-list that closes a burst of events, a periodic resync
/// that found nothing new) would make the same snapshot: it is not built again.
async fn publish(
    shared: &Arc<Shared>,
    provider: &ContainerProvider,
    cache: &Cache,
    stopping: &HashMap<String, std::time::Instant>,
    own_id: Option<&str>,
    last: &mut Published,
) {
    let own_networks = own_id
        .and_then(|id| cache.find(id))
        .map(|c| c.networks.keys().cloned().collect())
        .unwrap_or_default();
    let marked = marked_stopping(cache, stopping);
    if last.unchanged(cache.keys(), &marked, &own_networks) {
        return;
    }
    // The cache itself, unless a container in it is to be shown stopping.
    let (view, keys) = view_of(cache, &marked);
    let provider = provider.clone();
    crate::state::off_workers(shared, move |shared| {
        publish_view(
            shared,
            "docker",
            &provider,
            (view, Some(keys)),
            own_networks,
        )
    })
    .await;
}

/// Turns a view of containers (or Swarm tasks) into provider `name`'s snapshot and publishes
/// it; with the containers' memo keys when they are known ([`container::snapshot_with_keys`]).
pub fn publish_view(
    shared: &Shared,
    name: &str,
    provider: &ContainerProvider,
    (view, keys): (Arc<Vec<ContainerInfo>>, Option<Vec<u64>>),
    own_networks: BTreeSet<String>,
) {
    let settings = settings(shared, name, provider, own_networks);
    if let Some(hub) = &shared.hub {
        hub.set(
            name,
            crate::cluster::wire::Input::Containers {
                settings: (&settings).into(),
                view: view.to_vec(),
            },
        );
    }
    let started = std::time::Instant::now();
    let snap = container::snapshot_shared(&view, keys.as_deref(), &settings);
    tracing::debug!(
        provider = name,
        made_us = started.elapsed().as_micros() as u64,
        "the snapshot made"
    );
    crate::state::publish_many(shared, vec![snap]);
}

/// A container provider's settings.
pub fn settings(
    shared: &Shared,
    name: &str,
    p: &ContainerProvider,
    own_networks: BTreeSet<String>,
) -> ContainerSettings {
    let c = &shared.config;
    ContainerSettings {
        provider: name.to_owned(),
        prefix: c.label_prefix.clone(),
        exposed_by_default: p.exposed_by_default,
        default_network: p.network.clone(),
        own_networks,
        host_ip: c.host_ip,
        use_bind_port_ip: p.use_bind_port_ip,
        default_rule: p.default_rule.clone(),
        constraints: p.constraints.clone(),
    }
}

/// The router's own container id, when it runs in a container: from the mount of its
/// `/etc/hostname` (`/var/lib/docker/containers/<id>/hostname`), else the hostname.
pub fn own_container_id() -> Option<String> {
    if let Ok(mounts) = std::fs::read_to_string("/proc/self/mountinfo") {
        for line in mounts.lines() {
            if let Some(i) = line.find("/containers/") {
                let rest = &line[i + "/containers/".len()..];
                let id: String = rest.chars().take_while(char::is_ascii_hexdigit).collect();
                if id.len() == 64 {
                    return Some(id);
                }
            }
        }
    }
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::{EventActor, EventMessageTypeEnum};

    #[test]
    fn a_view_is_unchanged_only_when_every_container_and_the_own_networks_are() {
        let mut last = Published::default();
        let none = HashMap::new();
        let view = vec![info("a", "a"), info("b", "b")];
        let own = BTreeSet::from(["net".to_owned()]);
        let no_networks = BTreeSet::new();
        let mut unchanged = |view: &[ContainerInfo],
                             stopping: &HashMap<String, std::time::Instant>,
                             own: &BTreeSet<String>| {
            let cache = Cache::new(view.to_vec());
            last.unchanged(cache.keys(), &marked_stopping(&cache, stopping), own)
        };
        assert!(!unchanged(&view, &none, &own), "nothing was published yet");
        assert!(unchanged(&view, &none, &own));
        let mut labelled = view.clone();
        labelled[1]
            .labels
            .insert("traefik.enable".into(), "true".into());
        assert!(!unchanged(&labelled, &none, &own));
        assert!(
            !unchanged(&view, &none, &own),
            "back to the first: a change again"
        );
        // A running container marked as stopping is a change; one that does not run is not.
        let mut running = view.clone();
        running[0].state = RunState::Running;
        running[1].state = RunState::Stopped;
        assert!(!unchanged(&running, &none, &own));
        let marked = HashMap::from([("a".to_owned(), std::time::Instant::now())]);
        assert!(!unchanged(&running, &marked, &own));
        assert!(unchanged(&running, &marked, &own));
        let both = HashMap::from([
            ("a".to_owned(), std::time::Instant::now()),
            ("b".to_owned(), std::time::Instant::now()),
        ]);
        assert!(unchanged(&running, &both, &own), "b does not run");
        assert!(!unchanged(&running, &both, &no_networks));
        assert!(!unchanged(&running[..1], &both, &no_networks));
        assert!(unchanged(&running[..1], &both, &no_networks));
        // A container relabelled: a change, once.
        let mut relabelled = running.clone();
        relabelled[1]
            .labels
            .insert("traefik.enable".into(), "false".into());
        assert!(!unchanged(&relabelled, &none, &own));
        assert!(unchanged(&relabelled, &none, &own));
        // A view's keys are each container's own, the one shown stopping's too.
        let cache = Cache::new(relabelled.clone());
        let (view, keys) = view_of(&cache, &marked_stopping(&cache, &marked));
        assert_eq!(view[0].state, RunState::Stopping);
        assert_eq!(view[1], relabelled[1]);
        let own_keys: Vec<u64> = view.iter().map(container::memo_key).collect();
        assert_eq!(keys, own_keys);
    }

    fn info(id: &str, name: &str) -> ContainerInfo {
        ContainerInfo {
            id: id.to_owned(),
            name: name.to_owned(),
            labels: BTreeMap::new(),
            state: RunState::Running,
            health: Health::None,
            networks: BTreeMap::new(),
            bindings: Default::default(),
            network_mode: String::new(),
            exposed_ports: BTreeSet::new(),
        }
    }

    #[test]
    fn every_exposed_port_counts_udp_ones_too() {
        // Traefik's getPort: the lowest of `NetworkSettings.Ports`, whatever the protocol.
        use bollard::models::{PortSummary as Port, PortSummaryTypeEnum as PortTypeEnum};
        let port = |n: u16, typ| Port {
            private_port: n,
            typ: Some(typ),
            ..Default::default()
        };
        let s = ContainerSummary {
            id: Some("abc".into()),
            names: Some(vec!["/wg".into()]),
            state: Some(ContainerSummaryStateEnum::RUNNING),
            ports: Some(vec![
                port(51820, PortTypeEnum::UDP),
                port(8080, PortTypeEnum::TCP),
                // Published twice (IPv4 and IPv6): the first binding is the port's.
                Port {
                    ip: Some("127.0.0.1".into()),
                    public_port: Some(18080),
                    ..port(8080, PortTypeEnum::TCP)
                },
                Port {
                    ip: Some("::1".into()),
                    public_port: Some(18081),
                    ..port(8080, PortTypeEnum::TCP)
                },
            ]),
            ..Default::default()
        };
        let c = convert(s).expect("a container");
        assert_eq!(c.exposed_ports, BTreeSet::from([8080, 51820]));
        assert_eq!(
            c.bindings,
            BTreeMap::from([(8080, ("127.0.0.1".to_owned(), 18080))])
        );
        let s = ContainerSummary {
            id: Some("def".into()),
            names: Some(vec!["/dns".into()]),
            state: Some(ContainerSummaryStateEnum::RUNNING),
            ports: Some(vec![
                port(53, PortTypeEnum::UDP),
                port(80, PortTypeEnum::TCP),
            ]),
            ..Default::default()
        };
        assert_eq!(
            convert(s).expect("a container").exposed_ports.first(),
            Some(&53)
        );
    }

    #[test]
    fn events_name_their_container_and_network_events_the_connected_one() {
        let ev = |typ, id: &str, container: Option<&str>| EventMessage {
            typ: Some(typ),
            actor: Some(EventActor {
                id: Some(id.to_owned()),
                attributes: container.map(|c| {
                    [("container".to_owned(), c.to_owned())]
                        .into_iter()
                        .collect()
                }),
            }),
            ..Default::default()
        };
        assert_eq!(
            event_container(&ev(EventMessageTypeEnum::CONTAINER, "abc", None)).as_deref(),
            Some("abc")
        );
        assert_eq!(
            event_container(&ev(EventMessageTypeEnum::NETWORK, "net1", Some("abc"))).as_deref(),
            Some("abc")
        );
        // A network event without a container: nothing to ask for by id (everything is).
        assert_eq!(
            event_container(&ev(EventMessageTypeEnum::NETWORK, "net1", None)),
            None
        );
    }

    /// A stand-in for socket-guard: answers every request with an empty container list on
    /// keep-alive connections and counts the connections it accepted.
    async fn counting_guard() -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = s.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            buf.drain(..end + 4);
                            let answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]";
                            if s.write_all(answer.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (addr, accepted)
    }

    /// A re-list of the most containers asked for by id (full ids, as events name them) sends
    /// a request head socket-guard reads whole (its limit is `http1_framing::MAX_HEAD`), with
    /// room to spare for the other headers.
    #[tokio::test]
    async fn the_largest_list_by_ids_fits_in_the_guards_head_limit() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let head = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = s.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the head did not end");
                buf.extend_from_slice(&chunk[..n]);
            }
            let answer =
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]";
            s.write_all(answer.as_bytes()).await.unwrap();
            buf.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
        });
        let docker = connect(&addr, None).unwrap();
        let ids: BTreeSet<String> = (0..TARGETED_MAX).map(|i| format!("{i:064x}")).collect();
        assert!(list_ids(&docker, &ids).await.unwrap().is_empty());
        let len = head.await.unwrap();
        assert!(len > TARGETED_MAX * 64, "{len}: the ids were not sent");
        assert!(len + 8 * 1024 < http1_framing::MAX_HEAD, "{len}");
    }

    /// The re-lists after a burst of events reuse one connection to the guard (bollard's own
    /// client opened one per request); one unused for longer than [`GUARD_IDLE`] is not
    /// reused (the guard may be closing it).
    #[tokio::test]
    async fn lists_share_a_kept_connection_to_the_guard_until_it_idles() {
        let (addr, accepted) = counting_guard().await;
        let docker = connect(&addr, None).unwrap();
        for _ in 0..5 {
            assert!(list(&docker).await.unwrap().is_empty());
        }
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
        tokio::time::sleep(GUARD_IDLE + Duration::from_millis(300)).await;
        list(&docker).await.unwrap();
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    fn started(id: &str) -> Result<EventMessage, ()> {
        Ok(EventMessage {
            typ: Some(EventMessageTypeEnum::CONTAINER),
            action: Some("start".into()),
            actor: Some(EventActor {
                id: Some(id.to_owned()),
                attributes: None,
            }),
            ..Default::default()
        })
    }

    /// A storm's events, still on their way when the re-list begins (sent by another task,
    /// as the HTTP client's connection task hands them over), all go into that re-list; an
    /// event after a quiet gap waits for the next one; an ended stream is reported.
    #[tokio::test(start_paused = true)]
    async fn a_burst_is_read_whole_and_a_later_event_is_left_for_the_next_relist() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut events = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|ev| (ev, rx))
        }));
        tokio::spawn(async move {
            for i in 0..200 {
                tx.send(started(&format!("s{i}"))).unwrap();
                if i % 10 == 0 {
                    // The reader's turn in between, as a connection task's reads.
                    tokio::task::yield_now().await;
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            tx.send(started("later")).unwrap();
        });
        let mut named = BTreeSet::new();
        let mut stopping = HashMap::new();
        let mut everything = false;
        let read = drain_burst(&mut events, DRAIN_GAP, |ev| {
            note_event(ev, &mut stopping, &mut named, &mut everything);
        })
        .await;
        assert_eq!(read, Ok(200));
        assert_eq!(named.len(), 200);
        assert!(!named.contains("later"));
        named.clear();
        let read = drain_burst(&mut events, Duration::from_millis(30), |ev| {
            note_event(ev, &mut stopping, &mut named, &mut everything);
        })
        .await;
        // "later", then the sender is gone: the stream ended.
        assert_eq!(read, Err(()));
        assert_eq!(named, BTreeSet::from(["later".to_owned()]));
    }

    /// A daemon whose events never pause still gets its re-list after one window.
    #[tokio::test(start_paused = true)]
    async fn an_endless_stream_is_read_for_one_window_at_most() {
        let mut events = Box::pin(futures_util::stream::unfold(0u64, |i| async move {
            tokio::time::sleep(Duration::from_micros(500)).await;
            Some((started(&format!("c{i}")), i + 1))
        }));
        let t = tokio::time::Instant::now();
        let read = drain_burst(&mut events, Duration::from_millis(2), |_| {}).await;
        assert!(read.is_ok_and(|n| n > 10), "{read:?}");
        assert!(
            t.elapsed() <= DEBOUNCE + Duration::from_millis(2),
            "{:?}",
            t.elapsed()
        );
    }
}
