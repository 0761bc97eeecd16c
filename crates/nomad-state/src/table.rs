//! The tables of the store and their modify indexes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A table of the state store. Each has a modify index: the Raft index of
/// the last entry that changed it, which is what a blocking query on that
/// table waits to pass. Names are Nomad's (`nomad/state/schema.go`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Current version of each job.
    Jobs,
    /// Recent versions of each job.
    JobVersion,
    /// Allocation counts per job and group.
    JobSummary,
    /// Client nodes.
    Nodes,
    /// Allocations.
    Allocs,
    /// Evaluations.
    Evals,
    /// Deployments.
    Deployment,
    /// Last launch of each periodic job.
    PeriodicLaunch,
    /// The scheduler configuration.
    SchedulerConfig,
    /// Scaling events of each job (`nomad job scale`, autoscalers).
    ScalingEvent,
}

impl Table {
    /// Every table, in a fixed order.
    pub const ALL: [Table; 10] = [
        Table::Jobs,
        Table::JobVersion,
        Table::JobSummary,
        Table::Nodes,
        Table::Allocs,
        Table::Evals,
        Table::Deployment,
        Table::PeriodicLaunch,
        Table::SchedulerConfig,
        Table::ScalingEvent,
    ];

    /// Nomad's name of the table.
    pub fn name(self) -> &'static str {
        match self {
            Table::Jobs => "jobs",
            Table::JobVersion => "job_version",
            Table::JobSummary => "job_summary",
            Table::Nodes => "nodes",
            Table::Allocs => "allocs",
            Table::Evals => "evals",
            Table::Deployment => "deployment",
            Table::PeriodicLaunch => "periodic_launch",
            Table::SchedulerConfig => "scheduler_config",
            Table::ScalingEvent => "scaling_event",
        }
    }

    pub(crate) fn slot(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Table {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Table::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown table {s:?}"))
    }
}

/// A set of tables (a bit per table).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TableSet(u16);

impl TableSet {
    /// The empty set.
    pub const EMPTY: TableSet = TableSet(0);

    /// Adds a table.
    pub fn insert(&mut self, t: Table) {
        self.0 |= 1 << t.slot();
    }

    /// True when `t` is in the set.
    pub fn contains(self, t: Table) -> bool {
        self.0 & (1 << t.slot()) != 0
    }

    /// True when no table is in the set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The tables in the set, in [`Table::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Table> {
        Table::ALL.into_iter().filter(move |t| self.contains(*t))
    }
}

impl FromIterator<Table> for TableSet {
    fn from_iter<I: IntoIterator<Item = Table>>(iter: I) -> Self {
        let mut s = TableSet::EMPTY;
        for t in iter {
            s.insert(t);
        }
        s
    }
}

/// The modify index of every table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct TableIndexes([u64; Table::ALL.len()]);

impl TableIndexes {
    /// The index of one table (0 when never written).
    pub fn get(&self, t: Table) -> u64 {
        self.0[t.slot()]
    }

    pub(crate) fn set(&mut self, t: Table, index: u64) {
        self.0[t.slot()] = index;
    }

    /// The greatest index over all tables (Nomad's `LatestIndex`).
    pub fn latest(&self) -> u64 {
        self.0.iter().copied().max().unwrap_or(0)
    }

    /// The greatest index over `tables`.
    pub fn max_of(&self, tables: &[Table]) -> u64 {
        tables.iter().map(|t| self.get(*t)).max().unwrap_or(0)
    }

    /// `(table, index)` pairs in [`Table::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (Table, u64)> + '_ {
        Table::ALL.into_iter().map(|t| (t, self.get(t)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_work() {
        for t in Table::ALL {
            assert_eq!(t.name().parse::<Table>().unwrap(), t);
        }
        let s: TableSet = [Table::Allocs, Table::Jobs].into_iter().collect();
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            vec![Table::Jobs, Table::Allocs]
        );
        let mut ix = TableIndexes::default();
        ix.set(Table::Evals, 7);
        ix.set(Table::Jobs, 3);
        assert_eq!(ix.latest(), 7);
        assert_eq!(ix.max_of(&[Table::Jobs, Table::Nodes]), 3);
    }
}
