//! Which responses let a request's emissions run.

use http::StatusCode;

/// Whether the emissions held with a request run, given the status of its response.
///
/// Set per router with [`VentusLayer::policy`](crate::VentusLayer::policy) (the default
/// is [`OnSuccess`](Self::OnSuccess), as Starlette runs background tasks only when the
/// endpoint succeeded), and per emission with
/// [`BackgroundEmitter::with_policy`](crate::BackgroundEmitter::with_policy), which wins
/// over the router's. An emission the policy keeps from running is *skipped*: counted in
/// [`BackgroundMetrics::skipped`](crate::BackgroundMetrics::skipped) and logged at
/// `info` level with its event, the status, the method and the path.
///
/// # Examples
///
/// ```
/// use http::StatusCode;
/// use ventus_axum::RunPolicy;
///
/// assert_eq!(RunPolicy::default(), RunPolicy::OnSuccess);
/// assert!(RunPolicy::OnSuccess.allows(StatusCode::CREATED));
/// assert!(!RunPolicy::OnSuccess.allows(StatusCode::SEE_OTHER));
/// assert!(!RunPolicy::OnSuccess.allows(StatusCode::INTERNAL_SERVER_ERROR));
/// assert!(RunPolicy::Always.allows(StatusCode::INTERNAL_SERVER_ERROR));
/// assert!(!RunPolicy::Never.allows(StatusCode::OK));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RunPolicy {
    /// Run whatever the status.
    Always,
    /// Run only when the status is `2xx` (`200..=299`); redirects, client and server
    /// errors skip.
    #[default]
    OnSuccess,
    /// Never run: every emission is skipped (and counted).
    Never,
}

impl RunPolicy {
    /// Whether an emission under this policy runs after a response with `status`.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::StatusCode;
    /// use ventus_axum::RunPolicy;
    ///
    /// assert!(RunPolicy::OnSuccess.allows(StatusCode::NO_CONTENT));
    /// assert!(!RunPolicy::OnSuccess.allows(StatusCode::NOT_FOUND));
    /// ```
    pub fn allows(self, status: StatusCode) -> bool {
        match self {
            Self::Always => true,
            Self::OnSuccess => status.is_success(),
            Self::Never => false,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::OnSuccess => "on success",
            Self::Never => "never",
        }
    }
}
