//! aauth-sig
