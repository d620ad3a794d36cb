//! OpenAPI 3.1 → 3.0.3, as far as progenitor needs and no further.
//!
//! utoipa 6 writes OpenAPI 3.1 only, and progenitor (through the `openapiv3` crate) reads
//! 3.0 only. The two differ mainly in how a schema says "or null": 3.1 is plain JSON Schema
//! (`"type": ["string", "null"]`, `oneOf: [{$ref}, {"type": "null"}]`), 3.0 has the
//! `nullable` flag. This module rewrites those constructs and the few other 3.1-only
//! keywords a generator could meet, in place, on the JSON value.
//!
//! It is strict on purpose: a 3.1 construct it has no faithful 3.0 spelling for (a type
//! union such as `["string", "integer"]`, `prefixItems`, `if`/`then`, webhooks…) is an
//! [`Unsupported`] error naming where it is, never a silent approximation. When the gateway
//! starts emitting one, the generation fails loudly and this module grows a rule for it.

use serde_json::{Map, Value};

/// A 3.1 construct with no faithful 3.0 equivalent, at a JSON pointer into the document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{at}: {what} has no OpenAPI 3.0 equivalent the SDK generator understands")]
pub struct Unsupported {
    /// JSON pointer to the offending value.
    pub at: String,
    /// The construct.
    pub what: String,
}

/// JSON Schema keywords of 3.1 (2020-12) that 3.0's schema object lacks and that cannot
/// simply be dropped without changing what the schema accepts.
const REJECTED_KEYWORDS: [&str; 14] = [
    "prefixItems",
    "$defs",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "dependentRequired",
    "unevaluatedProperties",
    "unevaluatedItems",
    "patternProperties",
    "propertyNames",
    "contains",
    "$dynamicRef",
    "contentSchema",
];

/// Top-level members that only 3.1 has.
const REJECTED_TOP_LEVEL: [&str; 2] = ["webhooks", "jsonSchemaDialect"];

/// Rewrites a 3.1 document as 3.0.3 in place; a 3.0 document is left as it is.
///
/// # Errors
///
/// [`Unsupported`] when the document is neither 3.0 nor 3.1, or uses a 3.1 construct that
/// 3.0 cannot express (see the module docs).
pub fn to_v3_0(doc: &mut Value) -> Result<(), Unsupported> {
    let version = doc.get("openapi").and_then(Value::as_str).unwrap_or("");
    if version.starts_with("3.0.") {
        return Ok(());
    }
    if !version.starts_with("3.1.") {
        return Err(unsupported("/openapi", format!("version {version:?}")));
    }
    let Some(root) = doc.as_object_mut() else {
        return Err(unsupported("", "a document that is not an object"));
    };
    for key in REJECTED_TOP_LEVEL {
        if root.contains_key(key) {
            return Err(unsupported(&format!("/{key}"), format!("`{key}`")));
        }
    }
    root.insert("openapi".to_owned(), Value::from("3.0.3"));
    // 3.1 added the SPDX `identifier` beside `url`; 3.0's License object has no such field.
    if let Some(license) = root
        .get_mut("info")
        .and_then(|info| info.get_mut("license"))
        .and_then(Value::as_object_mut)
    {
        license.remove("identifier");
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        if components.contains_key("pathItems") {
            return Err(unsupported("/components/pathItems", "`pathItems`"));
        }
        if let Some(schemas) = components.get_mut("schemas").and_then(Value::as_object_mut) {
            for (name, schema) in schemas.iter_mut() {
                convert_schema(schema, &format!("/components/schemas/{}", escape(name)))?;
            }
        }
    }
    for (key, value) in root.iter_mut() {
        if key != "components" {
            find_schemas(value, &format!("/{}", escape(key)))?;
        }
    }
    if let Some(components) = root.get_mut("components").and_then(Value::as_object_mut) {
        for (key, value) in components.iter_mut() {
            // Example objects hold opaque data, not schemas.
            if key != "schemas" && key != "examples" {
                find_schemas(value, &format!("/components/{}", escape(key)))?;
            }
        }
    }
    Ok(())
}

/// Walks the non-schema part of the document and converts every `schema` member (of
/// parameters, headers and media types). Examples are opaque data and are not entered.
fn find_schemas(value: &mut Value, at: &str) -> Result<(), Unsupported> {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                let here = format!("{at}/{}", escape(key));
                match key.as_str() {
                    "schema" => convert_schema(child, &here)?,
                    "example" | "examples" => {}
                    _ => find_schemas(child, &here)?,
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter_mut().enumerate() {
                find_schemas(child, &format!("{at}/{i}"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Converts one schema and, structurally, every schema nested in it. Property names are
/// never read as keywords (a property may well be called `type`).
fn convert_schema(schema: &mut Value, at: &str) -> Result<(), Unsupported> {
    let Some(map) = schema.as_object_mut() else {
        // `true`/`false` schemas only occur under `additionalProperties` in practice, where
        // 3.0 accepts booleans too.
        return Ok(());
    };
    for key in REJECTED_KEYWORDS {
        if map.contains_key(key) {
            return Err(unsupported(&format!("{at}/{key}"), format!("`{key}`")));
        }
    }
    convert_type(map, at)?;
    convert_null_alternative(map, at)?;
    if let Some(value) = map.remove("const") {
        map.insert("enum".to_owned(), Value::Array(vec![value]));
    }
    // 3.1 schemas take a list of `examples`; 3.0 has a single `example`.
    if let Some(examples) = map.remove("examples")
        && let Some(first) = examples.as_array().and_then(|e| e.first())
    {
        map.entry("example").or_insert_with(|| first.clone());
    }
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(limit) = map.get(exclusive).filter(|v| v.is_number()).cloned() {
            map.insert(bound.to_owned(), limit);
            map.insert(exclusive.to_owned(), Value::Bool(true));
        }
    }
    // 3.0 reads only `$ref` when it is present; 3.1 lets `description` (and more) sit
    // beside it. The generator ignores the siblings either way, so they may stay.
    if let Some(Value::Object(properties)) = map.get_mut("properties") {
        for (name, property) in properties.iter_mut() {
            convert_schema(property, &format!("{at}/properties/{}", escape(name)))?;
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(child) = map.get_mut(key) {
            convert_schema(child, &format!("{at}/{key}"))?;
        }
    }
    for key in ["allOf", "oneOf", "anyOf"] {
        if let Some(Value::Array(members)) = map.get_mut(key) {
            for (i, member) in members.iter_mut().enumerate() {
                convert_schema(member, &format!("{at}/{key}/{i}"))?;
            }
        }
    }
    Ok(())
}

/// `"type": ["X", "null"]` → `"type": "X", "nullable": true`.
fn convert_type(map: &mut Map<String, Value>, at: &str) -> Result<(), Unsupported> {
    match map.get("type") {
        Some(Value::Array(types)) => {
            let nullable = types.iter().any(|t| t == "null");
            let others: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
            let [only] = others.as_slice() else {
                return Err(unsupported(
                    &format!("{at}/type"),
                    format!("the type union {}", Value::Array(types.clone())),
                ));
            };
            let only = (*only).clone();
            map.insert("type".to_owned(), only);
            if nullable {
                map.insert("nullable".to_owned(), Value::Bool(true));
            }
            Ok(())
        }
        Some(t) if t == "null" => Err(unsupported(
            &format!("{at}/type"),
            "a `null` type outside `oneOf`/`anyOf`",
        )),
        _ => Ok(()),
    }
}

/// `oneOf: [S, {"type": "null"}]` → `allOf: [S], nullable: true` (the spelling of an
/// optional reference that 3.0 tools understand); with several non-null alternatives the
/// `oneOf`/`anyOf` stays and becomes nullable.
fn convert_null_alternative(map: &mut Map<String, Value>, at: &str) -> Result<(), Unsupported> {
    for key in ["oneOf", "anyOf"] {
        let Some(Value::Array(members)) = map.get_mut(key) else {
            continue;
        };
        let before = members.len();
        members.retain(|m| !is_null_schema(m));
        if members.len() == before {
            continue;
        }
        if members.is_empty() {
            return Err(unsupported(
                &format!("{at}/{key}"),
                "a schema that is only `null`",
            ));
        }
        if members.len() == 1 {
            if map.contains_key("allOf") {
                return Err(unsupported(
                    &format!("{at}/{key}"),
                    "a nullable alternative beside `allOf`",
                ));
            }
            let members = map.remove(key).unwrap_or_default();
            map.insert("allOf".to_owned(), members);
        }
        map.insert("nullable".to_owned(), Value::Bool(true));
    }
    Ok(())
}

/// `{"type": "null"}`, possibly with annotations beside it.
fn is_null_schema(schema: &Value) -> bool {
    schema.get("type").is_some_and(|t| t == "null")
        && schema.as_object().is_some_and(|m| {
            m.keys()
                .all(|k| matches!(k.as_str(), "type" | "description" | "title"))
        })
}

fn unsupported(at: &str, what: impl Into<String>) -> Unsupported {
    Unsupported {
        at: at.to_owned(),
        what: what.into(),
    }
}

/// A JSON pointer reference token (RFC 6901).
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc(schemas: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "license": {"name": "A", "identifier": "A"}},
            "paths": {},
            "components": {"schemas": schemas},
        })
    }

    fn converted(schemas: Value) -> Value {
        let mut d = doc(schemas);
        to_v3_0(&mut d).unwrap();
        d["components"]["schemas"].clone()
    }

    #[test]
    fn header_becomes_3_0_3_without_license_identifier() {
        let mut d = doc(json!({}));
        to_v3_0(&mut d).unwrap();
        assert_eq!(d["openapi"], "3.0.3");
        assert_eq!(d["info"]["license"], json!({"name": "A"}));
    }

    #[test]
    fn a_type_with_null_becomes_nullable() {
        let s = converted(json!({"P": {"type": ["string", "null"], "description": "d"}}));
        assert_eq!(
            s["P"],
            json!({"type": "string", "nullable": true, "description": "d"})
        );
    }

    #[test]
    fn a_one_element_type_list_becomes_a_plain_type() {
        let s = converted(json!({"P": {"type": ["integer"]}}));
        assert_eq!(s["P"], json!({"type": "integer"}));
    }

    #[test]
    fn a_reference_or_null_becomes_a_nullable_all_of() {
        let s = converted(json!({"P": {"oneOf": [{"type": "null"}, {"$ref": "#/x"}]}}));
        assert_eq!(
            s["P"],
            json!({"allOf": [{"$ref": "#/x"}], "nullable": true})
        );
    }

    #[test]
    fn several_alternatives_or_null_stay_a_nullable_one_of() {
        let s = converted(
            json!({"P": {"anyOf": [{"$ref": "#/a"}, {"$ref": "#/b"}, {"type": "null"}]}}),
        );
        assert_eq!(
            s["P"],
            json!({"anyOf": [{"$ref": "#/a"}, {"$ref": "#/b"}], "nullable": true})
        );
    }

    #[test]
    fn nested_schemas_are_converted_but_property_names_are_not_keywords() {
        let s = converted(json!({"O": {
            "type": "object",
            "properties": {
                "type": {"$ref": "#/t", "description": "a property called type"},
                "const": {"type": "string"},
                "list": {"type": ["array", "null"], "items": {"type": ["integer", "null"]}},
                "map": {"type": "object", "additionalProperties": {"type": ["string", "null"]}},
            },
        }}));
        let p = &s["O"]["properties"];
        assert_eq!(
            p["type"],
            json!({"$ref": "#/t", "description": "a property called type"})
        );
        assert_eq!(p["const"], json!({"type": "string"}));
        assert_eq!(
            p["list"],
            json!({"type": "array", "nullable": true, "items": {"type": "integer", "nullable": true}})
        );
        assert_eq!(
            p["map"]["additionalProperties"],
            json!({"type": "string", "nullable": true})
        );
    }

    #[test]
    fn const_examples_and_numeric_exclusive_bounds_get_3_0_spellings() {
        let s = converted(json!({"P": {
            "type": "integer", "const": 3, "examples": [3, 4], "exclusiveMinimum": 0,
        }}));
        assert_eq!(
            s["P"],
            json!({"type": "integer", "enum": [3], "example": 3,
                   "minimum": 0, "exclusiveMinimum": true})
        );
    }

    #[test]
    fn schemas_of_parameters_headers_and_bodies_are_converted_but_examples_are_not() {
        let mut d = doc(json!({}));
        d["paths"] = json!({"/x": {"get": {
            "parameters": [{"name": "q", "in": "query", "schema": {"type": ["string", "null"]},
                            "example": {"schema": {"type": ["string", "null"]}}}],
            "responses": {"200": {
                "description": "ok",
                "headers": {"H": {"schema": {"type": ["integer", "null"]}}},
                "content": {"application/json": {"schema": {"type": ["boolean", "null"]}}},
            }},
        }}});
        to_v3_0(&mut d).unwrap();
        let get = &d["paths"]["/x"]["get"];
        assert_eq!(get["parameters"][0]["schema"]["nullable"], true);
        assert_eq!(
            get["parameters"][0]["example"]["schema"]["type"],
            json!(["string", "null"])
        );
        let ok = &get["responses"]["200"];
        assert_eq!(ok["headers"]["H"]["schema"]["type"], "integer");
        assert_eq!(
            ok["content"]["application/json"]["schema"]["type"],
            "boolean"
        );
    }

    #[test]
    fn a_type_union_is_refused_with_its_location() {
        let mut d = doc(json!({"P": {"properties": {"a/b": {"type": ["string", "integer"]}}}}));
        let err = to_v3_0(&mut d).unwrap_err();
        assert_eq!(err.at, "/components/schemas/P/properties/a~1b/type");
    }

    #[test]
    fn keywords_without_a_3_0_spelling_are_refused() {
        let mut d = doc(json!({"P": {"type": "array", "prefixItems": [{"type": "string"}]}}));
        let err = to_v3_0(&mut d).unwrap_err();
        assert_eq!(err.at, "/components/schemas/P/prefixItems");
        let mut d = doc(json!({}));
        d["webhooks"] = json!({});
        assert_eq!(to_v3_0(&mut d).unwrap_err().at, "/webhooks");
    }

    #[test]
    fn a_3_0_document_is_left_alone_and_other_versions_are_refused() {
        let mut d = json!({"openapi": "3.0.3", "x": {"type": ["string", "null"]}});
        let before = d.clone();
        to_v3_0(&mut d).unwrap();
        assert_eq!(d, before);
        let mut d = json!({"swagger": "2.0"});
        assert_eq!(to_v3_0(&mut d).unwrap_err().at, "/openapi");
    }
}
