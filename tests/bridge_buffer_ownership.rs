//! A library issue the bridge works around (reported, not fixed here: the
//! fix belongs in src/api/pipe.rs).
//!
//! A zero-copy bridge moves buffers between two pipes of one region: it
//! swaps the buffer of its RX slot on pipe 0 with the buffer of its TX slot
//! on pipe 1. Pipe 0 learns about the swap only at the bridge's next rxsync
//! (which writes the new buffer into the sender's TX slot). If the bridge's
//! end is closed before that rxsync (a process killed with SIGKILL, or a
//! program that drops the port right after forwarding), freeing pipe 0 frees
//! the buffers named by all four of its rings, including the sender's stale
//! TX slot, which still names the buffer that now lives in pipe 1. That
//! buffer goes back to the pool while pipe 1 uses it, and the next pipe
//! created gets it too: two pipes share a buffer.
//!
//! The bridge example avoids this on every exit it controls by running a
//! final rxsync on both ports before closing them.

use std::collections::HashSet;

use vfio_netmap::abi::slot_flags::NS_BUF_CHANGED;
use vfio_netmap::api::Ring;

fn all_bufs(rings: &[Ring<'_>]) -> HashSet<u32> {
    rings
        .iter()
        .flat_map(|r| (0..r.num_slots()).map(move |k| r.slot(k).unwrap().buf_idx))
        .collect()
}

#[test]
fn a_buffer_swapped_into_another_pipe_is_not_freed_with_the_first() {
    swap_then_close("own", false);
}

/// The bridge's workaround: an rxsync before closing reconciles pipe 0.
#[test]
fn with_a_final_rxsync_no_buffer_ends_up_in_two_pipes() {
    swap_then_close("ownsync", true);
}

fn swap_then_close(tag: &str, final_rxsync: bool) {
    let x = format!("{tag}{}", std::process::id());
    let mut m0 = vfio_netmap::ports::open(&format!("netmap:{x}{{0")).unwrap();
    let mut s0 = vfio_netmap::ports::open(&format!("netmap:{x}}}0")).unwrap();
    let mut m1 = vfio_netmap::ports::open(&format!("netmap:{x}{{1")).unwrap();
    let _s1 = vfio_netmap::ports::open(&format!("netmap:{x}}}1")).unwrap();
    assert!(s0.shares_region_with(&m1));

    // One packet into pipe 0.
    let tx = m0.tx_ring(0).unwrap();
    tx.set_len(0, 60).unwrap();
    tx.advance_to(1);
    m0.txsync().unwrap();
    s0.rxsync().unwrap();

    // The bridge's zero-copy move, pipe 0 RX slot 0 -> pipe 1 TX slot 0.
    let (rx, tx) = (s0.rx_ring(0).unwrap(), m1.tx_ring(0).unwrap());
    let (y, x_buf) = (rx.slot(0).unwrap().buf_idx, tx.slot(0).unwrap().buf_idx);
    rx.set_buf_idx(0, x_buf).unwrap();
    rx.set_flags(0, NS_BUF_CHANGED).unwrap();
    tx.set_buf_idx(0, y).unwrap();
    tx.set_len(0, 60).unwrap();
    tx.set_flags(0, NS_BUF_CHANGED).unwrap();
    rx.advance_to(1);
    tx.advance_to(1);
    m1.txsync().unwrap();

    // Close pipe 0, without (the issue) or with (the workaround) the
    // rxsync that reconciles it.
    if final_rxsync {
        s0.rxsync().unwrap();
    }
    drop(s0);
    drop(m0);

    // Buffer y is in pipe 1 now; a new pipe must not get it.
    let m2 = vfio_netmap::ports::open(&format!("netmap:{x}{{2")).unwrap();
    let s2 = vfio_netmap::ports::open(&format!("netmap:{x}}}2")).unwrap();
    let pipe2 = all_bufs(&[
        m2.tx_ring(0).unwrap(),
        m2.rx_ring(0).unwrap(),
        s2.tx_ring(0).unwrap(),
        s2.rx_ring(0).unwrap(),
    ]);
    let pipe1 = all_bufs(&[
        m1.tx_ring(0).unwrap(),
        m1.rx_ring(0).unwrap(),
        _s1.tx_ring(0).unwrap(),
        _s1.rx_ring(0).unwrap(),
    ]);
    let shared: Vec<_> = pipe1.intersection(&pipe2).collect();
    assert!(
        shared.is_empty(),
        "buffers in two pipes at once: {shared:?} (y = {y})"
    );
}
