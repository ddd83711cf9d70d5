//! The ECS provider against a real AWS API emulator: moto's server (PyPI `moto[server]`) for
//! ECS and EC2, set up with boto3. Tasks on EC2 container instances (bridge mode, a host port)
//! and on awsvpc (Fargate, an ENI) are routed to nginx listening on loopback at those
//! addresses and ports; a stopped task leaves and a started one arrives; a label error is
//! reported under its task; throttling keeps the last good table and is reported with the
//! action that failed; and the emulator's log shows the router calling only the actions of
//! the IAM policy README documents (`router::ecs::ACTIONS`).
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::aws::Moto;
use e2e::docker::{real_docker, real_docker_ok, require_docker, require_image, text, Cleanup};
use e2e::make::free_port;
use e2e::nginx::Nginx;
use e2e::router::Router;

/// The router's access key: its calls in moto's log.
const ROUTER_KEY: &str = "AKIDROUTER";

/// The `ip:port` lines nginx answered `host` with over `n` requests.
async fn served(router: &Router, host: &str, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        let (status, body) = router.get(host, "/").await;
        if status == 200 {
            seen.insert(body.trim().to_owned());
        }
    }
    seen
}

/// Waits up to 20 s for `host` to be served by exactly `want`.
async fn wait_served(router: &Router, host: &str, want: &[String]) {
    let want: BTreeSet<String> = want.iter().cloned().collect();
    let mut last = BTreeSet::new();
    for _ in 0..100 {
        last = served(router, host, 8).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{host} is served by {last:?}, not {want:?}");
}

/// The provider's own issue (a failed read) once the router reports it (within 30 s).
async fn provider_issue(router: &Router) -> serde_json::Value {
    for _ in 0..150 {
        if let Some(i) = issues(router)
            .await
            .into_iter()
            .find(|i| i["source"] == "ecs")
        {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "no failed ECS read reported in /api/issues: {:#?}",
        issues(router).await
    );
}

/// A router with the ECS provider on every cluster of `moto`, reading every second with the
/// access key `key` and its `secret`.
async fn ecs_router(moto: &Moto, key: &str, secret: &str) -> Router {
    Router::builder()
        .flags(&[
            "--providers.ecs=true",
            "--providers.ecs.autoDiscoverClusters=true",
            "--providers.ecs.region=us-east-1",
            &format!("--providers.ecs.accessKeyID={key}"),
            &format!("--providers.ecs.secretAccessKey={secret}"),
            "--providers.ecs.refreshSeconds=1",
            &format!("--providers.ecs.endpoint={}", moto.endpoint()),
        ])
        .admin()
        .start_without_docker()
        .await
}

/// The router's issues (`/api/issues`).
async fn issues(router: &Router) -> Vec<serde_json::Value> {
    router.admin_json("/api/issues").await["issues"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Backends and fixtures: nginx answering its `address:port` on two ports of every loopback
/// address; in moto, two EC2 instances (127.0.0.21, .22) in cluster `web` running `whoami`
/// (bridge mode, container port 80 bound on the first port), a Fargate task in cluster `api`
/// (its ENI 127.0.0.31, the second port), and a task whose labels have an error. Returns
/// nginx, the two ports, and boto3's `{tasks, cis, broken}`.
fn fixtures(moto: &Moto) -> (Nginx, u16, u16, serde_json::Value) {
    let (host_port, eni_port) = (free_port(), free_port());
    let nginx = Nginx::start(
        &format!("  server {{ listen {host_port}; listen {eni_port}; location / {{ return 200 \"$server_addr:$server_port\\n\"; }} }}\n"),
        &[host_port, eni_port],
    );
    let setup = moto.boto(&format!(
        r#"
vpc = ec2.create_vpc(CidrBlock='127.0.0.0/16')['Vpc']['VpcId']
ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={{'Value': True}})
sub = ec2.create_subnet(VpcId=vpc, CidrBlock='127.0.0.0/24')['Subnet']['SubnetId']
ids = [ec2.run_instances(ImageId='ami-12c6146b', MinCount=1, MaxCount=1, SubnetId=sub, PrivateIpAddress=ip)['Instances'][0]['InstanceId'] for ip in ['127.0.0.21', '127.0.0.22']]
ecs.create_cluster(clusterName='web')
ecs.create_cluster(clusterName='api')
cis = [ecs.register_container_instance(cluster='web', instanceIdentityDocument=json.dumps({{'instanceId': i, 'region': 'us-east-1'}}))['containerInstance']['containerInstanceArn'] for i in ids]
ecs.register_task_definition(family='whoami', networkMode='bridge', containerDefinitions=[{{'name': 'web', 'image': 'whoami', 'memory': 64,
    'portMappings': [{{'containerPort': 80, 'hostPort': {host_port}}}],
    'dockerLabels': {{'traefik.http.routers.whoami.rule': 'Host(`whoami.ecs.test`)', 'traefik.http.services.whoami.loadBalancer.server.port': '80'}}}}])
tasks = [ecs.start_task(cluster='web', taskDefinition='whoami', containerInstances=[ci], group='service:whoami')['tasks'][0]['taskArn'] for ci in cis]
ecs.register_task_definition(family='api', networkMode='awsvpc', requiresCompatibilities=['FARGATE'], cpu='256', memory='512',
    containerDefinitions=[{{'name': 'api', 'image': 'whoami', 'memory': 64, 'portMappings': [{{'containerPort': {eni_port}}}],
    'dockerLabels': {{'traefik.http.routers.api.rule': 'Host(`api.ecs.test`)'}}}}])
ecs.run_task(cluster='api', taskDefinition='api', launchType='FARGATE', group='service:api',
    networkConfiguration={{'awsvpcConfiguration': {{'subnets': [sub], 'securityGroups': []}}}})
ecs.register_task_definition(family='broken', networkMode='bridge', containerDefinitions=[{{'name': 'b', 'image': 'whoami', 'memory': 64,
    'portMappings': [{{'containerPort': 80, 'hostPort': {host_port}}}],
    'dockerLabels': {{'traefik.http.routers.broken.priority': 'high'}}}}])
broken = ecs.start_task(cluster='web', taskDefinition='broken', containerInstances=[cis[0]], group='service:broken')['tasks'][0]['taskArn']
out = {{'tasks': tasks, 'cis': cis, 'broken': broken}}
"#
    ));
    (nginx, host_port, eni_port, setup)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_tasks_on_ec2_and_awsvpc_are_routed_and_followed() {
    let moto = Moto::start(&["127.0.0.31"]);
    let (_nginx, host_port, eni_port, setup) = fixtures(&moto);
    let router = ecs_router(&moto, ROUTER_KEY, "router").await;
    let a = format!("127.0.0.21:{host_port}");
    let b = format!("127.0.0.22:{host_port}");
    // Both EC2 instances at the host port bound for the label's container port 80.
    wait_served(&router, "whoami.ecs.test", &[a.clone(), b.clone()]).await;
    // The Fargate task at its ENI's address.
    wait_served(&router, "api.ecs.test", &[format!("127.0.0.31:{eni_port}")]).await;

    // The label error, reported under its task (Traefik's `<service>-<last 12 of its ARN>`).
    let broken = setup["broken"].as_str().unwrap();
    let source = format!("service-broken-b-{}", &broken[broken.len() - 12..]);
    let all = issues(&router).await;
    assert!(
        all.iter().any(|i| i["source"] == source.as_str()
            && i["level"] == "error"
            && i["key"] == "traefik.http.routers.broken.priority"),
        "{source} not reported: {all:#?}"
    );
    assert!(!router.has_route("broken@ecs"));

    // A task stopped leaves; one started arrives.
    let first = setup["tasks"][0].as_str().unwrap();
    moto.boto(&format!(
        "ecs.stop_task(cluster='web', task={first:?}, reason='test')"
    ));
    wait_served(&router, "whoami.ecs.test", std::slice::from_ref(&b)).await;
    let ci = setup["cis"][0].as_str().unwrap();
    moto.boto(&format!(
        "ecs.start_task(cluster='web', taskDefinition='whoami', containerInstances=[{ci:?}], group='service:whoami')"
    ));
    // Every request is answered while the table changes under it.
    let mut seen = BTreeSet::new();
    for _ in 0..500 {
        let (status, body) = router.get("whoami.ecs.test", "/").await;
        assert_eq!(status, 200, "{body}");
        seen.insert(body.trim().to_owned());
        if seen.contains(&a) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    wait_served(&router, "whoami.ecs.test", &[a.clone(), b.clone()]).await;

    // Throttled: the last good table stays, and the failure is reported with its action.
    moto.throttle(true);
    let reported = provider_issue(&router).await;
    assert!(
        reported["key"].as_str().unwrap().starts_with("ecs:")
            && reported["message"]
                .as_str()
                .unwrap()
                .contains("ThrottlingException"),
        "{reported:#}"
    );
    assert_eq!(
        served(&router, "whoami.ecs.test", 8).await,
        [a.clone(), b.clone()].into()
    );
    moto.throttle(false);
    router
        .wait_live("the throttling issue cleared", |live| {
            !live.table.issues.iter().any(|i| i.source == "ecs")
        })
        .await;

    // Only the policy's actions, task definitions read once per revision.
    let calls = moto.actions_of(ROUTER_KEY);
    let policy: BTreeSet<&str> = router::ecs::ACTIONS.into_iter().collect();
    let outside: Vec<&String> = calls
        .iter()
        .filter(|c| !policy.contains(c.as_str()))
        .collect();
    assert!(outside.is_empty(), "calls outside the policy: {outside:?}");
    let made: BTreeSet<&str> = calls.iter().map(String::as_str).collect();
    assert_eq!(made, policy, "{calls:?}");
    let definitions = calls
        .iter()
        .filter(|c| *c == "ecs:DescribeTaskDefinition")
        .count();
    assert_eq!(definitions, 3, "{calls:?}");
}

/// The router image (the static release build in a scratch image, as deployed) with the AWS
/// SDK's own chains: credentials, region and endpoint from `AWS_*` variables alone, no
/// `providers.ecs` keys but `clusters`. Host networking: moto and nginx are on loopback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_reads_ecs_with_the_sdk_chains() {
    require_docker();
    require_image("router:local");
    let moto = Moto::start(&["127.0.0.32"]);
    let (_nginx, host_port, _, _) = fixtures(&moto);
    let c = Cleanup::new("ecs-image");
    let name = c.name("router");
    let web = free_port();
    let endpoint = format!("AWS_ENDPOINT_URL={}", moto.endpoint());
    real_docker_ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "-e",
        "AWS_ACCESS_KEY_ID=AKIDIMAGE",
        "-e",
        "AWS_SECRET_ACCESS_KEY=image",
        "-e",
        "AWS_REGION=us-east-1",
        "-e",
        &endpoint,
        "router:local",
        "--providers.ecs.clusters=web",
        "--providers.ecs.refreshSeconds=1",
        &format!("--entryPoints.web.address=127.0.0.1:{web}"),
    ]);
    let want: BTreeSet<String> = [
        format!("127.0.0.21:{host_port}"),
        format!("127.0.0.22:{host_port}"),
    ]
    .into();
    let mut seen = BTreeSet::new();
    for _ in 0..100 {
        seen.clear();
        for _ in 0..8 {
            if let Some((200, body)) = plain_get(web, "whoami.ecs.test") {
                seen.insert(body.trim().to_owned());
            }
        }
        if seen == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let logs = real_docker(&["logs", &name]);
    assert_eq!(
        seen,
        want,
        "the image's router:\n{}{}",
        text(&logs.stdout),
        text(&logs.stderr)
    );
    let calls = moto.actions_of("AKIDIMAGE");
    let policy: BTreeSet<&str> = router::ecs::ACTIONS.into_iter().collect();
    assert!(
        calls.iter().all(|c| policy.contains(c.as_str())),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c == "ec2:DescribeInstances"),
        "{calls:?}"
    );
}

/// One HTTP/1.1 GET to `127.0.0.1:port` for `host`: status and body (`None` while nothing
/// listens there).
fn plain_get(port: u16, host: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    let body = raw.split_once("\r\n\r\n")?.1.to_owned();
    Some((status, body))
}

/// README's IAM policy for the ECS provider (the JSON block after "The IAM policy the
/// provider needs").
fn documented_policy() -> String {
    let readme = std::fs::read_to_string(e2e::make::repo().join("README.md")).unwrap();
    let at = readme
        .find("The IAM policy the provider needs")
        .expect("README documents the ECS provider's IAM policy");
    let block = &readme[at..];
    let start = block.find("```json\n").unwrap() + "```json\n".len();
    let end = start + block[start..].find("```").unwrap();
    block[start..end].to_owned()
}

/// The policy README documents is enough, and moto enforces it: every call signed by an IAM
/// user's key (SigV4 checked, the EC2 call's own signature included) and allowed by the user's
/// policy. A router whose user holds the policy serves both launch types; one whose policy
/// lacks `ec2:DescribeInstances` is refused that call, and says so with the action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_iam_policy_is_enough_and_enforced() {
    let moto = Moto::start(&["127.0.0.33"]);
    let (_nginx, host_port, eni_port, _) = fixtures(&moto);
    let policy = documented_policy();
    let keys = moto.boto(&format!(
        r#"
def user(name, doc):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName='edge', PolicyDocument=doc)
    k = iam.create_access_key(UserName=name)['AccessKey']
    return [k['AccessKeyId'], k['SecretAccessKey']]
full = {policy:?}
narrow = json.loads(full)
narrow['Statement'][0]['Action'].remove('ec2:DescribeInstances')
out = {{'full': user('edge', full), 'narrow': user('narrow', json.dumps(narrow))}}
"#
    ));
    moto.enforce_iam();
    let key = |who: &str, i: usize| keys[who][i].as_str().unwrap().to_owned();
    let full = ecs_router(&moto, &key("full", 0), &key("full", 1)).await;
    wait_served(
        &full,
        "whoami.ecs.test",
        &[
            format!("127.0.0.21:{host_port}"),
            format!("127.0.0.22:{host_port}"),
        ],
    )
    .await;
    wait_served(&full, "api.ecs.test", &[format!("127.0.0.33:{eni_port}")]).await;
    assert!(
        !issues(&full).await.iter().any(|i| i["source"] == "ecs"),
        "{:#?}",
        issues(&full).await
    );
    let narrow = ecs_router(&moto, &key("narrow", 0), &key("narrow", 1)).await;
    let refused = provider_issue(&narrow).await;
    assert_eq!(refused["key"], "ec2:DescribeInstances", "{refused:#}");
}
