//! Where the bytes come from: the code, data and "name" sections of a shipped wasm's named twin
//! (`Artefact::named_twin`), each function attributed to a crate by its demangled symbol name,
//! and the tables made from that. Its figures are optimised bytes before gzip.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use super::{Artefact, SizeError, TOP};
use crate::ctx::Ctx;

/// Crates listed by name in the per-crate breakdown; the rest are summed in one line.
const CRATES_SHOWN: usize = 25;

/// A wasm item: a function body or a data segment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Item {
    name: String,
    bytes: u64,
    data: bool,
}

/// Function bodies and data segments of a wasm module, with their names.
#[derive(Debug, Clone, Default)]
pub(super) struct Breakdown {
    items: Vec<Item>,
}

impl Breakdown {
    pub(super) fn total(&self) -> u64 {
        self.items.iter().map(|i| i.bytes).sum()
    }
}

/// Reads a module's code section (each body's size), data section, and "name" section
/// (function and data segment names, demangled).
fn analyse(path: &Path, bytes: &[u8]) -> Result<Breakdown, SizeError> {
    use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};
    let bad = |e: wasmparser::BinaryReaderError| SizeError::Wasm {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut imported_functions = 0u32;
    let mut bodies: Vec<u64> = Vec::new();
    let mut data: Vec<u64> = Vec::new();
    let mut function_names: BTreeMap<u32, String> = BTreeMap::new();
    let mut data_names: BTreeMap<u32, String> = BTreeMap::new();
    for payload in Parser::new(0).parse_all(bytes) {
        match payload.map_err(bad)? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import.map_err(bad)?.ty, TypeRef::Func(_)) {
                        imported_functions += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body.range().len() as u64),
            Payload::DataSection(reader) => {
                for segment in reader {
                    data.push(segment.map_err(bad)?.data.len() as u64);
                }
            }
            Payload::CustomSection(reader) => {
                if let KnownCustom::Name(names) = reader.as_known() {
                    for name in names {
                        let (map, target) = match name.map_err(bad)? {
                            Name::Function(map) => (map, &mut function_names),
                            Name::Data(map) => (map, &mut data_names),
                            _ => continue,
                        };
                        for naming in map {
                            let naming = naming.map_err(bad)?;
                            target.insert(naming.index, demangle(naming.name));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let mut items = Vec::with_capacity(bodies.len() + data.len());
    for (i, bytes) in bodies.into_iter().enumerate() {
        let index = imported_functions + i as u32;
        let name = function_names
            .remove(&index)
            .unwrap_or_else(|| format!("function[{index}]"));
        items.push(Item {
            name,
            bytes,
            data: false,
        });
    }
    for (i, bytes) in data.into_iter().enumerate() {
        let index = i as u32;
        let name = data_names
            .remove(&index)
            .unwrap_or_else(|| format!("data[{index}]"));
        items.push(Item {
            name,
            bytes,
            data: true,
        });
    }
    Ok(Breakdown { items })
}

/// A symbol as Rust writes it, without its hash (`{:#}`); names that are not Rust symbols (or
/// that the linker already demangled) are kept as they are.
fn demangle(name: &str) -> String {
    match rustc_demangle::try_demangle(name) {
        Ok(d) => format!("{d:#}"),
        Err(_) => name.to_owned(),
    }
}

/// [`crate_of`]'s name for the methods of `str`, `char`, integers and slices.
const PRIMITIVE_IMPLS: &str = "core/alloc (primitive types)";

/// The crate a demangled function name belongs to, for the per-crate breakdown.
///
/// - `<T as Trait>::f` and `<T>::f` belong to `T`'s crate (the impl's self type: a
///   `serde::Deserializer` impl in serde_json is serde_json's code). When `T` has no crate of
///   its own (`str`, `[T]`, a generic parameter), the trait's crate.
/// - `core::ptr::drop_in_place<T>` belongs to `T`'s crate: drop glue is generated for the type
///   being dropped, and is a large share of any Rust wasm.
/// - Any other path belongs to its first segment (`serde_json::de::from_str` → serde_json).
/// - `[hash]` disambiguators (v0 mangling) are ignored; `__wbindgen_*` / `__wbg_*` exports are
///   wasm_bindgen's; other unmangled symbols (`memcpy`, `main`, wasm-bindgen's export shims)
///   are listed as such.
/// - `<str>::f` (an inherent method of a primitive type) is the standard library's, core or
///   alloc.
fn crate_of(name: &str) -> String {
    let name = strip_disambiguators(name);
    let name = name.trim();
    if name.starts_with("__wbindgen") || name.starts_with("__wbg") {
        return "wasm_bindgen".to_owned();
    }
    if let Some(krate) = qualified_crate(name) {
        return krate;
    }
    if name.starts_with('<') {
        // `<str>::to_lowercase`, `<u64>::_fmt`, `<[T]>::sort`: inherent methods of a primitive
        // type, which the standard library defines in core or alloc (the name does not say which).
        return PRIMITIVE_IMPLS.to_owned();
    }
    if let Some(rest) = name
        .strip_prefix("core::ptr::drop_in_place")
        .map(|r| r.trim_start_matches("::"))
        && let Some(inner) = rest.strip_prefix('<')
        && let Some(krate) = type_crate(inner)
    {
        return krate;
    }
    match first_segment(name) {
        Some(krate) => krate.to_owned(),
        None => "(unmangled symbols)".to_owned(),
    }
}

/// `<Self as Trait>::…` or `<Self>::…` → Self's crate, else Trait's crate.
fn qualified_crate(name: &str) -> Option<String> {
    let inner = name.strip_prefix('<')?;
    let close = matching_close(inner)?;
    let qualified = &inner[..close];
    let (self_ty, trait_path) = match split_top_level_as(qualified) {
        Some((s, t)) => (s, Some(t)),
        None => (qualified, None),
    };
    type_crate(self_ty).or_else(|| trait_path.and_then(type_crate))
}

/// The crate of a type written at the start of `ty`: through references, pointers, `dyn`,
/// slices, arrays and tuples (first element), and nested `<A as B>::Assoc` (A's crate). A
/// single-segment name (`str`, `u8`, a generic `T`) has no crate.
fn type_crate(ty: &str) -> Option<String> {
    let mut t = ty.trim_start();
    loop {
        let before = t;
        for prefix in [
            "&mut ", "&", "*const ", "*mut ", "dyn ", "impl ", "[", "(", "mut ",
        ] {
            if let Some(rest) = t.strip_prefix(prefix) {
                t = rest.trim_start();
            }
        }
        if t == before {
            break;
        }
    }
    if t.starts_with('<') {
        return qualified_crate(t);
    }
    let end = t
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(t.len());
    let path = &t[..end];
    let (krate, rest) = path.split_once("::")?;
    (!krate.is_empty() && !rest.is_empty()).then(|| krate.to_owned())
}

/// The first `::`-separated segment of a plain path, if it is a path at all.
fn first_segment(name: &str) -> Option<&str> {
    let end = name
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(name.len());
    let head = &name[..end];
    (!head.is_empty() && name[end..].starts_with("::")).then_some(head)
}

/// Index in `s` of the `>` closing the `<` just before `s`.
fn matching_close(s: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut prev = ' ';
    for (i, c) in s.char_indices() {
        match c {
            '<' => depth += 1,
            // `->` in a fn pointer type is not a closing bracket.
            '>' if prev == '-' => {}
            '>' if depth == 0 => return Some(i),
            '>' => depth -= 1,
            _ => {}
        }
        prev = c;
    }
    None
}

/// Splits `Self as Trait` at the ` as ` outside any brackets.
fn split_top_level_as(s: &str) -> Option<(&str, &str)> {
    let mut depth = 0i32;
    let bytes = s.as_bytes();
    let mut prev = b' ';
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'<' | b'(' | b'[' => depth += 1,
            b'>' if prev == b'-' => {}
            b'>' | b')' | b']' => depth -= 1,
            b' ' if depth == 0 && s[i..].starts_with(" as ") => {
                return Some((&s[..i], &s[i + 4..]));
            }
            _ => {}
        }
        prev = b;
    }
    None
}

/// Removes v0 mangling's crate disambiguators: `serde_json[1a2b3c]::de` → `serde_json::de`.
fn strip_disambiguators(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let close = after.find(']');
        let is_hash = close.is_some_and(|c| {
            c > 0
                && after[..c].chars().all(|ch| ch.is_ascii_hexdigit())
                && open > 0
                && rest[..open]
                    .chars()
                    .next_back()
                    .is_some_and(|ch| ch.is_alphanumeric() || ch == '_')
        });
        match (is_hash, close) {
            (true, Some(c)) => {
                out.push_str(&rest[..open]);
                rest = &after[c + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Code bytes per crate, largest first, plus data segments as `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CrateSize {
    pub(super) krate: String,
    pub(super) bytes: u64,
    functions: usize,
}

pub(super) fn by_crate(breakdown: &Breakdown) -> Vec<CrateSize> {
    let mut sums: BTreeMap<String, (u64, usize)> = BTreeMap::new();
    for item in &breakdown.items {
        let key = if item.data {
            "data".to_owned()
        } else {
            crate_of(&item.name)
        };
        let entry = sums.entry(key).or_default();
        entry.0 += item.bytes;
        entry.1 += usize::from(!item.data);
    }
    let mut out: Vec<CrateSize> = sums
        .into_iter()
        .map(|(krate, (bytes, functions))| CrateSize {
            krate,
            bytes,
            functions,
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.krate.cmp(&b.krate)));
    out
}

/// The largest items, twiggy `top` style.
pub(super) fn top_text(breakdown: &Breakdown, n: usize) -> String {
    let total = breakdown.total().max(1);
    let mut items: Vec<&Item> = breakdown.items.iter().collect();
    items.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    let mut s = String::from("   Bytes │  Share │ Item\n─────────┼────────┼─────────\n");
    for item in items.into_iter().take(n) {
        let _ = writeln!(
            s,
            "{:>8} │ {:>5.2}% │ {}{}",
            item.bytes,
            item.bytes as f64 * 100.0 / total as f64,
            if item.data { "data " } else { "" },
            shorten(&item.name, 140)
        );
    }
    s
}

/// The per-crate breakdown as text.
pub(super) fn crates_text(breakdown: &Breakdown) -> String {
    let total = breakdown.total().max(1);
    let mut s = String::from(
        "   Bytes │  Share │ Functions │ Crate\n─────────┼────────┼───────────┼──────\n",
    );
    for row in condensed(by_crate(breakdown)) {
        let _ = writeln!(
            s,
            "{:>8} │ {:>5.2}% │ {:>9} │ {}",
            row.bytes,
            row.bytes as f64 * 100.0 / total as f64,
            row.functions,
            row.krate
        );
    }
    s
}

/// The per-crate breakdown as a Markdown table (BENCHMARKS.md).
pub(super) fn crates_markdown(breakdown: &Breakdown) -> String {
    let total = breakdown.total().max(1);
    let mut s = String::from("| Crate | Bytes | Share | Functions |\n|---|---:|---:|---:|\n");
    for row in condensed(by_crate(breakdown)) {
        let _ = writeln!(
            s,
            "| {} | {} | {:.1}% | {} |",
            row.krate,
            crate::bench::report::group(row.bytes),
            row.bytes as f64 * 100.0 / total as f64,
            crate::bench::report::group(row.functions as u64)
        );
    }
    let _ = writeln!(
        s,
        "| **total** | {} | 100% | |",
        crate::bench::report::group(total)
    );
    s
}

/// The first [`CRATES_SHOWN`] crates, then one line summing the others.
fn condensed(mut rows: Vec<CrateSize>) -> Vec<CrateSize> {
    if rows.len() > CRATES_SHOWN + 1 {
        let rest = rows.split_off(CRATES_SHOWN);
        rows.push(CrateSize {
            krate: format!("({} other crates)", rest.len()),
            bytes: rest.iter().map(|r| r.bytes).sum(),
            functions: rest.iter().map(|r| r.functions).sum(),
        });
    }
    rows
}

pub(super) fn capitalised(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn shorten(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        return name.to_owned();
    }
    let mut s: String = name.chars().take(max - 1).collect();
    s.push('…');
    s
}

/// Reads and analyses an artefact's named twin (made first when the build is newer).
pub(super) fn breakdown(ctx: &Ctx, artefact: Artefact) -> Result<(PathBuf, Breakdown), SizeError> {
    let path = artefact.ensure_named_twin(ctx)?;
    let bytes = fs::read(&path).map_err(|e| SizeError::read(&path, e))?;
    let breakdown = analyse(&path, &bytes)?;
    Ok((path, breakdown))
}

/// Per-crate change from `then` to `now`, `(crate, then, now)`, for crates whose size changed:
/// grown first (most first), then shrunk.
pub(super) fn changes(now: &[CrateSize], then: &BTreeMap<String, u64>) -> Vec<(String, u64, u64)> {
    let mut all: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for (krate, bytes) in then {
        all.entry(krate).or_default().0 = *bytes;
    }
    for row in now {
        all.entry(&row.krate).or_default().1 = row.bytes;
    }
    let mut out: Vec<(String, u64, u64)> = all
        .into_iter()
        .filter(|(_, (a, b))| a != b)
        .map(|(k, (a, b))| (k.to_owned(), a, b))
        .collect();
    let delta = |(_, a, b): &(String, u64, u64)| *b as i64 - *a as i64;
    out.sort_by(|x, y| delta(y).cmp(&delta(x)).then_with(|| x.0.cmp(&y.0)));
    out
}

pub(super) fn changes_text(changes: &[(String, u64, u64)]) -> String {
    if changes.is_empty() {
        return "  (no crate changed)\n".to_owned();
    }
    let mut s = String::from(
        "  Change │     Then │      Now │ Crate\n─────────┼──────────┼──────────┼──────\n",
    );
    let total: i64 = changes.iter().map(|(_, a, b)| *b as i64 - *a as i64).sum();
    for (krate, then, now) in changes.iter().take(TOP) {
        let _ = writeln!(
            s,
            "{:>+8} │ {then:>8} │ {now:>8} │ {krate}",
            *now as i64 - *then as i64
        );
    }
    if changes.len() > TOP {
        let _ = writeln!(s, "  … {} more crates changed", changes.len() - TOP);
    }
    let _ = writeln!(s, "{total:>+8} │ in all");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::size::test_wasm;

    #[test]
    fn impl_methods_belong_to_the_self_types_crate() {
        assert_eq!(
            crate_of(
                "<serde_json::de::Deserializer<R> as serde_core::de::Deserializer>::deserialize_str"
            ),
            "serde_json"
        );
        assert_eq!(
            crate_of(
                "<&mut serde_json::ser::Serializer<W,F> as serde_core::ser::Serializer>::serialize_str"
            ),
            "serde_json"
        );
        assert_eq!(
            crate_of("<alloc::vec::Vec<T,A> as core::clone::Clone>::clone"),
            "alloc"
        );
        // v0 inherent impl: `<Type>::method`.
        assert_eq!(
            crate_of("<defender_tags_core::plan::Plan>::apply"),
            "defender_tags_core"
        );
        // Nested qualified self type.
        assert_eq!(
            crate_of(
                "<<leptos::view::View<T> as tachys::view::Render>::State as tachys::view::Mountable>::unmount"
            ),
            "leptos"
        );
    }

    #[test]
    fn types_without_a_crate_fall_back_to_the_trait() {
        assert_eq!(crate_of("<str as core::fmt::Display>::fmt"), "core");
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(
            crate_of("<[T] as serde_core::ser::Serialize>::serialize"),
            "serde_core"
        );
        assert_eq!(crate_of("<(A,B) as tachys::view::Render>::build"), "tachys");
    }

    #[test]
    fn plain_paths_belong_to_their_first_segment() {
        assert_eq!(crate_of("serde_json::de::from_str"), "serde_json");
        assert_eq!(
            crate_of("defender_tags_core::odata::parse::{{closure}}"),
            "defender_tags_core"
        );
        assert_eq!(crate_of("alloc::raw_vec::RawVec<T,A>::grow_one"), "alloc");
        assert_eq!(
            crate_of("dlmalloc::dlmalloc::Dlmalloc<A>::malloc"),
            "dlmalloc"
        );
    }

    #[test]
    fn drop_glue_belongs_to_the_dropped_type() {
        assert_eq!(
            crate_of("core::ptr::drop_in_place<serde_json::value::Value>"),
            "serde_json"
        );
        assert_eq!(
            crate_of("core::ptr::drop_in_place::<leptos_router::Routes>"),
            "leptos_router"
        );
        // Nothing to attribute it to: core's.
        assert_eq!(crate_of("core::ptr::drop_in_place<u8>"), "core");
    }

    #[test]
    fn disambiguators_and_unmangled_symbols() {
        assert_eq!(
            crate_of(
                "<serde_json[8f3a1c2b]::de::Deserializer<_> as serde_core[12ab]::de::Deserializer>::deserialize_any"
            ),
            "serde_json"
        );
        assert_eq!(crate_of("core[5e1b]::fmt::write"), "core");
        assert_eq!(strip_disambiguators("a[1f]::b<[u8; 4]>"), "a::b<[u8; 4]>");
        assert_eq!(crate_of("__wbindgen_malloc"), "wasm_bindgen");
        assert_eq!(crate_of("__wbg_fetch_1234"), "wasm_bindgen");
        assert_eq!(crate_of("memcpy"), "(unmangled symbols)");
        assert_eq!(crate_of("<str>::to_lowercase"), PRIMITIVE_IMPLS);
        assert_eq!(crate_of("<[T]>::sort_by"), PRIMITIVE_IMPLS);
        // LLVM's `.N` suffix on a duplicated local symbol changes nothing.
        assert_eq!(crate_of("<char>::to_uppercase.409"), PRIMITIVE_IMPLS);
        assert_eq!(
            crate_of("<std::hash::random::DefaultHasher as core::hash::Hasher>::finish.2595"),
            "std"
        );
    }

    #[test]
    fn mangled_names_are_demangled_without_hash() {
        assert_eq!(
            demangle("_ZN10serde_json2de8from_str17h0123456789abcdefE"),
            "serde_json::de::from_str"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
    }

    #[test]
    fn what_grew_since_the_snapshot() {
        let now = vec![
            CrateSize {
                krate: "serde_json".into(),
                bytes: 1500,
                functions: 3,
            },
            CrateSize {
                krate: "core".into(),
                bytes: 900,
                functions: 2,
            },
            CrateSize {
                krate: "new_dep".into(),
                bytes: 200,
                functions: 1,
            },
            CrateSize {
                krate: "alloc".into(),
                bytes: 50,
                functions: 1,
            },
        ];
        let then: BTreeMap<String, u64> = [
            ("serde_json", 1000),
            ("core", 1000),
            ("gone", 30),
            ("alloc", 50),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let got = changes(&now, &then);
        assert_eq!(
            got,
            vec![
                ("serde_json".to_owned(), 1000, 1500),
                ("new_dep".to_owned(), 0, 200),
                ("gone".to_owned(), 30, 0),
                ("core".to_owned(), 1000, 900),
            ]
        );
        let text = changes_text(&got);
        assert!(
            text.contains("    +500 │     1000 │     1500 │ serde_json"),
            "{text}"
        );
        assert!(text.contains("    +570 │ in all"), "{text}");
        assert_eq!(changes_text(&[]), "  (no crate changed)\n");
    }

    #[test]
    fn analyse_reads_bodies_data_and_names() {
        let m = test_wasm::tiny_module();
        let b = analyse(Path::new("t.wasm"), &m).map_err(|e| e.to_string());
        let items = b.map(|b| b.items);
        assert_eq!(
            items,
            Ok(vec![
                Item {
                    name: "function[1]".into(),
                    bytes: 2,
                    data: false
                },
                Item {
                    name: "serde_json::de::from_str".into(),
                    bytes: 6,
                    data: false
                },
                Item {
                    name: "data[0]".into(),
                    bytes: 5,
                    data: true
                },
            ])
        );
        let garbage = analyse(Path::new("t.wasm"), b"\0asm\x01\0\0\0\x0a\xff");
        assert!(matches!(garbage, Err(SizeError::Wasm { .. })));
    }

    #[test]
    fn by_crate_sums_and_sorts() {
        let item = |name: &str, bytes, data| Item {
            name: name.into(),
            bytes,
            data,
        };
        let b = Breakdown {
            items: vec![
                item("serde_json::de::from_str", 10, false),
                item("<serde_json::Value as core::clone::Clone>::clone", 5, false),
                item("core::fmt::write", 7, false),
                item(".rodata", 30, true),
            ],
        };
        let rows = by_crate(&b);
        let got: Vec<(&str, u64, usize)> = rows
            .iter()
            .map(|r| (r.krate.as_str(), r.bytes, r.functions))
            .collect();
        assert_eq!(
            got,
            vec![("data", 30, 0), ("serde_json", 15, 2), ("core", 7, 1)]
        );
        let md = crates_markdown(&b);
        assert!(md.contains("| serde_json | 15 | 28.8% | 2 |"), "{md}");
        assert!(md.contains("| **total** | 52 | 100% | |"), "{md}");
        let top = top_text(&b, 2);
        assert!(top.contains("data .rodata"), "{top}");
        assert!(!top.contains("core::fmt::write"), "{top}");
    }
}
