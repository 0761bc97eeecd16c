//! The driver's errors and how they map onto [`DriverError`].

use nomad_driver::DriverError;

/// What can go wrong talking to Docker or preparing a container.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    /// The plugin config does not parse or is invalid.
    #[error("docker plugin config: {0}")]
    PluginConfig(String),
    /// The task's `config` block is invalid.
    #[error("{0}")]
    TaskConfig(String),
    /// The daemon could not be reached.
    #[error("failed to connect to docker daemon at {endpoint}: {message}")]
    Connect {
        /// The endpoint tried.
        endpoint: String,
        /// Why.
        message: String,
    },
    /// The image could not be pulled (Nomad's wording: ``Failed to pull `img` ``).
    #[error("Failed to pull `{image}`: {message}")]
    Pull {
        /// The image reference.
        image: String,
        /// Why.
        message: String,
    },
    /// The container could not be created or started.
    #[error("{0}")]
    Start(String),
    /// A Docker API call failed.
    #[error("{context}: {source}")]
    Api {
        /// What the driver was doing.
        context: String,
        /// The client's error.
        #[source]
        source: bollard::errors::Error,
    },
    /// A Docker API call did not answer in time.
    #[error("{context}: no answer from docker within {timeout:?}")]
    Timeout {
        /// What the driver was doing.
        context: String,
        /// How long it waited.
        timeout: std::time::Duration,
    },
}

impl DockerError {
    /// Wraps a client error with what the driver was doing.
    pub fn api(context: impl Into<String>, source: bollard::errors::Error) -> Self {
        DockerError::Api {
            context: context.into(),
            source,
        }
    }
}

impl From<DockerError> for DriverError {
    fn from(e: DockerError) -> Self {
        match e {
            DockerError::PluginConfig(_) | DockerError::TaskConfig(_) => {
                DriverError::InvalidConfig(e.to_string())
            }
            DockerError::Start(m) => DriverError::StartFailed(m),
            other => DriverError::Other(other.to_string()),
        }
    }
}

/// The HTTP status of a Docker server error, if it is one.
pub(crate) fn status_code(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

/// True when Docker answered 404 (no such container, image or exec).
pub(crate) fn is_not_found(e: &bollard::errors::Error) -> bool {
    status_code(e) == Some(404)
}

/// True when Docker answered 304 or 409 for a container that is not running
/// (stop/kill of an exited container).
pub(crate) fn is_not_running(e: &bollard::errors::Error) -> bool {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code,
            message,
        } => *status_code == 304 || (*status_code == 409 && message.contains("not running")),
        _ => false,
    }
}

/// The server's message of a Docker error (without the client's prefix).
pub(crate) fn message(e: &bollard::errors::Error) -> String {
    match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Runs a Docker call with a deadline.
pub(crate) async fn bounded<T, F>(
    context: &str,
    timeout: std::time::Duration,
    fut: F,
) -> Result<T, DockerError>
where
    F: std::future::Future<Output = Result<T, bollard::errors::Error>>,
{
    match tokio::time::timeout(timeout, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(DockerError::api(context, e)),
        Err(_) => Err(DockerError::Timeout {
            context: context.to_string(),
            timeout,
        }),
    }
}
