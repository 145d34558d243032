//! `switchyard schema` kept in step with the loader: every bundled policy and catalog validates
//! against the schema, every policy the loader accepts validates, and a file with an unknown
//! key or a wrong type fails both. The validator below covers exactly the keywords the schema
//! uses, and refuses any other, so a keyword it does not understand cannot pass silently.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use switchyard::policy::{load_policy_file, load_policy_text};
use switchyard::schema::policy_schema;
use switchyard::step::STEP_FIELDS;

/// The keywords the validator understands; annotations are allowed and ignored.
const KEYWORDS: &[&str] = &[
    "$schema",
    "$ref",
    "title",
    "description",
    "definitions",
    "format",
    "default",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "oneOf",
    "allOf",
    "enum",
    "minimum",
    "minLength",
];

/// Checks `v` against `schema` (resolving `$ref` in `root`); the first problem, with its path.
fn validate(root: &Value, schema: &Value, v: &Value, path: &str) -> Result<(), String> {
    let Value::Object(s) = schema else {
        return match schema {
            Value::Bool(true) => Ok(()),
            Value::Bool(false) => Err(format!("{path}: nothing is allowed here")),
            _ => panic!("{path}: a schema is an object or a bool, not {schema}"),
        };
    };
    for k in s.keys() {
        assert!(KEYWORDS.contains(&k.as_str()), "unsupported keyword `{k}`");
    }
    if let Some(r) = s.get("$ref").and_then(Value::as_str) {
        let name = r
            .strip_prefix("#/definitions/")
            .unwrap_or_else(|| panic!("unsupported $ref {r}"));
        validate(root, &root["definitions"][name], v, path)?;
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("bad type {t}"),
        };
        let ok = types.iter().any(|t| match *t {
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "boolean" => v.is_boolean(),
            "number" => v.is_number(),
            "integer" => v.is_i64() || v.is_u64(),
            "null" => v.is_null(),
            other => panic!("unknown type {other}"),
        });
        if !ok {
            return Err(format!("{path}: expected {types:?}, found {v}"));
        }
    }
    if let Some(Value::Array(values)) = s.get("enum") {
        if !values.contains(v) {
            return Err(format!("{path}: {v} is not one of {values:?}"));
        }
    }
    if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
        if v.as_f64().is_some_and(|x| x < min) {
            return Err(format!("{path}: {v} is below {min}"));
        }
    }
    if let Some(min) = s.get("minLength").and_then(Value::as_u64) {
        if v.as_str().is_some_and(|x| (x.chars().count() as u64) < min) {
            return Err(format!("{path}: {v} is shorter than {min}"));
        }
    }
    if let Value::Object(obj) = v {
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in obj {
            let sub = format!("{path}.{k}");
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, val, &sub)?,
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => return Err(format!("{sub}: unknown key")),
                    Some(extra) => validate(root, extra, val, &sub)?,
                    None => {}
                },
            }
        }
        // After the keys, so a misspelt key is named rather than the key it was meant to be.
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req {
                if !obj.contains_key(r.as_str().unwrap()) {
                    return Err(format!("{path}: missing key {r}"));
                }
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, s.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(root, item_schema, item, &format!("{path}[{i}]"))?;
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for b in all {
            validate(root, b, v, path)?;
        }
    }
    if let Some(Value::Array(any)) = s.get("anyOf") {
        let errors: Vec<String> = any
            .iter()
            .filter_map(|b| validate(root, b, v, path).err())
            .collect();
        if errors.len() == any.len() {
            return Err(format!(
                "{path}: matches no alternative ({})",
                errors.join("; ")
            ));
        }
    }
    if let Some(Value::Array(one)) = s.get("oneOf") {
        let n = one
            .iter()
            .filter(|b| validate(root, b, v, path).is_ok())
            .count();
        if n != 1 {
            return Err(format!("{path}: matches {n} alternatives, not exactly one"));
        }
    }
    Ok(())
}

/// Validates TOML text against the policy schema.
fn check_toml(schema: &Value, text: &str) -> Result<(), String> {
    let doc: toml::Value = toml::from_str(text).map_err(|e| format!("not TOML: {e}"))?;
    let json = serde_json::to_value(doc).expect("TOML converts to JSON");
    validate(schema, schema, &json, "$")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn toml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn the_command_prints_the_same_draft07_schema() {
    let out = Command::cargo_bin("switchyard")
        .unwrap()
        .arg("schema")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let printed: Value = serde_json::from_slice(&out).expect("stdout is JSON");
    assert_eq!(printed, policy_schema());
    assert_eq!(
        printed["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );
    assert_eq!(printed["type"], "object");
}

#[test]
fn help_shows_an_example() {
    Command::cargo_bin("switchyard")
        .unwrap()
        .args(["schema", "--help"])
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "switchyard schema > policy.schema.json",
        ))
        .stdout(predicates::str::contains("#:schema"));
}

/// `deny_unknown_fields` on every raw table must come out as `additionalProperties: false`.
#[test]
fn every_table_refuses_unknown_keys() {
    let schema = policy_schema();
    let mut tables = vec![("root".to_string(), &schema)];
    for (name, def) in schema["definitions"].as_object().unwrap() {
        if def.get("properties").is_some() {
            tables.push((name.clone(), def));
        }
    }
    assert!(tables.len() >= 8, "{tables:?}");
    for (name, t) in tables {
        assert_eq!(
            t["additionalProperties"],
            Value::Bool(false),
            "{name} accepts unknown keys"
        );
    }
}

#[test]
fn bundled_policies_and_the_catalog_validate() {
    let schema = policy_schema();
    let mut files = Vec::new();
    toml_files(&root().join("policies"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("models.toml")));
    assert!(files.len() >= 3, "{files:?}");
    for f in files {
        check_toml(&schema, &read(&f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

/// Whatever the loader accepts, the schema accepts: the schema is never stricter.
#[test]
fn every_policy_the_loader_accepts_validates() {
    let schema = policy_schema();
    let mut files = Vec::new();
    toml_files(&root().join("policies"), &mut files);
    toml_files(&root().join("tests/fixtures"), &mut files);
    let mut loaded = 0;
    for f in files {
        if load_policy_file(&f).is_ok() {
            loaded += 1;
            check_toml(&schema, &read(&f)).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        }
    }
    assert!(loaded >= 3, "only {loaded} files loaded");
}

/// Inserts `line` right after the first line equal to `after` in the bundled policy.
fn with_line(after: &str, line: &str) -> String {
    let text = read(&root().join("policies/contract-review.toml"));
    let at = text.find(&format!("\n{after}\n")).expect(after) + after.len() + 2;
    format!("{}{line}\n{}", &text[..at], &text[at..])
}

fn loader_names(text: &str) -> Vec<&'static str> {
    let path = root().join("policies/edited.toml");
    match load_policy_text(&path, text.to_string()) {
        Ok(_) => Vec::new(),
        Err(e) => e.diagnostics.iter().map(|d| d.name).collect(),
    }
}

#[test]
fn an_unknown_key_fails_both_the_schema_and_the_loader() {
    let schema = policy_schema();
    let cases = [
        // top level, [policy], a model, a rule, a when table, a guard, a test, a tag.
        with_line("premium = \"claude-opus-4-6\"", "\n[extra]\nx = 1"),
        with_line("[policy]", "defualt_tier = \"cheap\""),
        with_line("[[rules]]", "tyer = \"cheap\""),
        with_line(
            "[[rules]]",
            "name = \"x\"\ntier = \"cheap\"\nwhen = { input_tokens = { gte = 5 } }\n[[rules]]",
        ),
        with_line(
            "[[rules]]",
            "name = \"x\"\ntier = \"cheap\"\nwhen = { rol = \"a\" }\n[[rules]]",
        ),
        with_line("[[guards]]", "escalate = \"premium\""),
        with_line("[[tests]]", "expect_teir = \"cheap\""),
        with_line("[tags]", "region = { type = \"string\", value = [\"a\"] }"),
    ];
    for text in &cases {
        assert!(
            check_toml(&schema, text).is_err(),
            "the schema took an unknown key:\n{text}"
        );
        let names = loader_names(text);
        assert!(
            names.contains(&"unknown-key"),
            "the loader said {names:?} for:\n{text}"
        );
    }
    // The same file without the edit passes both.
    let clean = read(&root().join("policies/contract-review.toml"));
    check_toml(&schema, &clean).unwrap();
    assert_eq!(loader_names(&clean), Vec::<&str>::new());
}

#[test]
fn the_fixture_with_an_unknown_key_fails_both() {
    let schema = policy_schema();
    let path = root().join("tests/fixtures/cli/unknown-key.toml");
    let err = check_toml(&schema, &read(&path)).unwrap_err();
    assert!(err.contains("defualt_tier"), "{err}");
    let e = load_policy_file(&path).unwrap_err();
    assert!(e.diagnostics.iter().any(|d| d.name == "unknown-key"));
}

#[test]
fn wrong_types_fail_both() {
    let schema = policy_schema();
    let cases = [
        with_line("[[rules]]", "name = 5\ntier = \"cheap\"\n[[rules]]"),
        with_line(
            "[[rules]]",
            "name = \"x\"\ntier = \"cheap\"\nwhen = { untrusted_input = \"yes\" }\n[[rules]]",
        ),
        with_line(
            "[[rules]]",
            "name = \"x\"\ntier = \"cheap\"\nwhen = { role = 3 }\n[[rules]]",
        ),
        with_line(
            "[[rules]]",
            "name = \"x\"\ntier = \"cheap\"\nwhen = { tags = { jurisdiction = { above = 1 } } }\n[[rules]]",
        ),
    ];
    for text in &cases {
        assert!(check_toml(&schema, text).is_err(), "schema took:\n{text}");
        assert!(!loader_names(text).is_empty(), "loader took:\n{text}");
    }
    let path = root().join("tests/fixtures/cli/wrong-type.toml");
    assert!(check_toml(&schema, &read(&path)).is_err());
    assert!(load_policy_file(&path).is_err());
}

/// The step schema names exactly the fields a step has, and refuses the same mistakes.
#[test]
fn test_steps_match_the_step_parser() {
    let schema = policy_schema();
    let step = &schema["definitions"]["Test"]["properties"]["step"];
    let mut names: Vec<&str> = step["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut fields = STEP_FIELDS.to_vec();
    names.sort_unstable();
    fields.sort_unstable();
    assert_eq!(names, fields);
    let bad = [
        "{ role = \"format\", input_tokens = 5, needs_cot = true }",
        "{ role = \"format\" }",
        "{ role = \"format\", input_tokens = -1 }",
        "{ role = \"format\", input_tokens = 5, tags = { a = [1] } }",
    ];
    for s in bad {
        let text = with_line(
            "[[tests]]",
            &format!("name = \"x\"\nstep = {s}\nexpect_tier = \"cheap\"\n[[tests]]"),
        );
        assert!(check_toml(&schema, &text).is_err(), "schema took {s}");
        assert!(
            loader_names(&text).contains(&"invalid-test-step"),
            "loader took {s}"
        );
    }
    let good = with_line(
        "[[tests]]",
        "name = \"x\"\nstep = { role = \"format\", prompt = \"hi\", tags = { a = 1, b = \"c\", d = true } }\n[[tests]]",
    );
    check_toml(&schema, &good).unwrap();
}

/// Names the schema lists (providers, tokenizers, tag types, ways of deciding) all load.
#[test]
fn listed_names_are_the_loaders() {
    let schema = policy_schema();
    let defs = &schema["definitions"];
    let list = |v: &Value| -> Vec<String> {
        v["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum in {v}"))
            .iter()
            .map(|x| x.as_str().unwrap().to_string())
            .collect()
    };
    for provider in list(&defs["Model"]["properties"]["provider"]) {
        let names = loader_names(&mini_policy(&format!("provider = \"{provider}\""), ""));
        assert_eq!(names, Vec::<&str>::new(), "provider {provider}");
    }
    for tokenizer in list(&defs["Model"]["properties"]["tokenizer"]) {
        let names = loader_names(&mini_policy(
            "provider = \"mock\"",
            &format!("tokenizer = \"{tokenizer}\""),
        ));
        assert_eq!(names, Vec::<&str>::new(), "tokenizer {tokenizer}");
    }
    for kind in list(&defs["TagDeclaration"]["properties"]["type"]) {
        let text = format!(
            "{}\n[tags]\nt = {{ type = \"{kind}\" }}\n",
            mini_policy("provider = \"mock\"", "")
        );
        assert_eq!(loader_names(&text), Vec::<&str>::new(), "tag type {kind}");
    }
    for via in list(&defs["Test"]["properties"]["expect_via"]) {
        let text = format!(
            "{}\n[[tests]]\nname = \"t\"\nstep = {{ role = \"x\", input_tokens = 1 }}\nexpect_via = \"{via}\"\n",
            mini_policy("provider = \"mock\"", "")
        );
        assert_eq!(loader_names(&text), Vec::<&str>::new(), "via {via}");
    }
    // And a name not listed is refused by both.
    let text = mini_policy("provider = \"carrier-pigeon\"", "");
    assert!(check_toml(&schema, &text).is_err());
    assert!(!loader_names(&text).is_empty());
}

/// The smallest policy: one mock model, one tier.
fn mini_policy(provider: &str, model_extra: &str) -> String {
    format!(
        "[policy]\nname = \"mini\"\ndefault_tier = \"only\"\n\n[models.m]\n{provider}\ninput_usd_per_mtok = 1.0\noutput_usd_per_mtok = 2.0\n{model_extra}\n\n[tiers]\nonly = \"m\"\n"
    )
}
