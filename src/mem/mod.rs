//! Memory: mappings (hugepages when possible) and netmap's region layout.
