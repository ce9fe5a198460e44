//! keepalived.conf, read the way keepalived 2.2.7 reads it.
//!
//! The layers, each its own module:
//! 1. [`source`]: files into lines: comments, `include`, `$NAME` parameters, `@ID` lines;
//! 2. [`lexer`]: a line into tokens (nom);
//! 3. [`tree`]: tokens into statements and `{ … }` blocks;
//! 4. `build`: blocks into the typed [`model::Config`], with keepalived's defaults;
//! 5. `validate`: checks across blocks and against the host.
//!
//! Every problem becomes a [`Diagnostic`]; nothing stops at the first one.

pub mod diagnostic;
pub mod grammar;
pub mod host;
pub mod lexer;
pub mod model;
pub mod params;
pub mod run_wording;
pub mod script_lookup;
pub mod script_words;
pub mod source;
pub mod sync_daemon;
pub mod tree;
pub mod unsupported;
pub mod values;

mod build;
mod checker_scripts;
mod script_checks;
mod validate;
mod validate_strict;
mod validate_vrrp;

use std::path::Path;

pub use diagnostic::{Diagnostic, OpenedFile, Pass, RunTime, Severity, exit_code};
pub use host::{FakeHost, Host, RealHost};
pub use model::Config;

use diagnostic::Diagnostics;
use diagnostic::Location;
use source::SourceReader;

/// How to read a configuration.
pub struct LoadOptions<'a> {
    /// The config id that `@ID` lines are matched against (`-i`, default the short host name).
    pub config_id: String,
    /// The host that interfaces, users and script files are checked against.
    pub host: &'a dyn Host,
    /// `-e`: every file the configuration names must exist.
    pub all_config: bool,
    /// Build only what keepalived 2.2.7's parent process reads: the top level, `global_defs`
    /// and the `bfd_instance` blocks (whose problems the parent logs, there being no BFD
    /// process). Every other block is still read through (includes, conditionals, braces),
    /// but not built into the model, so its problems are not found. For the parent's reading
    /// at a reload, which needs only [`Pass::Parent`] and [`Pass::Bfd`] problems and the
    /// top-level settings, at a fraction of the whole reading's time.
    pub parent_only: bool,
}

impl<'a> LoadOptions<'a> {
    /// Options for `host`, with its short host name as config id.
    pub fn for_host(host: &'a dyn Host) -> Self {
        LoadOptions {
            config_id: host.short_hostname(),
            host,
            all_config: false,
            parent_only: false,
        }
    }
}

/// A configuration and everything that was found wrong with it.
#[derive(Debug)]
pub struct Loaded {
    /// The usable part of the configuration (invalid items are left out or defaulted).
    pub config: Config,
    /// Every problem, in the order found.
    pub diagnostics: Vec<Diagnostic>,
    /// The included files read, in reading order.
    pub opened: Vec<OpenedFile>,
}

impl Loaded {
    /// The `keepalived -t` exit code for this configuration.
    pub fn exit_code(&self) -> i32 {
        exit_code(&self.diagnostics)
    }

    /// What `keepalived -t` prints, in order. In a network namespace of the file's own
    /// (`net_namespace NAME`) 2.2.7's children check nothing: only the parent's findings are
    /// printed (observed with a namespace the host lacks).
    pub fn config_test_diagnostics(&self) -> impl Iterator<Item = &Diagnostic> {
        let parent_only = runs_in_named_namespace(&self.config);
        self.diagnostics.iter().filter(move |d| {
            d.shown_by_config_test() && (!parent_only || d.pass == Some(Pass::Parent))
        })
    }

    /// `keepalived -t`'s exit code: [`Loaded::exit_code`], but 0 in a network namespace of
    /// the file's own, as 2.2.7 exits there whatever its parent found.
    pub fn config_test_exit_code(&self) -> i32 {
        if runs_in_named_namespace(&self.config) {
            0
        } else {
            self.exit_code()
        }
    }
}

/// Reads the configuration file at `path` and everything it includes.
pub fn load(path: &Path, options: &LoadOptions<'_>) -> Loaded {
    load_with(path, options, |reader| reader.read_file(path))
}

/// Reads configuration text as if it were the file `name`.
pub fn load_str(text: &str, name: &Path, options: &LoadOptions<'_>) -> Loaded {
    load_with(name, options, |reader| reader.read_str(text, name))
}

/// The pipeline: each line goes from the reader to the tree builder, and each finished
/// top-level block straight into the model, so only one block's tree exists at a time.
fn load_with(
    main: &Path,
    options: &LoadOptions<'_>,
    read: impl FnOnce(SourceReader<'_, '_>),
) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let mut config = Config::default();
    let mut tree = tree::Builder::default();
    let mut passes = PassSpans::default();
    {
        let mut sink = |location: &Location, text: &str, diagnostics: &mut Diagnostics| {
            tree.feed(location, text, diagnostics);
            let complete = tree.take_complete();
            if !complete.is_empty() {
                passes.record(&complete);
                build_statements(&complete, options, diagnostics, &mut config);
            }
        };
        let reader = SourceReader::new(&options.config_id, &mut diagnostics, &mut sink)
            .all_config(options.all_config);
        read(reader);
    }
    let rest = tree.finish(&mut diagnostics);
    passes.record(&rest);
    passes.spans.sort_unstable();
    build_statements(&rest, options, &mut diagnostics, &mut config);
    validate::validate(&mut config, options.host, &mut diagnostics);
    let pass_of = |d: &Diagnostic| {
        d.pass.unwrap_or_else(|| {
            d.location
                .as_ref()
                .map_or(Pass::Vrrp, |l| passes.at(l.order))
        })
    };
    let opened = diagnostics.take_opened();
    let mut diagnostics = stop_at_syntax_error(diagnostics.into_vec(), pass_of);
    // Report in 2.2.7's order: pass by pass (see `Pass`), each in reading order, then the
    // pass's problems without a line, in the order found.
    diagnostics.sort_by_key(|d| {
        let order = d.location.as_ref().map(|l| l.order);
        (pass_of(d), order.unwrap_or(u32::MAX))
    });
    // A line read twice (see `tree::OutsideView`) can give the same problem twice: once is
    // enough, where it is first printed.
    let mut seen = std::collections::HashSet::new();
    diagnostics.retain(|d| match &d.location {
        Some(l) => seen.insert((l.order, d.message.clone())),
        None => true,
    });
    for diagnostic in &mut diagnostics {
        let pass = pass_of(diagnostic);
        diagnostic.pass = Some(pass);
        diagnostic.bare_line = pass == Pass::Parent
            && diagnostic
                .location
                .as_ref()
                .is_some_and(|l| l.path() == main);
    }
    Loaded {
        config,
        diagnostics,
        opened,
    }
}

/// Whether the file names a network namespace (`net_namespace NAME`) for keepalived to run in.
fn runs_in_named_namespace(config: &Config) -> bool {
    config
        .other
        .iter()
        .any(|o| o.keyword == "net_namespace" && !o.args.is_empty())
}

/// Builds finished top-level statements into `config`, each problem marked with the pass of
/// keepalived 2.2.7 that reads the statement first.
fn build_statements(
    statements: &[tree::Statement],
    options: &LoadOptions<'_>,
    diagnostics: &mut Diagnostics,
    config: &mut Config,
) {
    let host = options.host;
    for statement in statements {
        let own = Pass::of_block(statement.keyword());
        if options.parent_only && own != Pass::Parent && statement.keyword() != "bfd_instance" {
            continue;
        }
        // Every pass reads an unknown top-level word; only the parent reads global_defs.
        let is_global_defs = statement.keyword() == "global_defs";
        if statement.unread
            || statement
                .only_read_by
                .is_some_and(|only| own != only && (own != Pass::Parent || is_global_defs))
        {
            continue;
        }
        let start = diagnostics.len();
        build::build_into(std::slice::from_ref(statement), host, diagnostics, config);
        if statement.keyword() == "virtual_server" {
            run_wording::apply_checker(diagnostics.since_mut(start), statement);
        } else if run_wording::read_leniently(statement.keyword()) {
            run_wording::apply(diagnostics.since_mut(start), statement);
        }
        let pass = statement
            .read_first_by
            .unwrap_or_else(|| Pass::of_block(statement.keyword()));
        diagnostics.set_pass_from(start, pass);
    }
}

/// keepalived stops reading at a line that lacks a required value, in the pass that reads
/// that line: what that pass reported up to the line is kept, and everything the passes
/// before it reported (they read the whole file first); later passes never run.
fn stop_at_syntax_error(
    diagnostics: Vec<Diagnostic>,
    pass_of: impl Fn(&Diagnostic) -> Pass,
) -> Vec<Diagnostic> {
    let first_fatal = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Syntax)
        .filter_map(|d| d.location.as_ref().map(|l| (pass_of(d), l.order)))
        .min();
    let Some((stop_pass, stop_order)) = first_fatal else {
        return diagnostics;
    };
    diagnostics
        .into_iter()
        .filter(|d| match &d.location {
            Some(l) => (pass_of(d), l.order) <= (stop_pass, stop_order),
            None => d.pass.is_some_and(|p| p < stop_pass),
        })
        .collect()
}

/// The reading-order spans of the top-level blocks that a pass other than the parent's reads
/// first, so a problem's line gives the pass that prints it.
#[derive(Default)]
struct PassSpans {
    /// `(first order, last order, pass)`, in reading order.
    spans: Vec<(u32, u32, Pass)>,
}

impl PassSpans {
    /// Notes the spans of finished top-level statements.
    fn record(&mut self, statements: &[tree::Statement]) {
        for statement in statements {
            let pass = Pass::of_block(statement.keyword());
            let Some(block) = statement.block.as_ref().filter(|_| pass != Pass::Parent) else {
                continue;
            };
            let end = block.close.as_ref().map_or(u32::MAX, |l| l.order);
            self.spans.push((statement.location.order, end, pass));
        }
    }

    /// The pass that first prints a problem on the line read `order`-th.
    fn at(&self, order: u32) -> Pass {
        let after = self.spans.partition_point(|&(start, _, _)| start <= order);
        match after.checked_sub(1).and_then(|i| self.spans.get(i)) {
            Some(&(_, end, pass)) if order <= end => pass,
            _ => Pass::Parent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FakeHost;

    /// What the parent's reading finds: the problems of the passes it logs and the settings a
    /// reload may not change, the same as the whole reading's; nothing of the children's.
    #[test]
    fn the_parent_view_finds_what_the_parent_logs() {
        let text = "global_defs {\n router_id r1\n nftables kl\n no_such_global 1\n}\n\
                    instance blue\n\
                    bfd_instance b1 {\n neighbor_ip 192.0.2.2\n no_such_bfd 1\n}\n\
                    vrrp_instance A {\n interface eth0\n virtual_router_id 1\n no_such_vrrp 1\n\
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    virtual_server 192.0.2.10 80 {\n no_such_vs 1\n real_server 192.0.2.11 80 {\n\
                    weight 1\n }\n}\n\
                    no_such_top 1\n";
        let host = FakeHost::lab();
        let mut options = LoadOptions::for_host(&host);
        let whole = load_str(text, Path::new("/k.conf"), &options);
        options.parent_only = true;
        let parent = load_str(text, Path::new("/k.conf"), &options);
        let seen = |loaded: &Loaded, only_parent: bool| -> Vec<(Option<u32>, String)> {
            loaded
                .diagnostics
                .iter()
                .filter(|d| !only_parent || matches!(d.pass, Some(Pass::Parent | Pass::Bfd)))
                .map(|d| (d.location.as_ref().map(|l| l.line), d.message.clone()))
                .collect()
        };
        assert!(seen(&whole, false).len() > seen(&whole, true).len());
        assert_eq!(seen(&parent, true), seen(&whole, true));
        // Of the children's blocks, only bfd_instance is built (its unknown keywords are the
        // checker's to log, not the parent's).
        assert!(
            seen(&parent, false)
                .iter()
                .all(|(line, _)| !(10..=24).contains(&line.unwrap_or(0)))
        );
        assert_eq!(
            format!("{:?}", parent.config.global),
            format!("{:?}", whole.config.global)
        );
        assert_eq!(
            format!("{:?}", parent.config.other),
            format!("{:?}", whole.config.other)
        );
        assert_eq!(
            format!("{:?}", parent.config.bfd_instances),
            format!("{:?}", whole.config.bfd_instances)
        );
        assert!(parent.config.instances.is_empty() && parent.config.virtual_servers.is_empty());
        assert_eq!(parent.opened.len(), whole.opened.len());
    }
}
