//! FILE_CHECK: the number in a track_file's file sets a real server's state. With weight 0 a
//! non-zero number takes the server down (`reverse`: a zero one); otherwise the number times
//! the weight (negated with `reverse`) is added to the server's configured weight, and
//! -65535 (IPVS's largest weight) or less takes it down.

use std::path::Path;

use super::plan::FilePlan;

/// IPVS's largest weight.
const IPVS_WEIGHT_MAX: i64 = 65535;

/// The number at the start of the file (after blanks, with an optional sign), as `strtol`
/// reads it; a file that is missing, unreadable or starts with no number reads as 0.
pub fn read_value(path: &Path) -> i64 {
    let Ok(text) = std::fs::read(path) else {
        return 0;
    };
    let text = String::from_utf8_lossy(&text[..text.len().min(64)]).into_owned();
    let t = text.trim_start();
    let (sign, digits) = match t.as_bytes().first() {
        Some(b'-') => (-1, &t[1..]),
        Some(b'+') => (1, &t[1..]),
        _ => (1, t),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end]
        .parse::<i64>()
        .map(|v| sign * v.min(i64::from(i32::MAX)))
        .unwrap_or(0)
}

/// The state a value gives: whether the server is up, and the weight it then has (`None`
/// when the check does not set weights).
pub fn state(plan: &FilePlan, value: i64) -> (bool, Option<i32>) {
    if plan.weight == 0 {
        return ((value != 0) == plan.reverse, None);
    }
    let mut status = value.saturating_mul(i64::from(plan.weight));
    if plan.reverse {
        status = -status;
    }
    let status = status.clamp(-IPVS_WEIGHT_MAX, IPVS_WEIGHT_MAX);
    if status <= -IPVS_WEIGHT_MAX {
        return (false, None);
    }
    let weight = (i64::from(plan.base_weight) + status).clamp(0, IPVS_WEIGHT_MAX);
    (true, Some(weight as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(weight: i32, reverse: bool) -> FilePlan {
        FilePlan {
            name: "tf".into(),
            path: "/nonexistent".into(),
            weight,
            reverse,
            base_weight: 10,
        }
    }

    #[test]
    fn values_and_states() {
        let dir = std::env::temp_dir().join(format!("ka-file-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let f = dir.join("v");
        for (text, want) in [("5\n", 5), ("  -3x", -3), ("abc", 0), ("", 0)] {
            std::fs::write(&f, text).expect("write");
            assert_eq!(read_value(&f), want, "{text:?}");
        }
        assert_eq!(read_value(&dir.join("missing")), 0);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(state(&plan(0, false), 0), (true, None));
        assert_eq!(state(&plan(0, false), 1), (false, None));
        assert_eq!(state(&plan(0, true), 0), (false, None));
        assert_eq!(state(&plan(2, false), 3), (true, Some(16)));
        assert_eq!(state(&plan(2, true), 3), (true, Some(4)));
        assert_eq!(state(&plan(1, false), -20), (true, Some(0)));
        assert_eq!(state(&plan(1, false), -70000), (false, None));
    }
}
