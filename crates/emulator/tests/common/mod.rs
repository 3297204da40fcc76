//! Shared helpers: an in-process emulator on a free loopback port and a real HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use defender_tags_emulator::{Config, ServerHandle, serve};
use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use time::OffsetDateTime;

pub const TENANT: &str = "11111111-2222-3333-4444-555555555555";

pub struct Emu {
    pub handle: ServerHandle,
    pub url: String,
    pub http: Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    /// Asserts the documented error envelope with this code and returns the message.
    pub fn error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.text);
        let e = &self.body["error"];
        assert_eq!(e["code"], code, "body: {}", self.text);
        let target = e["target"].as_str().expect("target");
        assert_eq!(
            target.len(),
            36,
            "target is a GUID correlation id: {target}"
        );
        e["message"].as_str().expect("message").to_owned()
    }
}

pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

impl Emu {
    pub async fn start() -> Self {
        Self::with(Config::default()).await
    }

    pub async fn with(config: Config) -> Self {
        let handle = serve(config).await.expect("emulator starts");
        let url = handle.url();
        Self {
            handle,
            url,
            http: client(),
        }
    }

    pub async fn stop(self) {
        self.handle.shutdown().await;
    }

    pub async fn token_with(&self, body: Value) -> String {
        let r = self
            .http
            .post(format!("{}/_emulator/token", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn token(&self, persona: &str) -> String {
        self.token_with(json!({ "persona": persona })).await
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(
            self.http
                .get(format!("{}{path}", self.url))
                .bearer_auth(token),
        )
        .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(
            self.http
                .post(format!("{}{path}", self.url))
                .bearer_auth(token)
                .json(&body),
        )
        .await
    }

    /// Every machine, raw (including those beyond retention and in every group).
    pub async fn raw_machines(&self) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}/_emulator/machines", self.url))
            .send()
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    pub async fn raw_machine(&self, id: &str) -> Value {
        let r = self
            .http
            .get(format!("{}/_emulator/machines/{id}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }

    pub async fn stats(&self) -> Value {
        self.http
            .get(format!("{}/_emulator/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn put_faults(&self, faults: Value) -> StatusCode {
        self.http
            .put(format!("{}/_emulator/faults", self.url))
            .json(&faults)
            .send()
            .await
            .unwrap()
            .status()
    }
}

pub fn last_seen(m: &Value) -> OffsetDateTime {
    defender_tags_core::model::datetime::parse_datetime(m["lastSeen"].as_str().unwrap()).unwrap()
}

pub fn recent(m: &Value) -> bool {
    last_seen(m) > OffsetDateTime::now_utc() - time::Duration::days(180)
}

pub fn group(m: &Value) -> i64 {
    m["rbacGroupId"].as_i64().unwrap_or(0)
}

pub fn id(m: &Value) -> String {
    m["id"].as_str().unwrap().to_owned()
}

pub const SECOND_TENANT: &str = "22222222-3333-4444-5555-666666666666";

impl Emu {
    /// An access token minted through `/_emulator/token?tenant=`.
    pub async fn token_in(&self, tenant: &str, persona: &str) -> String {
        let r = self
            .http
            .post(format!("{}/_emulator/token?tenant={tenant}", self.url))
            .json(&json!({ "persona": persona }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        v["access_token"].as_str().unwrap().to_owned()
    }

    /// Every machine of one tenant, raw (`/_emulator/machines?tenant=`).
    pub async fn raw_machines_of(&self, tenant: &str) -> Vec<Value> {
        let r = self
            .http
            .get(format!("{}/_emulator/machines?tenant={tenant}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.json().await.unwrap()
    }
}

/// The claims of a JWT (not verified: the server under test signed it).
pub fn jwt_claims(jwt: &str) -> Value {
    use base64::Engine as _;
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

pub fn name(m: &Value) -> String {
    m["computerDnsName"].as_str().unwrap_or_default().to_owned()
}

/// A fresh, empty folder under the system temp dir (unique per process and call).
pub fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "emu-{name}-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}
