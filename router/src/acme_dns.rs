//! The DNS-01 challenge (`certificatesResolvers.<r>.acme.dnsChallenge`), the one way to
//! wildcard certificates: a TXT record `_acme-challenge.<domain>.` holding the key
//! authorization's digest is put in place by a DNS provider, checked to be visible, validated
//! by the CA, and removed again.
//!
//! The provider is lego's `exec` (what Traefik runs with `provider: exec`): the program named
//! by `EXEC_PATH` is run as `<program> present|cleanup <fqdn> <value>`, or with
//! `EXEC_MODE=RAW` as `<program> present|cleanup -- <domain> <token> <keyAuth>`; a non-zero
//! exit fails the order. Like lego, its challenges are solved one at a time, waiting
//! `EXEC_SEQUENCE_INTERVAL` between them (a script that replaces the record, rather than
//! adding one, would otherwise undo the apex's value with the wildcard's).
//!
//! Propagation is checked against recursive resolvers (`resolvers`, else the system's), each
//! asked directly over UDP (TCP when the answer is truncated) until the value shows, within
//! `EXEC_PROPAGATION_TIMEOUT`, every `EXEC_POLLING_INTERVAL` (lego checks the zone's
//! authoritative servers by default; see README).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A resolver's DNS-01 settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsChallenge {
    /// The program (`EXEC_PATH`).
    pub program: PathBuf,
    /// `EXEC_MODE=RAW`: the domain, token and key authorization are passed as they are.
    pub raw: bool,
    /// Where propagation is checked (`resolvers`); empty: the system's resolvers.
    pub resolvers: Vec<SocketAddr>,
    /// `propagation.delayBeforeChecks` (`delayBeforeCheck`).
    pub delay: Duration,
    /// Whether propagation is checked at all (`propagation.disableChecks` turns it off).
    pub check: bool,
    /// `propagation.requireAllRNS`: every resolver must see the record, not just one.
    pub all_resolvers: bool,
    /// `EXEC_PROPAGATION_TIMEOUT` (60 s).
    pub timeout: Duration,
    /// `EXEC_POLLING_INTERVAL` (2 s).
    pub interval: Duration,
    /// `EXEC_SEQUENCE_INTERVAL` (60 s): the wait between two challenges.
    pub sequence: Duration,
}

/// One challenge's record.
#[derive(Debug, Clone)]
pub struct Record {
    /// The domain (without a wildcard's `*.`).
    pub domain: String,
    pub token: String,
    pub key_auth: String,
    /// The TXT value: the key authorization's SHA-256 digest, base64url.
    pub value: String,
}

impl Record {
    /// `_acme-challenge.<domain>.`
    pub fn fqdn(&self) -> String {
        format!("_acme-challenge.{}.", self.domain.trim_end_matches('.'))
    }
}

impl DnsChallenge {
    /// lego's defaults for `exec`, before `EXEC_*` are read (the program is set then).
    pub fn exec_defaults() -> DnsChallenge {
        DnsChallenge {
            program: PathBuf::new(),
            raw: false,
            resolvers: Vec::new(),
            delay: Duration::ZERO,
            check: true,
            all_resolvers: false,
            timeout: Duration::from_secs(60),
            interval: Duration::from_secs(2),
            sequence: Duration::from_secs(60),
        }
    }

    /// Puts the record in place.
    pub async fn present(&self, r: &Record) -> Result<(), String> {
        self.run("present", r).await
    }

    /// Removes it.
    pub async fn cleanup(&self, r: &Record) -> Result<(), String> {
        self.run("cleanup", r).await
    }

    async fn run(&self, action: &str, r: &Record) -> Result<(), String> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.arg(action);
        if self.raw {
            cmd.args(["--", &r.domain, &r.token, &r.key_auth]);
        } else {
            cmd.args([r.fqdn(), r.value.clone()]);
        }
        cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
        let program = self.program.display();
        let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
            .await
            .map_err(|_| format!("{program} {action}: no exit within 120 s"))?
            .map_err(|e| format!("{program} {action}: {e}"))?;
        for line in String::from_utf8_lossy(&out.stdout)
            .lines()
            .chain(String::from_utf8_lossy(&out.stderr).lines())
        {
            tracing::info!(program = %program, action, "{line}");
        }
        if !out.status.success() {
            return Err(format!("{program} {action}: {}", out.status));
        }
        Ok(())
    }

    /// Waits `delay`, then until the resolvers see `value` at `fqdn` (unless checks are off).
    pub async fn wait_propagated(&self, fqdn: &str, value: &str) -> Result<(), String> {
        tokio::time::sleep(self.delay).await;
        if !self.check {
            return Ok(());
        }
        let resolvers = match self.resolvers.is_empty() {
            true => system_resolvers(),
            false => self.resolvers.clone(),
        };
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut last = String::new();
        loop {
            let mut seen = 0;
            for r in &resolvers {
                match txt(*r, fqdn).await {
                    Ok(values) if values.iter().any(|v| v == value) => seen += 1,
                    Ok(values) => last = format!("{r} answers {values:?}"),
                    Err(e) => last = format!("{r}: {e}"),
                }
            }
            let enough = match self.all_resolvers {
                true => seen == resolvers.len(),
                false => seen > 0,
            };
            if enough {
                return Ok(());
            }
            if tokio::time::Instant::now() + self.interval > deadline {
                return Err(format!(
                    "the TXT record {fqdn} is not visible after {:?} ({last})",
                    self.timeout
                ));
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

/// Solves the DNS-01 challenges of `order`'s pending authorizations, one at a time: the
/// record presented, seen to propagate, the challenge set ready, the authorization polled
/// until valid, the record removed; `sequence` apart. A record not removed yet (the order
/// failed on the way) stays in `presented` for the caller to clean up.
pub async fn solve(
    order: &mut instant_acme::Order,
    dns: &DnsChallenge,
    presented: &mut Vec<Record>,
) -> Result<(), String> {
    let mut first = true;
    while let Some((url, record)) = start_next(order, dns, presented, &mut first).await? {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while !validated(order, &url, &record).await? {
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{} not validated within 120 s", record.fqdn()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        presented.retain(|r| r.token != record.token);
        if let Err(e) = dns.cleanup(&record).await {
            tracing::warn!(record = record.fqdn(), error = e, "DNS-01 cleanup failed");
        }
    }
    Ok(())
}

/// The next pending authorization's challenge, started: its record presented and seen,
/// the challenge set ready. `None`: every authorization is valid.
async fn start_next(
    order: &mut instant_acme::Order,
    dns: &DnsChallenge,
    presented: &mut Vec<Record>,
    first: &mut bool,
) -> Result<Option<(String, Record)>, String> {
    use instant_acme::{AuthorizationStatus, ChallengeType, Identifier};
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(format!("the authorization is {other:?}")),
        }
        let domain = match authz.identifier().identifier {
            Identifier::Dns(d) => d.clone(),
            other => return Err(format!("DNS-01 cannot validate {other:?}")),
        };
        if !std::mem::take(first) {
            tokio::time::sleep(dns.sequence).await;
        }
        let url = authz.url().to_owned();
        let mut challenge = authz
            .challenge(ChallengeType::Dns01)
            .ok_or_else(|| format!("the CA offers no dns-01 challenge for {domain}"))?;
        let key_auth = challenge.key_authorization();
        let record = Record {
            domain,
            token: challenge.token.clone(),
            key_auth: key_auth.as_str().to_owned(),
            value: key_auth.dns_value(),
        };
        // Listed first: a present cut short (an error, the order's time out) is cleaned up too.
        presented.push(record.clone());
        dns.present(&record).await?;
        dns.wait_propagated(&record.fqdn(), &record.value).await?;
        challenge
            .set_ready()
            .await
            .map_err(|e| format!("challenge: {e}"))?;
        return Ok(Some((url, record)));
    }
    Ok(None)
}

/// Whether the authorization at `url` is valid now (an error once it is invalid).
async fn validated(
    order: &mut instant_acme::Order,
    url: &str,
    record: &Record,
) -> Result<bool, String> {
    use instant_acme::AuthorizationStatus;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(|e| format!("authorization: {e}"))?;
        if authz.url() != url {
            continue;
        }
        // The order keeps the state it fetched: asked again.
        let state = authz
            .refresh()
            .await
            .map_err(|e| format!("authorization: {e}"))?;
        return match state.status {
            AuthorizationStatus::Valid => Ok(true),
            AuthorizationStatus::Pending => Ok(false),
            other => Err(format!(
                "the authorization for {} is {other:?}",
                record.fqdn()
            )),
        };
    }
    Err(format!("the authorization for {} is gone", record.fqdn()))
}

/// The `nameserver` lines of `/etc/resolv.conf` (port 53); Google's when there are none,
/// as lego does.
fn system_resolvers() -> Vec<SocketAddr> {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let found: Vec<SocketAddr> = text
        .lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .collect();
    match found.is_empty() {
        true => vec![SocketAddr::from(([8, 8, 8, 8], 53))],
        false => found,
    }
}

/// Parses a resolver as `resolvers` lists it: `host:port` or an address alone (port 53).
pub fn parse_resolver(s: &str) -> Option<SocketAddr> {
    let s = s.trim();
    s.parse::<SocketAddr>()
        .ok()
        .or_else(|| {
            s.parse::<std::net::IpAddr>()
                .ok()
                .map(|ip| SocketAddr::new(ip, 53))
        })
        .or_else(|| {
            s.strip_prefix('[')
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|ip| ip.parse::<std::net::Ipv6Addr>().ok())
                .map(|ip| SocketAddr::new(ip.into(), 53))
        })
}

/// The TXT values at `name`, asked of `server` (no record, or no such name: none).
pub async fn txt(server: SocketAddr, name: &str) -> Result<Vec<String>, String> {
    let id = query_id();
    let q = query(id, name)?;
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => "0.0.0.0:0".parse().map_err(|_| "bind")?,
        SocketAddr::V6(_) => "[::]:0".parse().map_err(|_| "bind")?,
    };
    let sock = tokio::net::UdpSocket::bind(bind)
        .await
        .map_err(|e| e.to_string())?;
    sock.send_to(&q, server).await.map_err(|e| e.to_string())?;
    let mut buf = vec![0u8; 4096];
    let wait = Duration::from_secs(5);
    let answer = loop {
        let (n, from) = tokio::time::timeout(wait, sock.recv_from(&mut buf))
            .await
            .map_err(|_| "no answer within 5 s".to_owned())?
            .map_err(|e| e.to_string())?;
        // Only the server's answer to this query counts.
        if from == server && n >= 2 && buf[..2] == id.to_be_bytes() {
            break buf[..n].to_vec();
        }
    };
    match parse_txt(&answer, id)? {
        Answer::Truncated => txt_tcp(server, &q, id).await,
        Answer::Values(v) => Ok(v),
    }
}

/// The same question over TCP (RFC 7766), for an answer too large for UDP.
async fn txt_tcp(server: SocketAddr, q: &[u8], id: u16) -> Result<Vec<String>, String> {
    let exchange = async {
        let mut s = tokio::net::TcpStream::connect(server)
            .await
            .map_err(|e| e.to_string())?;
        let len = u16::try_from(q.len()).map_err(|_| "query too long")?;
        let mut out = len.to_be_bytes().to_vec();
        out.extend_from_slice(q);
        s.write_all(&out).await.map_err(|e| e.to_string())?;
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.map_err(|e| e.to_string())?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        s.read_exact(&mut answer).await.map_err(|e| e.to_string())?;
        match parse_txt(&answer, id)? {
            Answer::Values(v) => Ok(v),
            Answer::Truncated => Err("a truncated answer over TCP".to_owned()),
        }
    };
    tokio::time::timeout(Duration::from_secs(5), exchange)
        .await
        .map_err(|_| "no answer over TCP within 5 s".to_owned())?
}

/// A random query id (an answer must carry it back).
fn query_id() -> u16 {
    let mut b = [0u8; 2];
    let rng = rustls::crypto::ring::default_provider().secure_random;
    if rng.fill(&mut b).is_err() {
        // Without randomness the id only guards against stray datagrams.
        return u16::try_from(std::process::id() & 0xffff).unwrap_or(0x5a5a);
    }
    u16::from_be_bytes(b)
}

/// A recursive query for the TXT records of `name`.
fn query(id: u16, name: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.trim_end_matches('.').split('.') {
        let len = u8::try_from(label.len())
            .ok()
            .filter(|l| (1..=63).contains(l))
            .ok_or_else(|| format!("invalid DNS name {name:?}"))?;
        q.push(len);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 16, 0, 1]); // TXT, IN
    Ok(q)
}

/// What an answer says.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    /// Too large for UDP: ask again over TCP.
    Truncated,
    /// The TXT records' values (each record's strings joined).
    Values(Vec<String>),
}

fn parse_txt(m: &[u8], id: u16) -> Result<Answer, String> {
    let bad = || "a malformed DNS answer".to_owned();
    if m.len() < 12 || m[..2] != id.to_be_bytes() || m[2] & 0x80 == 0 {
        return Err(bad());
    }
    if m[2] & 0x02 != 0 {
        return Ok(Answer::Truncated);
    }
    match m[3] & 0x0f {
        0 => {}
        3 => return Ok(Answer::Values(Vec::new())), // NXDOMAIN
        rcode => return Err(format!("the resolver answers rcode {rcode}")),
    }
    let count = |i: usize| usize::from(u16::from_be_bytes([m[i], m[i + 1]]));
    let (questions, answers) = (count(4), count(6));
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(m, at).ok_or_else(bad)? + 4;
    }
    let mut values = Vec::new();
    for _ in 0..answers {
        at = skip_name(m, at).ok_or_else(bad)?;
        let fixed = m.get(at..at + 10).ok_or_else(bad)?;
        let kind = u16::from_be_bytes([fixed[0], fixed[1]]);
        let len = usize::from(u16::from_be_bytes([fixed[8], fixed[9]]));
        let data = m.get(at + 10..at + 10 + len).ok_or_else(bad)?;
        at += 10 + len;
        if kind == 16 {
            let mut text = Vec::new();
            let mut i = 0;
            while i < data.len() {
                let n = usize::from(data[i]);
                text.extend_from_slice(data.get(i + 1..i + 1 + n).ok_or_else(bad)?);
                i += 1 + n;
            }
            values.push(String::from_utf8_lossy(&text).into_owned());
        }
    }
    Ok(Answer::Values(values))
}

/// The offset after the name at `at` (labels, ending with a zero or a pointer).
fn skip_name(m: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *m.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return m.get(at + 1).map(|_| at + 2),
            l => at += 1 + usize::from(l),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An answer to `query(id, name)` with `records` TXT records (strings each).
    fn answer(id: u16, name: &str, records: &[&[&str]], flags: [u8; 2]) -> Vec<u8> {
        let q = query(id, name).unwrap();
        let mut m = q.clone();
        m[2] = 0x80 | flags[0];
        m[3] = flags[1];
        m[6..8].copy_from_slice(&(records.len() as u16).to_be_bytes());
        for strings in records {
            m.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
            let data: Vec<u8> = strings
                .iter()
                .flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes()))
                .collect();
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(&data);
        }
        m
    }

    #[test]
    fn a_query_asks_for_txt_recursively() {
        let q = query(0x1234, "_acme-challenge.example.com.").unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(q[12], 15);
        assert_eq!(&q[13..28], b"_acme-challenge");
        assert_eq!(&q[q.len() - 4..], &[0, 16, 0, 1]);
        assert!(query(1, "a..b").is_err());
        assert!(query(1, &format!("{}.com", "x".repeat(64))).is_err());
    }

    #[test]
    fn answers_are_read_with_joined_strings_and_compression() {
        let name = "_acme-challenge.example.com.";
        let m = answer(7, name, &[&["abc", "def"], &["xyz"]], [0, 0]);
        assert_eq!(
            parse_txt(&m, 7).unwrap(),
            Answer::Values(vec!["abcdef".into(), "xyz".into()])
        );
        // NXDOMAIN: no values; truncated: ask over TCP; another id or a query: refused.
        assert_eq!(
            parse_txt(&answer(7, name, &[], [0, 3]), 7).unwrap(),
            Answer::Values(vec![])
        );
        assert_eq!(
            parse_txt(&answer(7, name, &[], [0x02, 0]), 7).unwrap(),
            Answer::Truncated
        );
        assert!(parse_txt(&m, 8).is_err());
        assert!(parse_txt(&query(7, name).unwrap(), 7).is_err());
        assert!(parse_txt(&answer(7, name, &[], [0, 2]), 7).is_err());
        // Cut anywhere: an error, never a panic.
        for cut in 0..m.len() {
            let _ = parse_txt(&m[..cut], 7);
        }
    }

    #[test]
    fn resolvers_are_read_as_lego_reads_them() {
        assert_eq!(
            parse_resolver("1.1.1.1:53"),
            Some("1.1.1.1:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("9.9.9.9"),
            Some("9.9.9.9:53".parse().unwrap())
        );
        assert_eq!(
            parse_resolver("[::1]:5353"),
            Some("[::1]:5353".parse().unwrap())
        );
        assert_eq!(parse_resolver("[::1]"), Some("[::1]:53".parse().unwrap()));
        assert_eq!(parse_resolver("dns.example"), None);
    }

    fn record() -> Record {
        Record {
            domain: "example.com".into(),
            token: "t".into(),
            key_auth: "k".into(),
            value: "v".into(),
        }
    }

    #[tokio::test]
    async fn the_program_exit_status_decides() {
        let with = |p: &str| DnsChallenge {
            program: p.into(),
            ..DnsChallenge::exec_defaults()
        };
        assert!(with("/bin/true").present(&record()).await.is_ok());
        let e = with("/bin/false").cleanup(&record()).await.unwrap_err();
        assert!(e.contains("cleanup"), "{e}");
        assert!(with("/nonexistent/dns").present(&record()).await.is_err());
    }

    #[tokio::test]
    async fn propagation_waits_for_the_value_and_gives_up_in_time() {
        // A resolver that knows the record only from its third answer.
        let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        tokio::spawn(async move {
            let mut buf = [0u8; 512];
            for n in 0.. {
                let Ok((len, peer)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let id = u16::from_be_bytes([buf[0], buf[1]]);
                let _ = len;
                let records: &[&[&str]] = if n >= 2 { &[&["v"]] } else { &[&["old"]] };
                let m = answer(id, "_acme-challenge.example.com.", records, [0, 0]);
                let _ = sock.send_to(&m, peer).await;
            }
        });
        let d = DnsChallenge {
            resolvers: vec![addr],
            interval: Duration::from_millis(10),
            timeout: Duration::from_secs(5),
            ..DnsChallenge::exec_defaults()
        };
        d.wait_propagated("_acme-challenge.example.com.", "v")
            .await
            .unwrap();
        let never = DnsChallenge {
            timeout: Duration::from_millis(100),
            ..d.clone()
        };
        let e = never
            .wait_propagated("_acme-challenge.example.com.", "w")
            .await
            .unwrap_err();
        assert!(e.contains("not visible"), "{e}");
        // Checks off: no question asked.
        let off = DnsChallenge {
            check: false,
            resolvers: vec!["127.0.0.1:9".parse().unwrap()],
            ..never
        };
        off.wait_propagated("_acme-challenge.example.com.", "w")
            .await
            .unwrap();
    }

    #[test]
    fn the_record_lives_under_acme_challenge() {
        let r = Record {
            domain: "example.com".into(),
            token: "t".into(),
            key_auth: "k".into(),
            value: "v".into(),
        };
        assert_eq!(r.fqdn(), "_acme-challenge.example.com.");
    }
}
