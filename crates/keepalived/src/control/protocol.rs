//! The control socket's protocol, shared by the daemon and `keepalivedctl`: one JSON object
//! per line each way. A request names a `command`, with `instance` (or `all`) for the ones that
//! take a target:
//!
//! ```text
//! {"command":"status"}
//! {"command":"show","instance":"VI_1"}
//! {"command":"reload"}
//! {"command":"drain","instance":"VI_1"}     {"command":"drain","all":true}
//! {"command":"undrain","instance":"VI_1"}   {"command":"undrain","all":true}
//! {"command":"dump"}
//! ```
//!
//! The answer is `{"ok":true,"result":…}` or `{"ok":false,"error":"…"}`; a request that is not
//! understood is answered with an error and changes nothing.

// Shared by two binaries (the daemon parses requests, keepalivedctl writes them), each using
// its half.
#![allow(dead_code)]

use serde_json::{Map, Value, json};

/// Where the daemon listens by default.
pub const DEFAULT_SOCKET: &str = "/run/keepalived/keepalived.ctl";

/// The longest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 4096;

/// Which instances a drain or undrain is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One instance, by name.
    One(String),
    /// Every instance.
    All,
}

/// A request on the control socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Every instance and script.
    Status,
    /// One instance.
    Show(String),
    /// Check the configuration file; apply it only when it passes.
    Reload,
    /// Hand over and stay BACKUP.
    Drain(Target),
    /// Take part in the election again.
    Undrain(Target),
    /// keepalived's three dumps, as text.
    Dump,
}

impl Request {
    /// The request as a line, without the newline.
    pub fn to_line(&self) -> String {
        let target = |command: &str, target: &Target| match target {
            Target::One(name) => json!({"command": command, "instance": name}),
            Target::All => json!({"command": command, "all": true}),
        };
        let value = match self {
            Request::Status => json!({"command": "status"}),
            Request::Show(name) => json!({"command": "show", "instance": name}),
            Request::Reload => json!({"command": "reload"}),
            Request::Drain(t) => target("drain", t),
            Request::Undrain(t) => target("undrain", t),
            Request::Dump => json!({"command": "dump"}),
        };
        value.to_string()
    }

    /// Reads a request line; the error says what is wrong with it.
    pub fn parse(line: &str) -> Result<Request, String> {
        if line.len() > MAX_REQUEST {
            return Err(format!("request longer than {MAX_REQUEST} bytes"));
        }
        let value: Value =
            serde_json::from_str(line).map_err(|e| format!("request is not JSON: {e}"))?;
        let Value::Object(fields) = value else {
            return Err("request must be a JSON object".to_string());
        };
        let command = match fields.get("command") {
            Some(Value::String(c)) => c.as_str(),
            Some(_) => return Err("\"command\" must be a string".to_string()),
            None => return Err("request has no \"command\"".to_string()),
        };
        let allowed: &[&str] = match command {
            "status" | "reload" | "dump" => &["command"],
            "show" => &["command", "instance"],
            "drain" | "undrain" => &["command", "instance", "all"],
            other => {
                return Err(format!(
                    "unknown command \"{other}\" (status, show, reload, drain, undrain, dump)"
                ));
            }
        };
        if let Some(extra) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(format!("unexpected field \"{extra}\" for \"{command}\""));
        }
        Ok(match command {
            "status" => Request::Status,
            "reload" => Request::Reload,
            "dump" => Request::Dump,
            "show" => Request::Show(instance(&fields)?.ok_or("\"show\" needs \"instance\"")?),
            "drain" => Request::Drain(target(&fields, command)?),
            _ => Request::Undrain(target(&fields, command)?),
        })
    }
}

/// The `instance` field, if present: a non-empty string.
fn instance(fields: &Map<String, Value>) -> Result<Option<String>, String> {
    match fields.get("instance") {
        None => Ok(None),
        Some(Value::String(name)) if !name.is_empty() => Ok(Some(name.clone())),
        Some(_) => Err("\"instance\" must be a non-empty string".to_string()),
    }
}

/// `instance` or `"all": true`, exactly one of them.
fn target(fields: &Map<String, Value>, command: &str) -> Result<Target, String> {
    let all = match fields.get("all") {
        None | Some(Value::Bool(false)) => false,
        Some(Value::Bool(true)) => true,
        Some(_) => return Err("\"all\" must be true or false".to_string()),
    };
    match (instance(fields)?, all) {
        (Some(name), false) => Ok(Target::One(name)),
        (None, true) => Ok(Target::All),
        (Some(_), true) => Err(format!(
            "\"{command}\" takes \"instance\" or \"all\", not both"
        )),
        (None, false) => Err(format!("\"{command}\" needs \"instance\" or \"all\": true")),
    }
}

/// A successful answer.
pub fn ok(result: Value) -> String {
    json!({"ok": true, "result": result}).to_string()
}

/// A refusal.
pub fn error(message: &str) -> String {
    json!({"ok": false, "error": message}).to_string()
}

/// Reads an answer line: the result, or the daemon's error.
pub fn parse_answer(line: &str) -> Result<Value, String> {
    let value: Value =
        serde_json::from_str(line).map_err(|e| format!("answer is not JSON: {e}"))?;
    match value.get("ok") {
        Some(Value::Bool(true)) => Ok(value.get("result").cloned().unwrap_or(Value::Null)),
        Some(Value::Bool(false)) => Err(value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or("unspecified error")
            .to_string()),
        _ => Err("answer has no \"ok\"".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_request_survives_a_round_trip() {
        let requests = [
            Request::Status,
            Request::Show("VI_1".into()),
            Request::Reload,
            Request::Drain(Target::One("VI_1".into())),
            Request::Drain(Target::All),
            Request::Undrain(Target::One("VI 2".into())),
            Request::Undrain(Target::All),
            Request::Dump,
        ];
        for request in requests {
            assert_eq!(Request::parse(&request.to_line()), Ok(request));
        }
    }

    #[test]
    fn bad_requests_are_named() {
        let cases = [
            ("", "not JSON"),
            ("status", "not JSON"),
            ("[1]", "JSON object"),
            ("{}", "no \"command\""),
            ("{\"command\":3}", "must be a string"),
            ("{\"command\":\"stop\"}", "unknown command \"stop\""),
            ("{\"command\":\"show\"}", "needs \"instance\""),
            ("{\"command\":\"show\",\"instance\":\"\"}", "non-empty"),
            ("{\"command\":\"drain\"}", "needs \"instance\" or \"all\""),
            (
                "{\"command\":\"drain\",\"instance\":\"a\",\"all\":true}",
                "not both",
            ),
            ("{\"command\":\"drain\",\"all\":\"yes\"}", "true or false"),
            ("{\"command\":\"status\",\"x\":1}", "unexpected field \"x\""),
        ];
        for (line, expected) in cases {
            let err = Request::parse(line).expect_err(line);
            assert!(err.contains(expected), "{line}: {err}");
        }
        let long = format!(
            "{{\"command\":\"show\",\"instance\":\"{}\"}}",
            "x".repeat(5000)
        );
        assert!(Request::parse(&long).is_err());
    }

    #[test]
    fn answers_parse_back() {
        assert_eq!(parse_answer(&ok(json!({"a": 1}))), Ok(json!({"a": 1})));
        assert_eq!(parse_answer(&error("no")), Err("no".to_string()));
        assert!(parse_answer("nope").is_err());
    }
}
