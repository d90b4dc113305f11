pub mod lab;
pub mod tools;
