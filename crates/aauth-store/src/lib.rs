//! aauth-store
