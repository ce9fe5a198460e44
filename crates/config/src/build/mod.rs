//! From the block tree to the typed [`Config`]: one module per kind of block, all sharing the
//! small reading helpers of [`Cx`].

mod addresses;
mod bfd;
pub(crate) mod checker;
mod global;
mod global_rules;
mod instance;
mod instance_rules;
mod script;
mod sync_group;
pub(crate) mod track_list;
mod trackers;

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};
use crate::host::Host;
use crate::model::{Command, Config, RawSetting, RunAs};
use crate::script_words;
use crate::tree::Statement;
use crate::values::{self, NumberError};

/// Keywords allowed at the top level.
pub const TOP_LEVEL_KEYWORDS: &[&str] = &[
    "global_defs",
    "vrrp_script",
    "vrrp_instance",
    "vrrp_sync_group",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "vrrp_track_file",
    "track_file",
    "vrrp_track_process",
    "garp_group",
    "track_group",
    "virtual_server",
    "virtual_server_group",
    "linkbeat_interfaces",
    "SSL",
    "bfd_instance",
    "net_namespace",
    "net_namespace_ipvs",
    "namespace_with_ipsets",
    "instance",
    "use_pid_dir",
];

/// Adds the meaning of complete top-level statements to `config`.
pub fn build_into(
    top: &[Statement],
    host: &dyn Host,
    diagnostics: &mut Diagnostics,
    config: &mut Config,
) {
    let mut cx = Cx {
        diagnostics,
        host,
        dynamic_interfaces: config.global.dynamic_interfaces,
        // Counted only when these blocks hold rules: counting is linear in what was read.
        rules_without_preference: if top.iter().any(holds_rules) {
            rules_without_preference(config)
        } else {
            [0, 0]
        },
        lvs_sync_daemon: config.lvs_sync_daemon_first.take(),
        track_groups: config.track_groups.iter().map(|g| g.name.clone()).collect(),
        garp_groups_numbered: 0,
    };
    build_top(&mut cx, top, config);
    config.lvs_sync_daemon_first = cx.lvs_sync_daemon.take();
}

fn build_top(cx: &mut Cx<'_>, items: &[Statement], config: &mut Config) {
    for stmt in items {
        if matches!(
            stmt.keyword(),
            "static_ipaddress" | "static_routes" | "static_rules"
        ) {
            cx.list_block_params(stmt);
        }
        match stmt.keyword() {
            "global_defs" => {
                global::build(cx, stmt, &mut config.global);
                cx.dynamic_interfaces = config.global.dynamic_interfaces;
            }
            "vrrp_script" => config.scripts.extend(script::build(cx, stmt)),
            "vrrp_instance" => {
                config.instance_blocks += 1;
                // 2.2.7 skips the whole block of an instance whose name is taken: nothing in
                // it is read (observed).
                let taken = match stmt.args() {
                    [only] => config.instance_names.contains(only.text.as_str()),
                    _ => false,
                };
                if taken {
                    let name = stmt.arg_texts().next().unwrap_or_default();
                    cx.error(
                        &stmt.location,
                        format!("vrrp instance {name} already defined"),
                    );
                } else if let Some(inst) = instance::build(cx, stmt) {
                    config.instance_names.insert(inst.name.clone());
                    config.instances.push(Box::new(inst));
                }
            }
            "vrrp_sync_group" => config.sync_groups.extend(sync_group::build(cx, stmt)),
            "static_ipaddress" => config
                .static_addresses
                .extend(addresses::address_block(cx, stmt, true)),
            "static_routes" => config
                .static_routes
                .extend(addresses::route_block(cx, stmt, true)),
            "static_rules" => config
                .static_rules
                .extend(addresses::rule_block(cx, stmt, true)),
            "vrrp_track_file" | "track_file" => {
                if stmt.keyword() == "vrrp_track_file" {
                    // Each running child that reads it says so; the parent and `-t` do not
                    // (2.2.7, observed, s29).
                    cx.diagnostics.push(
                        Diagnostic::new(
                            Severity::Log,
                            Some(stmt.location.clone()),
                            "\"vrrp_track_file\" is deprecated, please use \"track_file\"",
                        )
                        .in_every_process(),
                    );
                }
                config.track_files.extend(trackers::track_file(cx, stmt))
            }
            "vrrp_track_process" => config
                .track_processes
                .extend(trackers::track_process(cx, stmt)),
            "track_group" => {
                if let Some(group) = trackers::track_group(cx, stmt, &config.track_groups) {
                    cx.track_groups.push(group.name.clone());
                    config.track_groups.push(group);
                }
            }
            "garp_group" => {
                let taken: Vec<String> = config
                    .garp_groups
                    .iter()
                    .flat_map(|g| g.interfaces.iter().cloned())
                    .collect();
                config
                    .garp_groups
                    .extend(trackers::garp_group(cx, stmt, &taken))
            }
            "virtual_server" => {
                let track_files: Vec<&str> =
                    config.track_files.iter().map(|t| t.name.as_str()).collect();
                let bfd_instances: Vec<&str> = config
                    .bfd_instances
                    .iter()
                    .map(|b| b.name.as_str())
                    .collect();
                let defined = checker::Defined {
                    track_files: &track_files,
                    bfd_instances: &bfd_instances,
                };
                let vs = checker::virtual_server(cx, stmt, &defined);
                config.virtual_servers.extend(vs);
            }
            "virtual_server_group" => config
                .virtual_server_groups
                .extend(checker::virtual_server_group(cx, stmt)),
            "bfd_instance" => {
                let name = stmt.args().first().map(|w| w.text.as_str());
                match name.filter(|n| config.bfd_instances.iter().any(|b| b.name == *n)) {
                    // The checker names a repeated BFD instance, the BFD process drops it.
                    Some(name) => {
                        cx.error(&stmt.location, format!("BFD {name} already specified"));
                        cx.diagnostics.push(
                            Diagnostic::new(
                                Severity::Error,
                                Some(stmt.location.clone()),
                                format!(
                                    "Configuration error: BFD instance {name} already configured - ignoring"
                                ),
                            )
                            .in_pass(crate::diagnostic::Pass::Bfd),
                        );
                    }
                    None => config.bfd_instances.extend(bfd::build(cx, stmt)),
                }
            }
            "SSL" => config.ssl = Some(ssl_block(cx, stmt)),
            "net_namespace" if stmt.args().is_empty() => {
                cx.error(&stmt.location, "net_namespace name missing - ignoring")
            }
            "linkbeat_interfaces"
            | "net_namespace"
            | "net_namespace_ipvs"
            | "namespace_with_ipsets"
            | "instance"
            | "use_pid_dir" => config.other.push(cx.raw(stmt)),
            _ => cx.unknown_at_top(stmt),
        }
    }
}

/// `Unknown keyword 'X'` for `stmt`, with the closest of `known` as a hint.
fn unknown_keyword(stmt: &Statement, known: &[&str]) -> Diagnostic {
    let keyword = stmt.keyword();
    let message = format!("Unknown keyword '{keyword}'");
    let diagnostic = Diagnostic::new(Severity::Error, Some(stmt.location.clone()), message);
    match values::closest(keyword, known) {
        Some(hint) => diagnostic.with_hint(format!("did you mean {hint}?")),
        None => diagnostic,
    }
}

/// Reads `SSL { password ca certificate key }` (2.2.7 says `SSL context already specified -
/// replacing` of a second block).
fn ssl_block(cx: &mut Cx<'_>, stmt: &Statement) -> crate::model::SslDef {
    let mut def = crate::model::SslDef {
        location: Some(stmt.location.clone()),
        ..Default::default()
    };
    for item in cx.block(stmt) {
        let slot = match item.keyword() {
            "password" => &mut def.password,
            "ca" => &mut def.ca,
            "certificate" => &mut def.certificate,
            "key" => &mut def.key,
            _ => {
                cx.unknown(item, &["password", "ca", "certificate", "key"]);
                continue;
            }
        };
        let missing = format!("SSL {} missing", item.keyword());
        *slot = cx.arg_or(item, &missing).map(str::to_string);
    }
    def
}

/// Whether a top-level statement is or holds a rule block.
fn holds_rules(stmt: &Statement) -> bool {
    stmt.keyword() == "static_rules"
        || stmt
            .block
            .as_ref()
            .is_some_and(|b| b.items.iter().any(|i| i.keyword() == "virtual_rules"))
}

/// How many rules read so far (static and of instances) were given a default preference,
/// IPv4 ones first, then IPv6 ones.
fn rules_without_preference(config: &Config) -> [u32; 2] {
    let instances = config.instances.iter().flat_map(|i| &i.virtual_rules);
    let mut counts = [0u32; 2];
    for rule in config
        .static_rules
        .iter()
        .chain(instances)
        .filter(|r| !r.priority_given)
    {
        let count = &mut counts[usize::from(rule.is_ipv6())];
        *count = count.saturating_add(1);
    }
    counts
}

/// Reading context: where diagnostics go, and the helpers every block uses.
pub(crate) struct Cx<'a> {
    diagnostics: &'a mut Diagnostics,
    /// How many garp groups so far had an interface in an `interfaces` list: 2.2.7 numbers
    /// such a group by this count (and a group without one 0) in its lines.
    garp_groups_numbered: usize,
    /// The machine the configuration is checked against (interfaces exist or not).
    pub(crate) host: &'a dyn Host,
    /// `dynamic_interfaces` as read so far: missing interfaces are then expected.
    dynamic_interfaces: bool,
    /// How many rules so far were written without a preference, IPv4 ones and IPv6 ones.
    rules_without_preference: [u32; 2],
    /// The `lvs_sync_daemon` read so far (`INTERFACE INSTANCE`): a second one is refused.
    pub(crate) lvs_sync_daemon: Option<String>,
    /// The names of the track_group blocks read so far: a static line names one of them.
    pub(crate) track_groups: Vec<String>,
}

impl Cx<'_> {
    pub(crate) fn error(&mut self, location: &Location, message: impl Into<String>) {
        self.diagnostics.error(location, message);
    }

    pub(crate) fn warning(&mut self, location: &Location, message: impl Into<String>) {
        self.diagnostics.warning(location, message);
    }

    /// Reports a problem keepalived prints without a line number, when it completes the VRRP
    /// configuration after reading the whole file.
    pub(crate) fn unlocated(&mut self, severity: Severity, message: impl Into<String>) {
        self.diagnostics
            .push_at_completion(Diagnostic::new(severity, None, message.into()));
    }

    /// A problem without a line that the checker's reading finds: 2.2.7's checker logs it,
    /// and `-t` prints it with the checker's findings, also when the VRRP side's completion
    /// does not run or a later pass stops at a syntax error (observed).
    pub(crate) fn unlocated_checker(&mut self, severity: Severity, message: impl Into<String>) {
        self.diagnostics.push(
            Diagnostic::new(severity, None, message.into())
                .in_pass(crate::diagnostic::Pass::Checker),
        );
    }

    /// A line the process reading `location` logs and `-t` does not print
    /// ([`Severity::Log`]).
    pub(crate) fn log_at(&mut self, location: &Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(
            Severity::Log,
            Some(location.clone()),
            message.into(),
        ));
    }

    /// A line the checker logs while it reads `location` and `-t` does not print
    /// ([`Severity::Log`]).
    pub(crate) fn log_checker(&mut self, location: &Location, message: impl Into<String>) {
        self.diagnostics.push(
            Diagnostic::new(Severity::Log, Some(location.clone()), message.into())
                .in_pass(crate::diagnostic::Pass::Checker),
        );
    }

    /// Reports an unknown keyword, with a hint when a known one is close.
    pub(crate) fn unknown(&mut self, stmt: &Statement, known: &[&str]) {
        let diagnostic = unknown_keyword(stmt, known);
        self.diagnostics.push(diagnostic);
    }

    /// An unknown word at the top level: every process of keepalived reads the top level,
    /// and each running one logs it.
    fn unknown_at_top(&mut self, stmt: &Statement) {
        let diagnostic = unknown_keyword(stmt, TOP_LEVEL_KEYWORDS).in_every_process();
        self.diagnostics.push(diagnostic);
    }

    /// Keeps an accepted-but-unmodelled keyword as written.
    pub(crate) fn raw(&mut self, stmt: &Statement) -> RawSetting {
        RawSetting {
            keyword: stmt.keyword().to_string(),
            args: stmt.arg_texts().map(str::to_string).collect(),
            location: stmt.location.clone(),
        }
    }

    /// The first argument. A missing one is fatal, as in keepalived: checking stops there.
    pub(crate) fn arg<'s>(&mut self, stmt: &'s Statement) -> Option<&'s str> {
        let first = stmt.args().first().map(|w| w.text.as_str());
        if first.is_none() {
            self.missing_parameter(stmt, stmt.keyword());
        }
        first
    }

    /// keepalived's fatal "missing a parameter" for a line that ends after `keyword`, which
    /// wants a value (checking stops there, exit 2).
    pub(crate) fn missing_parameter(&mut self, stmt: &Statement, keyword: &str) {
        let first = stmt.keyword();
        let position = stmt.words.len() + 1;
        self.diagnostics.push(Diagnostic::new(
            Severity::Syntax,
            Some(stmt.location.clone()),
            format!(
                "*** Configuration line starting `{first}` is missing a parameter after \
                 keyword `{keyword}` at word position {position}"
            ),
        ));
    }

    /// The first argument; a missing one is an ordinary error with keepalived's `message`.
    pub(crate) fn arg_or<'s>(&mut self, stmt: &'s Statement, message: &str) -> Option<&'s str> {
        let first = stmt.args().first().map(|w| w.text.as_str());
        if first.is_none() {
            self.error(&stmt.location, message);
        }
        first
    }

    /// The block's one name word; `message` (and `None`) when there is none or more than one,
    /// as 2.2.7 says of a `vrrp_instance` or `vrrp_sync_group` (`"VI"_1` is two words).
    pub(crate) fn sole_name<'s>(&mut self, stmt: &'s Statement, message: &str) -> Option<&'s str> {
        match stmt.args() {
            [only] => Some(only.text.as_str()),
            _ => {
                self.error(&stmt.location, message);
                None
            }
        }
    }

    /// An integer argument in `min..=max`, with keepalived's range message.
    pub(crate) fn int(&mut self, stmt: &Statement, min: i64, max: i64) -> Option<i64> {
        let text = self.arg(stmt)?;
        self.int_value(&stmt.location, text, min, max)
    }

    /// A setting given a second time: 2.2.7 keeps the first and names the second, `WHAT
    /// already specified - ignoring WORD` (its first word). Whether the slot was free
    /// (`taken` false).
    pub(crate) fn first_wins(&mut self, taken: bool, stmt: &Statement, what: &str) -> bool {
        if taken {
            let word = stmt.args().first().map_or("", |w| w.text.as_str());
            self.error(
                &stmt.location,
                format!("{what} already specified - ignoring {word}"),
            );
        }
        !taken
    }

    /// An integer argument read by 2.2.7's signed reader whatever the range (`version`).
    pub(crate) fn signed_int(&mut self, stmt: &Statement, min: i64, max: i64) -> Option<i64> {
        let text = self.arg(stmt)?;
        self.read_int(&stmt.location, text, min, max)
    }

    /// `text` as an integer in `min..=max`, read by the reader 2.2.7 uses for such a range:
    /// its unsigned one when the range has no negative number (`negative number '-5'`,
    /// `number 'N' outside unsigned integer range`), else its signed one (`number 'N' outside
    /// integer range`); both say `number 'N' outside range [MIN, MAX]`.
    pub(crate) fn int_value(
        &mut self,
        at: &Location,
        text: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        match (u32::try_from(min), u32::try_from(max)) {
            (Ok(min), Ok(max)) => self.read_unsigned(at, text, min, max).map(i64::from),
            _ => self.read_int(at, text, min, max),
        }
    }

    /// `text` read by keepalived's signed number reader; its message is reported when refused.
    pub(crate) fn read_int(
        &mut self,
        at: &Location,
        text: &str,
        min: i64,
        max: i64,
    ) -> Option<i64> {
        values::read_int(text, min, max)
            .map_err(|message| self.error(at, message))
            .ok()
    }

    /// `text` read by keepalived's unsigned number reader; its message is reported when refused.
    pub(crate) fn read_unsigned(
        &mut self,
        at: &Location,
        text: &str,
        min: u32,
        max: u32,
    ) -> Option<u32> {
        values::read_unsigned(text, min, max)
            .map_err(|message| self.error(at, message))
            .ok()
    }

    /// The preference keepalived gives the next rule of its family written without one:
    /// 16384, then one less for each further such rule of that family (2.2.7 counts IPv4 and
    /// IPv6 rules apart, observed).
    pub(crate) fn next_default_rule_preference(&mut self, ipv6: bool) -> u32 {
        let count = &mut self.rules_without_preference[usize::from(ipv6)];
        let preference = 16384u32.saturating_sub(*count);
        *count = count.saturating_add(1);
        preference
    }

    /// An unsigned integer that fits u32.
    pub(crate) fn uint(&mut self, stmt: &Statement, max: u32) -> Option<u32> {
        self.int(stmt, 0, i64::from(max))
            .and_then(|v| u32::try_from(v).ok())
    }

    /// A decimal argument in `min..=max` (seconds, possibly fractional).
    pub(crate) fn decimal(&mut self, stmt: &Statement, min: f64, max: f64) -> Option<f64> {
        let text = self.arg(stmt)?;
        // 2.2.7's unsigned decimal reader names a negative value as such.
        if min >= 0.0
            && text
                .strip_prefix('-')
                .is_some_and(|rest| rest.parse::<f64>().is_ok())
        {
            self.error(&stmt.location, format!("negative number '{text}'"));
            return None;
        }
        match values::parse_decimal(text, min, max) {
            Ok(v) => Some(v),
            Err(NumberError::OutOfRange) => {
                self.error(
                    &stmt.location,
                    format!("number '{text}' outside range [{min:.6}, {max:.6}]"),
                );
                None
            }
            Err(NumberError::Invalid) => {
                self.error(&stmt.location, format!("invalid number '{text}'"));
                None
            }
        }
    }

    /// A boolean keyword with keepalived's keyword-specific `message` for a bad value.
    pub(crate) fn flag_or(
        &mut self,
        stmt: &Statement,
        message: impl FnOnce(&str) -> String,
    ) -> Option<bool> {
        match stmt.args().first() {
            None => Some(true),
            Some(word) => {
                let value = values::parse_bool(&word.text);
                if value.is_none() {
                    self.error(&stmt.location, message(&word.text));
                }
                value
            }
        }
    }

    /// A command string (`script`, `misc_path`): the first argument as keepalived 2.2.7 takes
    /// it (words after it are not part of it), split into argv.
    pub(crate) fn command(&mut self, stmt: &Statement) -> Option<Command> {
        self.command_and_rest(stmt).map(|(command, _)| command)
    }

    /// A notify script: `notify_* SCRIPT [USER [GROUP]]`, the words after the script naming
    /// the user it runs as.
    pub(crate) fn notify_command(&mut self, stmt: &Statement) -> Option<Command> {
        let (mut command, rest) = self.command_and_rest(stmt)?;
        let mut rest = rest.into_iter();
        command.run_as = rest.next().map(|user| RunAs {
            user,
            group: rest.next(),
        });
        Some(command)
    }

    /// The script and the words after it. A line holding quotes or backslashes is split as
    /// 2.2.7 splits it ([`crate::script_words::script_argv`]): the line into words, then the
    /// first argument into argv, quotes joining what touches them.
    fn command_and_rest(&mut self, stmt: &Statement) -> Option<(Command, Vec<String>)> {
        // The script is split from the line itself: a quote never closed, which leaves the
        // word reader with no argument, is no missing parameter there.
        if stmt.raw.is_none() {
            self.arg(stmt)?;
        }
        // A line that cannot be split at all (a quote never closed) is named whole and its
        // script dropped, as 2.2.7's checker and notify readers do (its vrrp_script reader
        // crashes there, see invalid-unterminated-quote).
        let split = stmt.raw.as_deref().map(script_words::script_argv);
        let (text, mut argv, rest) = match split {
            Some(Ok((argv, rest))) => {
                let text = stmt
                    .args()
                    .first()
                    .map(|w| w.text.to_string())
                    .unwrap_or_default();
                (text, argv, rest)
            }
            Some(Err((failed, error))) => {
                self.split_error(stmt, &failed, &error);
                return None;
            }
            None => {
                let (text, used) = values::script_token(stmt.args());
                let argv = values::split_command(&text);
                let rest = stmt.args().get(used..).unwrap_or(&[]);
                let rest = rest.iter().map(|w| w.text.to_string()).collect();
                (text, argv, rest)
            }
        };
        if argv.first().is_none_or(|a| a.is_empty()) {
            // An empty command (`script ""`) is no command; 2.2.7 says nothing of the line
            // (the block reports a missing script where it checks for one).
            return None;
        }
        let shell = values::is_shell_redirection(&argv[0]);
        if shell {
            argv = values::shell_argv(&argv);
        }
        let command = Command {
            text,
            argv,
            location: stmt.location.clone(),
            run_as: None,
            run_as_ids: None,
            shell,
        };
        Some((command, rest))
    }

    /// 2.2.7's words for a script string it could not split (the script is then dropped).
    fn split_error(&mut self, stmt: &Statement, failed: &str, error: &script_words::SplitError) {
        match error {
            script_words::SplitError::MissingTerminating(quote) => self.error(
                &stmt.location,
                format!("String '{failed}': missing terminating {quote}"),
            ),
            // 2.2.7 logs this one outside its configuration report: `-t` does not show it.
            script_words::SplitError::MissingEscape => {}
        }
    }

    /// `USER [GROUP]`.
    pub(crate) fn run_as(&mut self, stmt: &Statement) -> Option<RunAs> {
        let user = self.arg(stmt)?.to_string();
        let group = stmt.args().get(1).map(|w| w.text.to_string());
        Some(RunAs { user, group })
    }

    /// The statements of a keyword's block (none when its `{` was missing, which the tree
    /// builder has reported already).
    pub(crate) fn block<'s>(&self, stmt: &'s Statement) -> &'s [Statement] {
        stmt.block.as_ref().map_or(&[], |b| &b.items)
    }

    /// A list block (`virtual_ipaddress`, `track_script`, a sync group's `group`, …) written
    /// with words after its keyword: 2.2.7 names the first and ignores them all.
    pub(crate) fn list_block_params(&mut self, stmt: &Statement) {
        if let Some(first) = stmt.arg_texts().next() {
            let message = format!("Block {} has extra parameters {first} ...", stmt.keyword());
            self.error(&stmt.location, message);
        }
    }

    /// The name after a block keyword (`vrrp_instance NAME {`).
    pub(crate) fn block_name(&mut self, stmt: &Statement) -> Option<String> {
        let name = self.arg(stmt)?.to_string();
        Some(name)
    }

    /// The words of every line of a data block, flattened (for `group { A B }` style lists).
    pub(crate) fn word_list(&mut self, stmt: &Statement) -> Vec<String> {
        self.block(stmt)
            .iter()
            .flat_map(|s| s.words.iter().map(|w| w.text.to_string()))
            .collect()
    }
}

impl Cx<'_> {
    /// Warns, as keepalived does, when an interface named at `at` does not exist on the host;
    /// whether it may be used.
    pub(crate) fn check_interface(&mut self, at: &Location, name: &str, what: &str) -> bool {
        self.interface_must_exist(at, name, || {
            format!("WARNING - interface {name} for {what} doesn't exist")
        })
    }

    /// Reports `message` when interface `name` does not exist, unless `dynamic_interfaces`
    /// came first in global_defs. keepalived 2.2.7 then stops checking the VRRP side after
    /// reading the file ("Non-existent interface specified in configuration"). Whether it may be
    /// used: it exists, or interfaces may come later.
    pub(crate) fn interface_must_exist(
        &mut self,
        at: &Location,
        name: &str,
        message: impl FnOnce() -> String,
    ) -> bool {
        if !self.dynamic_interfaces && !self.host.interface_exists(name) {
            self.warning(at, message());
            self.diagnostics.note_nonexistent_interface();
            return false;
        }
        true
    }
}
