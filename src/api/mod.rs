//! netmap's ring API in userspace.
