//! IPVS commands as keepalived 2.2.7 sends them and words their failures: a [`Table`] around
//! the kernel's that logs each refused command as `IPVS cmd IP_VS_SO_SET_ADDDEST(1159) error:
//! Destination already exists(17) (198.51.100.150:tcp:80 -> 192.0.2.151:80)` (observed in the
//! QEMU lab, checker VM scenario 11) and decides what counts as done.
//!
//! As 2.2.7: an add that finds the service or destination already there, and a delete that
//! finds it gone, are logged and taken as done (the entry in the kernel is left as it is, not
//! edited); an edit of a destination that is gone adds it; any other refusal is logged and
//! returned. 2.2.7 reads the kernel's answers through libnl, which folds `ESRCH` (no such
//! service) into `ENOENT`: the errno shown, and the message chosen, are those of the folded
//! value.

use keepalived_ipvs::{Destination, IpvsError, Service, ServiceKey, attr};

use super::pool::Table;
use crate::logger::Logger;

const ENOENT: i32 = 2;
const ESRCH: i32 = 3;
const ENOMEM: i32 = 12;
const EPERM: i32 = 1;
const EEXIST: i32 = 17;
const EINVAL: i32 = 22;
const EMSGSIZE: i32 = 90;
const ENOPROTOOPT: i32 = 92;
const EOPNOTSUPP: i32 = 95;
const EAFNOSUPPORT: i32 = 97;

/// The commands, by the names and numbers of the kernel's old socket-option interface that
/// 2.2.7 logs them with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `IP_VS_SO_SET_ADD`.
    Add,
    /// `IP_VS_SO_SET_EDIT`.
    Edit,
    /// `IP_VS_SO_SET_DEL`.
    Del,
    /// `IP_VS_SO_SET_ADDDEST`.
    AddDest,
    /// `IP_VS_SO_SET_DELDEST`.
    DelDest,
    /// `IP_VS_SO_SET_EDITDEST`.
    EditDest,
}

impl Command {
    fn name(self) -> (&'static str, u32) {
        match self {
            Command::Add => ("IP_VS_SO_SET_ADD", 1154),
            Command::Edit => ("IP_VS_SO_SET_EDIT", 1155),
            Command::Del => ("IP_VS_SO_SET_DEL", 1156),
            Command::AddDest => ("IP_VS_SO_SET_ADDDEST", 1159),
            Command::DelDest => ("IP_VS_SO_SET_DELDEST", 1160),
            Command::EditDest => ("IP_VS_SO_SET_EDITDEST", 1161),
        }
    }
}

/// The errno 2.2.7 sees for the kernel's `errno` (libnl folds ESRCH into ENOENT).
pub fn seen_errno(errno: i32) -> i32 {
    if errno == ESRCH { ENOENT } else { errno }
}

/// 2.2.7's message for a refused command (its libipvs table, else strerror).
pub fn message(command: Command, errno: i32) -> String {
    let special = match (command, errno) {
        (Command::Add, EEXIST) => Some("Service already exists"),
        (Command::Add | Command::Edit, ENOENT) => Some("Scheduler or persistence engine not found"),
        (Command::Edit | Command::Del, ESRCH) => Some("No such service"),
        (Command::AddDest | Command::EditDest | Command::DelDest, ESRCH) => {
            Some("Service not defined")
        }
        (Command::AddDest, EEXIST) => Some("Destination already exists"),
        (Command::EditDest | Command::DelDest, ENOENT) => Some("No such destination"),
        (_, EPERM) => Some("Permission denied (you must be root)"),
        (_, EINVAL) => {
            Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
        }
        (_, ENOPROTOOPT) => Some("Protocol not available"),
        (_, ENOMEM) => Some("Memory allocation problem"),
        (_, EOPNOTSUPP) => Some("Operation not supported with IPv6"),
        (_, EAFNOSUPPORT) => Some("Operation not supported with specified address family"),
        (_, EMSGSIZE) => Some("Module is wrong version"),
        _ => None,
    };
    match special {
        Some(text) => text.to_string(),
        None => keepalived_ipvs::client::describe(&std::io::Error::from_raw_os_error(errno)),
    }
}

/// A service as 2.2.7 names it in these lines: `ADDR:tcp:PORT` (no brackets, also for
/// IPv6), `Fwm N` (` inet6` added for an IPv6 mark).
pub fn service_text(key: &ServiceKey) -> String {
    match key {
        ServiceKey::Fwmark { af, mark } => {
            let inet6 = if *af == attr::AF_INET6 { " inet6" } else { "" };
            format!("Fwm {mark}{inet6}")
        }
        ServiceKey::Address {
            protocol,
            addr,
            port,
        } => {
            let protocol = match *protocol {
                attr::IPPROTO_TCP => "tcp".to_string(),
                attr::IPPROTO_UDP => "udp".to_string(),
                attr::IPPROTO_SCTP => "sctp".to_string(),
                other => other.to_string(),
            };
            format!("{addr}:{protocol}:{port}")
        }
    }
}

/// The whole line for a refused command.
pub fn line(command: Command, errno: i32, key: &ServiceKey, dest: Option<&Destination>) -> String {
    let (name, number) = command.name();
    let errno = seen_errno(errno);
    let target = match dest {
        Some(d) => format!("{} -> {}:{}", service_text(key), d.addr, d.port),
        None => service_text(key),
    };
    format!(
        "IPVS cmd {name}({number}) error: {}({errno}) ({target})",
        message(command, errno)
    )
}

/// The kernel's table, each refusal logged and judged as 2.2.7 does.
pub struct Talk<'a> {
    table: &'a mut dyn Table,
    logger: &'a Logger,
}

impl<'a> Talk<'a> {
    /// Wraps `table`, logging to `logger`.
    pub fn new(table: &'a mut dyn Table, logger: &'a Logger) -> Talk<'a> {
        Talk { table, logger }
    }

    /// Logs a refusal; `Ok` when 2.2.7 takes it as done.
    fn judge(
        &self,
        command: Command,
        result: Result<(), IpvsError>,
        key: &ServiceKey,
        dest: Option<&Destination>,
    ) -> Result<(), IpvsError> {
        let Err(e) = result else { return Ok(()) };
        let Some(errno) = e.errno() else {
            // Not the kernel's answer (a reply that does not parse): no errno to show.
            self.logger.info(&format!(
                "IPVS cmd {}({}) error: {e}",
                command.name().0,
                command.name().1
            ));
            return Err(e);
        };
        self.logger.info(&line(command, errno, key, dest));
        let seen = seen_errno(errno);
        match (command, seen) {
            (Command::Add | Command::AddDest, EEXIST) => Ok(()),
            (Command::Del | Command::DelDest, ENOENT) => Ok(()),
            _ => Err(e),
        }
    }
}

impl Table for Talk<'_> {
    fn add_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        let result = self.table.add_service(service);
        self.judge(Command::Add, result, &service.key, None)
    }
    fn edit_service(&mut self, service: &Service) -> Result<(), IpvsError> {
        let result = self.table.edit_service(service);
        self.judge(Command::Edit, result, &service.key, None)
    }
    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        let result = self.table.del_service(key);
        self.judge(Command::Del, result, key, None)
    }
    fn add_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        let result = self.table.add_dest(key, dest);
        self.judge(Command::AddDest, result, key, Some(dest))
    }
    fn edit_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        // An edit of a destination that is gone adds it (logged as an add if that fails).
        match self.table.edit_dest(key, dest) {
            Err(e) if e.errno().map(seen_errno) == Some(ENOENT) => self.add_dest(key, dest),
            result => self.judge(Command::EditDest, result, key, Some(dest)),
        }
    }
    fn del_dest(&mut self, key: &ServiceKey, dest: &Destination) -> Result<(), IpvsError> {
        let result = self.table.del_dest(key, dest);
        self.judge(Command::DelDest, result, key, Some(dest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(addr: &str, port: u16) -> Destination {
        Destination::new(
            addr.parse().expect("address"),
            port,
            keepalived_ipvs::Forward::Masq,
            1,
        )
    }

    /// The lines 2.2.7 logged in the QEMU lab (checker VM scenario 11), from the errno the
    /// kernel answered.
    #[test]
    fn refusals_are_worded_as_2_2_7() {
        let vs = ServiceKey::Address {
            protocol: attr::IPPROTO_TCP,
            addr: "198.51.100.150".parse().expect("address"),
            port: 80,
        };
        let fwm = ServiceKey::Fwmark {
            af: attr::AF_INET,
            mark: 11,
        };
        assert_eq!(
            line(
                Command::AddDest,
                EEXIST,
                &vs,
                Some(&dest("192.0.2.151", 80))
            ),
            "IPVS cmd IP_VS_SO_SET_ADDDEST(1159) error: Destination already exists(17) \
             (198.51.100.150:tcp:80 -> 192.0.2.151:80)"
        );
        assert_eq!(
            line(
                Command::DelDest,
                ENOENT,
                &vs,
                Some(&dest("192.0.2.153", 80))
            ),
            "IPVS cmd IP_VS_SO_SET_DELDEST(1160) error: No such destination(2) \
             (198.51.100.150:tcp:80 -> 192.0.2.153:80)"
        );
        // The service is gone: the kernel says ESRCH, 2.2.7 shows ENOENT.
        assert_eq!(
            line(Command::DelDest, ESRCH, &fwm, Some(&dest("192.0.2.156", 0))),
            "IPVS cmd IP_VS_SO_SET_DELDEST(1160) error: No such destination(2) \
             (Fwm 11 -> 192.0.2.156:0)"
        );
        assert_eq!(
            line(Command::Del, ESRCH, &fwm, None),
            "IPVS cmd IP_VS_SO_SET_DEL(1156) error: No such file or directory(2) (Fwm 11)"
        );
        assert_eq!(
            line(Command::Add, EEXIST, &vs, None),
            "IPVS cmd IP_VS_SO_SET_ADD(1154) error: Service already exists(17) \
             (198.51.100.150:tcp:80)"
        );
        assert_eq!(
            line(Command::Add, ENOENT, &vs, None),
            "IPVS cmd IP_VS_SO_SET_ADD(1154) error: Scheduler or persistence engine not \
             found(2) (198.51.100.150:tcp:80)"
        );
        assert_eq!(
            line(Command::AddDest, ESRCH, &vs, Some(&dest("192.0.2.162", 80))),
            "IPVS cmd IP_VS_SO_SET_ADDDEST(1159) error: No such file or directory(2) \
             (198.51.100.150:tcp:80 -> 192.0.2.162:80)"
        );
        let v6 = ServiceKey::Address {
            protocol: attr::IPPROTO_UDP,
            addr: "2001:db8::1".parse().expect("address"),
            port: 53,
        };
        assert_eq!(service_text(&v6), "2001:db8::1:udp:53");
    }

    /// A table refusing every command with one errno, recording what it was asked.
    struct Refusing {
        errno: i32,
        calls: Vec<&'static str>,
    }

    impl Table for Refusing {
        fn add_service(&mut self, _: &Service) -> Result<(), IpvsError> {
            self.calls.push("add_service");
            Err(IpvsError::Kernel(self.errno))
        }
        fn edit_service(&mut self, _: &Service) -> Result<(), IpvsError> {
            self.calls.push("edit_service");
            Err(IpvsError::Kernel(self.errno))
        }
        fn del_service(&mut self, _: &ServiceKey) -> Result<(), IpvsError> {
            self.calls.push("del_service");
            Err(IpvsError::Kernel(self.errno))
        }
        fn add_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
            self.calls.push("add_dest");
            Err(IpvsError::Kernel(self.errno))
        }
        fn edit_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
            self.calls.push("edit_dest");
            Err(IpvsError::Kernel(self.errno))
        }
        fn del_dest(&mut self, _: &ServiceKey, _: &Destination) -> Result<(), IpvsError> {
            self.calls.push("del_dest");
            Err(IpvsError::Kernel(self.errno))
        }
    }

    /// What counts as done: an add finding the entry, a delete finding it gone (also a
    /// service gone, ESRCH); an edit of a destination that is gone becomes an add.
    #[test]
    fn existing_and_missing_entries_count_as_done() {
        let logger = crate::checker::pool::tests::quiet();
        let key = ServiceKey::Fwmark {
            af: attr::AF_INET,
            mark: 1,
        };
        let d = dest("192.0.2.1", 0);
        let mut t = Refusing {
            errno: EEXIST,
            calls: Vec::new(),
        };
        let mut talk = Talk::new(&mut t, &logger);
        assert!(talk.add_dest(&key, &d).is_ok());
        assert!(talk.edit_dest(&key, &d).is_err());
        assert_eq!(
            t.calls,
            ["add_dest", "edit_dest"],
            "nothing edited after EEXIST"
        );
        for errno in [ENOENT, ESRCH] {
            let mut t = Refusing {
                errno,
                calls: Vec::new(),
            };
            let mut talk = Talk::new(&mut t, &logger);
            assert!(talk.del_dest(&key, &d).is_ok());
            assert!(talk.del_service(&key).is_ok());
            assert!(talk.add_dest(&key, &d).is_err());
            assert!(talk.edit_dest(&key, &d).is_err());
            assert_eq!(
                t.calls,
                [
                    "del_dest",
                    "del_service",
                    "add_dest",
                    "edit_dest",
                    "add_dest"
                ]
            );
        }
    }
}
