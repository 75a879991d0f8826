//! The one error type of kvmnet.
//!
//! Every failure a module reports goes through [`Error`]: a small kind, so
//! callers (and tests) can tell classes of failure apart, and a message
//! written for the person reading the playbook output.

use std::fmt;

/// What class of failure this is.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The task's arguments are wrong: type, unknown option, bad value,
    /// impossible combination. Nothing was changed.
    InvalidArgument,
    /// Something the task refers to does not exist (a device, a network).
    NotFound,
    /// Something the task needs that an earlier task of a play makes (the
    /// NAT network a port forward goes into). A failure in a real run; in
    /// check mode, where that earlier task only predicted it, the run
    /// reports a change it cannot detail instead of failing the dry run.
    NotYet,
    /// The request is valid but this host or backend cannot do it, or it
    /// needs a disruptive step the task did not allow.
    Unsupported,
    /// The backend (libvirt, a command, the kernel) refused or failed.
    Backend,
    /// Apply ran, but observing again shows the host does not match.
    Verification,
    /// A defect in kvmnet itself.
    Bug,
}

/// A failure with a message fit for the playbook output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub msg: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, msg: impl Into<String>) -> Self {
        Error {
            kind,
            msg: msg.into(),
        }
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, msg)
    }
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, msg)
    }
    pub fn not_yet(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotYet, msg)
    }
    pub fn unsupported(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, msg)
    }
    pub fn backend(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Backend, msg)
    }
    pub fn verification(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Verification, msg)
    }
    pub fn bug(msg: impl Into<String>) -> Self {
        Self::new(ErrorKind::Bug, msg)
    }

    /// Prefix the message with what was being done, keeping the kind:
    /// `"defining network net1: <libvirt's words>"`.
    pub fn context(self, doing: impl fmt::Display) -> Self {
        Error {
            kind: self.kind,
            msg: format!("{doing}: {}", self.msg),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for Error {}
