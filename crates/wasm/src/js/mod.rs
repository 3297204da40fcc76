//! The JS facade: one `DefenderClient` class with Promise methods (feature `js`, wasm32); rules
//! files and `runHuntingQuery` only with feature `full` (the package's `full` entries).
//!
//! Thin by design: read the JS arguments into core types (validation is core's), call the Rust
//! client, serialise the result. Every rejection is a `DefenderError` (see `types.rs`); nothing
//! here panics (`panic = "abort"` in release would kill the embedding page's module).

mod convert;
mod plan;
#[cfg(feature = "full")]
mod rules;
mod tokens;
mod types;

use js_sys::Promise;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use defender_tags_core::cloud::{BaseUrl, Cloud};
use defender_tags_core::model::{DeviceValue, MachineId, MachineRef, Tag, TagAction};
use defender_tags_core::odata;

use crate::abort::AbortHandle;
use crate::client::DefenderClient;
use crate::config::ClientConfig;
use crate::error::ClientError;
use crate::machines::{PageCursor, PageRequest};
use crate::progress::Progress;
use crate::token::TokenProvider;

use convert::{
    error_value, opt_function, opt_number, opt_string, opt_strings, opt_u32, prop, to_js,
};
pub use plan::BulkPlan;
#[cfg(feature = "full")]
pub use rules::{RulesPlan, hunting_queries, parse_rules, plan_rules};
pub use types::*;

fn cloud_from(name: &str) -> Result<Cloud, ClientError> {
    match name {
        "commercial" => Ok(Cloud::Commercial),
        "gcc" => Ok(Cloud::Gcc),
        "gccHigh" => Ok(Cloud::GccHigh),
        "dod" => Ok(Cloud::DoD),
        other => Err(ClientError::invalid(
            "cloud",
            format!("{other:?} is not one of commercial, gcc, gccHigh, dod"),
        )),
    }
}

/// Reads the options shared by the constructor and `fromMsal`.
fn config_from(options: &JsValue) -> Result<ClientConfig, ClientError> {
    let cloud = opt_string(options, "cloud")?
        .map(|c| cloud_from(&c))
        .transpose()?;
    let base_url = match opt_string(options, "baseUrl")? {
        // A proxy may live under a path of the portal (`https://portal/defender/`).
        Some(url) => {
            BaseUrl::parse_prefixed(&url).map_err(|e| ClientError::invalid("baseUrl", e))?
        }
        None => cloud.unwrap_or(Cloud::Commercial).base_url(),
    };
    let mut config = ClientConfig::new(base_url);
    if let Some(cloud) = cloud {
        config.scopes = vec![cloud.default_scope().to_owned()];
    }
    if let Some(scopes) = opt_strings(options, "scopes")? {
        if scopes.is_empty() {
            return Err(ClientError::invalid("scopes", "must not be empty"));
        }
        config.scopes = scopes;
    }
    if let Some(ms) = opt_u32(options, "timeoutMs")? {
        if ms == 0 {
            return Err(ClientError::invalid("timeoutMs", "must be positive"));
        }
        config.timeout_ms = ms;
    }
    if let Some(scale) = opt_number(options, "timeScale")? {
        if scale <= 0.0 {
            return Err(ClientError::invalid("timeScale", "must be positive"));
        }
        config.time_scale = scale;
    }
    if let Some(n) = opt_u32(options, "maxInFlight")? {
        if !(1..=crate::config::MAX_IN_FLIGHT_CAP).contains(&n) {
            return Err(ClientError::invalid(
                "maxInFlight",
                format!("must be 1 to {}", crate::config::MAX_IN_FLIGHT_CAP),
            ));
        }
        config.max_in_flight = n;
    }
    // Graph (advanced hunting): its own origin and scopes. Without `graphBaseUrl`, the cloud's
    // Graph host when the client talks to the cloud directly; with a custom `baseUrl` (a proxy,
    // an emulator) Graph must be named, so no token goes to a host nobody configured.
    config.graph_base_url = match opt_string(options, "graphBaseUrl")? {
        Some(url) => {
            Some(BaseUrl::parse(&url).map_err(|e| ClientError::invalid("graphBaseUrl", e))?)
        }
        None if opt_string(options, "baseUrl")?.is_none() => {
            Some(cloud.unwrap_or(Cloud::Commercial).graph_base_url())
        }
        None => None,
    };
    if let Some(cloud) = cloud {
        config.graph_scopes = vec![cloud.graph_scope().to_owned()];
    }
    if let Some(scopes) = opt_strings(options, "graphScopes")? {
        if scopes.is_empty() {
            return Err(ClientError::invalid("graphScopes", "must not be empty"));
        }
        config.graph_scopes = scopes;
    }
    // Jitter only needs to differ between clients, not to be unpredictable.
    config.jitter_seed = js_sys::Date::now() as u64;
    Ok(config)
}

fn reject(e: &ClientError) -> JsValue {
    error_value(e, None)
}

fn parse_tag(tag: &str) -> Result<Tag, ClientError> {
    Tag::parse(tag).map_err(|e| ClientError::invalid("tag", e))
}

fn parse_id(id: &str) -> Result<MachineId, ClientError> {
    MachineId::parse(id).map_err(|e| ClientError::invalid("machineId", e))
}

/// Cursor strings handed to JS: `n:<nextLink>` or `s:<top>:<skip>`.
fn encode_cursor(cursor: &PageCursor) -> String {
    match cursor {
        PageCursor::NextLink(link) => format!("n:{link}"),
        PageCursor::Skip(page) => format!("s:{}:{}", page.top.unwrap_or(0), page.skip.unwrap_or(0)),
    }
}

fn decode_cursor(text: &str) -> Result<PageCursor, ClientError> {
    let bad = || ClientError::invalid("cursor", "not a cursor returned by listMachines");
    if let Some(link) = text.strip_prefix("n:") {
        return Ok(PageCursor::NextLink(link.to_owned()));
    }
    let rest = text.strip_prefix("s:").ok_or_else(bad)?;
    let (top, skip) = rest.split_once(':').ok_or_else(bad)?;
    Ok(PageCursor::Skip(PageRequest {
        top: Some(top.parse().map_err(|_| bad())?),
        skip: Some(skip.parse().map_err(|_| bad())?),
    }))
}

/// The Defender for Endpoint machine/tag client.
#[derive(Debug)]
#[wasm_bindgen(js_name = DefenderClient)]
pub struct JsDefenderClient {
    client: DefenderClient,
}

impl JsDefenderClient {
    fn build(options: &JsValue, tokens: impl TokenProvider + 'static) -> Result<Self, JsValue> {
        let config = config_from(options).map_err(|e| reject(&e))?;
        Ok(Self {
            client: DefenderClient::new(config, tokens),
        })
    }

    fn spawn<F>(&self, work: impl FnOnce(DefenderClient) -> F) -> Promise
    where
        F: std::future::Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        // Boxed to one future type, so `future_to_promise`'s machinery is compiled once for all
        // the methods instead of once per method's future (1.5 KiB gzip off the client).
        let work: std::pin::Pin<Box<dyn std::future::Future<Output = Result<JsValue, JsValue>>>> =
            Box::pin(work(self.client.clone()));
        future_to_promise(work)
    }
}

#[wasm_bindgen(js_class = DefenderClient)]
impl JsDefenderClient {
    /// `new DefenderClient({ baseUrl, getToken, scopes?, cloud?, timeoutMs?, timeScale?, maxInFlight? })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: ClientOptions) -> Result<JsDefenderClient, JsValue> {
        let options: JsValue = options.into();
        let get_token = opt_function(&options, "getToken")
            .and_then(|f| f.ok_or_else(|| ClientError::invalid("getToken", "is required")))
            .map_err(|e| reject(&e))?;
        Self::build(&options, tokens::CallbackTokens { get_token })
    }

    /// A client whose tokens come from `msal.acquireTokenSilent({ account, scopes })`.
    #[wasm_bindgen(js_name = fromMsal)]
    pub fn from_msal(msal: MsalLike, options: MsalOptions) -> Result<JsDefenderClient, JsValue> {
        let msal: JsValue = msal.into();
        let options: JsValue = options.into();
        let acquire = opt_function(&msal, "acquireTokenSilent")
            .and_then(|f| {
                f.ok_or_else(|| ClientError::invalid("msal", "has no acquireTokenSilent method"))
            })
            .map_err(|e| reject(&e))?;
        let account = prop(&options, "account")
            .ok_or_else(|| reject(&ClientError::invalid("account", "is required")))?;
        Self::build(
            &options,
            tokens::MsalTokens {
                msal,
                acquire,
                account,
            },
        )
    }

    /// One page of machines. `options.cursor` continues from a previous page.
    #[wasm_bindgen(js_name = listMachines, unchecked_return_type = "Promise<MachinePage>")]
    pub fn list_machines(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ListOptions")] options: Option<JsValue>,
    ) -> Promise {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        let read = (|| -> Result<_, ClientError> {
            let filter = opt_string(&options, "filter")?
                .map(|f| odata::parse(&f).map_err(|e| ClientError::invalid("filter", e)))
                .transpose()?;
            let cursor = match opt_string(&options, "cursor")? {
                Some(c) => decode_cursor(&c)?,
                None => PageCursor::Skip(PageRequest {
                    top: opt_u32(&options, "top")?,
                    skip: opt_u32(&options, "skip")?,
                }),
            };
            Ok((filter, cursor))
        })();
        self.spawn(|client| async move {
            let (filter, cursor) = read.map_err(|e| reject(&e))?;
            let page = client
                .next_page(filter.as_ref(), cursor)
                .await
                .map_err(|e| reject(&e))?;
            let out = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&out, &"machines".into(), &to_js(&page.machines)?);
            if let Some(next) = &page.next {
                let _ = js_sys::Reflect::set(&out, &"cursor".into(), &encode_cursor(next).into());
            }
            Ok(out.into())
        })
    }

    /// Every machine matching `filter` (all pages).
    #[wasm_bindgen(js_name = listAllMachines, unchecked_return_type = "Promise<Machine[]>")]
    pub fn list_all_machines(&self, filter: Option<String>) -> Promise {
        self.spawn(|client| async move {
            let filter = filter
                .map(|f| odata::parse(&f).map_err(|e| reject(&ClientError::invalid("filter", e))))
                .transpose()?;
            let all = client
                .list_all_machines(filter)
                .collect_all()
                .await
                .map_err(|e| reject(&e))?;
            to_js(&all)
        })
    }

    /// One machine by id or computer name.
    #[wasm_bindgen(js_name = getMachine, unchecked_return_type = "Promise<Machine>")]
    pub fn get_machine(&self, id_or_name: String) -> Promise {
        self.spawn(|client| async move {
            let machine = MachineRef::parse(&id_or_name)
                .map_err(|e| reject(&ClientError::invalid("machine", e)))?;
            let found = client
                .machine(&machine)
                .await
                .map_err(|e| error_value(&e, Some(&id_or_name)))?;
            to_js(&found)
        })
    }

    /// Machines carrying `tag` (or, with `prefix`, a tag starting with it).
    #[wasm_bindgen(js_name = findByTag, unchecked_return_type = "Promise<Machine[]>")]
    pub fn find_by_tag(&self, tag: String, prefix: Option<bool>) -> Promise {
        self.spawn(|client| async move {
            let found = client
                .find_by_tag(&tag, prefix.unwrap_or(false))
                .await
                .map_err(|e| reject(&e))?;
            to_js(&found)
        })
    }

    /// Adds `tag` to one machine; resolves to the updated machine.
    #[wasm_bindgen(js_name = addTag, unchecked_return_type = "Promise<Machine>")]
    pub fn add_tag(&self, machine_id: String, tag: String) -> Promise {
        self.set_tag(machine_id, tag, TagAction::Add)
    }

    /// Removes `tag` from one machine; resolves to the updated machine.
    #[wasm_bindgen(js_name = removeTag, unchecked_return_type = "Promise<Machine>")]
    pub fn remove_tag(&self, machine_id: String, tag: String) -> Promise {
        self.set_tag(machine_id, tag, TagAction::Remove)
    }

    /// Sets a machine's device value (`"Low"`, `"Normal"` or `"High"`, exact spelling); resolves
    /// to the updated machine. One API call per machine: there is no bulk form.
    #[wasm_bindgen(js_name = setDeviceValue, unchecked_return_type = "Promise<Machine>")]
    pub fn set_device_value(
        &self,
        machine_id: String,
        #[wasm_bindgen(unchecked_param_type = "DeviceValue")] value: String,
    ) -> Promise {
        self.spawn(|client| async move {
            let fail = |e: &ClientError| error_value(e, Some(&machine_id));
            let id = parse_id(&machine_id).map_err(|e| fail(&e))?;
            let value = DeviceValue::parse_settable(&value)
                .map_err(|e| fail(&ClientError::invalid("deviceValue", e)))?;
            let machine = client
                .set_device_value(&id, &value)
                .await
                .map_err(|e| fail(&e))?;
            to_js(&machine)
        })
    }

    fn set_tag(&self, machine_id: String, tag: String, action: TagAction) -> Promise {
        self.spawn(|client| async move {
            let fail = |e: &ClientError| error_value(e, Some(&machine_id));
            let id = parse_id(&machine_id).map_err(|e| fail(&e))?;
            let tag = parse_tag(&tag).map_err(|e| fail(&e))?;
            let machine = client
                .set_tag(&id, &tag, action)
                .await
                .map_err(|e| fail(&e))?;
            to_js(&machine)
        })
    }

    /// Plans adding (`"Add"`) or removing (`"Remove"`) `tag` on `machines`: the fewest calls,
    /// machines already in the wanted state skipped. Inspect with `summary()`, run with `runPlan`.
    #[wasm_bindgen(js_name = planBulk)]
    pub fn plan_bulk(
        &self,
        tag: String,
        #[wasm_bindgen(unchecked_param_type = "\"Add\" | \"Remove\"")] action: String,
        machines: PlanMachines,
    ) -> Result<BulkPlan, JsValue> {
        plan::plan_bulk(&tag, &action, &machines.into()).map_err(|e| reject(&e))
    }

    /// Runs a plan; resolves to a report with one outcome per machine (never rejects because
    /// of a single machine). `signal` aborts cleanly: calls in flight are awaited and reported.
    #[wasm_bindgen(js_name = runPlan, unchecked_return_type = "Promise<RunReport>")]
    pub fn run_plan(
        &self,
        plan: &BulkPlan,
        #[wasm_bindgen(unchecked_param_type = "RunOptions")] options: Option<JsValue>,
    ) -> Promise {
        let options = options.unwrap_or(JsValue::UNDEFINED);
        // The runner's view of the plan, built here from the borrowed plan: the async block must
        // own what it uses, and cloning the whole plan first was one more copy of every id.
        let spec = crate::plan_adapter::spec_from_plan(plan.inner());
        let on_progress = opt_function(&options, "onProgress");
        let signal =
            prop(&options, "signal").and_then(|s| s.dyn_into::<web_sys::AbortSignal>().ok());
        self.spawn(|client| async move {
            let on_progress = on_progress.map_err(|e| reject(&e))?;
            let abort = AbortHandle::new();
            let _link = signal.map(|s| SignalLink::new(s, &abort));
            let report = client
                .run_spec(
                    spec,
                    |p: &Progress| {
                        if let (Some(f), Ok(value)) = (&on_progress, to_js(p)) {
                            // A throwing progress callback must not break the run.
                            let _ = f.call1(&JsValue::NULL, &value);
                        }
                    },
                    |_| {},
                    &abort,
                )
                .await;
            to_js(&report)
        })
    }

    /// Runs an advanced hunting query through Microsoft Graph (`graphBaseUrl`, a token for
    /// `graphScopes` from the same `getToken`); resolves to its columns, rows and the machines
    /// it names.
    #[cfg(feature = "full")]
    #[wasm_bindgen(js_name = runHuntingQuery, unchecked_return_type = "Promise<HuntingResult>")]
    pub fn run_hunting_query(&self, query: String) -> Promise {
        self.spawn(|client| async move {
            let query = defender_tags_core::hunting::HuntingQuery::parse(&query)
                .map_err(|e| reject(&ClientError::invalid("query", e)))?;
            let result = client
                .run_hunting_query(&query)
                .await
                .map_err(|e| reject(&e))?;
            to_js(&crate::hunting::result_json(&result))
        })
    }

    /// Calls counted in the current minute and hour windows: `[minute, hour]`.
    #[wasm_bindgen(js_name = rateUsage, unchecked_return_type = "[number, number]")]
    pub fn rate_usage(&self) -> JsValue {
        let (minute, hour) = self.client.rate_usage();
        js_sys::Array::of2(&minute.into(), &hour.into()).into()
    }
}

/// Forwards a JS `AbortSignal` to an [`AbortHandle`] for the duration of a run.
struct SignalLink {
    signal: web_sys::AbortSignal,
    listener: Closure<dyn FnMut()>,
}

impl SignalLink {
    fn new(signal: web_sys::AbortSignal, abort: &AbortHandle) -> Self {
        if signal.aborted() {
            abort.abort();
        }
        let handle = abort.clone();
        let listener = Closure::<dyn FnMut()>::new(move || handle.abort());
        let _ = signal.add_event_listener_with_callback("abort", listener.as_ref().unchecked_ref());
        Self { signal, listener }
    }
}

impl Drop for SignalLink {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.listener.as_ref().unchecked_ref());
    }
}
