//! aauth-axum
