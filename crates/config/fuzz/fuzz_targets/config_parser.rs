//! The whole reader on arbitrary bytes: source layer, lexer, tree, model and validation.
//! The input is read as lossy UTF-8, like a configuration file on disk.

#![no_main]

use std::path::Path;

use keepalived_config::{FakeHost, LoadOptions, load_str};
use libfuzzer_sys::fuzz_target;

/// Relative includes resolve under a directory that does not exist, so they match nothing.
const NAME: &str = "/nonexistent/keepalived-fuzz/keepalived.conf";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let host = FakeHost::lab();
    let loaded = load_str(&text, Path::new(NAME), &LoadOptions::for_host(&host));
    // Everything that is reported must also be printable.
    for diagnostic in &loaded.diagnostics {
        let _ = diagnostic.to_string();
    }
    let _ = loaded.exit_code();
});
