//! Advanced hunting through Microsoft Graph: `DefenderClient::run_hunting_query`.
//!
//! The Graph call has its own origin, token and budget. Its token is asked for with
//! `ClientConfig::graph_scopes` from the same [`TokenProvider`](crate::TokenProvider) and is
//! sent to `ClientConfig::graph_base_url`'s origin only (checked before the token is asked for
//! and again before the fetch), as the Defender token goes to the API origin only. Its calls
//! count in core's hunting budget (45/min, 1,500/h), never in the machine endpoints' one.

use defender_tags_core::hunting::{self, HuntingError, HuntingQuery, HuntingResult};
use defender_tags_core::throttle::{Acquire, Backoff};

use crate::client::DefenderClient;
use crate::error::ClientError;
use crate::token::TokenRequest;
use crate::transport::{HttpRequest, TransportError};

impl DefenderClient {
    /// Runs `query` with `POST {graph}/v1.0/security/runHuntingQuery` and decodes the answer
    /// (rows typed by the schema; `.devices()` lists the machines it names).
    ///
    /// Retries server errors, network failures and timeouts with backoff, waits out a 429's
    /// `Retry-After`, and asks for a fresh Graph token once after a 401, all within
    /// `max_attempts`. A query is a read, so a retry cannot change anything twice.
    pub async fn run_hunting_query(
        &self,
        query: &HuntingQuery,
    ) -> Result<HuntingResult, ClientError> {
        let inner = &self.inner;
        let graph = inner.config.graph_base_url.as_ref().ok_or_else(|| {
            ClientError::invalid(
                "graphBaseUrl",
                "no Microsoft Graph origin is configured, so hunting queries cannot be sent",
            )
        })?;
        let request = hunting::run_hunting_query(query);
        let url = request.url(graph);
        let check = |url: &str| {
            if graph.same_origin(url) {
                Ok(())
            } else {
                Err(ClientError::foreign_origin(url, graph.as_str()))
            }
        };
        check(&url)?;
        let max_attempts = inner.config.max_attempts.max(1);
        let mut backoff = Backoff::new(inner.config.jitter_seed ^ 0x4855_4e54);
        let mut force_refresh = false;
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            // The hunting budget: wait for a slot (counted at grant; a hunting call is rare
            // and long, so the simpler accounting costs nothing).
            loop {
                let now = self.api_now() as u64;
                let granted = inner.hunting.borrow_mut().try_acquire(now);
                match granted {
                    Acquire::Granted => break,
                    Acquire::Wait { ms } => {
                        inner.transport.sleep(self.to_real_ms(ms).max(1)).await;
                    }
                }
            }
            let token = inner
                .tokens
                .token(TokenRequest {
                    scopes: inner.config.graph_scopes.clone(),
                    force_refresh,
                })
                .await
                .map_err(ClientError::Token)?;
            let mut headers = request.headers.clone();
            headers.push(("Authorization".to_owned(), token.bearer_header()));
            drop(token);
            let http = HttpRequest {
                method: request.method.as_str().to_owned(),
                url: url.clone(),
                headers,
                body: request.body.clone(),
            };
            check(&http.url)?;
            let last = attempt >= max_attempts;
            let retry_in_ms = match inner.transport.send(http, inner.config.timeout_ms).await {
                Ok(r) => match hunting::decode_hunting_result(r.status, &r.headers, &r.body) {
                    Ok(result) => return Ok(result),
                    Err(HuntingError::Unauthorized { .. }) if !refreshed && !last => {
                        refreshed = true;
                        force_refresh = true;
                        continue;
                    }
                    Err(HuntingError::Throttled {
                        retry_after: Some(after),
                        ..
                    }) if !last => {
                        let now = self.api_now() as u64;
                        inner.hunting.borrow_mut().on_retry_after(&after, now);
                        after.delay_ms(now)
                    }
                    Err(HuntingError::Server { .. } | HuntingError::Throttled { .. }) if !last => {
                        backoff.delay_ms(attempt)
                    }
                    Err(e) => return Err(ClientError::Hunting(e)),
                },
                Err(TransportError::Network(_) | TransportError::Timeout { .. }) if !last => {
                    backoff.delay_ms(attempt)
                }
                Err(e) => return Err(ClientError::from(e)),
            };
            force_refresh = false;
            inner
                .transport
                .sleep(self.to_real_ms(retry_in_ms).max(1))
                .await;
        }
    }
}

/// The JS shape of a hunting answer (`HuntingResult` in the TypeScript types): `columns`
/// (`{name, type}`), `rows` (objects keyed by column, datetimes as ISO 8601 text, NaN and
/// infinities as null), and the machines it names (`devices`: `{id}` or `{name}` plus
/// `deviceName` and 1-based `row`, or null with `deviceError` when no device column is kept).
pub fn result_json(result: &HuntingResult) -> serde_json::Value {
    use defender_tags_core::hunting::{Cell, ColumnType};
    use defender_tags_core::model::datetime::format_datetime;
    use serde_json::{Map, Value, json};

    let type_name = |t: &ColumnType| match t {
        ColumnType::String => "string".to_owned(),
        ColumnType::DateTime => "datetime".to_owned(),
        ColumnType::Long => "long".to_owned(),
        ColumnType::Real => "real".to_owned(),
        ColumnType::Boolean => "bool".to_owned(),
        ColumnType::Guid => "guid".to_owned(),
        ColumnType::TimeSpan => "timespan".to_owned(),
        ColumnType::Dynamic => "dynamic".to_owned(),
        ColumnType::Other(name) => name.clone(),
    };
    let columns: Vec<Value> = result
        .schema
        .iter()
        .map(|c| json!({"name": c.name, "type": type_name(&c.column_type)}))
        .collect();
    let rows: Vec<Value> = result
        .rows
        .iter()
        .map(|row| {
            let mut o = Map::new();
            for (col, cell) in result.schema.iter().zip(row) {
                let v = match cell {
                    Cell::Null => Value::Null,
                    Cell::String(s) => Value::from(s.as_str()),
                    Cell::Bool(b) => Value::from(*b),
                    Cell::Long(n) => Value::from(*n),
                    Cell::Real(f) => {
                        serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number)
                    }
                    Cell::DateTime(d) => Value::from(format_datetime(*d)),
                    Cell::Dynamic(v) => v.clone(),
                };
                o.insert(col.name.clone(), v);
            }
            Value::Object(o)
        })
        .collect();
    let mut out = json!({ "columns": columns, "rows": rows });
    match result.devices() {
        Ok(found) => {
            let devices: Vec<Value> = found
                .devices
                .iter()
                .map(|d| {
                    let mut o = match &d.machine {
                        defender_tags_core::MachineRef::Id(id) => json!({ "id": id.as_str() }),
                        defender_tags_core::MachineRef::Name(n) => json!({ "name": n }),
                    };
                    o["deviceName"] = d.name.clone().map_or(Value::Null, Value::from);
                    o["row"] = Value::from(d.row);
                    o
                })
                .collect();
            out["devices"] = Value::from(devices);
            out["skippedRows"] = Value::from(found.skipped.len());
            out["duplicateRows"] = Value::from(found.duplicate_rows);
        }
        Err(e) => {
            out["devices"] = Value::Null;
            out["deviceError"] = Value::from(e.to_string());
        }
    }
    out
}
