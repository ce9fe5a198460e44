//! Builds the block tree from tokenised lines: statements (a keyword and its arguments) that may
//! own a `{ … }` block. Brace problems are found here; keywords mean nothing yet.

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Severity};
use crate::lexer::{Token, tokenize};
use crate::source::SourceLine;

/// Blocks nested deeper than this are skipped with one diagnostic (keepalived's own grammar
/// never goes past 5 levels), so hostile input cannot exhaust the stack.
pub const MAX_NESTING: usize = 64;

/// A word of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Its text, without quotes.
    pub text: String,
    /// Whether it was written as a `"…"` string.
    pub quoted: bool,
}

/// A keyword with its arguments, and the block that follows it, if any.
#[derive(Debug, Clone)]
pub struct Statement {
    /// Where the statement starts.
    pub location: Location,
    /// The keyword followed by its arguments; empty for a block that follows no keyword.
    pub words: Vec<Word>,
    /// The `{ … }` that belongs to this statement.
    pub block: Option<Block>,
}

impl Statement {
    /// The keyword (first word), or "" for an anonymous block.
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
    /// Where `{` stood.
    pub open: Location,
    /// Where `}` stood; `None` if the file ended first.
    pub close: Option<Location>,
    /// The statements inside.
    pub items: Vec<Statement>,
}

struct Level {
    items: Vec<Statement>,
    open: Location,
}

/// Turns source lines into the top-level statements, reporting brace problems.
pub fn build(lines: &[SourceLine], diagnostics: &mut Diagnostics) -> Vec<Statement> {
    let mut top: Vec<Statement> = Vec::new();
    let mut levels: Vec<Level> = Vec::new();
    // Braces opened beyond MAX_NESTING: counted, their content dropped.
    let mut skipped_depth = 0usize;
    let mut reported_depth = false;

    for line in lines {
        // A statement collects words only on the line where it started.
        let mut open_statement = false;
        for token in tokenize(&line.text) {
            let depth = levels.len();
            let current = levels.last_mut().map_or(&mut top, |l| &mut l.items);
            match token {
                Token::Word { text, quoted } => {
                    if skipped_depth > 0 {
                        continue;
                    }
                    let word = Word { text, quoted };
                    match current.last_mut() {
                        Some(last) if open_statement => last.words.push(word),
                        _ => {
                            current.push(Statement {
                                location: line.location.clone(),
                                words: vec![word],
                                block: None,
                            });
                            open_statement = true;
                        }
                    }
                }
                Token::Open => {
                    open_statement = false;
                    if skipped_depth > 0 || depth >= MAX_NESTING {
                        skipped_depth += 1;
                        if !reported_depth {
                            reported_depth = true;
                            diagnostics.error(
                                &line.location,
                                format!("Blocks nested deeper than {MAX_NESTING} levels - ignoring their content"),
                            );
                        }
                        continue;
                    }
                    let needs_owner = current.last().is_none_or(|s| s.block.is_some());
                    if needs_owner {
                        current.push(Statement {
                            location: line.location.clone(),
                            words: Vec::new(),
                            block: None,
                        });
                    }
                    levels.push(Level {
                        items: Vec::new(),
                        open: line.location.clone(),
                    });
                }
                Token::Close => {
                    open_statement = false;
                    if skipped_depth > 0 {
                        skipped_depth -= 1;
                        continue;
                    }
                    match levels.pop() {
                        Some(level) => {
                            attach(&mut levels, &mut top, level, Some(line.location.clone()))
                        }
                        None => diagnostics.error(&line.location, "Extra '}' found"),
                    }
                }
            }
        }
    }
    let missing = levels.len() + skipped_depth;
    while let Some(level) = levels.pop() {
        attach(&mut levels, &mut top, level, None);
    }
    if missing > 0 {
        diagnostics.push(Diagnostic::new(
            Severity::Error,
            None,
            format!("There are {missing} missing '}}'s or extra '{{'s"),
        ));
    }
    top
}

/// Gives a finished block to the last statement of the level around it.
fn attach(levels: &mut [Level], top: &mut [Statement], level: Level, close: Option<Location>) {
    let parent = levels.last_mut().map_or(top, |l| &mut l.items[..]);
    if let Some(owner) = parent.last_mut() {
        owner.block = Some(Block {
            open: level.open,
            close,
            items: level.items,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceReader;
    use std::path::Path;

    fn tree(text: &str) -> (Vec<Statement>, Vec<Diagnostic>) {
        let mut diags = Diagnostics::default();
        let lines = SourceReader::new("h", &mut diags).read_str(text, Path::new("t.conf"));
        let top = build(&lines, &mut diags);
        (top, diags.into_vec())
    }

    #[test]
    fn brace_on_its_own_line_belongs_to_the_keyword() {
        let (top, diags) = tree("vrrp_instance VI_1\n{\n state MASTER\n}\n");
        assert!(diags.is_empty());
        let block = top[0].block.as_ref().expect("block");
        assert_eq!(block.items[0].keyword(), "state");
        assert_eq!(block.close.as_ref().map(|l| l.line), Some(4));
    }

    #[test]
    fn one_line_block() {
        let (top, _) = tree("virtual_ipaddress { 192.0.2.1 192.0.2.2 }");
        let block = top[0].block.as_ref().expect("block");
        assert_eq!(block.items.len(), 1);
        assert_eq!(block.items[0].words.len(), 2);
    }

    #[test]
    fn unbalanced_braces_are_reported() {
        let (_, diags) = tree("a {\n}\n}\nb {\n");
        assert_eq!(diags.len(), 2);
        assert_eq!(diags[0].line(), Some(3));
        assert!(diags[1].message.contains("1 missing"));
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = "a {\n".repeat(10_000) + &"}\n".repeat(10_000);
        let (top, diags) = tree(&text);
        assert_eq!(top.len(), 1);
        assert_eq!(diags.len(), 1);
    }
}
