//! S3 Object Lock and object versions: the bucket calls `object_store` does not make, signed
//! with its own SigV4 signer ([`AwsAuthorizer`]) and credentials, sent with its HTTP client.
//!
//! - [`ObjectLock`]: whether the bucket keeps every version for a default retention (read for
//!   `bwv health`, set by `bwv objects lock`).
//! - Versions: on a versioned bucket (Object Lock turns versioning on) a delete only hides an
//!   object behind a delete marker, and its bytes stay. The retention sweep must remove them,
//!   so [`Control::purge`] deletes every version of a key; one the lock still keeps is
//!   reported with the time its lock ends.

use http::{Method, Request, StatusCode};
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, AwsAuthorizer};
use object_store::client::{HttpClient, HttpConnector as _, ReqwestConnector};
use object_store::{ClientConfigKey, ClientOptions};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorKind, Result};

/// How a locked version is kept: no one may shorten or remove a compliance lock; an account
/// with the bypass permission may a governance one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum LockMode {
    /// Nobody, the bucket's owner included, can delete a version before its lock ends.
    Compliance,
    /// Accounts granted `s3:BypassGovernanceRetention` can.
    Governance,
}

/// A bucket's Object Lock: off, or on with the default retention every new version gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ObjectLock {
    /// The bucket has no Object Lock: whoever holds its keys can delete or overwrite objects.
    Off,
    /// On; `None` when no default retention is set (objects are then locked only when a
    /// retention is put on each).
    On(Option<DefaultRetention>),
}

/// The retention a bucket gives every new version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultRetention {
    /// Compliance or governance.
    #[serde(rename = "Mode")]
    pub mode: LockMode,
    /// How long, in days (a rule in years is counted as 365 days a year).
    #[serde(rename = "Days", default, skip_serializing_if = "Option::is_none")]
    pub days: Option<u32>,
    /// How long, in years.
    #[serde(rename = "Years", default, skip_serializing_if = "Option::is_none")]
    pub years: Option<u32>,
}

impl DefaultRetention {
    /// Days of lock a new version gets.
    pub fn in_days(&self) -> u32 {
        self.days
            .or(self.years.map(|y| y.saturating_mul(365)))
            .unwrap_or(0)
    }
}

impl std::fmt::Display for ObjectLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ObjectLock::Off => f.write_str("no Object Lock"),
            ObjectLock::On(None) => f.write_str("Object Lock on, no default retention"),
            ObjectLock::On(Some(r)) => write!(
                f,
                "Object Lock on: every version kept {} day{} ({})",
                r.in_days(),
                if r.in_days() == 1 { "" } else { "s" },
                match r.mode {
                    LockMode::Compliance => "compliance",
                    LockMode::Governance => "governance",
                }
            ),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename = "ObjectLockConfiguration")]
struct LockConfiguration {
    #[serde(rename = "ObjectLockEnabled", default)]
    enabled: Option<String>,
    #[serde(rename = "Rule", default, skip_serializing_if = "Option::is_none")]
    rule: Option<Rule>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Rule {
    #[serde(rename = "DefaultRetention")]
    default_retention: DefaultRetention,
}

#[derive(Debug, Deserialize)]
struct Versions {
    #[serde(rename = "IsTruncated", default)]
    truncated: bool,
    #[serde(rename = "NextKeyMarker", default)]
    next_key: Option<String>,
    #[serde(rename = "NextVersionIdMarker", default)]
    next_version: Option<String>,
    #[serde(rename = "Version", default)]
    versions: Vec<Version>,
    #[serde(rename = "DeleteMarker", default)]
    markers: Vec<Version>,
}

/// One version of an object (or a delete marker).
#[derive(Debug, Deserialize)]
pub(crate) struct Version {
    /// The object's full key.
    #[serde(rename = "Key")]
    pub(crate) key: String,
    /// The version's id.
    #[serde(rename = "VersionId")]
    pub(crate) id: String,
}

#[derive(Debug, Deserialize)]
struct Retention {
    #[serde(rename = "RetainUntilDate", default)]
    until: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Versioning {
    #[serde(rename = "Status", default)]
    status: Option<String>,
}

/// An S3 error reply (`<Error><Code>...`).
#[derive(Debug, Deserialize)]
struct ErrorReply {
    #[serde(rename = "Code", default)]
    code: String,
}

/// A reply the server refused, with its S3 error code.
#[derive(Debug, thiserror::Error)]
#[error("HTTP {status}: {code}")]
pub struct Refused {
    status: StatusCode,
    code: String,
}

/// Signed bucket-level requests to one bucket.
#[derive(Debug)]
pub(crate) struct Control {
    http: HttpClient,
    store: AmazonS3,
    region: String,
    /// The bucket's URL (path-style, or the endpoint itself for a virtual-hosted one).
    base: String,
    /// `s3://bucket/prefix`, for messages.
    location: String,
}

/// `text` percent-encoded as S3 signs it: RFC 3986's unreserved characters kept (and `/`, in
/// a path), every other byte escaped.
fn encoded(text: &str, in_path: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || (in_path && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Control {
    /// The control for the bucket `builder` (configured, not yet built) names; `store` is the
    /// built one, whose credentials it signs with.
    pub(crate) fn new(
        builder: &AmazonS3Builder,
        store: AmazonS3,
        bucket: &str,
        location: &str,
    ) -> Result<Self> {
        let get = |key| builder.get_config_value(&key);
        let region = get(AmazonS3ConfigKey::Region).unwrap_or_else(|| "us-east-1".into());
        let virtual_hosted = get(AmazonS3ConfigKey::VirtualHostedStyleRequest)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let base = match get(AmazonS3ConfigKey::Endpoint) {
            Some(endpoint) if virtual_hosted => endpoint.trim_end_matches('/').to_owned(),
            Some(endpoint) => format!("{}/{bucket}", endpoint.trim_end_matches('/')),
            None => format!("https://s3.{region}.amazonaws.com/{bucket}"),
        };
        let mut options = ClientOptions::new();
        for key in [
            ClientConfigKey::AllowHttp,
            ClientConfigKey::AllowInvalidCertificates,
            ClientConfigKey::ConnectTimeout,
            ClientConfigKey::Timeout,
            ClientConfigKey::ProxyUrl,
        ] {
            if let Some(value) = get(AmazonS3ConfigKey::Client(key)) {
                options = options.with_config(key, value);
            }
        }
        let http = ReqwestConnector::default()
            .connect(&options)
            .map_err(|e| Error::Invalid(format!("object store {location}: client: {e}")))?;
        Ok(Self {
            http,
            store,
            region,
            base,
            location: location.to_owned(),
        })
    }

    /// Sends a signed request for `path` (`""` for the bucket, else `/` and a full key) and
    /// `query`; returns the reply's body, or the server's refusal as an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        op: &'static str,
    ) -> Result<String> {
        let fail = |kind, source: Box<dyn std::error::Error + Send + Sync>| Error::Objects {
            location: self.location.clone(),
            key: if path.is_empty() { "(bucket)" } else { path }.to_owned(),
            op,
            source,
            kind,
        };
        let credential = self
            .store
            .credentials()
            .get_credential()
            .await
            .map_err(|e| fail(ErrorKind::Invalid, e.into()))?;
        let url = if query.is_empty() {
            format!("{}{path}", self.base)
        } else {
            format!("{}{path}?{query}", self.base)
        };
        let mut request = Request::builder().method(method).uri(&url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let mut request = request
            .body(body.into())
            .map_err(|e| fail(ErrorKind::Invalid, e.into()))?;
        AwsAuthorizer::new(&credential, "s3", &self.region).authorize(&mut request, None);
        let reply = self
            .http
            .execute(request)
            .await
            .map_err(|e| fail(ErrorKind::Busy, e.into()))?;
        let status = reply.status();
        let text = reply
            .into_body()
            .bytes()
            .await
            .map_err(|e| fail(ErrorKind::Busy, e.into()))?;
        let text = String::from_utf8_lossy(&text).into_owned();
        if status.is_success() {
            return Ok(text);
        }
        let code = quick_xml::de::from_str::<ErrorReply>(&text)
            .map(|r| r.code)
            .unwrap_or_default();
        // A server without the call (501) will not gain it by being asked again.
        let kind = match status.as_u16() {
            404 => ErrorKind::NotFound,
            409 => ErrorKind::Conflict,
            400 | 401 | 403 | 501 => ErrorKind::Invalid,
            _ => ErrorKind::Busy,
        };
        Err(fail(kind, Box::new(Refused { status, code })))
    }

    /// GETs the bucket's `query` setting; `None` when the server refuses it with one of the
    /// error codes `absent`.
    async fn setting(
        &self,
        query: &str,
        op: &'static str,
        absent: &[&str],
    ) -> Result<Option<String>> {
        match self.send(Method::GET, "", query, &[], Vec::new(), op).await {
            Ok(text) => Ok(Some(text)),
            Err(Error::Objects { source, .. })
                if source
                    .downcast_ref::<Refused>()
                    .is_some_and(|r| absent.contains(&r.code.as_str())) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// The bucket's Object Lock.
    pub(crate) async fn lock(&self) -> Result<ObjectLock> {
        // No bucket yet (a server that makes one on first upload) has none, nor does a server
        // without Object Lock.
        let absent = [
            "ObjectLockConfigurationNotFoundError",
            "NoSuchBucket",
            "NotImplemented",
        ];
        let Some(text) = self
            .setting("object-lock=", "read Object Lock", &absent)
            .await?
        else {
            return Ok(ObjectLock::Off);
        };
        let config: LockConfiguration = self.parse(&text, "read Object Lock")?;
        Ok(match config.enabled.as_deref() {
            Some("Enabled") => ObjectLock::On(config.rule.map(|r| r.default_retention)),
            _ => ObjectLock::Off,
        })
    }

    /// Turns Object Lock on with `retention` as every new version's default: versioning
    /// first (the lock needs it), then the rule. Creates the bucket, locked, if it is not
    /// there.
    pub(crate) async fn set_lock(&self, retention: &DefaultRetention) -> Result<()> {
        let created = self
            .send(
                Method::PUT,
                "",
                "",
                &[("x-amz-bucket-object-lock-enabled", "true".into())],
                self.create_body(),
                "create the bucket",
            )
            .await;
        match created {
            Ok(_) => {}
            // There already: versioning goes on, as the lock needs it.
            Err(e) if e.kind() == ErrorKind::Conflict => self.keep_versions().await?,
            Err(e) => return Err(e),
        }
        let config = LockConfiguration {
            enabled: Some("Enabled".into()),
            rule: Some(Rule {
                default_retention: retention.clone(),
            }),
        };
        let body = quick_xml::se::to_string(&config)
            .map_err(|e| Error::Invalid(format!("Object Lock rule: {e}")))?
            .replacen(
                "<ObjectLockConfiguration>",
                "<ObjectLockConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
                1,
            );
        self.put_xml("object-lock=", body, "set Object Lock")
            .await
            .map(drop)
    }

    /// Turns the bucket's versioning on: a delete or an overwrite then keeps the older bytes.
    pub(crate) async fn keep_versions(&self) -> Result<()> {
        let body = "<VersioningConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                    <Status>Enabled</Status></VersioningConfiguration>";
        self.put_xml("versioning=", body.into(), "turn versioning on")
            .await
            .map(drop)
    }

    /// A PUT of an XML document to the bucket, with the checksum S3 asks of such requests.
    async fn put_xml(&self, query: &str, body: String, op: &'static str) -> Result<String> {
        use base64::Engine as _;
        use sha2::Digest as _;
        let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&body));
        let headers = [
            ("content-type", "application/xml".to_owned()),
            ("x-amz-checksum-sha256", sum),
            ("x-amz-sdk-checksum-algorithm", "SHA256".to_owned()),
        ];
        self.send(Method::PUT, "", query, &headers, body.into_bytes(), op)
            .await
    }

    /// CreateBucket's body: outside us-east-1, the region is named.
    fn create_body(&self) -> Vec<u8> {
        if self.region == "us-east-1" {
            return Vec::new();
        }
        format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            self.region
        )
        .into_bytes()
    }

    /// Whether the bucket keeps versions (versioning on or suspended: older versions stay); a
    /// server without versioning keeps none.
    pub(crate) async fn versioned(&self) -> Result<bool> {
        let Some(text) = self
            .setting("versioning=", "read versioning", &["NotImplemented"])
            .await?
        else {
            return Ok(false);
        };
        let state: Versioning = self.parse(&text, "read versioning")?;
        Ok(state.status.is_some())
    }

    /// The versions and the delete markers of the object at the full key `key` (with `exact`,
    /// else of every object whose key starts with it).
    pub(crate) async fn versions(
        &self,
        key: &str,
        exact: bool,
    ) -> Result<(Vec<Version>, Vec<Version>)> {
        let (mut versions, mut markers) = (Vec::new(), Vec::new());
        let mut marker = String::new();
        loop {
            let query = format!("prefix={}&versions={marker}", encoded(key, false));
            let text = self
                .send(Method::GET, "", &query, &[], Vec::new(), "list versions")
                .await?;
            let page: Versions = self.parse(&text, "list versions")?;
            let wanted = |v: &Version| {
                if exact {
                    v.key == key
                } else {
                    v.key.starts_with(key)
                }
            };
            versions.extend(page.versions.into_iter().filter(|v| wanted(v)));
            markers.extend(page.markers.into_iter().filter(|v| wanted(v)));
            match (page.truncated, page.next_key, page.next_version) {
                (true, Some(k), Some(v)) => {
                    marker = format!(
                        "&key-marker={}&version-id-marker={}",
                        encoded(&k, false),
                        encoded(&v, false)
                    );
                }
                _ => return Ok((versions, markers)),
            }
        }
    }

    /// Deletes every version (and delete marker) of the object at the full key `key` (with
    /// `exact`, else of every object whose key starts with it); returns how many went. A
    /// version its lock still keeps is left, and the first such is an error naming when its
    /// lock ends.
    pub(crate) async fn purge(&self, key: &str, exact: bool) -> Result<usize> {
        let (versions, markers) = self.versions(key, exact).await?;
        // Delete markers go last, and only once no version stays: a marker removed while a
        // locked version stays would make that version the object again.
        let mut kept: Option<(String, String)> = None;
        let mut gone = 0;
        for (v, is_marker) in versions
            .into_iter()
            .map(|v| (v, false))
            .chain(markers.into_iter().map(|v| (v, true)))
        {
            if is_marker && kept.is_some() {
                break;
            }
            let Version { key: name, id } = v;
            let path = format!("/{}", encoded(&name, true));
            let query = format!("versionId={}", encoded(&id, false));
            let deleted = self
                .send(
                    Method::DELETE,
                    &path,
                    &query,
                    &[],
                    Vec::new(),
                    "delete a version",
                )
                .await;
            match deleted {
                Ok(_) => gone += 1,
                Err(e) if e.kind() == ErrorKind::Invalid && kept.is_none() => {
                    // Refused: a lock (its end then says when a later sweep can), or no right.
                    let Ok(text) = self
                        .send(
                            Method::GET,
                            &path,
                            &format!("retention=&{query}"),
                            &[],
                            Vec::new(),
                            "read a retention",
                        )
                        .await
                    else {
                        return Err(e);
                    };
                    let retention: Retention = self.parse(&text, "read a retention")?;
                    // The server's lock runs on real time, not on a clock bwv was given.
                    let until = retention.until.filter(|t| {
                        t.parse::<jiff::Timestamp>()
                            .is_ok_and(|t| t > jiff::Timestamp::now())
                    });
                    match until {
                        Some(until) => kept = Some((name, until)),
                        None => return Err(e),
                    }
                }
                Err(e) if e.kind() == ErrorKind::Invalid => {}
                Err(e) => return Err(e),
            }
        }
        match kept {
            None => Ok(gone),
            Some((name, until)) => Err(Error::Conflict(format!(
                "object store {}: {name}: a version is kept by S3 Object Lock until {until} \
                 (the bucket's retention is longer than bwv's); a later sweep removes it",
                self.location
            ))),
        }
    }

    fn parse<T: serde::de::DeserializeOwned>(&self, text: &str, op: &'static str) -> Result<T> {
        quick_xml::de::from_str(text).map_err(|e| Error::Objects {
            location: self.location.clone(),
            key: "(bucket)".into(),
            op,
            source: format!("reply: {e}").into(),
            kind: ErrorKind::Internal,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_and_rules_read_and_write_as_s3_has_them() {
        let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Years>2</Years></DefaultRetention></Rule></ObjectLockConfiguration>"#;
        let config: LockConfiguration = quick_xml::de::from_str(text).expect("parse");
        let rule = config.rule.expect("rule").default_retention;
        assert_eq!((rule.mode, rule.in_days()), (LockMode::Compliance, 730));
        let written = quick_xml::se::to_string(&LockConfiguration {
            enabled: Some("Enabled".into()),
            rule: Some(Rule {
                default_retention: DefaultRetention {
                    mode: LockMode::Governance,
                    days: Some(31),
                    years: None,
                },
            }),
        })
        .expect("write");
        assert_eq!(
            written,
            "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule>\
             <DefaultRetention><Mode>GOVERNANCE</Mode><Days>31</Days></DefaultRetention>\
             </Rule></ObjectLockConfiguration>"
        );
        let listing = r#"<ListVersionsResult><IsTruncated>false</IsTruncated>
<Version><Key>p/a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest></Version>
<DeleteMarker><Key>p/a</Key><VersionId>m1</VersionId></DeleteMarker>
<Version><Key>p/ab</Key><VersionId>v2</VersionId></Version></ListVersionsResult>"#;
        let page: Versions = quick_xml::de::from_str(listing).expect("parse");
        assert_eq!(
            (page.versions.len(), page.markers[0].id.as_str()),
            (2, "m1")
        );
        let refused: ErrorReply =
            quick_xml::de::from_str("<Error><Code>AccessDenied</Code><Message>m</Message></Error>")
                .expect("parse");
        assert_eq!(refused.code, "AccessDenied");
        assert_eq!(encoded("p/masters/a b", false), "p%2Fmasters%2Fa%20b");
        assert_eq!(encoded("p/masters/a b", true), "p/masters/a%20b");
    }
}
