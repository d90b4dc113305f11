//! netmap's address arithmetic on our memory: reading the region file as a
//! C program would (netmap_user.h's NETMAP_TXRING, NETMAP_BUF), we find the
//! bytes the API wrote.

use vfio_netmap::abi::{NETMAP_API, NETMAP_IF_RING_OFS};
use vfio_netmap::api::Port;

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn i64_at(b: &[u8], off: usize) -> i64 {
    i64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

#[test]
fn netmap_user_arithmetic_finds_our_buffers() {
    let name = format!("layout_{}", std::process::id());
    let mut tx = vfio_netmap::ports::open(&format!("netmap:{name}{{0")).unwrap();
    let path = tx
        .region()
        .backing()
        .path()
        .expect("pipes live in a named file")
        .to_path_buf();
    // Write a recognisable packet into TX slot 0 and 5 through the API.
    let mut ring = tx.tx_ring(0).unwrap();
    for (slot, byte) in [(0u32, 0xabu8), (5, 0xcd)] {
        ring.buf_mut(slot).unwrap()[..64].fill(byte);
    }
    let (idx0, idx5) = (ring.slot(0).unwrap().buf_idx, ring.slot(5).unwrap().buf_idx);
    let _ = ring;
    tx.txsync().unwrap();

    let mem = std::fs::read(&path).unwrap();
    let nifp = tx.netmap_if_offset();
    // struct netmap_if
    assert_eq!(&mem[nifp..nifp + 3], b"{0\0");
    assert_eq!(u32_at(&mem, nifp + 16), NETMAP_API);
    let (ntx, nrx) = (u32_at(&mem, nifp + 24), u32_at(&mem, nifp + 28));
    assert_eq!((ntx, nrx), (1, 1));
    // NETMAP_TXRING(nifp, 0) = (char *)nifp + ring_ofs[0]
    let ring_ofs0 = i64_at(&mem, nifp + NETMAP_IF_RING_OFS);
    let ring = (nifp as i64 + ring_ofs0) as usize;
    assert_eq!(u32_at(&mem, ring + 8), 1024, "num_slots");
    assert_eq!(u32_at(&mem, ring + 12), 2048, "nr_buf_size");
    assert_eq!(u32_at(&mem, ring + 18) & 0xffff, 0, "dir tx");
    // NETMAP_RXRING(nifp, 0) = nifp + ring_ofs[0 + ni_tx_rings + ni_host_tx_rings]
    let rx_ofs = i64_at(&mem, nifp + NETMAP_IF_RING_OFS + 8 * (ntx as usize));
    let rx_ring = (nifp as i64 + rx_ofs) as usize;
    assert_eq!(u32_at(&mem, rx_ring + 18) & 0xffff, 1, "dir rx");
    // slot[i].buf_idx at ring + 256 + 16 i; NETMAP_BUF = ring + buf_ofs + idx * size
    let buf_ofs = i64_at(&mem, ring);
    let buf_size = u32_at(&mem, ring + 12) as i64;
    for (slot, idx, byte) in [(0usize, idx0, 0xabu8), (5, idx5, 0xcd)] {
        assert_eq!(u32_at(&mem, ring + 256 + 16 * slot), idx);
        let buf = (ring as i64 + buf_ofs + idx as i64 * buf_size) as usize;
        assert!(
            mem[buf..buf + 64].iter().all(|&b| b == byte),
            "buffer of slot {slot}"
        );
    }
    assert!(idx0 >= 2 && idx5 >= 2, "buffers 0 and 1 are reserved");
}

#[test]
fn extra_buffers_are_chained_from_ni_bufs_head() {
    use vfio_netmap::api::{PipeEnd, PipeSpec};
    let name = format!("extra_{}", std::process::id());
    // Another pipe keeps the region alive, so frees can be counted.
    let keeper = vfio_netmap::ports::open(&format!("netmap:{name}{{9")).unwrap();
    let free_before = keeper.region().free_bufs();
    let mut spec = PipeSpec::new(&name, "0", PipeEnd::Master);
    spec.extra_bufs = 10;
    let port = Port::open_pipe("extra", &spec).unwrap();
    let region = port.region();
    assert_eq!(region.free_bufs(), free_before - 2 * 1024 - 10);
    let path = region.backing().path().unwrap().to_path_buf();
    let mem = std::fs::read(&path).unwrap();
    let nifp = port.netmap_if_offset();
    let mut idx = u32_at(&mem, nifp + 32);
    let mut seen = std::collections::HashSet::new();
    let ring_ofs0 = i64_at(&mem, nifp + NETMAP_IF_RING_OFS);
    let ring = (nifp as i64 + ring_ofs0) as usize;
    let buf_ofs = i64_at(&mem, ring);
    while idx != 0 {
        assert!(
            idx >= 2 && seen.insert(idx),
            "bad or repeated extra buffer {idx}"
        );
        let buf = (ring as i64 + buf_ofs + idx as i64 * 2048) as usize;
        idx = u32_at(&mem, buf);
    }
    assert_eq!(seen.len(), 10);
    drop(port);
    // The pipe (its peer was never opened) and the extra buffers went back.
    assert_eq!(keeper.region().free_bufs(), free_before);
}
