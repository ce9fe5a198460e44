//! `lvs_timeouts` (global_defs): IPVS's connection timeouts (`ipvsadm --set`), set through
//! `IPVS_CMD_SET_CONFIG` at start and at each reload, and put back as they were found at
//! stop or when a reload drops the keyword, as keepalived 2.2.7 does (seen in the lab:
//! `ipvsadm -L --timeout` shows the values of before the start once the daemon stopped).

use keepalived_ipvs::{Ipvs, IpvsError, Timeouts};

use crate::logger::Logger;

/// The kernel side of what [`LvsTimeouts`] changes, so it can be tested without IPVS.
pub trait TimeoutTable {
    /// `IPVS_CMD_GET_CONFIG`.
    fn timeouts(&mut self) -> Result<Timeouts, IpvsError>;
    /// `IPVS_CMD_SET_CONFIG` (0 leaves a timeout as it is).
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), IpvsError>;
}

impl TimeoutTable for Ipvs {
    fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        Ipvs::timeouts(self)
    }
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), IpvsError> {
        Ipvs::set_timeouts(self, timeouts)
    }
}

/// The table once opened (see `pool::opened`).
impl TimeoutTable for Option<Ipvs> {
    fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
        super::pool::opened(self)?.timeouts()
    }
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), IpvsError> {
        super::pool::opened(self)?.set_timeouts(timeouts)
    }
}

/// The timeouts this daemon changed, with the values they had before.
#[derive(Debug, Default)]
pub struct LvsTimeouts {
    /// The kernel's values before the first change; `None` while nothing was changed.
    original: Option<Timeouts>,
    /// Which of them were changed (non-zero: changed).
    touched: Timeouts,
}

impl LvsTimeouts {
    /// Applies a load's `lvs_timeouts`: sets them, or restores the original values when the
    /// load has none.
    pub fn apply(
        &mut self,
        table: &mut dyn TimeoutTable,
        wanted: Option<&Timeouts>,
        logger: &Logger,
    ) {
        let Some(wanted) = wanted else {
            self.restore(table, logger);
            return;
        };
        if self.original.is_none() {
            self.original = table.timeouts().ok();
        }
        self.touched.tcp |= wanted.tcp;
        self.touched.tcp_fin |= wanted.tcp_fin;
        self.touched.udp |= wanted.udp;
        if table.set_timeouts(wanted).is_err() {
            logger.info("Failed to set ipvs timeouts");
        }
    }

    /// Puts back the timeouts changed since the start (at stop, or on a reload without
    /// `lvs_timeouts`).
    pub fn restore(&mut self, table: &mut dyn TimeoutTable, logger: &Logger) {
        let Some(original) = self.original.take() else {
            return;
        };
        let pick = |touched: u32, value: u32| if touched != 0 { value } else { 0 };
        let back = Timeouts {
            tcp: pick(self.touched.tcp, original.tcp),
            tcp_fin: pick(self.touched.tcp_fin, original.tcp_fin),
            udp: pick(self.touched.udp, original.udp),
        };
        self.touched = Timeouts::default();
        if back != Timeouts::default() && table.set_timeouts(&back).is_err() {
            logger.info("Failed to set ipvs timeouts");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kernel's timeouts as SET_CONFIG changes them (0: unchanged).
    struct Kernel(Timeouts);

    impl TimeoutTable for Kernel {
        fn timeouts(&mut self) -> Result<Timeouts, IpvsError> {
            Ok(self.0)
        }
        fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), IpvsError> {
            for (slot, v) in [
                (&mut self.0.tcp, t.tcp),
                (&mut self.0.tcp_fin, t.tcp_fin),
                (&mut self.0.udp, t.udp),
            ] {
                if v != 0 {
                    *slot = v;
                }
            }
            Ok(())
        }
    }

    fn t(tcp: u32, tcp_fin: u32, udp: u32) -> Timeouts {
        Timeouts { tcp, tcp_fin, udp }
    }

    #[test]
    fn set_at_start_and_put_back_as_found() {
        let logger = crate::checker::pool::tests::quiet();
        let mut kernel = Kernel(t(1000, 110, 310));
        let mut state = LvsTimeouts::default();
        state.apply(&mut kernel, Some(&t(7200, 0, 250)), &logger);
        assert_eq!(kernel.0, t(7200, 110, 250));
        // A reload changes one; the original values stay those of before the start.
        state.apply(&mut kernel, Some(&t(7200, 100, 260)), &logger);
        assert_eq!(kernel.0, t(7200, 100, 260));
        state.restore(&mut kernel, &logger);
        assert_eq!(kernel.0, t(1000, 110, 310));
        // Nothing changed: nothing to put back.
        state.restore(&mut kernel, &logger);
        assert_eq!(kernel.0, t(1000, 110, 310));
    }

    #[test]
    fn a_reload_without_the_keyword_restores() {
        let logger = crate::checker::pool::tests::quiet();
        let mut kernel = Kernel(t(900, 120, 300));
        let mut state = LvsTimeouts::default();
        state.apply(&mut kernel, Some(&t(0, 0, 50)), &logger);
        kernel.0.tcp = 111; // another program's change is left alone
        state.apply(&mut kernel, None, &logger);
        assert_eq!(kernel.0, t(111, 120, 300));
    }
}
