//! The ACME storage file, in Traefik's `acme.json` format, so that a Traefik storage file
//! carries over (its certificates are served and renewed, not ordered again) and a file this
//! router wrote still works with Traefik:
//!
//! ```json
//! { "<resolver>": {
//!     "Account": { "Email": ..., "Registration": ..., "PrivateKey": ... },
//!     "Certificates": [ { "domain": { "main": "a.example", "sans": [] },
//!                         "certificate": "<base64 PEM chain>", "key": "<base64 PEM key>",
//!                         "Store": "default" } ],
//!     "RouterAccount": { "directory": ..., "credentials": ... } } }
//! ```
//!
//! Traefik's account key is RSA, which the ACME client here cannot sign with, so the router
//! registers an ECDSA account of its own (`RouterAccount`, a field Traefik ignores) and keeps
//! Traefik's `Account` as it was. Other resolvers' entries are kept untouched. The router's
//! earlier format (`{"account": ..., "certificates": {...}}`) is read too, and rewritten in
//! Traefik's on the next save.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// The account the router uses, with the directory it belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredAccount {
    /// The ACME directory.
    pub directory: String,
    /// instant-acme's `AccountCredentials` (id, PKCS#8 key, directory).
    pub credentials: Value,
}

/// A certificate and its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCert {
    /// The chain, leaf first, PEM.
    pub cert: String,
    /// The private key, PEM.
    pub key: String,
    /// Other names it was ordered for (Traefik's `domain.sans`).
    #[serde(default)]
    pub sans: Vec<String>,
}

/// The storage's content.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// The resolver entry the router writes.
    pub resolver: String,
    /// The router's account.
    pub account: Option<StoredAccount>,
    /// Certificates by their main name.
    pub certificates: BTreeMap<String, StoredCert>,
    /// Traefik's own `Account` of the router's resolver, kept as it was.
    traefik_account: Option<Value>,
    /// Other resolvers' entries, kept as they were.
    others: Map<String, Value>,
    /// The resolver names this account reads as its own.
    names: Vec<String>,
}

/// The earlier format of this router's storage.
#[derive(Debug, Default, Deserialize)]
struct Earlier {
    #[serde(default)]
    account: Option<StoredAccount>,
    #[serde(default)]
    certificates: BTreeMap<String, StoredCert>,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

impl Storage {
    /// An empty storage for the resolver named `resolver`.
    pub fn new(resolver: &str) -> Storage {
        Storage {
            resolver: resolver.to_owned(),
            ..Default::default()
        }
    }

    /// Reads a storage file's bytes; `names` are the router's resolver names (the first is
    /// the entry it writes). Whitespace only is an empty storage.
    pub fn parse(bytes: &[u8], names: &[String]) -> Result<Storage, String> {
        let resolver = names.first().cloned().unwrap_or_else(|| "default".into());
        let mut s = Storage::new(&resolver);
        s.names = names.to_vec();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(s);
        }
        let v: Value = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let Value::Object(top) = v else {
            return Err("expected a JSON object".into());
        };
        if top.contains_key("account") || top.contains_key("certificates") {
            let e: Earlier =
                serde_json::from_value(Value::Object(top)).map_err(|e| e.to_string())?;
            s.account = e.account;
            s.certificates = e.certificates;
            return Ok(s);
        }
        for (name, entry) in top {
            let ours = name == resolver || names.iter().any(|n| n == &name);
            if !ours {
                s.others.insert(name, entry);
                continue;
            }
            read_entry(&name, &entry, &mut s)?;
        }
        Ok(s)
    }

    /// The file's bytes, in Traefik's format, written over `current` (the file as it is
    /// now): the other resolvers' entries are taken from it, so that another ACME account
    /// sharing the file (a staging resolver beside a production one) loses nothing it wrote
    /// since this one read it. A `current` that cannot be read keeps those read at start.
    pub fn to_json_over(&self, current: Option<&[u8]>) -> Vec<u8> {
        let others = current
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
            .and_then(|v| match v {
                Value::Object(top) if !top.contains_key("account") => Some(top),
                _ => None,
            })
            .map(|top| {
                top.into_iter()
                    .filter(|(name, _)| *name != self.resolver && !self.names.contains(name))
                    .collect::<Map<String, Value>>()
            });
        match others {
            Some(others) => Storage {
                others,
                ..self.clone()
            }
            .to_json(),
            None => self.to_json(),
        }
    }

    /// The file's bytes, in Traefik's format.
    pub fn to_json(&self) -> Vec<u8> {
        let certificates: Vec<Value> = self
            .certificates
            .iter()
            .map(|(main, c)| {
                json!({
                    "domain": { "main": main, "sans": c.sans },
                    "certificate": b64().encode(c.cert.as_bytes()),
                    "key": b64().encode(c.key.as_bytes()),
                    "Store": "default",
                })
            })
            .collect();
        let mut entry = Map::new();
        entry.insert(
            "Account".into(),
            self.traefik_account.clone().unwrap_or(Value::Null),
        );
        entry.insert("Certificates".into(), Value::Array(certificates));
        if let Some(a) = &self.account {
            entry.insert("RouterAccount".into(), json!(a));
        }
        let mut top = self.others.clone();
        top.insert(self.resolver.clone(), Value::Object(entry));
        serde_json::to_vec_pretty(&Value::Object(top)).unwrap_or_default()
    }
}

fn read_entry(name: &str, entry: &Value, s: &mut Storage) -> Result<(), String> {
    let at = |what: &str| format!("resolver {name:?}: {what}");
    if !entry.is_object() {
        return Err(at("expected an object with Account and Certificates"));
    }
    if let Some(a) = entry.get("Account").filter(|a| !a.is_null()) {
        s.traefik_account = Some(a.clone());
    }
    if let Some(a) = entry.get("RouterAccount").filter(|a| !a.is_null()) {
        s.account = Some(
            serde_json::from_value(a.clone()).map_err(|e| at(&format!("RouterAccount: {e}")))?,
        );
    }
    for c in entry
        .get("Certificates")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let main = c["domain"]["main"]
            .as_str()
            .ok_or_else(|| at("a certificate without domain.main"))?
            .to_ascii_lowercase();
        let decode = |k: &str| -> Result<String, String> {
            let raw = c[k]
                .as_str()
                .ok_or_else(|| at(&format!("{main}: no {k}")))?;
            let bytes = b64()
                .decode(raw)
                .map_err(|e| at(&format!("{main}: {k} is not base64: {e}")))?;
            String::from_utf8(bytes).map_err(|_| at(&format!("{main}: {k} is not PEM text")))
        };
        let sans = c["domain"]["sans"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
            .collect();
        let stored = StoredCert {
            cert: decode("certificate")?,
            key: decode("key")?,
            sans,
        };
        s.certificates.insert(main, stored);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Another account's entry written to the file after this one read it is kept when this
    /// one writes; this one's own entry is its own.
    #[test]
    fn a_write_keeps_what_another_account_wrote_since() {
        let mut mine = Storage::parse(b"", &["le".into()]).unwrap();
        let theirs = json!({ "staging": { "Account": null, "Certificates": [ { "domain": { "main": "s.example" } } ] },
                             "le": { "Account": null, "Certificates": [] } });
        mine.certificates.insert(
            "a.example".into(),
            StoredCert {
                cert: "c".into(),
                key: "k".into(),
                sans: vec![],
            },
        );
        let out: Value =
            serde_json::from_slice(&mine.to_json_over(Some(theirs.to_string().as_bytes())))
                .unwrap();
        assert_eq!(
            out["staging"]["Certificates"][0]["domain"]["main"],
            "s.example"
        );
        assert_eq!(out["le"]["Certificates"][0]["domain"]["main"], "a.example");
        // A file that does not parse: what was read at start is kept.
        let out: Value = serde_json::from_slice(&mine.to_json_over(Some(b"{"))).unwrap();
        assert_eq!(out.as_object().unwrap().len(), 1);
    }

    #[test]
    fn traefik_files_are_read_and_written_back_in_their_format() {
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
        let file = json!({
            "le": {
                "Account": { "Email": "a@b.c", "PrivateKey": "MIIJ", "Registration": { "uri": "https://ca/acct/1" } },
                "Certificates": [ { "domain": { "main": "A.example", "sans": ["www.a.example"] },
                                    "certificate": b64().encode(cert), "key": b64().encode(key), "Store": "default" } ]
            },
            "staging": { "Account": null, "Certificates": [] }
        });
        let s = Storage::parse(file.to_string().as_bytes(), &["le".into()]).unwrap();
        let c = &s.certificates["a.example"];
        assert_eq!((c.cert.as_str(), c.key.as_str()), (cert, key));
        assert_eq!(c.sans, ["www.a.example"]);
        assert!(
            s.account.is_none(),
            "Traefik's RSA account is not the router's"
        );
        let back: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert_eq!(back["le"]["Account"]["Email"], "a@b.c");
        assert_eq!(back["le"]["Certificates"][0]["domain"]["main"], "a.example");
        assert_eq!(back["staging"], file["staging"], "other resolvers are kept");
        let again = Storage::parse(&s.to_json(), &["le".into()]).unwrap();
        assert_eq!(again.certificates["a.example"].cert, cert);
    }

    #[test]
    fn the_earlier_format_is_read() {
        let file =
            json!({ "account": null, "certificates": { "h.test": { "cert": "C", "key": "K" } } });
        let s = Storage::parse(file.to_string().as_bytes(), &[]).unwrap();
        assert_eq!(s.certificates["h.test"].cert, "C");
        let back: Value = serde_json::from_slice(&s.to_json()).unwrap();
        assert!(back["default"]["Certificates"].is_array());
        assert!(Storage::parse(b"[1]", &[]).is_err());
        assert!(Storage::parse(b"  \n", &[])
            .unwrap()
            .certificates
            .is_empty());
    }
}
