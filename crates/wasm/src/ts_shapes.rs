//! Keeps the hand-written TypeScript shapes in `js/types.rs` true to what Rust sends to JS.
//!
//! `Machine`, `IpAddress` and `HuntingResult` reach JS as serde JSON of Rust values (core's
//! `Machine`, [`crate::hunting::result_json`]), but their declarations are written by hand, because
//! they are wider than the Rust types (a `Machine` keeps unknown fields). This test renders real
//! Rust values into `crates/wasm/ts/shapes.ts`; `cargo xtask package` compiles that file with
//! `tsc --strict` against the package's generated `.d.ts`. The chain fails in one of two places:
//! - a field added to or renamed in Rust changes the rendering, so this test fails until the
//!   file is regenerated (`DT_BLESS=1 cargo test -p defender-tags-wasm --lib ts_shapes`); the
//!   samples list every field by name, so a new field does not even compile until it is given
//!   a value here;
//! - the regenerated file no longer type-checks until the declaration says the same. The machine
//!   and interface samples are typed with the index signature removed and every property
//!   required, so a property Rust writes and TypeScript lacks is an excess property, one
//!   TypeScript declares and Rust never writes is a missing one, and a `null` where TypeScript
//!   promises a value is a type error. The machine with an unknown field is typed `Machine`
//!   itself (its index signature must take it); the hunting answers `HuntingResult`, which has no
//!   index signature (its optional properties may be absent).

use std::fmt::Write as _;
use std::path::PathBuf;

use defender_tags_core::hunting::{Cell, Column, ColumnType, HuntingResult};
use defender_tags_core::model::datetime::parse_datetime;
use defender_tags_core::{
    DeviceValue, ExposureLevel, HealthStatus, IpAddress, Machine, MachineId, OnboardingStatus,
    OperationalStatus, RiskScore,
};
use serde_json::{Map, Value, json};

const ID: &str = "1e5bc9d7e413ddd7902c2932e418702b84d0cc07";

/// Every field set, each by name (no `..`): adding a field to `Machine` breaks this until the
/// sample shows it.
fn machine_with_every_field() -> Machine {
    Machine {
        id: MachineId::parse(ID).expect("sample id"),
        computer_dns_name: Some("pc1.contoso.com".into()),
        first_seen: parse_datetime("2026-01-05T08:00:00Z").ok(),
        last_seen: parse_datetime("2026-12-01T09:30:00.5Z").ok(),
        os_platform: Some("Windows11".into()),
        os_version: Some("10.0.22631".into()),
        os_processor: Some("x64".into()),
        version: Some("23H2".into()),
        os_build: Some(22631),
        last_ip_address: Some("10.0.0.4".into()),
        last_external_ip_address: Some("203.0.113.7".into()),
        health_status: Some(HealthStatus::Active),
        rbac_group_name: Some("Finance".into()),
        rbac_group_id: Some(42),
        risk_score: Some(RiskScore::Medium),
        aad_device_id: Some("80fe8ff8-2624-418e-9591-41f368f4ffde".into()),
        is_aad_joined: Some(true),
        machine_tags: vec!["Finance".into(), "VIP".into()],
        exposure_level: Some(ExposureLevel::Low),
        device_value: Some(DeviceValue::High),
        ip_addresses: vec![ip_with_every_field()],
        os_architecture: Some("64-bit".into()),
        onboarding_status: Some(OnboardingStatus::Onboarded),
        merged_into_machine_id: Some("9c1f0a2b3d4e5f60718293a4b5c6d7e8f9012345".into()),
        is_potential_duplication: Some(false),
        is_excluded: Some(true),
        exclusion_reason: Some("Duplicate".into()),
        agent_version: Some("10.8760.22621.1016".into()),
        defender_av_status: Some("Updated".into()),
        managed_by: Some("Intune".into()),
        managed_by_status: Some("Success".into()),
        vm_metadata: Some(json!({ "vmId": "vm-1", "cloudProvider": "Azure" })),
        extra: Map::new(),
    }
}

fn ip_with_every_field() -> IpAddress {
    IpAddress {
        ip_address: Some("10.0.0.4".into()),
        mac_address: Some("00155D0A0B0C".into()),
        kind: Some("Ethernet".into()),
        operational_status: Some(OperationalStatus::Up),
        extra: Map::new(),
    }
}

/// A field the service added after this code was written: kept, and allowed by the index signature.
fn machine_with_unknown_field() -> Machine {
    let mut machine = Machine::new(MachineId::parse(ID).expect("sample id"));
    machine
        .extra
        .insert("newServiceField".into(), json!({ "nested": [1, 2] }));
    machine
}

fn hunting_result() -> HuntingResult {
    let column = |name: &str, column_type| Column {
        name: name.into(),
        column_type,
    };
    HuntingResult {
        schema: vec![
            column("DeviceId", ColumnType::String),
            column("DeviceName", ColumnType::String),
            column("Timestamp", ColumnType::DateTime),
            column("Count", ColumnType::Long),
            column("Score", ColumnType::Real),
            column("Seen", ColumnType::Boolean),
            column("Extra", ColumnType::Dynamic),
        ],
        rows: vec![
            vec![
                Cell::String(ID.into()),
                Cell::String("pc1".into()),
                Cell::DateTime(parse_datetime("2026-12-01T09:30:00Z").expect("sample time")),
                Cell::Long(3),
                Cell::Real(0.5),
                Cell::Bool(true),
                Cell::Dynamic(json!({ "a": 1 })),
            ],
            vec![
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
                Cell::Null,
            ],
        ],
    }
}

fn json_of<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serialisable sample")
}

/// One `export const name: ty = <JSON>;`; JSON is valid TypeScript expression syntax.
fn sample(out: &mut String, name: &str, ty: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).expect("JSON text");
    let _ = writeln!(out, "export const {name}: {ty} = {text};\n");
}

fn render() -> String {
    let mut out = String::from(
        "// Generated by crates/wasm/src/ts_shapes.rs from the Rust values the package sends to JS;\n\
         // do not edit (`DT_BLESS=1 cargo test -p defender-tags-wasm --lib ts_shapes` rewrites it).\n\
         // `cargo xtask package` type-checks it against the package's .d.ts with tsc --strict.\n\
         import type { IpAddress, Machine } from \"defender-tags-wasm\";\n\
         import type { HuntingResult } from \"defender-tags-wasm/full\";\n\n\
         // The declared properties only, each required: the index signature (`[extra: string]: unknown`)\n\
         // would otherwise accept any property Rust writes, and an optional one would hide a property\n\
         // Rust never writes.\n\
         type Declared<T> = { [K in keyof T as string extends K ? never : K]-?: T[K] };\n\n",
    );
    let mut full = json_of(&machine_with_every_field());
    // Checked on their own below (the nested array keeps its index signature here).
    let ip = full["ipAddresses"][0].take();
    full["ipAddresses"] = json!([]);
    sample(
        &mut out,
        "machineWithEveryField",
        "Declared<Machine>",
        &full,
    );
    let empty = Machine::new(MachineId::parse(ID).expect("sample id"));
    sample(
        &mut out,
        "machineWithNoField",
        "Declared<Machine>",
        &json_of(&empty),
    );
    sample(
        &mut out,
        "machineWithUnknownField",
        "Machine",
        &json_of(&machine_with_unknown_field()),
    );
    sample(&mut out, "ipWithEveryField", "Declared<IpAddress>", &ip);
    sample(
        &mut out,
        "ipWithNoField",
        "Declared<IpAddress>",
        &json_of(&IpAddress::default()),
    );
    let result = hunting_result();
    sample(
        &mut out,
        "huntingWithDevices",
        "HuntingResult",
        &crate::hunting::result_json(&result),
    );
    sample(
        &mut out,
        "huntingWithoutDevices",
        "HuntingResult",
        &crate::hunting::result_json(&HuntingResult::default()),
    );
    out
}

/// The package folder as `cargo test` gives it at run time. The compile-time `env!` value is only
/// the fallback: a test binary built from a checkout elsewhere (same sources, so cargo reuses it)
/// would carry that checkout's path.
fn shapes_file() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
        .join("ts")
        .join("shapes.ts")
}

#[test]
fn ts_shapes_file_matches_the_rust_values() {
    let rendered = render();
    let path = shapes_file();
    if std::env::var_os("DT_BLESS").is_some() {
        std::fs::write(&path, &rendered).expect("write shapes.ts");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == rendered,
        "{} is out of date with the Rust types: run \
         `DT_BLESS=1 cargo test -p defender-tags-wasm --lib ts_shapes`, then make js/types.rs \
         declare what it shows (`cargo xtask package` type-checks it)",
        path.display()
    );
}

#[test]
fn the_two_machine_samples_differ_in_every_field() {
    // The two machine samples must differ in every declared field, or a `null`-only field
    // would pass as a value and the other way round.
    let full = json_of(&machine_with_every_field());
    let empty = json_of(&Machine::new(MachineId::parse(ID).expect("sample id")));
    let (Value::Object(full), Value::Object(empty)) = (full, empty) else {
        panic!("a machine serialises as an object");
    };
    assert_eq!(
        full.keys().collect::<Vec<_>>(),
        empty.keys().collect::<Vec<_>>()
    );
    for (key, value) in &full {
        if key == "id" {
            continue;
        }
        assert_ne!(
            Some(value),
            empty.get(key),
            "{key} is the same in both samples"
        );
        assert!(
            !value.is_null() && value.as_array().is_none_or(|a| !a.is_empty()),
            "{key} is empty in the every-field sample"
        );
    }
}
