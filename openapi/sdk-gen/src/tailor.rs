//! Adjustments of the (downgraded) document for progenitor and typify. The document stays
//! a faithful description of the API; only the in-memory copy the generator reads changes,
//! so that the generated types say what the gateway means.

use serde_json::{Map, Value};

/// Renames each response's `application/problem+json` content to `application/json` (when
/// the response has no `application/json` already).
///
/// progenitor decodes only `application/json` bodies into types and hands back raw bytes
/// for any other media type. Every gateway error is `application/problem+json`, which is
/// JSON; without this the SDK's errors would be byte streams instead of `types::Problem`.
pub fn problem_json_as_json(doc: &mut Value) {
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        let operations = paths
            .values_mut()
            .filter_map(Value::as_object_mut)
            .flat_map(|item| item.values_mut());
        for op in operations {
            if let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) {
                responses.values_mut().for_each(rename_problem_content);
            }
        }
    }
    if let Some(responses) = doc
        .pointer_mut("/components/responses")
        .and_then(Value::as_object_mut)
    {
        responses.values_mut().for_each(rename_problem_content);
    }
}

fn rename_problem_content(response: &mut Value) {
    let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) else {
        return;
    };
    if !content.contains_key("application/json")
        && let Some(media) = content.remove("application/problem+json")
    {
        content.insert("application/json".to_owned(), media);
    }
}

/// Removes operations that answer 101 (a WebSocket upgrade), and paths left empty.
///
/// progenitor can only upgrade endpoints marked with dropshot's extension, and then hands
/// back a raw upgraded connection; for any other 101 it generates a plain GET that can
/// never succeed. A WebSocket client is the right tool for `GET /v1/stream`; the message
/// schemas it needs (`ClientMessage`, `ServerMessage`) are still generated as types.
pub fn drop_websocket_operations(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for item in paths.values_mut().filter_map(Value::as_object_mut) {
        item.retain(|_, op| op.pointer("/responses/101").is_none());
    }
    paths.retain(|_, item| {
        item.as_object().is_none_or(|ops| {
            ops.keys().any(|k| {
                !matches!(
                    k.as_str(),
                    "parameters" | "summary" | "description" | "servers"
                )
            })
        })
    });
}

/// In a `oneOf`, turns each member `allOf: [{$ref: X}, {tag object}]` into one object
/// with X's properties and the tag's.
///
/// That `allOf` is how utoipa spells a variant of a `#[serde(tag = "type")]` enum that
/// wraps a struct. typify recognises a `oneOf` of plain objects sharing a single-valued
/// `type` property as an internally tagged enum, but not through `allOf`: it then falls
/// back to an untagged enum of anonymous `Variant0…` with a one-value enum type per tag.
/// Only plain, open objects with disjoint properties are merged (the merge then accepts
/// exactly what the `allOf` does); anything else is left to typify as it is.
pub fn inline_tagged_variants(doc: &mut Value) {
    let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
    else {
        return;
    };
    let Some(schemas_mut) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    for schema in schemas_mut.values_mut() {
        let Some(Value::Array(members)) = schema.get_mut("oneOf") else {
            continue;
        };
        for member in members {
            if let Some(merged) = merge_all_of(member, &schemas) {
                *member = merged;
            }
        }
    }
}

/// The single object equivalent to `member`'s `allOf`, when there is an obvious one.
fn merge_all_of(member: &Value, schemas: &Map<String, Value>) -> Option<Value> {
    let member = member.as_object()?;
    if member
        .keys()
        .any(|k| !matches!(k.as_str(), "allOf" | "description"))
    {
        return None;
    }
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    for part in member.get("allOf")?.as_array()? {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(target) => schemas.get(target.strip_prefix("#/components/schemas/")?)?,
            None => part,
        };
        let part = part.as_object()?;
        let plain = part.get("type").is_some_and(|t| t == "object")
            && part.keys().all(|k| {
                matches!(
                    k.as_str(),
                    "type" | "description" | "title" | "required" | "properties"
                )
            });
        if !plain {
            return None;
        }
        for (name, schema) in part.get("properties").and_then(Value::as_object)? {
            if properties.insert(name.clone(), schema.clone()).is_some() {
                return None;
            }
        }
        for name in part
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !required.contains(name) {
                required.push(name.clone());
            }
        }
    }
    let mut merged = Map::new();
    merged.insert("type".to_owned(), Value::from("object"));
    if let Some(description) = member.get("description") {
        merged.insert("description".to_owned(), description.clone());
    }
    merged.insert("required".to_owned(), Value::Array(required));
    merged.insert("properties".to_owned(), Value::Object(properties));
    Some(Value::Object(merged))
}

/// Spells `format: int32`/`int64` with a `minimum` of 0 or more as `uint32`/`uint64`.
///
/// utoipa describes Rust's `u16`/`u32`/`u64` as the signed OpenAPI formats plus
/// `minimum: 0` (OpenAPI's format registry has no unsigned ones). typify maps the format
/// alone, so an account id (`u64` in the gateway) would become an `i64` in the SDK and
/// fail to decode above `i64::MAX`. typify knows `uint32`/`uint64` and maps them to
/// `u32`/`u64` (`NonZero…` with a minimum of 1).
pub fn unsigned_formats(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let unsigned = map.get("type").is_some_and(|t| t == "integer")
                && map
                    .get("minimum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| m >= 0.0);
            if unsigned {
                let format = match map.get("format").and_then(Value::as_str) {
                    Some("int32") => Some("uint32"),
                    Some("int64") => Some("uint64"),
                    _ => None,
                };
                if let Some(format) = format {
                    map.insert("format".to_owned(), Value::from(format));
                }
            }
            for (key, child) in map.iter_mut() {
                // Examples are data, not schemas.
                if key != "example" && key != "examples" {
                    unsigned_formats(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned_formats),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn problem_bodies_are_renamed_unless_json_is_already_there() {
        let mut doc = json!({"paths": {"/x": {
            "parameters": [],
            "get": {"responses": {
                "404": {"content": {"application/problem+json": {"schema": {"$ref": "#/p"}}}},
                "200": {"content": {"application/json": {}, "application/problem+json": {}}},
            }},
        }}});
        problem_json_as_json(&mut doc);
        let responses = &doc["paths"]["/x"]["get"]["responses"];
        assert_eq!(
            responses["404"]["content"],
            json!({"application/json": {"schema": {"$ref": "#/p"}}})
        );
        assert_eq!(
            responses["200"]["content"],
            json!({"application/json": {}, "application/problem+json": {}})
        );
    }

    #[test]
    fn websocket_operations_and_emptied_paths_are_dropped() {
        let mut doc = json!({"paths": {
            "/stream": {"parameters": [], "get": {"responses": {"101": {}, "401": {}}}},
            "/mixed": {"get": {"responses": {"101": {}}}, "post": {"responses": {"200": {}}}},
            "/plain": {"get": {"responses": {"200": {}}}},
        }});
        drop_websocket_operations(&mut doc);
        assert_eq!(
            doc["paths"],
            json!({
                "/mixed": {"post": {"responses": {"200": {}}}},
                "/plain": {"get": {"responses": {"200": {}}}},
            })
        );
    }

    #[test]
    fn all_of_variants_of_a_one_of_are_merged_into_plain_objects() {
        let tag = |t: &str| {
            json!({"type": "object", "required": ["type"],
                   "properties": {"type": {"type": "string", "enum": [t]}}})
        };
        let mut doc = json!({"components": {"schemas": {
            "Snap": {"type": "object", "required": ["seq"], "properties": {"seq": {"type": "integer"}}},
            "Closed": {"type": "object", "properties": {}, "additionalProperties": false},
            "Message": {"oneOf": [
                {"allOf": [{"$ref": "#/components/schemas/Snap", "description": "x"}, tag("snap")],
                 "description": "A snapshot."},
                {"allOf": [{"$ref": "#/components/schemas/Closed"}, tag("closed")]},
                {"allOf": [{"$ref": "#/components/schemas/Snap"}, tag("n")], "nullable": true},
                tag("plain"),
            ]},
        }}});
        let before = doc["components"]["schemas"]["Message"]["oneOf"].clone();
        inline_tagged_variants(&mut doc);
        let after = &doc["components"]["schemas"]["Message"]["oneOf"];
        assert_eq!(
            after[0],
            json!({"type": "object", "description": "A snapshot.", "required": ["seq", "type"],
                   "properties": {"seq": {"type": "integer"},
                                  "type": {"type": "string", "enum": ["snap"]}}})
        );
        // A closed object, a nullable member and a plain one are left as they were.
        assert_eq!(after[1], before[1]);
        assert_eq!(after[2], before[2]);
        assert_eq!(after[3], before[3]);
    }

    #[test]
    fn non_negative_signed_formats_become_unsigned() {
        let mut doc = json!({
            "a": {"type": "integer", "format": "int64", "minimum": 0},
            "b": {"type": "integer", "format": "int32", "minimum": 1, "maximum": 1000},
            "c": {"type": "integer", "format": "int32", "minimum": -1},
            "d": {"type": "integer", "format": "int64"},
            "e": {"type": "integer", "minimum": 0},
            "f": {"example": {"type": "integer", "format": "int32", "minimum": 0}},
            "type": {"type": "integer", "format": "int32", "minimum": 0},
        });
        unsigned_formats(&mut doc);
        assert_eq!(doc["a"]["format"], "uint64");
        assert_eq!(doc["b"]["format"], "uint32");
        assert_eq!(doc["c"]["format"], "int32");
        assert_eq!(doc["d"]["format"], "int64");
        assert_eq!(doc["e"], json!({"type": "integer", "minimum": 0}));
        assert_eq!(doc["f"]["example"]["format"], "int32");
        assert_eq!(doc["type"]["format"], "uint32");
    }
}
