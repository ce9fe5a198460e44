//! Builds the block tree from tokenised lines: statements (a keyword and its arguments) that may
//! own a `{ … }` block. Whether a `{` opens a block depends on the keyword before it
//! ([`crate::grammar`]); brace problems are reported here with keepalived's wording.

use compact_str::CompactString;
use smallvec::{SmallVec, smallvec};

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Pass, Severity};
use crate::grammar::{BlockKind, child_block};
use crate::lexer::{Token, has_unterminated_quote, tokens, unterminated_quote_escaped};
use crate::source::SourceLine;

/// Blocks nested deeper than this are refused with one diagnostic. keepalived's own grammar
/// never goes past 5 levels, so this only stops hostile input from exhausting memory.
pub const MAX_NESTING: usize = 64;

/// A word of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Its text, without quotes (inline up to 24 bytes: nearly every word, so reading a line
    /// allocates nothing per word).
    pub text: CompactString,
    /// Whether it was written as a `"…"` string.
    pub quoted: bool,
}

/// The words of a statement.
pub type Words = SmallVec<[Word; 3]>;

/// A keyword with its arguments, and the block that follows it, if any.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Where the statement starts.
    pub location: Location,
    /// The keyword followed by its arguments (never empty); up to three words, nearly every
    /// line, are held without an allocation.
    pub words: Words,
    /// The `{ … }` that belongs to this statement.
    pub block: Option<Block>,
    /// Set on a top-level statement read again after a list without `{` (see
    /// [`OutsideView`]): the pass of keepalived 2.2.7 that reads it there first.
    pub read_first_by: Option<Pass>,
    /// Set on a top-level statement read while a top-level block that ended early is still
    /// open for the passes that count braces (see `Builder::shadow`): the only pass of
    /// keepalived 2.2.7 that reads it at the top level. A block of another process there
    /// (a `virtual_server` after an instance that ended early) is read by no pass.
    pub only_read_by: Option<Pass>,
    /// Set on a top-level statement that no pass of keepalived 2.2.7 reads (see
    /// `Builder::unread_since`).
    pub unread: bool,
    /// The statement's line as written, from its keyword up to the first brace outside
    /// `"…"`, kept only when it holds a quote or a backslash: a script string is split from it
    /// ([`crate::script_words`]), since 2.2.7 joins quoted and bare text into one word there.
    pub raw: Option<Box<str>>,
}

impl Statement {
    /// The keyword (first word).
    pub fn keyword(&self) -> &str {
        self.words.first().map_or("", |w| w.text.as_str())
    }

    /// The arguments after the keyword.
    pub fn args(&self) -> &[Word] {
        self.words.get(1..).unwrap_or(&[])
    }

    /// The argument texts after the keyword.
    pub fn arg_texts(&self) -> impl Iterator<Item = &str> {
        self.args().iter().map(|w| w.text.as_str())
    }
}

/// The inside of `{ … }`.
#[derive(Debug, Clone)]
pub struct Block {
    /// What kind of block it is.
    pub kind: BlockKind,
    /// Where `{` stood.
    pub open: Location,
    /// Where `}` stood; `None` if the file ended first.
    pub close: Option<Location>,
    /// The statements inside.
    pub items: Vec<Statement>,
}

/// The rest of `line` from where `word` (a slice of it, the inside of a `"…"` when `quoted`)
/// was written; empty when `word` is not part of `line`.
fn line_tail<'l>(line: &'l str, word: &str, quoted: bool) -> &'l str {
    let start = (word.as_ptr() as usize)
        .checked_sub(line.as_ptr() as usize)
        .and_then(|at| at.checked_sub(usize::from(quoted)));
    start
        .filter(|&at| at + usize::from(quoted) + word.len() <= line.len())
        .and_then(|at| line.get(at..))
        .unwrap_or("")
}

/// The statement text 2.2.7 hands a script keyword: `tail` up to the first `{` or `}` outside
/// `"…"`, without trailing blanks; `None` when it holds no quote or backslash (its words are
/// then exactly the tokens).
fn raw_segment(tail: &str) -> Option<Box<str>> {
    // Only up to the next brace outside `"…"`: a line of many blocks is read in one pass.
    let mut in_quotes = false;
    let mut special = false;
    let end = tail
        .char_indices()
        .find(|&(_, c)| {
            match c {
                '"' => {
                    in_quotes = !in_quotes;
                    special = true;
                }
                '\'' | '\\' => special = true,
                _ => {}
            }
            !in_quotes && matches!(c, '{' | '}')
        })
        .map_or(tail.len(), |(at, _)| at);
    special.then(|| tail[..end].trim_end_matches([' ', '\t', '\r', '\n']).into())
}

/// One open block while the tree is built.
struct Level {
    kind: BlockKind,
    items: Vec<Statement>,
    open: Location,
    /// A list whose keyword had no `{`: it ends at the first line that starts with `}`.
    headless: bool,
    /// The brace count before the block opened: a pass that skips a top-level block counts
    /// braces from its `{` on, whatever came before.
    balance_before: i64,
}

/// keepalived reads a list written without its `{` (`notification_email` alone on its line,
/// then the addresses) differently in its parsing passes. The pass that handles the enclosing
/// block takes the following lines as the list up to a line starting with `}`, and carries on
/// inside the enclosing block; the passes that skip that block count braces, so for them the
/// block ends at that `}` and what follows is at the top level. The tree follows the first
/// view; the lines read after the list, up to the enclosing block's end, are kept here and
/// read again at the top level for the second.
struct OutsideView {
    /// The kind of block the list was in.
    enclosing: BlockKind,
    /// The lines since the list's `}`, up to and including the enclosing block's `}`.
    lines: Vec<(Location, String)>,
    /// How many blocks the passes that count braces are still in after the list's `}` (more
    /// than 0 when the list was nested deeper than one block): lines are kept only once they
    /// have left them all.
    depth: i64,
    /// For a top-level block written without `{`: its own pass, which read these lines inside
    /// it (its blocks among them are not read again at the top level).
    own: Option<Pass>,
    /// Behind a block that ended early (a shadow), the one pass that reads the top level and
    /// the braces the other passes still count from the shadow's block: its `}` are theirs,
    /// not extra ones.
    shadowed: Option<(Pass, i64)>,
}

/// State of the statement most recently started at the current level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    /// Nothing that a word or `{` could join.
    Closed,
    /// Still on its own line: more words join it.
    OnLine,
    /// A block keyword whose `{` has not come yet (it may stand on the next line).
    AwaitingBlock,
}

/// Builds statements line by line and hands out each top-level statement as soon as it is
/// complete, so a large configuration never exists as one whole tree.
pub struct Builder {
    top: Vec<Statement>,
    levels: Vec<Level>,
    last: Last,
    /// Every `{` minus every `}`, ignored ones included, as keepalived counts them.
    brace_balance: i64,
    reported_depth: bool,
    last_location: Option<Location>,
    outside_view: Option<OutsideView>,
    /// For a builder that reads an [`OutsideView`]: the pass that reads its top level first.
    top_pass: Option<Pass>,
    /// A top-level block that ended early (its `}` closed it while an ignored `{` was still
    /// open for brace counting): the brace balance before it opened and the pass that reads
    /// it. Until the balance is back there, what we read at the top level is, for the passes
    /// that skip the block by counting braces, still inside it: only its own pass reads it.
    shadow: Option<(i64, Pass)>,
    /// Inside a shadow: a top-level block of another process than the shadow's ended early
    /// (the brace count before it opened). The shadow's pass skips that block by counting
    /// braces from its `{`, so until the count is back there, no pass reads the top level.
    unread_since: Option<i64>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            top: Vec::new(),
            levels: Vec::new(),
            last: Last::Closed,
            brace_balance: 0,
            reported_depth: false,
            last_location: None,
            outside_view: None,
            top_pass: None,
            shadow: None,
            unread_since: None,
        }
    }
}

impl Builder {
    /// Adds one line.
    pub fn feed(&mut self, location: &Location, text: &str, diagnostics: &mut Diagnostics) {
        if let Some(view) = &mut self.outside_view {
            if view.depth > 0 {
                for token in tokens(text) {
                    match token {
                        Token::Open => view.depth += 1,
                        Token::Close => view.depth -= 1,
                        Token::Word { .. } => {}
                    }
                }
            } else {
                view.lines.push((location.clone(), text.to_string()));
            }
        }
        // Every pass splits every line into words, skipped blocks included: the parent, which
        // reads first, names it first. The comment remover and the word reader count quotes
        // each their own way, and each names the line.
        let pass = self.top_pass.unwrap_or(Pass::Parent);
        if let Some(named) = unterminated_quote_escaped(text) {
            diagnostics.error_in(pass, location, format!("Unterminated quote '{named}'"));
        }
        if has_unterminated_quote(text) {
            diagnostics.error_in(pass, location, format!("Unmatched quote: '{text}'"));
        }
        // The first token matters only to a list waiting for its `{` or running without one.
        let first =
            if self.last == Last::AwaitingBlock || self.levels.last().is_some_and(|l| l.headless) {
                tokens(text).next()
            } else {
                None
            };
        if self.last == Last::AwaitingBlock && !matches!(first, Some(Token::Open)) {
            if self.awaiting_inner_list() {
                self.open_headless(location, BlockKind::List);
            } else if let Some(kind) = self.awaiting_inner_block() {
                // A block inside a block without its `{` (`real_server A P` then its lines):
                // 2.2.7 names the line and reads the lines up to the next `}` as the block's.
                self.report_here(
                    location,
                    "Missing '{' at beginning of configuration block",
                    diagnostics,
                );
                self.open_headless(location, kind);
            } else if self.group_without_brace() {
                // 2.2.7's checker reads a virtual_server_group's entries with its list reader,
                // which without the `{` takes the next line as a missing value: fatal there.
                diagnostics.push(
                    Diagnostic::new(
                        Severity::Syntax,
                        Some(location.clone()),
                        "*** Configuration line starting `***MISSING ***` is missing a \
                         parameter at word position 1",
                    )
                    .in_pass(Pass::Checker),
                );
                self.last = Last::Closed;
            } else if let Some((kind, own)) = self.awaiting_top_block() {
                // A top-level block without its `{`: its own pass names the line and reads
                // the lines up to the `}` that ends it as the block's; every other pass reads
                // them at the top level (as unknown keywords). A static list (static_ipaddress,
                // static_routes, static_rules) is read so too, but 2.2.7's list reader names no
                // missing `{` (observed).
                if kind != BlockKind::List {
                    diagnostics.error_in(
                        own,
                        location,
                        "Missing '{' at beginning of configuration block",
                    );
                }
                self.open_headless(location, kind);
                // Behind a block that ended early no other pass reads these lines.
                self.outside_view = self.shadow.is_none().then(|| OutsideView {
                    enclosing: kind,
                    lines: vec![(location.clone(), text.to_string())],
                    depth: 0,
                    own: Some(own),
                    shadowed: None,
                });
            }
        }
        if matches!(first, Some(Token::Close)) && self.levels.last().is_some_and(|l| l.headless) {
            // The list reader drops the rest of the line that ends the list; the passes that
            // skip the block read it at the top level.
            self.close_headless(location, diagnostics);
            let rest = text.trim_start().get(1..).unwrap_or("");
            if let Some(view) = &mut self.outside_view
                && !rest.trim().is_empty()
            {
                view.lines.push((location.clone(), rest.to_string()));
            }
            self.last_location = Some(location.clone());
            if self.levels.is_empty() {
                // A top-level block without `{` has ended.
                self.read_outside_view(diagnostics);
            }
            return;
        }
        let in_headless = self.levels.iter().any(|l| l.headless);
        let mut rest = in_headless.then(|| tokens(text).collect::<Vec<_>>().into_iter());
        let mut plain = (!in_headless).then(|| tokens(text));
        while let Some(token) = rest
            .as_mut()
            .and_then(Iterator::next)
            .or_else(|| plain.as_mut().and_then(Iterator::next))
        {
            match token {
                Token::Word { text: word, quoted } => {
                    let tail = line_tail(text, word, quoted);
                    self.word_with_raw(
                        Word {
                            text: CompactString::from(word),
                            quoted,
                        },
                        tail,
                        location,
                        diagnostics,
                    );
                }
                Token::Open => self.open(location, diagnostics),
                Token::Close => {
                    if self.close(location, diagnostics) {
                        // A `}` after a value ended the list without `{`: the passes that
                        // count braces read what follows it on the line at the top level.
                        self.keep_rest_for_outside_view(location, rest.as_ref());
                    }
                }
            }
        }
        self.end_of_line();
        self.remember_line(location);
        if self.levels.is_empty() {
            self.read_outside_view(diagnostics);
        }
    }

    /// Keeps the location of the line just read (for a `{` missing at the end of input),
    /// without touching the file name's reference count when the file is the same.
    fn remember_line(&mut self, location: &Location) {
        match &mut self.last_location {
            Some(last) if std::sync::Arc::ptr_eq(&last.file, &location.file) => {
                last.line = location.line;
                last.order = location.order;
            }
            _ => self.last_location = Some(location.clone()),
        }
    }

    /// Whether the statement waiting for its `{` is a list inside a block (a list keyword at
    /// the top level without `{` is no list for keepalived: its lines are read as keywords).
    fn awaiting_inner_list(&mut self) -> bool {
        !self.levels.is_empty() && self.awaiting_block_keyword() == Some(BlockKind::List)
    }

    /// The kind and own pass of a top-level block (not a list) whose keyword waits for its
    /// `{`, when the top level is read by every pass.
    /// Whether a top-level `virtual_server_group` waits for its `{` where the checker reads.
    fn group_without_brace(&self) -> bool {
        self.levels.is_empty()
            && self.top_pass.is_none()
            && self.unread_since.is_none()
            && self.shadow.is_none_or(|(_, alone)| alone == Pass::Checker)
            && self
                .top
                .last()
                .is_some_and(|s| s.block.is_none() && s.keyword() == "virtual_server_group")
    }

    /// Behind a block that ended early, only when the one pass still reading the top level
    /// is the block's own.
    fn awaiting_top_block(&mut self) -> Option<(BlockKind, Pass)> {
        if !self.levels.is_empty() || self.top_pass.is_some() || self.unread_since.is_some() {
            return None;
        }
        let keyword = self.top.last()?.keyword();
        let static_list = matches!(
            keyword,
            "static_ipaddress" | "static_routes" | "static_rules"
        );
        let kind = self
            .awaiting_block_keyword()
            .filter(|kind| *kind != BlockKind::List || static_list)?;
        let own = Pass::of_block(self.top.last()?.keyword());
        match self.shadow {
            Some((_, alone)) if !pass_reads_block(alone, self.top.last()?.keyword()) => None,
            Some((_, alone)) => Some((kind, alone)),
            None => Some((kind, own)),
        }
    }

    /// The kind of the block (not a list) whose keyword inside a block waits for its `{`.
    fn awaiting_inner_block(&mut self) -> Option<BlockKind> {
        if self.levels.is_empty() {
            return None;
        }
        self.awaiting_block_keyword()
            .filter(|kind| *kind != BlockKind::List)
    }

    /// Starts a list (or block) whose keyword had no `{` (see [`OutsideView`]).
    fn open_headless(&mut self, at: &Location, kind: BlockKind) {
        self.levels.push(Level {
            kind,
            items: Vec::new(),
            open: at.clone(),
            headless: true,
            balance_before: self.brace_balance,
        });
        self.last = Last::Closed;
    }

    /// Ends a list whose keyword had no `{` at a line starting with `}`: keepalived counts
    /// that `}` but stays in the enclosing block.
    fn close_headless(&mut self, at: &Location, diagnostics: &mut Diagnostics) {
        self.last = Last::Closed;
        self.brace_balance -= 1;
        if self.brace_balance < 0 {
            // The parent, skipping the block by counting braces, finds it first.
            self.top_level_brace_line(at, Pass::Parent, "Extra '}' found", diagnostics);
            self.brace_balance = 0;
        }
        if let Some(level) = self.levels.pop() {
            self.attach(level, Some(at.clone()));
        }
        self.end_shadow();
        self.start_outside_view();
    }

    /// Keeps the words left on the line after the `}` that ended a list without `{` for the
    /// passes that read them at the top level.
    fn keep_rest_for_outside_view(
        &mut self,
        location: &Location,
        rest: Option<&std::vec::IntoIter<Token<'_>>>,
    ) {
        let Some(rest) = rest else {
            return;
        };
        let words: Vec<String> = rest
            .as_slice()
            .iter()
            .map(|token| match token {
                Token::Open => "{".to_string(),
                Token::Close => "}".to_string(),
                Token::Word { text, quoted: true } => format!("\"{text}\""),
                Token::Word { text, .. } => (*text).to_string(),
            })
            .collect();
        // Only when that `}` brought them back to the top level.
        if let Some(view) = &mut self.outside_view
            && !words.is_empty()
            && view.lines.is_empty()
            && view.depth == 0
        {
            view.lines.push((location.clone(), words.join(" ")));
        }
    }

    /// After a list without `{` has ended, starts keeping the lines that the passes counting
    /// braces read at the top level (see [`OutsideView`]).
    fn start_outside_view(&mut self) {
        // Behind a block that ended early, the top level is read by one pass alone: when that
        // is the pass reading this block, no other pass reaches these lines.
        let alone = self.top.last().is_some_and(|owner| {
            owner.unread || owner.only_read_by == Some(Pass::of_block(owner.keyword()))
        });
        if alone && !self.levels.is_empty() {
            return;
        }
        if self.outside_view.is_none() {
            // Inside a shadow, a block of another pass than the shadow's is skipped by the
            // shadow's pass, which alone reads what follows it at the top level.
            let shadowed = self.shadow.and_then(|(before, pass)| {
                let other = self
                    .top
                    .last()
                    .is_some_and(|owner| !pass_reads_block(pass, owner.keyword()));
                other.then_some((pass, self.brace_balance - before))
            });
            self.outside_view = Some(OutsideView {
                enclosing: self.levels.first().map_or(self.kind(), |l| l.kind),
                lines: Vec::new(),
                depth: self.brace_balance - self.levels.first().map_or(0, |l| l.balance_before),
                own: None,
                shadowed,
            });
        }
    }

    /// Once the block that held a list without `{` has ended, reads the lines after that list
    /// again at the top level, as keepalived's passes that skip the block see them. Their
    /// problems are reported; their blocks join the configuration, except VRRP blocks when the
    /// list was in a VRRP block (the VRRP pass read those lines inside it).
    fn read_outside_view(&mut self, diagnostics: &mut Diagnostics) {
        let Some(view) = self.outside_view.take() else {
            return;
        };
        // The passes that skip a `global_defs` are the children, the checker's first; the
        // parent skips every other block.
        let top_pass = if view.enclosing == BlockKind::GlobalDefs {
            Pass::Checker
        } else {
            Pass::Parent
        };
        let mut outside = Builder {
            top_pass: Some(view.shadowed.map_or(top_pass, |(pass, _)| pass)),
            brace_balance: view.shadowed.map_or(0, |(_, open)| open),
            ..Builder::default()
        };
        for (location, text) in &view.lines {
            outside.feed(location, text, diagnostics);
        }
        let vrrp_owned = matches!(
            view.enclosing,
            BlockKind::Instance
                | BlockKind::SyncGroup
                | BlockKind::GarpGroup
                | BlockKind::TrackGroup
        );
        // A VRRP block read there ended early for the passes counting braces (an extra `{`):
        // they are still inside it once the enclosing block has ended, and the VRRP pass,
        // which read those lines inside the enclosing block, alone reads the top level.
        let open_for_counters = match outside.shadow {
            Some((before, Pass::Vrrp)) if vrrp_owned => outside.brace_balance - before,
            _ => 0,
        };
        if open_for_counters > 0 && self.shadow.is_none() && self.levels.is_empty() {
            self.shadow = Some((self.brace_balance - open_for_counters, Pass::Vrrp));
        }
        let statements = outside.finish(diagnostics);
        let read_inside = |s: &Statement| {
            (vrrp_owned && is_vrrp_block(s.keyword()))
                || (s.block.is_some() && view.own == Some(Pass::of_block(s.keyword())))
        };
        self.top
            .extend(statements.into_iter().filter(|s| !read_inside(s)));
    }

    /// The top-level statements that nothing read later can change.
    pub fn take_complete(&mut self) -> Vec<Statement> {
        if self.levels.is_empty() && self.last == Last::Closed {
            std::mem::take(&mut self.top)
        } else {
            Vec::new()
        }
    }

    /// Whether every pass reads the top level here (no block that ended early leaves it to
    /// one pass alone).
    fn every_pass_reads_here(&self) -> bool {
        self.top_pass.is_none() && self.shadow.is_none()
    }

    /// A brace problem of the top level: each process meets it in its own reading, so the
    /// running children log it too where every pass reads the top level (2.2.7, observed).
    fn top_level_brace_line(
        &self,
        at: &Location,
        pass: Pass,
        message: &str,
        diagnostics: &mut Diagnostics,
    ) {
        let shared = pass == Pass::Parent && self.every_pass_reads_here();
        diagnostics.push(
            Diagnostic::new(Severity::Error, Some(at.clone()), message)
                .in_pass(pass)
                .shared_if(shared),
        );
    }

    /// Ends the input: closes open blocks and reports what is missing.
    pub fn finish(mut self, diagnostics: &mut Diagnostics) -> Vec<Statement> {
        if let Some(at) = self.last_location.take() {
            self.missing_open(&at, diagnostics);
        }
        while let Some(level) = self.levels.pop() {
            self.attach(level, None);
        }
        self.read_outside_view(diagnostics);
        if self.brace_balance > 0 {
            diagnostics.push(
                Diagnostic::new(
                    Severity::Error,
                    None,
                    format!(
                        "There are {} missing '}}'s or extra '{{'s",
                        self.brace_balance
                    ),
                )
                // Every pass says it at the end of the file, the parent first (each child
                // logs it too, from its own reading).
                .in_pass(self.top_pass.unwrap_or(Pass::Parent))
                .in_every_process(),
            );
        }
        self.top
    }

    /// Whether no pass of 2.2.7 reads what is here: inside a top-level block that, for the
    /// passes that count braces, lies within an earlier block that ended early, and that
    /// belongs to another process (see [`Statement::only_read_by`]).
    fn unread_here(&self) -> bool {
        if self.levels.is_empty() {
            return self.unread_since.is_some();
        }
        self.top.last().is_some_and(|owner| {
            let own = Pass::of_block(owner.keyword());
            owner.unread
                || owner.only_read_by.is_some_and(|only| {
                    !pass_reads_block(only, owner.keyword())
                        && (own != Pass::Parent || owner.keyword() == "global_defs")
                })
        })
    }

    /// Reports a brace problem where the tree is now, unless no pass reads it.
    fn report_here(&self, at: &Location, message: &str, diagnostics: &mut Diagnostics) {
        if !self.unread_here() {
            diagnostics.error_in(self.pass_here(), at, message.to_string());
        }
    }

    /// The pass of keepalived 2.2.7 that first reports a brace problem here: the one that
    /// reads the top-level block we are in, or the top level.
    fn pass_here(&self) -> Pass {
        match self.levels.first() {
            None => self
                .shadow
                .map(|(_, pass)| pass)
                .or(self.top_pass)
                .unwrap_or(Pass::Parent),
            Some(_) => self.top.last().map_or(Pass::Parent, |owner| {
                // Behind a block that ended early, the one pass reading the top level.
                if let Some(only) = owner.only_read_by
                    && pass_reads_block(only, owner.keyword())
                {
                    return only;
                }
                owner
                    .read_first_by
                    .filter(|_| Pass::of_block(owner.keyword()) == Pass::Parent)
                    .unwrap_or_else(|| Pass::of_block(owner.keyword()))
            }),
        }
    }

    fn kind(&self) -> BlockKind {
        self.levels.last().map_or(BlockKind::Top, |l| l.kind)
    }

    fn current(&mut self) -> &mut Vec<Statement> {
        match self.levels.last_mut() {
            Some(level) => &mut level.items,
            None => &mut self.top,
        }
    }

    fn awaiting_block_keyword(&mut self) -> Option<BlockKind> {
        let kind = self.kind();
        let last = self.current().last()?;
        if last.block.is_some() {
            return None;
        }
        child_block(kind, last.keyword())
    }

    fn end_of_line(&mut self) {
        if self.last == Last::OnLine {
            self.last = if self.awaiting_block_keyword().is_some() {
                Last::AwaitingBlock
            } else {
                Last::Closed
            };
        }
    }

    /// A token other than `{` arrived while a block keyword waited for its `{`.
    fn missing_open(&mut self, at: &Location, diagnostics: &mut Diagnostics) {
        if self.last == Last::AwaitingBlock {
            // A top-level block is read, and its missing `{` named, by its own pass only.
            let pass = match self.top.last() {
                Some(owner)
                    if self.levels.is_empty()
                        && self.shadow.is_none()
                        && self.top_pass.is_none() =>
                {
                    Pass::of_block(owner.keyword())
                }
                _ => self.pass_here(),
            };
            if !self.unread_here() {
                diagnostics.error_in(pass, at, "Missing '{' at beginning of configuration block");
            }
            self.last = Last::Closed;
        }
    }

    fn word(&mut self, word: Word, at: &Location, diagnostics: &mut Diagnostics) {
        self.word_with_raw(word, "", at, diagnostics);
    }

    /// A word; `tail` is the line from where the word was written (a new statement keeps it
    /// as [`Statement::raw`] when it matters).
    fn word_with_raw(
        &mut self,
        word: Word,
        tail: &str,
        at: &Location,
        diagnostics: &mut Diagnostics,
    ) {
        self.missing_open(at, diagnostics);
        if self.last == Last::OnLine
            && let Some(statement) = self.current().last_mut()
        {
            statement.words.push(word);
            return;
        }
        let read_first_by = if self.levels.is_empty() {
            self.shadow.map(|(_, pass)| pass).or(self.top_pass)
        } else {
            None
        };
        let only_read_by = if self.levels.is_empty() {
            self.shadow.map(|(_, pass)| pass)
        } else {
            None
        };
        let unread = self.levels.is_empty() && self.unread_since.is_some();
        self.current().push(Statement {
            location: at.clone(),
            words: smallvec![word],
            block: None,
            read_first_by,
            only_read_by,
            unread,
            raw: raw_segment(tail),
        });
        self.last = Last::OnLine;
    }

    fn open(&mut self, at: &Location, diagnostics: &mut Diagnostics) {
        self.brace_balance += 1;
        if self.in_value_list() {
            // keepalived's list reader takes a `{` inside the list as an entry of its own (the
            // words before it are one entry, those after it another); only the passes that
            // skip the block by counting braces see it as a brace.
            self.last = Last::Closed;
            self.word(
                Word {
                    text: CompactString::const_new("{"),
                    quoted: false,
                },
                at,
                diagnostics,
            );
            self.last = Last::Closed;
            return;
        }
        let child = match self.last {
            Last::OnLine | Last::AwaitingBlock => self.awaiting_block_keyword(),
            Last::Closed => None,
        };
        self.last = Last::Closed;
        let Some(kind) = child else {
            self.report_here(at, "Unexpected '{' - ignoring", diagnostics);
            return;
        };
        if self.levels.len() >= MAX_NESTING {
            if !self.reported_depth {
                self.reported_depth = true;
                diagnostics.error_in(
                    self.pass_here(),
                    at,
                    format!("Blocks nested deeper than {MAX_NESTING} levels - ignoring"),
                );
            }
            return;
        }
        if self.levels.is_empty() && self.shadow.is_none() {
            let before = self.brace_balance - 1;
            self.levels.push(Level {
                kind,
                items: Vec::new(),
                open: at.clone(),
                headless: false,
                balance_before: before,
            });
            self.shadow = Some((before, self.pass_here()));
            return;
        }
        self.levels.push(Level {
            kind,
            items: Vec::new(),
            open: at.clone(),
            headless: false,
            balance_before: self.brace_balance - 1,
        });
    }

    /// Whether we are inside a list of values (not the `SSL` block, whose lines are
    /// keywords), where keepalived reads every word, `{` included, as a value.
    fn in_value_list(&self) -> bool {
        if self.kind() != BlockKind::List {
            return false;
        }
        let owner = if self.levels.len() == 1 {
            self.top.last()
        } else {
            self.levels
                .get(self.levels.len().wrapping_sub(2))
                .and_then(|l| l.items.last())
        };
        owner.is_none_or(|s| s.keyword() != "SSL")
    }

    /// Ends the shadow of a top-level block once the braces counted since it opened balance.
    fn end_shadow(&mut self) {
        if self
            .shadow
            .is_some_and(|(before, _)| self.brace_balance <= before)
        {
            self.shadow = None;
        }
    }

    /// Handles a `}`; true when it ended a list or block written without `{`.
    fn close(&mut self, at: &Location, diagnostics: &mut Diagnostics) -> bool {
        self.missing_open(at, diagnostics);
        self.last = Last::Closed;
        self.brace_balance -= 1;
        if self.brace_balance < 0 {
            // The parent, skipping the block by counting braces, finds it first.
            self.top_level_brace_line(at, Pass::Parent, "Extra '}' found", diagnostics);
            self.brace_balance = 0;
        }
        let mut headless = false;
        match self.levels.pop() {
            Some(level) => {
                headless = level.headless;
                let before = level.balance_before;
                self.attach(level, Some(at.clone()));
                if self.levels.is_empty() {
                    self.block_of_other_pass_in_shadow_ended(before);
                }
            }
            None if self.unread_since.is_some() => {}
            None => {
                let pass = self.pass_here();
                self.top_level_brace_line(at, pass, "Unknown keyword '}'", diagnostics);
            }
        }
        if self
            .unread_since
            .is_some_and(|before| self.brace_balance <= before)
        {
            self.unread_since = None;
        }
        self.end_shadow();
        if headless {
            // A `}` after a value (`192.0.2.1 }`) ends a list without `{` too.
            self.start_outside_view();
        }
        headless
    }

    /// A top-level block just ended at a `}`: when it belongs to another process than the
    /// shadow's and its braces do not balance, the shadow's pass is still inside it.
    fn block_of_other_pass_in_shadow_ended(&mut self, before: i64) {
        let Some((_, shadow_pass)) = self.shadow else {
            return;
        };
        let Some(owner) = self.top.last() else {
            return;
        };
        if owner.unread || owner.only_read_by.is_none() {
            return;
        }
        if Pass::of_block(owner.keyword()) != shadow_pass && self.brace_balance > before {
            self.unread_since = Some(before);
        }
    }

    /// Gives a finished block to the statement that opened it.
    fn attach(&mut self, level: Level, close: Option<Location>) {
        let block = Block {
            kind: level.kind,
            open: level.open,
            close,
            items: level.items,
        };
        if let Some(owner) = self.current().last_mut() {
            owner.block = Some(block);
        }
    }
}

/// Whether a pass of keepalived 2.2.7 reads a top-level block with this keyword: its own
/// pass, and the VRRP process for `bfd_instance` too (it learns the names `track_bfd` uses).
fn pass_reads_block(pass: Pass, keyword: &str) -> bool {
    Pass::of_block(keyword) == pass || (pass == Pass::Vrrp && keyword == "bfd_instance")
}

/// Top-level blocks keepalived's VRRP process reads (track files the checker reads too).
fn is_vrrp_block(keyword: &str) -> bool {
    Pass::of_block(keyword) == Pass::Vrrp || matches!(keyword, "vrrp_track_file" | "track_file")
}

/// Turns source lines into the top-level statements, reporting brace problems.
pub fn build(lines: &[SourceLine], diagnostics: &mut Diagnostics) -> Vec<Statement> {
    let mut builder = Builder::default();
    let mut top = Vec::new();
    for line in lines {
        builder.feed(&line.location, &line.text, diagnostics);
        top.extend(builder.take_complete());
    }
    top.extend(builder.finish(diagnostics));
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(text: &str) -> (Vec<Statement>, Vec<Diagnostic>) {
        let mut diags = Diagnostics::default();
        let lines = crate::source::read_lines(text, "h", &mut diags);
        let top = build(&lines, &mut diags);
        (top, diags.into_vec())
    }

    #[test]
    fn brace_on_its_own_line_belongs_to_the_keyword() {
        let (top, diags) = tree("vrrp_instance VI_1\n{\n state MASTER\n}\n");
        assert!(diags.is_empty(), "{diags:?}");
        let block = top[0].block.as_ref().expect("block");
        assert_eq!(block.items[0].keyword(), "state");
        assert_eq!(block.close.as_ref().map(|l| l.line), Some(4));
    }

    #[test]
    fn one_line_block() {
        let (top, _) = tree("vrrp_instance X {\nvirtual_ipaddress { 192.0.2.1 192.0.2.2 }\n}");
        let inner = &top[0].block.as_ref().expect("block").items[0];
        let block = inner.block.as_ref().expect("block");
        assert_eq!(block.items.len(), 1);
        assert_eq!(block.items[0].words.len(), 2);
    }

    #[test]
    fn unknown_keyword_does_not_open_a_block() {
        // keepalived: the '{' is ignored, so the '}' on line 4 closes the instance.
        let (top, diags) = tree("vrrp_instance X {\n bogus {\n inner 1\n }\n state MASTER\n}\n");
        let lines: Vec<_> = diags
            .iter()
            .map(|d| (d.line(), d.message.as_str()))
            .collect();
        assert_eq!(
            lines,
            vec![
                (Some(2), "Unexpected '{' - ignoring"),
                (Some(6), "Unknown keyword '}'")
            ]
        );
        assert_eq!(top.len(), 2);
        assert_eq!(top[1].keyword(), "state");
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        let (_, diags) = tree("vrrp_script a {\n}\n}\nvrrp_script b {\n");
        let lines: Vec<_> = diags.iter().map(|d| d.line()).collect();
        assert_eq!(lines, vec![Some(3), Some(3), None]);
        assert!(diags[2].message.contains("1 missing"));
    }

    #[test]
    fn behind_an_instance_that_ended_early_only_its_pass_reads_past_a_headless_block() {
        // The VIP list lost its `}`: VI_1 ends at line 6 for the VRRP pass while the others
        // still count one brace open. The real server without `{` ends at line 13; the VRRP
        // pass, skipping the virtual server, reads line 14 at the top level; the others are
        // still inside VI_1 there, and only line 15 is extra for them.
        let text = "vrrp_instance VI_1 {\n virtual_ipaddress {\n 192.0.2.1\n track_script {\n \
                    chk\n }\n}\nvirtual_server 192.0.2.1 80 {\n real_server 192.0.2.2 80\n \
                    weight 1\n TCP_CHECK {\n }\n }\n}\n}\n";
        let (_, diags) = tree(text);
        let named: Vec<_> = diags
            .iter()
            .filter(|d| d.message.contains('}'))
            .map(|d| (d.line(), d.pass, d.message.as_str()))
            .collect();
        assert!(
            named.contains(&(Some(14), Some(Pass::Vrrp), "Unknown keyword '}'")),
            "{named:?}"
        );
        assert!(
            !named
                .iter()
                .any(|(line, _, m)| *line == Some(14) && m.starts_with("Extra")),
            "{named:?}"
        );
        assert!(
            named.contains(&(Some(15), Some(Pass::Parent), "Extra '}' found")),
            "{named:?}"
        );
    }

    #[test]
    fn an_instance_with_an_extra_open_read_outside_a_headless_list_hides_what_follows() {
        // `track_script` without `{` ends VI_1 at line 4 for the passes counting braces; they
        // read VI_2 at the top level, whose extra `{` keeps them inside it to the end. Only
        // the VRRP pass, which ends VI_1 at line 10, reads the top level after it, and skips
        // the virtual server: its stray `{` (line 13) is named by no pass.
        let text = "vrrp_instance VI_1 {\n track_script\n chk\n }\nvrrp_instance VI_2 {\n {\n \
                    virtual_ipaddress {\n 192.0.2.1\n }\n}\nvirtual_server 192.0.2.1 80 {\n \
                    real_server 192.0.2.2 80 {\n {\n }\n}\n";
        let (_, diags) = tree(text);
        let lines: Vec<_> = diags.iter().filter_map(|d| d.line()).collect();
        assert!(lines.contains(&6), "{diags:?}");
        assert!(!lines.contains(&13), "{diags:?}");
    }

    #[test]
    fn block_keyword_without_brace_is_reported_on_the_next_line() {
        let (_, diags) = tree("vrrp_instance X\n state MASTER\n");
        assert_eq!(diags[0].line(), Some(2));
        assert!(diags[0].message.starts_with("Missing '{'"));
    }

    #[test]
    fn a_list_without_brace_runs_to_a_closing_line_and_the_block_goes_on() {
        let text = "global_defs {\n notification_email\n a@example.com\n }\n router_id R\n}\n";
        let (top, diags) = tree(text);
        let global = top[0].block.as_ref().expect("global_defs block");
        let keywords: Vec<_> = global.items.iter().map(|s| s.keyword()).collect();
        assert_eq!(keywords, ["notification_email", "router_id"]);
        let list = global.items[0].block.as_ref().expect("list block");
        assert_eq!(list.items[0].keyword(), "a@example.com");
        // The passes that skip global_defs end it at line 4: `router_id` is read at the top
        // level and the last `}` is extra.
        assert_eq!(top[1].keyword(), "router_id");
        let lines: Vec<_> = diags
            .iter()
            .map(|d| (d.line(), d.message.as_str()))
            .collect();
        assert!(lines.contains(&(Some(6), "Extra '}' found")), "{lines:?}");
        assert!(
            lines.contains(&(Some(6), "Unknown keyword '}'")),
            "{lines:?}"
        );
        assert!(
            !lines.iter().any(|(_, m)| m.starts_with("Missing")),
            "{lines:?}"
        );
    }

    #[test]
    fn words_after_the_closing_brace_of_a_list_without_brace_are_read_at_the_top_level() {
        let text = "vrrp_instance A {\n track_script\n chk\n } priority 50\n}\n";
        let (top, _) = tree(text);
        let names: Vec<_> = top.iter().map(|s| s.keyword()).collect();
        assert_eq!(names, ["vrrp_instance", "priority"]);
    }

    #[test]
    fn vrrp_blocks_after_a_list_without_brace_in_an_instance_stay_unread() {
        let text = "vrrp_instance A {\n virtual_ipaddress\n 192.0.2.1\n }\n vrrp_instance B {\n}\n";
        let (top, _) = tree(text);
        let names: Vec<_> = top.iter().map(|s| s.keyword()).collect();
        assert_eq!(names, ["vrrp_instance"]);
    }

    #[test]
    fn a_top_level_block_without_its_brace_is_read_by_its_own_pass() {
        let text = "vrrp_instance A\n priority 100\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n\
                    vrrp_script s {\n}\n";
        let (top, _) = tree(text);
        let block = top[0]
            .block
            .as_ref()
            .expect("the instance's lines are its block");
        let inside: Vec<_> = block.items.iter().map(|s| s.keyword()).collect();
        assert_eq!(inside, ["priority", "virtual_ipaddress"]);
        // The other passes read the same lines at the top level, then the script as usual.
        let names: Vec<_> = top.iter().map(|s| s.keyword()).collect();
        assert_eq!(
            names,
            [
                "vrrp_instance",
                "priority",
                "virtual_ipaddress",
                "192.0.2.1",
                "vrrp_script"
            ]
        );
        assert_eq!(top[1].read_first_by, Some(Pass::Parent));
        assert_eq!(top[4].read_first_by, None);
    }

    #[test]
    fn a_pass_skipping_a_block_counts_braces_from_its_own_brace() {
        // The `{` kept inside global_defs' list leaves the count one up, but the parent, which
        // skips the instance, counts from the instance's `{`: the `}` of the list without `{`
        // ends the instance for it, and it reads `priority` at the top level.
        let text = "global_defs {\n notification_email {\n {\n }\n}\n\
                    vrrp_instance A {\n virtual_ipaddress\n 192.0.2.1\n }\n priority 1\n}\n";
        let (top, _) = tree(text);
        let names: Vec<_> = top.iter().map(|s| s.keyword()).collect();
        assert_eq!(names, ["global_defs", "vrrp_instance", "priority"]);
        assert_eq!(top[2].read_first_by, Some(Pass::Parent));
    }

    #[test]
    fn a_block_the_shadow_pass_skips_hides_what_follows_its_early_end() {
        // global_defs keeps an ignored `{`: only the parent reads the top level after it. The
        // instance's peer list keeps its `{` and loses its `}`: our tree ends the instance at
        // the second `}` before `x`, but the parent, skipping the instance by counting braces, is
        // still inside it there. No pass reads `x`.
        let text = "global_defs {\n{\n}\nvrrp_instance A {\n unicast_peer {\n 192.0.2.1\n\
                    virtual_ipaddress {\n 192.0.2.2\n }\n}\nx\n}\n";
        let (top, diags) = tree(text);
        let x = top.iter().find(|s| s.keyword() == "x").expect("x is kept");
        assert!(x.unread);
        assert!(
            !diags
                .iter()
                .any(|d| d.location.as_ref().is_some_and(|l| l.line >= 11)),
            "the last }} is no problem for any pass"
        );
    }

    #[test]
    fn lines_after_a_list_without_brace_stay_inside_when_one_pass_reads_alone() {
        // The script's ignored `{` leaves the VRRP pass alone at the top level: the lines after
        // the instance's list without `{` are read inside the instance and by no other pass.
        let text = "vrrp_script s {\n{\n}\nvrrp_instance A {\n virtual_ipaddress\n 192.0.2.1\n }\n\
                    bogus\n}\n";
        let (top, _) = tree(text);
        let names: Vec<_> = top.iter().map(|s| s.keyword()).collect();
        assert_eq!(names, ["vrrp_script", "vrrp_instance"]);
    }

    #[test]
    fn behind_an_early_end_the_pass_alone_reads_its_block_without_brace() {
        // The script ended early for every pass but VRRP; the next instance lost its `{`: the
        // VRRP pass, alone at the top level, reads its lines as the instance's.
        let text = "vrrp_script s {\n{\n}\nvrrp_instance A\n priority 1\n}\n";
        let (top, _) = tree(text);
        let names: Vec<_> = top.iter().map(|s| s.keyword()).collect();
        assert_eq!(names, ["vrrp_script", "vrrp_instance"]);
        let block = top[1].block.as_ref().expect("the instance has its lines");
        assert_eq!(block.items[0].keyword(), "priority");
    }

    #[test]
    fn brace_problems_in_a_block_no_pass_reads_are_not_reported() {
        // The script's extra `{` keeps the passes that count braces inside it to the end: the
        // checker never reads the virtual_server, so its stray `{` is named by no pass.
        let text = "vrrp_script s {\n{\n script /bin/true\n}\n\
                    virtual_server 192.0.2.1 80 {\n {\n}\n";
        let (_, diags) = tree(text);
        let lines: Vec<_> = diags
            .iter()
            .filter(|d| d.message.starts_with("Unexpected"))
            .filter_map(|d| d.location.as_ref().map(|l| l.line))
            .collect();
        assert_eq!(lines, [2]);
    }

    #[test]
    fn a_brace_inside_a_list_is_a_value_and_counted() {
        let text = "vrrp_instance A {\n virtual_ipaddress {\n 192.0.2.1 {\n 192.0.2.2\n }\n}\nx\n";
        let (top, diags) = tree(text);
        let block = top[0].block.as_ref().expect("instance block");
        let list = block.items[0].block.as_ref().expect("list block");
        let entries: Vec<_> = list.items.iter().map(|s| s.keyword()).collect();
        assert_eq!(entries, ["192.0.2.1", "{", "192.0.2.2"]);
        assert_eq!(list.items[0].words.len(), 1);
        // No "Unexpected '{'": only the count at the end names it.
        let messages: Vec<_> = diags.iter().map(|d| d.message.as_str()).collect();
        assert_eq!(messages, ["There are 1 missing '}'s or extra '{'s"]);
        // The instance closed for the VRRP pass; the top-level word after it is read by it only.
        assert_eq!(top[1].keyword(), "x");
        assert_eq!(top[1].only_read_by, Some(Pass::Vrrp));
    }

    #[test]
    fn a_brace_inside_the_ssl_block_is_unexpected() {
        let (_, diags) = tree("SSL {\n ssl_ca /x {\n}\n");
        assert!(
            diags
                .iter()
                .any(|d| d.message == "Unexpected '{' - ignoring"),
            "{diags:?}"
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "vrrp_instance a {\n".to_string()
            + &"virtual_server x 1 {\n".repeat(10_000)
            + &"}\n".repeat(10_001);
        let (top, _) = tree(&text);
        assert_eq!(top[0].keyword(), "vrrp_instance");
    }
}
