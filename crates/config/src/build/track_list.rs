//! Track lists (`track_interface`, `track_script`, `track_file`, `track_process`,
//! `track_bfd`): `NAME [weight W [reverse|noreverse]]` lines, read as keepalived 2.2.7 reads
//! each kind (observed; each kind words its problems its own way).
//!
//! 2.2.7 looks the object up first, then refuses a duplicate, then reads the words after the
//! name: the first must be `weight` (anything else is named and the entry left out), `weight`
//! needs a value (else the entry is left out), a bad value keeps the entry with a fallback
//! weight, and the word after the value must be `reverse` (or `noreverse`, except for
//! interfaces). Problems with those words are kept on the entry and said once it is found
//! ([`settle`]), since scripts, files, processes and BFD instances are looked up after
//! reading; interfaces are looked up at once.

use super::Cx;
use crate::diagnostic::Diagnostics;
use crate::model::{ThinVec, TrackRef};
use crate::tree::Statement;
use crate::values;

/// What a track list names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TrackKind {
    /// `track_interface`.
    Interface,
    /// `track_script`.
    Script,
    /// `track_file`.
    File,
    /// `track_process`.
    Process,
    /// `track_bfd`.
    Bfd,
}

impl TrackKind {
    /// `(OWNER) unknown … option WORD - ignoring` for a first word other than `weight`.
    fn unknown_option(self, owner: &str, name: &str, word: &str) -> String {
        match self {
            Self::Interface => {
                format!("({owner}) unknown track_interface {name} option {word} - ignoring")
            }
            Self::Script => format!("({owner}) unknown track script option {word} - ignoring"),
            Self::File => format!("({owner}) unknown track file option {word} - ignoring"),
            Self::Process => format!("({owner}) unknown track process option {word} - ignoring"),
            Self::Bfd => format!("({owner}) unknown track bfd {name} option {word} - ignoring"),
        }
    }

    /// The line for `weight` without its value.
    fn weight_without_value(self, owner: &str, name: &str) -> String {
        let what = match self {
            Self::Interface => "track_interface",
            Self::Script => "track script",
            Self::File => "track file",
            Self::Process => "track process",
            Self::Bfd => "track bfd",
        };
        format!("({owner}) weight without value specified for {what} {name} - ignoring")
    }

    /// The line for a weight the number reader refused.
    fn bad_weight(self, owner: &str, name: &str, word: &str) -> String {
        match self {
            Self::Interface => format!(
                "({owner}) weight {word} for {name} must be between [-253..253] inclusive. Ignoring..."
            ),
            Self::Script => format!(
                "({owner}) track script {name}: weight must be between [-253..253] inclusive, ignoring..."
            ),
            Self::File => format!(
                "({owner}) weight for track file {name} must be in [-254..254] inclusive. Ignoring..."
            ),
            Self::Process => format!(
                "({owner}) weight for track process {name} must be in [-254..254] inclusive. Ignoring..."
            ),
            Self::Bfd => format!(
                "({owner}) weight for track bfd {name} must be in [-253..253] inclusive. Ignoring..."
            ),
        }
    }

    /// The line for a word after the weight other than `reverse` / `noreverse` (2.2.7's own
    /// spelling, `track_interace` included).
    fn unknown_weight_option(self, owner: &str, name: &str, word: &str) -> String {
        let what = match self {
            Self::Interface => "track_interace",
            Self::Script => "track_script",
            Self::File => "track file",
            Self::Process => "track_process",
            Self::Bfd => "track bfd",
        };
        format!("({owner}) unknown {what} {name} weight option {word} - ignoring")
    }

    /// The largest weight the number reader takes.
    fn weight_limit(self) -> i64 {
        if self == Self::Bfd { 253 } else { 254 }
    }
}

/// Reads the words after an entry's name into `entry` (weight, reverse, problems).
fn read_options(kind: TrackKind, owner: &str, item: &Statement, entry: &mut TrackRef) {
    let name = item.keyword();
    let mut words = item.arg_texts();
    let mut problem =
        |warning: bool, message: String| entry.option_problems.push((warning, message));
    match words.next() {
        None => return,
        Some("weight") => {}
        Some(other) => {
            problem(false, kind.unknown_option(owner, name, other));
            entry.refused = true;
            return;
        }
    }
    let Some(value) = words.next() else {
        problem(false, kind.weight_without_value(owner, name));
        entry.refused = true;
        return;
    };
    let limit = kind.weight_limit();
    match values::read_int(value, -limit, limit) {
        Ok(w) if w.abs() == 254 && matches!(kind, TrackKind::Interface | TrackKind::Script) => {
            problem(
                true,
                format!("({owner}) weight for {name} cannot be +/-254. Setting to +/-253"),
            );
            entry.weight = Some(253 * w.signum() as i32);
        }
        // In range: fits i32.
        Ok(w) => entry.weight = Some(w as i32),
        Err(number) => {
            problem(false, number);
            problem(false, kind.bad_weight(owner, name, value));
            // An interface is then tracked with weight 0, the others keep their own weight.
            entry.weight = (kind == TrackKind::Interface).then_some(0);
        }
    }
    match words.next() {
        None => {}
        Some("reverse") => entry.reverse = Some(true),
        Some("noreverse") if kind != TrackKind::Interface => entry.reverse = Some(false),
        Some(other) => {
            problem(false, kind.unknown_weight_option(owner, name, other));
            entry.refused = matches!(kind, TrackKind::File | TrackKind::Bfd);
        }
    }
}

/// Says an entry's option problems; whether the entry is kept.
pub(crate) fn settle(entry: &TrackRef, diagnostics: &mut Diagnostics) -> bool {
    for (warning, message) in &entry.option_problems {
        if *warning {
            diagnostics.warning(&entry.location, message.clone());
        } else {
            diagnostics.error(&entry.location, message.clone());
        }
    }
    !entry.refused
}

impl Cx<'_> {
    /// The entries of a track list of `kind`, each with the problems of its words kept for
    /// [`settle`].
    pub(crate) fn track_list(
        &mut self,
        stmt: &Statement,
        owner: &str,
        kind: TrackKind,
    ) -> ThinVec<TrackRef> {
        let mut out = ThinVec::with_capacity(self.block(stmt).len());
        for item in self.block(stmt) {
            let mut entry = TrackRef {
                name: item.keyword().into(),
                weight: None,
                reverse: None,
                location: item.location.clone(),
                option_problems: ThinVec::new(),
                refused: false,
            };
            read_options(kind, owner, item, &mut entry);
            out.push(entry);
        }
        out
    }

    /// A `track_interface { … }` block of `owner` (an instance or sync group) added to
    /// `list`: an interface the host lacks is reported and not kept (named again, it is
    /// missing again), one already tracked is a duplicate, then its words are read.
    pub(crate) fn interface_track_list(
        &mut self,
        stmt: &Statement,
        owner: &str,
        list: &mut ThinVec<TrackRef>,
    ) {
        for mut tracked in self.track_list(stmt, owner, TrackKind::Interface) {
            let exists = self.interface_must_exist(&tracked.location, &tracked.name, || {
                format!("({owner}) tracked interface {} doesn't exist", tracked.name)
            });
            if !exists {
                continue;
            }
            if list.iter().any(|t| t.name == tracked.name) {
                self.error(
                    &tracked.location,
                    format!(
                        "({owner}) duplicate track_interface {} - ignoring",
                        tracked.name
                    ),
                );
                continue;
            }
            if settle(&tracked, self.diagnostics) {
                tracked.option_problems = ThinVec::new();
                list.push(tracked);
            }
        }
    }
}
