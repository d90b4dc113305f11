//! `vfio-netmap`: bind NICs to vfio-pci and inspect them.
fn main() {
    eprintln!("vfio-netmap: subcommands are not implemented yet");
    std::process::exit(2);
}
