//! The env-var sections (`CONTAINERS=1`, `POST=0`, ...) and the extra gates.
//!
//! The names are those of the widely used HAProxy-based socket proxies, so an existing
//! compose file keeps working. What a section grants is narrower than there: see
//! [`crate::endpoint::Access`] for the split between metadata, content reads and writes.

use std::fmt;

/// An API section: the first path segment family of the Docker Engine API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    Auth,
    Build,
    Commit,
    Configs,
    Containers,
    Distribution,
    Events,
    Exec,
    Grpc,
    Images,
    Info,
    Networks,
    Nodes,
    Ping,
    Plugins,
    Secrets,
    Services,
    Session,
    Swarm,
    System,
    Tasks,
    Version,
    Volumes,
}

// === impl Section ===

impl Section {
    /// Every section, in the order of their variable names.
    pub const ALL: [Section; 23] = [
        Section::Auth,
        Section::Build,
        Section::Commit,
        Section::Configs,
        Section::Containers,
        Section::Distribution,
        Section::Events,
        Section::Exec,
        Section::Grpc,
        Section::Images,
        Section::Info,
        Section::Networks,
        Section::Nodes,
        Section::Ping,
        Section::Plugins,
        Section::Secrets,
        Section::Services,
        Section::Session,
        Section::Swarm,
        Section::System,
        Section::Tasks,
        Section::Version,
        Section::Volumes,
    ];

    /// The environment variable that enables the section.
    pub const fn var(self) -> &'static str {
        match self {
            Section::Auth => "AUTH",
            Section::Build => "BUILD",
            Section::Commit => "COMMIT",
            Section::Configs => "CONFIGS",
            Section::Containers => "CONTAINERS",
            Section::Distribution => "DISTRIBUTION",
            Section::Events => "EVENTS",
            Section::Exec => "EXEC",
            Section::Grpc => "GRPC",
            Section::Images => "IMAGES",
            Section::Info => "INFO",
            Section::Networks => "NETWORKS",
            Section::Nodes => "NODES",
            Section::Ping => "PING",
            Section::Plugins => "PLUGINS",
            Section::Secrets => "SECRETS",
            Section::Services => "SERVICES",
            Section::Session => "SESSION",
            Section::Swarm => "SWARM",
            Section::System => "SYSTEM",
            Section::Tasks => "TASKS",
            Section::Version => "VERSION",
            Section::Volumes => "VOLUMES",
        }
    }

    /// Whether the section is on when its variable is not set (`EVENTS`, `PING`, `VERSION`,
    /// as in the peers).
    pub const fn default_on(self) -> bool {
        matches!(self, Section::Events | Section::Ping | Section::Version)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.var())
    }
}

/// A gate that is not a section: it opens one kind of access on top of the sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Gate {
    /// `POST=1`: write methods (POST, PUT, DELETE) on enabled sections.
    Post,
    /// `ALLOW_START=1`: `POST /containers/{id}/start`, without `POST=1`.
    Start,
    /// `ALLOW_STOP=1`: `POST /containers/{id}/stop`, without `POST=1`.
    Stop,
    /// `ALLOW_RESTARTS=1`: stop, restart and kill, without `POST=1`.
    Restarts,
    /// `ALLOW_LOGS=1`: container, service and task logs.
    Logs,
    /// `ALLOW_ARCHIVE=1`: reading (and with `POST=1`, writing) files in containers.
    Archive,
    /// `ALLOW_EXPORT=1`: container filesystem and image tarballs.
    Export,
    /// `ALLOW_ATTACH=1`: attach and `attach/ws`, which can write to a container's stdin.
    Attach,
    /// `ALLOW_PAUSE=1`: `POST /containers/{id}/pause`, without `POST=1` (Tecnativa's proxy
    /// since 0.5 and LinuxServer's have it).
    Pause,
    /// `ALLOW_UNPAUSE=1`: `POST /containers/{id}/unpause`, without `POST=1`.
    Unpause,
}

impl Gate {
    /// Every gate.
    pub const ALL: [Gate; 10] = [
        Gate::Post,
        Gate::Start,
        Gate::Stop,
        Gate::Restarts,
        Gate::Logs,
        Gate::Archive,
        Gate::Export,
        Gate::Attach,
        Gate::Pause,
        Gate::Unpause,
    ];

    /// The environment variable that opens the gate.
    pub const fn var(self) -> &'static str {
        match self {
            Gate::Post => "POST",
            Gate::Start => "ALLOW_START",
            Gate::Stop => "ALLOW_STOP",
            Gate::Restarts => "ALLOW_RESTARTS",
            Gate::Logs => "ALLOW_LOGS",
            Gate::Archive => "ALLOW_ARCHIVE",
            Gate::Export => "ALLOW_EXPORT",
            Gate::Attach => "ALLOW_ATTACH",
            Gate::Pause => "ALLOW_PAUSE",
            Gate::Unpause => "ALLOW_UNPAUSE",
        }
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.var())
    }
}

/// Which sections and gates are on. Small and `Copy`: the policy asks it on every request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switches {
    sections: u32,
    gates: u32,
}

impl Default for Switches {
    /// The defaults: `EVENTS=1 PING=1 VERSION=1`, everything else off.
    fn default() -> Self {
        let mut s = Switches {
            sections: 0,
            gates: 0,
        };
        for section in Section::ALL {
            s.set_section(section, section.default_on());
        }
        s
    }
}

impl Switches {
    /// Everything off, defaults included.
    pub const NONE: Switches = Switches {
        sections: 0,
        gates: 0,
    };

    /// Whether a section is enabled.
    pub fn section(&self, s: Section) -> bool {
        self.sections & s.bit() != 0
    }

    /// Whether a gate is open.
    pub fn gate(&self, g: Gate) -> bool {
        self.gates & g.bit() != 0
    }

    /// Turns a section on or off.
    pub fn set_section(&mut self, s: Section, on: bool) {
        if on {
            self.sections |= s.bit();
        } else {
            self.sections &= !s.bit();
        }
    }

    /// Opens or closes a gate.
    pub fn set_gate(&mut self, g: Gate, on: bool) {
        if on {
            self.gates |= g.bit();
        } else {
            self.gates &= !g.bit();
        }
    }

    /// Builder form of [`Switches::set_section`] for tests and presets.
    #[must_use]
    pub fn with_section(mut self, s: Section) -> Self {
        self.set_section(s, true);
        self
    }

    /// Builder form of [`Switches::set_gate`].
    #[must_use]
    pub fn with_gate(mut self, g: Gate) -> Self {
        self.set_gate(g, true);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_peers() {
        let s = Switches::default();
        for section in Section::ALL {
            let want = matches!(section, Section::Events | Section::Ping | Section::Version);
            assert_eq!(s.section(section), want, "{section}");
        }
        for gate in Gate::ALL {
            assert!(!s.gate(gate), "{gate}");
        }
    }

    #[test]
    fn set_and_clear() {
        let mut s = Switches::NONE
            .with_section(Section::Containers)
            .with_gate(Gate::Post);
        assert!(s.section(Section::Containers) && s.gate(Gate::Post));
        s.set_section(Section::Containers, false);
        s.set_gate(Gate::Post, false);
        assert_eq!(s, Switches::NONE);
    }
}
