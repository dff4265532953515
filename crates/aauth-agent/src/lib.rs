//! aauth-agent
