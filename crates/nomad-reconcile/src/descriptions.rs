//! The description strings Nomad writes on allocations, evaluations and
//! deployments when the reconcilers act. Users see them in `nomad alloc
//! status`, `nomad eval status` and `nomad deployment status`, so they are
//! kept verbatim.

pub use nomad_types::consts::deployment_description::{
    FAILED_ALLOCATIONS as DEPLOYMENT_FAILED_ALLOCATIONS, NEWER_JOB as DEPLOYMENT_NEWER_JOB,
    RUNNING as DEPLOYMENT_RUNNING, RUNNING_AUTO_PROMOTION as DEPLOYMENT_RUNNING_AUTO_PROMOTION,
    RUNNING_NEEDS_PROMOTION as DEPLOYMENT_RUNNING_NEEDS_PROMOTION,
    STOPPED_JOB as DEPLOYMENT_STOPPED_JOB, SUCCESSFUL as DEPLOYMENT_SUCCESSFUL,
};

/// Stopped because the job (or its group, or its count) no longer needs it;
/// also used when the whole job is stopped.
pub const ALLOC_NOT_NEEDED: &str = "alloc not needed due to job update";
/// A replacement stopped because the original came back with its node.
pub const ALLOC_RECONNECTED: &str = "alloc not needed due to disconnected client reconnect";
/// Stopped to move off a draining node.
pub const ALLOC_MIGRATING: &str = "alloc is being migrated";
/// Stopped to be replaced by a new job version (destructive update).
pub const ALLOC_UPDATING: &str = "alloc is being updated due to job update";
/// Stopped because its node is down (client status becomes `lost`).
pub const ALLOC_LOST: &str = "alloc is lost since its node is down";
/// Client description of an allocation on a disconnected node.
pub const ALLOC_UNKNOWN: &str = "alloc is unknown since its node is disconnected";
/// Used by the scheduler while it tries an in-place update.
pub const ALLOC_IN_PLACE: &str = "alloc updating in-place";
/// A system allocation stopped because its node is tainted (draining).
pub const ALLOC_NODE_TAINTED: &str = "alloc not needed as node is tainted";
/// A failed allocation stopped because a replacement is being placed.
pub const ALLOC_RESCHEDULED: &str = "alloc was rescheduled because it failed";

/// Status description of a follow-up evaluation for a delayed reschedule.
pub const EVAL_RESCHEDULING_FOLLOWUP: &str = "created for delayed rescheduling";
/// Status description of a follow-up evaluation that fires when a
/// disconnected allocation's `lost_after` expires.
pub const EVAL_DISCONNECT_TIMEOUT_FOLLOWUP: &str = "created for delayed disconnect timeout";

/// Multiregion: the deployment finished here and waits for other regions.
pub const DEPLOYMENT_BLOCKED: &str = "Deployment is complete but waiting for peer region";
/// Multiregion: the deployment waits for a peer region.
pub const DEPLOYMENT_PENDING_FOR_PEER: &str = "Deployment is pending, waiting for peer region";
