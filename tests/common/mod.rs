pub mod lab;
pub mod mixed_tx;
pub mod region_file;
pub mod tools;
