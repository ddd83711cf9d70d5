//! The ECS provider's AWS clients. The AWS SDK for Rust gives the region and credential chain
//! (`region`, else `AWS_REGION`, the shared config, the instance's metadata; `accessKeyID` and
//! `secretAccessKey`, else the environment, the shared credentials file, web identity, the ECS
//! task role or the EC2 instance role) and the ECS client. EC2's one call,
//! `DescribeInstances`, is made here and signed with the SDK's own SigV4 signer (`aws-sigv4`):
//! the SDK's EC2 crate alone would add minutes to every build for one call.
//!
//! Endpoints follow the SDK's variables: `AWS_ENDPOINT_URL_ECS` / `AWS_ENDPOINT_URL_EC2`, else
//! `AWS_ENDPOINT_URL` (an emulator in the tests), else AWS's. TLS is rustls with ring and
//! Mozilla's roots (the image has no system store).

use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_http_client::tls;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;

use super::{EcsProvider, Failure};

type Https = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// How long one EC2 call may take (the SDK's own calls have its timeouts and retries).
const EC2_TIMEOUT: Duration = Duration::from_secs(30);

/// The clients one provider uses.
pub struct Clients {
    /// The ECS client.
    pub ecs: aws_sdk_ecs::Client,
    sdk: aws_config::SdkConfig,
    /// `providers.ecs.endpoint`, when set.
    endpoint: Option<String>,
    https: Https,
}

impl Clients {
    /// Builds the clients from the provider's settings and the SDK's chains.
    pub async fn new(p: &EcsProvider) -> Clients {
        let mut trust = tls::TrustStore::empty().with_native_roots(false);
        for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            trust.add_pem_certificate(pem(der.as_ref()));
        }
        let context = tls::TlsContext::builder()
            .with_trust_store(trust)
            .build()
            .unwrap_or_default();
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .tls_context(context)
            .build_https();
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
        if !p.region.is_empty() {
            loader = loader.region(aws_config::Region::new(p.region.clone()));
        }
        if !p.endpoint.is_empty() {
            loader = loader.endpoint_url(p.endpoint.clone());
        }
        if !p.access_key_id.is_empty() {
            loader = loader.credentials_provider(aws_credential_types::Credentials::new(
                p.access_key_id.clone(),
                p.secret_access_key.clone(),
                None,
                None,
                "providers.ecs",
            ));
        }
        let sdk = loader.load().await;
        if sdk.region().is_none() {
            tracing::error!(
                provider = super::PROVIDER,
                "no AWS region: set providers.ecs.region or AWS_REGION"
            );
        }
        let mut connector = HttpConnector::new();
        connector.enforce_http(false);
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        let tls = crate::client_tls::config(None).unwrap_or_else(|_| {
            rustls::ClientConfig::builder()
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth()
        });
        let https = Client::builder(TokioExecutor::new()).build(
            hyper_rustls::HttpsConnectorBuilder::new()
                .with_tls_config(tls)
                .https_or_http()
                .enable_http1()
                .wrap_connector(connector),
        );
        Clients {
            ecs: aws_sdk_ecs::Client::new(&sdk),
            sdk,
            endpoint: Some(p.endpoint.clone()).filter(|e| !e.is_empty()),
            https,
        }
    }

    /// EC2 `DescribeInstances` for `ids` (at most 1,000): each instance's id, private IP and
    /// state name, following `NextToken`.
    pub async fn describe_instances(&self, ids: &[String]) -> Result<Vec<Instance>, Failure> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut form = vec![
                ("Action".to_owned(), "DescribeInstances".to_owned()),
                ("Version".to_owned(), "2016-11-15".to_owned()),
            ];
            for (i, id) in ids.iter().enumerate() {
                form.push((format!("InstanceId.{}", i + 1), id.clone()));
            }
            if let Some(t) = &token {
                form.push(("NextToken".into(), t.clone()));
            }
            let body = encode_form(&form);
            let xml = self.ec2_call(body).await.map_err(|message| Failure {
                action: "ec2:DescribeInstances",
                message,
            })?;
            let page = parse_instances(&xml).map_err(|message| Failure {
                action: "ec2:DescribeInstances",
                message,
            })?;
            out.extend(page.instances);
            match page.next_token {
                Some(t) if !t.is_empty() => token = Some(t),
                _ => return Ok(out),
            }
        }
    }

    /// One signed EC2 Query API call: the answer's XML, or what went wrong.
    async fn ec2_call(&self, body: String) -> Result<String, String> {
        let region = self
            .sdk
            .region()
            .map(ToString::to_string)
            .ok_or("no AWS region: set providers.ecs.region or AWS_REGION")?;
        let endpoint = match &self.endpoint {
            Some(e) => e.clone(),
            None => ec2_endpoint(&self.sdk, &region),
        };
        let creds = self
            .sdk
            .credentials_provider()
            .ok_or("no AWS credentials provider")?
            .provide_credentials()
            .await
            .map_err(|e| format!("credentials: {}", crate::error_text::chain(&e)))?;
        let identity = creds.into();
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(aws_sigv4::http_request::SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let content_type = "application/x-www-form-urlencoded; charset=utf-8";
        let uri = format!("{}/", endpoint.trim_end_matches('/'));
        let signable = aws_sigv4::http_request::SignableRequest::new(
            "POST",
            uri.as_str(),
            [("content-type", content_type)].into_iter(),
            aws_sigv4::http_request::SignableBody::Bytes(body.as_bytes()),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = aws_sigv4::http_request::sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let mut req = http::Request::post(uri.as_str())
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        instructions.apply_to_request_http1x(&mut req);
        let resp = tokio::time::timeout(EC2_TIMEOUT, self.https.request(req))
            .await
            .map_err(|_| format!("{uri}: no answer within {EC2_TIMEOUT:?}"))?
            .map_err(|e| format!("{uri}: {}", crate::error_text::chain(&e)))?;
        let status = resp.status();
        let bytes = tokio::time::timeout(EC2_TIMEOUT, resp.into_body().collect())
            .await
            .map_err(|_| format!("{uri}: the answer stalled"))?
            .map_err(|e| format!("{uri}: {e}"))?
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if !status.is_success() {
            return Err(match ec2_error(&text) {
                Some((code, message)) => format!("{code}: {message} (HTTP {status})"),
                None => format!("HTTP {status}"),
            });
        }
        Ok(text)
    }
}

/// An EC2 instance as the provider needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Instance {
    /// `instanceId`.
    pub id: String,
    /// `privateIpAddress`.
    pub private_ip: String,
    /// `instanceState.name` (`running`, `stopped`...).
    pub state: String,
}

/// One page of `DescribeInstances`.
#[derive(Debug, Default)]
struct Page {
    instances: Vec<Instance>,
    next_token: Option<String>,
}

/// The EC2 endpoint: `AWS_ENDPOINT_URL_EC2`, the SDK's configured endpoint
/// (`AWS_ENDPOINT_URL`, the shared config), else AWS's for `region`.
fn ec2_endpoint(sdk: &aws_config::SdkConfig, region: &str) -> String {
    let ignore = std::env::var("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
        .is_ok_and(|v| v.eq_ignore_ascii_case("true"));
    let own = std::env::var("AWS_ENDPOINT_URL_EC2")
        .ok()
        .filter(|v| !v.is_empty() && !ignore);
    own.or_else(|| sdk.endpoint_url().map(str::to_owned))
        .unwrap_or_else(|| {
            let suffix = if region.starts_with("cn-") {
                "amazonaws.com.cn"
            } else {
                "amazonaws.com"
            };
            format!("https://ec2.{region}.{suffix}")
        })
}

/// `application/x-www-form-urlencoded`, as the Query API reads it.
fn encode_form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent(k), percent(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// RFC 3986 unreserved characters kept, everything else percent-encoded.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A DER certificate as PEM.
fn pem(der: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out.into_bytes()
}

/// `DescribeInstancesResponse`: reservations' instances and `nextToken`.
fn parse_instances(xml: &str) -> Result<Page, String> {
    use aws_smithy_xml::decode::{try_data, Document};
    let bad = |e: aws_smithy_xml::decode::XmlDecodeError| format!("unreadable answer: {e}");
    let mut doc = Document::new(xml);
    let mut root = doc.root_element().map_err(bad)?;
    let mut page = Page::default();
    while let Some(mut tag) = root.next_tag() {
        if tag.start_el().matches("nextToken") {
            page.next_token = Some(try_data(&mut tag).map_err(bad)?.into_owned());
        } else if tag.start_el().matches("reservationSet") {
            while let Some(mut reservation) = tag.next_tag() {
                while let Some(mut field) = reservation.next_tag() {
                    if !field.start_el().matches("instancesSet") {
                        continue;
                    }
                    while let Some(mut item) = field.next_tag() {
                        page.instances.push(instance(&mut item).map_err(bad)?);
                    }
                }
            }
        }
    }
    Ok(page)
}

fn instance(
    item: &mut aws_smithy_xml::decode::ScopedDecoder<'_, '_>,
) -> Result<Instance, aws_smithy_xml::decode::XmlDecodeError> {
    use aws_smithy_xml::decode::try_data;
    let mut i = Instance::default();
    while let Some(mut f) = item.next_tag() {
        if f.start_el().matches("instanceId") {
            i.id = try_data(&mut f)?.into_owned();
        } else if f.start_el().matches("privateIpAddress") {
            i.private_ip = try_data(&mut f)?.into_owned();
        } else if f.start_el().matches("instanceState") {
            while let Some(mut s) = f.next_tag() {
                if s.start_el().matches("name") {
                    i.state = try_data(&mut s)?.into_owned();
                }
            }
        }
    }
    Ok(i)
}

/// An EC2 error answer's first `Code` and `Message`.
fn ec2_error(xml: &str) -> Option<(String, String)> {
    use aws_smithy_xml::decode::{try_data, Document};
    let mut doc = Document::new(xml);
    let mut root = doc.root_element().ok()?;
    while let Some(mut errors) = root.next_tag() {
        if !errors.start_el().matches("Errors") {
            continue;
        }
        if let Some(mut error) = errors.next_tag() {
            let (mut code, mut message) = (String::new(), String::new());
            while let Some(mut f) = error.next_tag() {
                if f.start_el().matches("Code") {
                    code = try_data(&mut f).ok()?.into_owned();
                } else if f.start_el().matches("Message") {
                    message = try_data(&mut f).ok()?.into_owned();
                }
            }
            return Some((code, message));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_instances_answers_are_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r</requestId>
  <reservationSet>
    <item>
      <reservationId>r-1</reservationId>
      <instancesSet>
        <item>
          <instanceId>i-1</instanceId>
          <instanceState><code>16</code><name>running</name></instanceState>
          <privateIpAddress>10.0.0.5</privateIpAddress>
          <networkInterfaceSet><item><privateIpAddress>10.0.0.99</privateIpAddress></item></networkInterfaceSet>
        </item>
        <item>
          <instanceId>i-2</instanceId>
          <instanceState><code>80</code><name>stopped</name></instanceState>
        </item>
      </instancesSet>
    </item>
  </reservationSet>
  <nextToken>abc</nextToken>
</DescribeInstancesResponse>"#;
        let page = parse_instances(xml).unwrap();
        assert_eq!(
            page.instances,
            [
                Instance {
                    id: "i-1".into(),
                    private_ip: "10.0.0.5".into(),
                    state: "running".into()
                },
                Instance {
                    id: "i-2".into(),
                    private_ip: String::new(),
                    state: "stopped".into()
                }
            ]
        );
        assert_eq!(page.next_token.as_deref(), Some("abc"));
    }

    #[test]
    fn ec2_errors_say_their_code() {
        let xml = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized</Message></Error></Errors><RequestID>x</RequestID></Response>";
        assert_eq!(
            ec2_error(xml),
            Some((
                "UnauthorizedOperation".into(),
                "You are not authorized".into()
            ))
        );
        assert_eq!(ec2_error("not xml"), None);
    }

    #[test]
    fn forms_are_percent_encoded() {
        let f = encode_form(&[("NextToken".into(), "a+b/c=".into())]);
        assert_eq!(f, "NextToken=a%2Bb%2Fc%3D");
    }
}
