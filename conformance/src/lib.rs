//! fapilab's conformance harness: plans made of scenario modules made of steps and
//! conditions, run against any authorization server over HTTP.
//!
//! This crate is intentionally empty until the harness milestone; it exists so the workspace
//! layout is settled. It must never depend on `fapilab-server`: the harness is written from
//! the specifications, independently of the server, so that one bug cannot make both agree.
