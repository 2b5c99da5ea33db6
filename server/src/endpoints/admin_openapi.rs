//! `GET /admin/openapi.json`: the admin API described as OpenAPI 3.1, built from the same
//! names the handlers in `endpoints/admin.rs` use. Served without a token: it documents, it
//! grants nothing.

use axum::Json;
use serde_json::{Value, json};

pub async fn document() -> Json<Value> {
    Json(openapi())
}

fn list_parameters() -> Value {
    json!([
        { "name": "id", "in": "query", "schema": { "type": "string" }, "description": "only the item with this id" },
        { "name": "name", "in": "query", "schema": { "type": "string" }, "description": "case-insensitive substring of the name" },
        { "name": "sort", "in": "query", "schema": { "enum": ["id", "name"], "default": "id" } },
        { "name": "order", "in": "query", "schema": { "enum": ["asc", "desc"], "default": "asc" } },
        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 100, "default": 20 } },
        { "name": "after", "in": "query", "schema": { "type": "string" }, "description": "the id of the item the page starts after (not with before)" },
        { "name": "before", "in": "query", "schema": { "type": "string" }, "description": "the id of the item the page ends before (not with after)" }
    ])
}

fn ok(schema: &str) -> Value {
    json!({ "description": "OK", "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn errors() -> Value {
    let error = json!({ "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } });
    let with = |d: &str| {
        let mut e = error.clone();
        e["description"] = json!(d);
        e
    };
    json!({ "400": with("a bad parameter or body, named in error_description"), "401": with("no or unknown admin token"), "404": with("no such pool, user, identifier or address"), "409": with("an identifier or address already in use") })
}

fn responses(status: &str, schema: Option<&str>) -> Value {
    let mut r = errors();
    r[status] = match schema {
        Some(s) => ok(s),
        None => json!({ "description": "done" }),
    };
    r
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

pub fn openapi() -> Value {
    let pool_id = json!({ "name": "pool_id", "in": "path", "required": true, "schema": { "type": "string" } });
    let user_id = json!({ "name": "user_id", "in": "path", "required": true, "schema": { "type": "string" } });
    let identifier_id = json!({ "name": "identifier_id", "in": "path", "required": true, "schema": { "type": "string" } });
    let address_id = json!({ "name": "address_id", "in": "path", "required": true, "schema": { "type": "string" } });
    let mut list_with_pool = list_parameters();
    if let Some(list) = list_with_pool.as_array_mut() {
        list.insert(0, pool_id.clone());
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": "fapilab admin API", "version": "1", "description": "Identity pools and their users. Every operation needs Authorization: Bearer with one of the server's admin.tokens." },
        "security": [{ "adminToken": [] }],
        "paths": {
            "/admin/inbox": {
                "get": { "summary": "One-time codes sent by email or text message (the sandbox inbox), newest first",
                    "parameters": [{ "name": "to", "in": "query", "schema": { "type": "string" }, "description": "only messages to this address" }],
                    "responses": responses("200", Some("Inbox")) },
                "delete": { "summary": "Empty the inbox", "responses": responses("204", None) }
            },
            "/admin/themes/{tenant}/{workspace}": {
                "parameters": [{ "name": "tenant", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "workspace", "in": "path", "required": true, "schema": { "type": "string" } }],
                "get": { "summary": "The workspace's draft and active theme sources", "responses": responses("200", None) },
                "put": { "summary": "Upload a theme as the draft (validated: every problem listed)", "requestBody": body("ThemeSource"), "responses": responses("200", None) },
                "delete": { "summary": "Back to the built-in theme", "responses": responses("204", None) }
            },
            "/admin/themes/{tenant}/{workspace}/preview/{page}": {
                "parameters": [{ "name": "tenant", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "workspace", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "page", "in": "path", "required": true, "schema": { "enum": ["login.html", "enter_code.html", "change_password.html", "consent.html", "account.html", "error.html"] } }],
                "get": { "summary": "The draft's page rendered with sample data (text/html)", "responses": responses("200", None) }
            },
            "/admin/themes/{tenant}/{workspace}/activate": {
                "parameters": [{ "name": "tenant", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "workspace", "in": "path", "required": true, "schema": { "type": "string" } }],
                "post": { "summary": "Make the draft the workspace's theme", "responses": responses("200", None) }
            },
            "/admin/passkeys/{tenant}/{workspace}/{subject}": {
                "parameters": [{ "name": "tenant", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "workspace", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "subject", "in": "path", "required": true, "schema": { "type": "string" }, "description": "a pool user's id, or a configured user's subject" }],
                "get": { "summary": "An end user's passkeys in the workspace: id, name, created_at, last_used_at, backup flags, signature counter (no keys)", "responses": responses("200", None) }
            },
            "/admin/passkeys/{tenant}/{workspace}/{subject}/{id}": {
                "parameters": [{ "name": "tenant", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "workspace", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "subject", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "id", "in": "path", "required": true, "schema": { "type": "string" }, "description": "the credential id, base64url" }],
                "delete": { "summary": "Remove one passkey (a lost device): it no longer signs in", "responses": responses("204", None) }
            },
            "/admin/pools": {
                "get": { "summary": "List pools", "parameters": list_parameters(), "responses": responses("200", Some("PoolPage")) },
                "post": { "summary": "Create a pool", "requestBody": body("PoolInput"), "responses": responses("201", Some("Pool")) }
            },
            "/admin/pools/{pool_id}": {
                "parameters": [pool_id],
                "get": { "summary": "Read a pool", "responses": responses("200", Some("Pool")) },
                "put": { "summary": "Change a pool's name, password policy or preferred mechanism", "requestBody": body("PoolInput"), "responses": responses("200", Some("Pool")) },
                "delete": { "summary": "Delete a pool and its users", "responses": responses("204", None) }
            },
            "/admin/pools/{pool_id}/users": {
                "get": { "summary": "List a pool's users", "parameters": list_with_pool, "responses": responses("200", Some("UserPage")) },
                "post": { "parameters": [pool_id], "summary": "Create a user", "requestBody": body("UserInput"), "responses": responses("201", Some("User")) }
            },
            "/admin/pools/{pool_id}/users/{user_id}": {
                "parameters": [pool_id, user_id],
                "get": { "summary": "Read a user", "responses": responses("200", Some("User")) },
                "put": { "summary": "Change a user's name, password or password expiry", "requestBody": body("UserInput"), "responses": responses("200", Some("User")) },
                "delete": { "summary": "Delete a user", "responses": responses("204", None) }
            },
            "/admin/pools/{pool_id}/users/{user_id}/identifiers": {
                "parameters": [pool_id, user_id],
                "post": { "summary": "Add an identifier", "requestBody": body("IdentifierInput"), "responses": responses("201", Some("User")) }
            },
            "/admin/pools/{pool_id}/users/{user_id}/identifiers/{identifier_id}": {
                "parameters": [pool_id, user_id, identifier_id],
                "delete": { "summary": "Remove an identifier (not the last one)", "responses": responses("200", Some("User")) }
            },
            "/admin/pools/{pool_id}/users/{user_id}/addresses": {
                "parameters": [pool_id, user_id],
                "post": { "summary": "Add an address", "requestBody": body("AddressInput"), "responses": responses("201", Some("User")) }
            },
            "/admin/pools/{pool_id}/users/{user_id}/addresses/{address_id}": {
                "parameters": [pool_id, user_id, address_id],
                "delete": { "summary": "Remove an address", "responses": responses("200", Some("User")) }
            },
            "/admin/pools/{pool_id}/users/{user_id}/addresses/{address_id}/verify": {
                "parameters": [pool_id, user_id, address_id],
                "post": { "summary": "Mark an address verified", "responses": responses("200", Some("User")) }
            }
        },
        "components": {
            "securitySchemes": { "adminToken": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Error": { "type": "object", "required": ["error", "error_description"], "properties": { "error": { "type": "string" }, "error_description": { "type": "string" } } },
                "PasswordPolicy": { "type": "object", "additionalProperties": false, "properties": {
                    "min_length": { "type": "integer", "default": 12 }, "max_length": { "type": "integer", "default": 128, "maximum": 1024 },
                    "min_lowercase": { "type": "integer", "default": 0 }, "min_uppercase": { "type": "integer", "default": 0 },
                    "min_digits": { "type": "integer", "default": 0 }, "min_special": { "type": "integer", "default": 0 },
                    "differ_from_identifiers": { "type": "boolean", "default": true } } },
                "Mechanism": { "enum": ["password", "email_otp", "sms_otp", "passkey"] },
                "PoolInput": { "type": "object", "additionalProperties": false, "properties": {
                    "id": { "type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$", "description": "at creation only; generated when absent" },
                    "name": { "type": "string", "minLength": 1, "maxLength": 200 },
                    "password_policy": { "$ref": "#/components/schemas/PasswordPolicy" },
                    "preferred_mechanism": { "$ref": "#/components/schemas/Mechanism" } } },
                "Pool": { "type": "object", "properties": {
                    "id": { "type": "string" }, "name": { "type": "string" },
                    "password_policy": { "$ref": "#/components/schemas/PasswordPolicy" },
                    "preferred_mechanism": { "$ref": "#/components/schemas/Mechanism" },
                    "created_at": { "type": "integer" }, "updated_at": { "type": "integer" } } },
                "IdentifierInput": { "type": "object", "required": ["type", "value"], "additionalProperties": false, "properties": {
                    "type": { "enum": ["email", "mobile", "uuid", "external"] }, "value": { "type": "string" },
                    "external_type": { "type": "string", "description": "external identifiers only" },
                    "source": { "type": "string", "description": "external identifiers only" } } },
                "Identifier": { "allOf": [{ "$ref": "#/components/schemas/IdentifierInput" }, { "properties": { "id": { "type": "string" } } }] },
                "AddressInput": { "type": "object", "required": ["type", "value"], "additionalProperties": false, "properties": {
                    "type": { "enum": ["email", "mobile"] }, "value": { "type": "string" }, "verified": { "type": "boolean", "default": false } } },
                "Address": { "allOf": [{ "$ref": "#/components/schemas/AddressInput" }, { "properties": { "id": { "type": "string" }, "verified_at": { "type": "integer" } } }] },
                "UserInput": { "type": "object", "additionalProperties": false, "properties": {
                    "name": { "type": "string" },
                    "identifiers": { "type": "array", "items": { "$ref": "#/components/schemas/IdentifierInput" }, "description": "at creation only" },
                    "addresses": { "type": "array", "items": { "$ref": "#/components/schemas/AddressInput" }, "description": "at creation only" },
                    "password": { "type": "string", "writeOnly": true, "description": "checked against the pool's policy; never returned" },
                    "password_expires_at": { "type": ["integer", "null"], "description": "Unix seconds; null clears it" } } },
                "User": { "type": "object", "properties": {
                    "id": { "type": "string" }, "pool_id": { "type": "string" }, "name": { "type": "string" },
                    "identifiers": { "type": "array", "items": { "$ref": "#/components/schemas/Identifier" } },
                    "addresses": { "type": "array", "items": { "$ref": "#/components/schemas/Address" } },
                    "password": { "type": "object", "properties": { "set": { "type": "boolean" }, "expires_at": { "type": ["integer", "null"] } } },
                    "created_at": { "type": "integer" }, "updated_at": { "type": "integer" } } },
                "ThemeSource": { "type": "object", "required": ["templates", "css"], "additionalProperties": false, "properties": {
                    "templates": { "type": "object", "description": "minijinja sources of layout.html, login.html, enter_code.html, change_password.html, consent.html, account.html and error.html; each page extends layout.html and fills its content block", "additionalProperties": { "type": "string", "maxLength": 65536 } },
                    "css": { "type": "string", "maxLength": 65536, "description": "inlined in a <style> element; may not contain <" } } },
                "Inbox": { "type": "object", "properties": { "messages": { "type": "array", "items": { "type": "object", "properties": {
                    "id": { "type": "string" }, "channel": { "enum": ["email", "sms"] }, "to": { "type": "string" },
                    "subject": { "type": "string" }, "body": { "type": "string" }, "sent_at": { "type": "integer" } } } } } },
                "PoolPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/Pool" } }, "next": { "type": ["string", "null"] }, "previous": { "type": ["string", "null"] }, "limit": { "type": "integer" } } },
                "UserPage": { "type": "object", "properties": { "items": { "type": "array", "items": { "$ref": "#/components/schemas/User" } }, "next": { "type": ["string", "null"] }, "previous": { "type": ["string", "null"] }, "limit": { "type": "integer" } } }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` names a schema the document defines.
    #[test]
    fn every_reference_resolves() {
        let doc = openapi();
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for reference in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = reference.split('"').next().unwrap_or_default();
            assert!(schemas.contains_key(name), "{name}");
        }
    }
}
