pub mod lab;
pub mod mixed_tx;
pub mod tools;
