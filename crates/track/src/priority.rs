//! Effective priority from tracked objects (compat.md section 6): a weight W > 0 adds W while
//! the object is up, W < 0 subtracts |W| while it is down, `reverse` swaps up and down, and a
//! weight of 0 means the object's failure puts the instance in FAULT (with `reverse`, its
//! success: keepalived 2.2.7 keeps an instance tracking `/bin/true` with `weight 0 reverse` in
//! FAULT). The result is clamped to
//! 1..254; an address owner (255) never changes.

/// One tracked object's contribution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracked {
    /// The weight that applies (the track line's override, else the object's own).
    pub weight: i32,
    /// `weight W reverse`.
    pub reverse: bool,
    /// Whether the object is up (a script that succeeds, an interface that is up).
    pub up: bool,
}

/// The priority to advertise and whether the instance must be in FAULT.
pub fn effective_priority(base: u8, tracked: &[Tracked]) -> (u8, bool) {
    let mut fault = false;
    let mut delta: i32 = 0;
    for t in tracked {
        let up = t.up != t.reverse;
        match t.weight {
            0 if !up => fault = true,
            0 => {}
            w if w > 0 && up => delta += w,
            w if w < 0 && !up => delta += w,
            _ => {}
        }
    }
    if base == 255 {
        return (255, fault);
    }
    let priority = (i32::from(base) + delta).clamp(1, 254);
    (u8::try_from(priority).unwrap_or(1), fault)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(weight: i32, up: bool) -> Tracked {
        Tracked {
            weight,
            reverse: false,
            up,
        }
    }

    #[test]
    fn positive_weight_adds_while_up() {
        assert_eq!(effective_priority(100, &[t(10, true)]), (110, false));
        assert_eq!(effective_priority(100, &[t(10, false)]), (100, false));
    }

    #[test]
    fn negative_weight_subtracts_while_down() {
        assert_eq!(effective_priority(100, &[t(-20, false)]), (80, false));
        assert_eq!(effective_priority(100, &[t(-20, true)]), (100, false));
    }

    #[test]
    fn zero_weight_failure_is_fault() {
        assert_eq!(effective_priority(100, &[t(0, false)]), (100, true));
        assert_eq!(
            effective_priority(100, &[t(0, true), t(5, true)]),
            (105, false)
        );
    }

    #[test]
    fn zero_weight_reverse_is_fault_while_the_object_is_up() {
        let r = |up| Tracked {
            weight: 0,
            reverse: true,
            up,
        };
        assert_eq!(effective_priority(100, &[r(true)]), (100, true));
        assert_eq!(effective_priority(100, &[r(false)]), (100, false));
    }

    #[test]
    fn reverse_swaps_up_and_down() {
        let r = Tracked {
            weight: 10,
            reverse: true,
            up: false,
        };
        assert_eq!(effective_priority(100, &[r]), (110, false));
    }

    #[test]
    fn clamped_and_owner_untouched() {
        assert_eq!(effective_priority(250, &[t(50, true)]), (254, false));
        assert_eq!(effective_priority(10, &[t(-50, false)]), (1, false));
        assert_eq!(effective_priority(255, &[t(-50, false)]), (255, false));
    }
}
