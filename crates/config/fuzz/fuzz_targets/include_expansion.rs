//! The source layer (`$NAME` parameters, `${NAME}`, `@ID` / `@^ID` lines, `#` and `!`
//! comments, quotes) through `load_str`. The input is split into a prelude of parameter
//! definitions and a body that uses them, so the fuzzer starts from defined parameters
//! instead of having to invent them. Nothing is written to disk; `include` lines can only
//! name files under a directory that does not exist.

#![no_main]

use std::path::Path;

use keepalived_config::{FakeHost, LoadOptions, load_str};
use libfuzzer_sys::fuzz_target;

const NAME: &str = "/nonexistent/keepalived-fuzz/keepalived.conf";

/// Parameter names the prelude defines, in turn.
const PARAMS: &[&str] = &["A", "B", "IF", "VIP", "_X1", "EMPTY"];

fuzz_target!(|data: &[u8]| {
    // The first byte chooses how many prelude lines there are, the body follows the prelude.
    let Some((&count, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n');
    let mut config = String::new();
    for (i, name) in PARAMS
        .iter()
        .cycle()
        .take(usize::from(count % 16))
        .enumerate()
    {
        let value = lines.next().unwrap_or_default();
        // Alternate plain definitions, definitions under @ID / @^ID and ones that use others.
        match i % 4 {
            0 => config.push_str(&format!("${name}={value}\n")),
            1 => config.push_str(&format!("@testhost ${name}={value} ${{A}}\n")),
            2 => config.push_str(&format!("@^testhost ${name}=$B{value}\n")),
            _ => config.push_str(&format!("${name}=\"{value}\" # {value}\n")),
        }
    }
    for line in lines {
        config.push_str(line);
        config.push('\n');
    }
    let host = FakeHost::lab();
    let loaded = load_str(&config, Path::new(NAME), &LoadOptions::for_host(&host));
    for diagnostic in &loaded.diagnostics {
        let _ = diagnostic.to_string();
    }
});
