//! Runs the HTTP WG structured-field conformance suite (RFC 9651) through sfv, the parser and
//! serialiser every AAuth structured header in this crate goes through.
//!
//! Parse records (`*.json`): `raw` lines are joined with ", " (RFC 9110 §5.3), parsed as the
//! record's `header_type`, and compared with `expected` (built into sfv values, compared with
//! order preserved). Successful parses are re-serialised and compared with `canonical` (or
//! `raw` when no canonical form is given). Serialisation records
//! (`serialisation-tests/*.json`) build `expected` into sfv values and serialise them; a
//! `must_fail` record must be refused either while building (sfv's validated constructors) or
//! while serialising.
//!
//! The suite lives outside the repository, beside it (`../shared/testdata` relative to the
//! workspace root). A missing directory fails the test loudly instead of passing vacuously.

use std::fs;
use std::path::{Path, PathBuf};

use aauth_wire::sf_view::DictionaryView;
use serde_json::Value;
use sfv::{
    BareItem, Date, Decimal, Dictionary, FieldType, InnerList, Integer, Item, Key, List, ListEntry,
    Parameters, Parser, Token,
};

fn suite_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/testdata/structured-field-tests");
    assert!(
        dir.is_dir(),
        "structured-field test suite not found at {} — the shared/ test data must be checked \
         out beside the repository (…/shared and …/main)",
        dir.display()
    );
    dir
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
}

fn base32_decode(s: &str) -> Result<Vec<u8>, String> {
    const ALPHA: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = ALPHA
            .iter()
            .position(|a| *a == c)
            .ok_or_else(|| format!("bad base32 char {c}"))? as u32;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

// ---- expected JSON → sfv values (validated constructors, so invalid data is refused) ----

fn bare_item(v: &Value) -> Result<BareItem, String> {
    Ok(match v {
        Value::Bool(b) => BareItem::Boolean(*b),
        Value::String(s) => {
            BareItem::String(sfv::String::from_string(s.clone()).map_err(|(e, _)| e.to_string())?)
        }
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                BareItem::Integer(Integer::try_from(i).map_err(|e| e.to_string())?)
            } else if n.is_u64() {
                return Err("integer out of range".into());
            } else {
                let f = n.as_f64().ok_or("not a number")?;
                BareItem::Decimal(Decimal::try_from(f).map_err(|e| e.to_string())?)
            }
        }
        Value::Object(o) => {
            let ty = o.get("__type").and_then(Value::as_str).ok_or("no __type")?;
            let val = o.get("value").ok_or("no value")?;
            match ty {
                "token" => BareItem::Token(
                    Token::from_string(val.as_str().ok_or("token value")?.to_owned())
                        .map_err(|(e, _)| e.to_string())?,
                ),
                "binary" => {
                    BareItem::ByteSequence(base32_decode(val.as_str().ok_or("binary value")?)?)
                }
                "date" => BareItem::Date(Date::from_unix_seconds(
                    Integer::try_from(val.as_i64().ok_or("date value")?)
                        .map_err(|e| e.to_string())?,
                )),
                "displaystring" => {
                    BareItem::DisplayString(val.as_str().ok_or("display value")?.to_owned())
                }
                other => return Err(format!("unknown __type {other}")),
            }
        }
        other => return Err(format!("unexpected bare item {other}")),
    })
}

fn key(v: &Value) -> Result<Key, String> {
    Key::from_string(v.as_str().ok_or("key not a string")?.to_owned())
        .map_err(|(e, _)| e.to_string())
}

fn pair(v: &Value) -> Result<(&Value, &Value), String> {
    match v.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((a, b)),
        _ => Err(format!("expected a pair, got {v}")),
    }
}

fn params(v: &Value) -> Result<Parameters, String> {
    let mut p = Parameters::new();
    for entry in v.as_array().ok_or("params not an array")? {
        let (k, val) = pair(entry)?;
        p.insert(key(k)?, bare_item(val)?);
    }
    Ok(p)
}

fn item(v: &Value) -> Result<Item, String> {
    let (b, p) = pair(v)?;
    Ok(Item::with_params(bare_item(b)?, params(p)?))
}

fn entry(v: &Value) -> Result<ListEntry, String> {
    let (first, p) = pair(v)?;
    if let Some(items) = first.as_array() {
        let items = items.iter().map(item).collect::<Result<Vec<_>, _>>()?;
        Ok(ListEntry::InnerList(InnerList::with_params(
            items,
            params(p)?,
        )))
    } else {
        Ok(ListEntry::Item(item(v)?))
    }
}

fn list(v: &Value) -> Result<List, String> {
    v.as_array()
        .ok_or("list not an array")?
        .iter()
        .map(entry)
        .collect()
}

fn dictionary(v: &Value) -> Result<Dictionary, String> {
    let mut d = Dictionary::new();
    for m in v.as_array().ok_or("dictionary not an array")? {
        let (k, e) = pair(m)?;
        d.insert(key(k)?, entry(e)?);
    }
    Ok(d)
}

/// A parsed or built value of one of the three top-level types. Compared through `Debug`,
/// which (unlike `IndexMap`'s `PartialEq`) is sensitive to member and parameter order.
enum Field {
    Item(Item),
    List(List),
    Dictionary(Dictionary),
}

impl Field {
    fn debug(&self) -> String {
        match self {
            Field::Item(i) => format!("{i:?}"),
            Field::List(l) => format!("{l:?}"),
            Field::Dictionary(d) => format!("{d:?}"),
        }
    }
    fn serialize(&self) -> Option<String> {
        match self {
            Field::Item(i) => Some(i.serialize()),
            Field::List(l) => l.serialize(),
            Field::Dictionary(d) => d.serialize(),
        }
    }
}

fn build(header_type: &str, expected: &Value) -> Result<Field, String> {
    match header_type {
        "item" => item(expected).map(Field::Item),
        "list" => list(expected).map(Field::List),
        "dictionary" => dictionary(expected).map(Field::Dictionary),
        other => Err(format!("unknown header_type {other}")),
    }
}

fn parse(header_type: &str, input: &str) -> Result<Field, String> {
    let p = Parser::new(input);
    match header_type {
        "item" => p.parse::<Item>().map(Field::Item),
        "list" => p.parse::<List>().map(Field::List),
        "dictionary" => p.parse::<Dictionary>().map(Field::Dictionary),
        other => return Err(format!("unknown header_type {other}")),
    }
    .map_err(|e| e.to_string())
}

fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v.and_then(Value::as_array).map(|a| {
        a.iter()
            .map(|s| s.as_str().expect("string in array").to_owned())
            .collect()
    })
}

#[derive(Default)]
struct Counts {
    parse_total: usize,
    parse_passed: usize,
    allowed_failures: usize,
    reserialised: usize,
    ser_total: usize,
    ser_passed: usize,
    view_checked: usize,
    failures: Vec<String>,
}

fn run_parse_record(file: &str, r: &Value, c: &mut Counts) {
    c.parse_total += 1;
    let name = r["name"].as_str().unwrap_or("?");
    let ht = r["header_type"].as_str().unwrap_or("?");
    let raw = strings(r.get("raw")).unwrap_or_default();
    let must_fail = r.get("must_fail").and_then(Value::as_bool).unwrap_or(false);
    let can_fail = r.get("can_fail").and_then(Value::as_bool).unwrap_or(false);
    let input = raw.join(", ");
    let tag = format!("{file}: {name}");
    if ht == "dictionary" {
        // The borrowed view the verifier uses must agree with sfv's own Dictionary.
        c.view_checked += 1;
        let owned = Parser::new(&input).parse::<Dictionary>();
        let view = DictionaryView::parse(&input).map(|v| v.to_dictionary());
        match (owned, view) {
            (Ok(o), Ok(v)) if o == v => {}
            (Err(_), Err(_)) => {}
            (o, v) => c
                .failures
                .push(format!("{tag}: DictionaryView {v:?} but sfv {o:?}")),
        }
    }
    match (parse(ht, &input), must_fail) {
        (Err(_), true) => c.parse_passed += 1,
        (Ok(v), true) => c
            .failures
            .push(format!("{tag}: parsed but must fail: {}", v.debug())),
        (Err(e), false) if can_fail => {
            let _ = e;
            c.allowed_failures += 1;
            c.parse_passed += 1;
        }
        (Err(e), false) => c.failures.push(format!("{tag}: failed to parse: {e}")),
        (Ok(v), false) => {
            let want = match build(ht, &r["expected"]) {
                Ok(w) => w,
                Err(e) => {
                    c.failures
                        .push(format!("{tag}: cannot build expected: {e}"));
                    return;
                }
            };
            if v.debug() != want.debug() {
                c.failures.push(format!(
                    "{tag}: parsed {} but expected {}",
                    v.debug(),
                    want.debug()
                ));
                return;
            }
            let canonical = strings(r.get("canonical")).unwrap_or(raw);
            let got = v.serialize();
            let ok = match canonical.as_slice() {
                [] => got.is_none(),
                [one] => got.as_deref() == Some(one.as_str()),
                many => got.as_deref() == Some(many.join(", ").as_str()),
            };
            if ok {
                c.parse_passed += 1;
                c.reserialised += 1;
            } else {
                c.failures.push(format!(
                    "{tag}: serialised {got:?}, canonical {canonical:?}"
                ));
            }
        }
    }
}

fn run_serialisation_record(file: &str, r: &Value, c: &mut Counts) {
    c.ser_total += 1;
    let name = r["name"].as_str().unwrap_or("?");
    let ht = r["header_type"].as_str().unwrap_or("?");
    let must_fail = r.get("must_fail").and_then(Value::as_bool).unwrap_or(false);
    let tag = format!("serialisation-tests/{file}: {name}");
    let out = build(ht, &r["expected"]).map(|f| f.serialize());
    match (out, must_fail) {
        (Err(_), true) | (Ok(None), true) => c.ser_passed += 1,
        (Ok(Some(s)), true) => c
            .failures
            .push(format!("{tag}: serialised {s:?} but must fail")),
        (Err(e), false) => c.failures.push(format!("{tag}: cannot build: {e}")),
        (Ok(got), false) => {
            let canonical = strings(r.get("canonical")).unwrap_or_default();
            if got.as_deref() == canonical.first().map(String::as_str) {
                c.ser_passed += 1;
            } else {
                c.failures.push(format!(
                    "{tag}: serialised {got:?}, canonical {canonical:?}"
                ));
            }
        }
    }
}

fn load(path: &Path) -> Vec<Value> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn structured_field_suite_passes_in_full() {
    let dir = suite_dir();
    let mut c = Counts::default();
    let parse_files = json_files(&dir);
    let ser_files = json_files(&dir.join("serialisation-tests"));
    assert!(
        parse_files.len() >= 20 && !ser_files.is_empty(),
        "suite looks incomplete"
    );
    for f in &parse_files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        for r in load(f) {
            run_parse_record(&name, &r, &mut c);
        }
    }
    for f in &ser_files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_owned();
        for r in load(f) {
            run_serialisation_record(&name, &r, &mut c);
        }
    }
    println!(
        "structured-field suite: parse {}/{} passed ({} re-serialised to canonical, {} allowed \
         can_fail failures), serialisation {}/{} passed, files {}+{}; {} dictionary records \
         parsed alike by DictionaryView",
        c.parse_passed,
        c.parse_total,
        c.reserialised,
        c.allowed_failures,
        c.ser_passed,
        c.ser_total,
        parse_files.len(),
        ser_files.len(),
        c.view_checked
    );
    assert!(
        c.failures.is_empty(),
        "{} failures:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );
    assert_eq!(c.parse_passed, c.parse_total);
    assert_eq!(c.ser_passed, c.ser_total);
    assert!(c.view_checked > 100, "too few dictionary records");
}
