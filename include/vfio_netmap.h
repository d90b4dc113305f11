/*
 * vfio_netmap.h - netmap's application interface (API 14) for C programs
 * running on vfio-netmap's ports, where /dev/netmap is served in the
 * process by libvfio_netmap_preload.so (`vfio-netmap exec -- PROGRAM`).
 *
 * The structures have netmap's binary layout (x86_64, aarch64), so a
 * program built against netmap's own net/netmap.h and net/netmap_user.h
 * runs unchanged; this header is for programs that want to build without
 * netmap's source. Use it instead of those headers, not with them.
 * tests/preload_c.rs checks every offset and size here against the Rust
 * definitions in src/abi.rs.
 *
 * Port names (nmreq_header.nr_name; the legacy nmreq.nr_name has 16
 * bytes, so use the short PCI form there):
 *   "NAME{ID", "NAME}ID"          master / slave end of a netmap pipe
 *   "vfio:DDDD:BB:DD.F", "vfio:BB:DD.F"   a NIC bound to vfio-pci
 *   "model:ixgbeN"                a software 82599 (test builds)
 * netmap_user.h's nm_open and libnetmap's nmport_open take them after
 * "netmap:", e.g. "netmap:p{0", "netmap:vfio:0000:03:00.0-1".
 *
 * Errors (errno after a failed ioctl; a message on stderr with
 * RUST_LOG=warn):
 *   EINVAL      bad version, nr_reserved, request type, mode, ring id,
 *               name syntax, or a ring's head/cur/buf_idx/len in a sync
 *   ENXIO       no such port (a kernel interface name, an unknown model
 *               or PCI device), or a sync/mmap before registering
 *   EBUSY       the fd is already registered, or the pipe end / queue is
 *               taken
 *   EOPNOTSUPP  an option (extmem, offsets, CSB, sync-kloop)
 *   ENOMEM      the region has no room for the port's rings or buffers
 *   EFAULT      a NULL request pointer
 */
#ifndef VFIO_NETMAP_H
#define VFIO_NETMAP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/time.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NETMAP_API 14
#define VFIO_NETMAP_DEVICE "/dev/netmap"

/* ---- shared memory ---------------------------------------------------- */

struct netmap_slot {
	uint32_t buf_idx;	/* buffer index in the region's pool */
	uint16_t len;		/* bytes in the buffer */
	uint16_t flags;		/* NS_* */
	uint64_t ptr;		/* NS_INDIRECT data, or offsets */
};

#define NS_BUF_CHANGED	0x0001	/* buf_idx changed: the port re-reads it */
#define NS_REPORT	0x0002	/* ask for a completion report */
#define NS_FORWARD	0x0004
#define NS_NO_LEARN	0x0008
#define NS_INDIRECT	0x0010
#define NS_MOREFRAG	0x0020	/* more fragments of this packet follow */
#define NS_TXMON	0x0040
#define NS_PORT_MASK	0xff00

struct netmap_ring {
	const int64_t buf_ofs;		/* buffer pool, relative to the ring */
	const uint32_t num_slots;
	const uint32_t nr_buf_size;
	const uint16_t ringid;
	const uint16_t dir;		/* 0 tx, 1 rx */
	uint32_t head;			/* application: first slot it owns */
	uint32_t cur;			/* application: wakeup point */
	uint32_t tail;			/* port: first slot it owns */
	const uint32_t flags;		/* NR_TIMESTAMP, NR_FORWARD */
	struct timeval ts;		/* time of the last sync */
	const uint64_t offset_mask;
	const uint64_t buf_align;
	uint8_t sem[128] __attribute__((__aligned__(128)));
	struct netmap_slot slot[];	/* num_slots of them */
};

#define NR_TIMESTAMP	0x0002
#define NR_FORWARD	0x0004

struct netmap_if {
	const char ni_name[16];
	const uint32_t ni_version;
	const uint32_t ni_flags;
	const uint32_t ni_tx_rings;
	const uint32_t ni_rx_rings;
	uint32_t ni_bufs_head;		/* extra buffers, linked by their first u32 */
	const uint32_t ni_host_tx_rings;
	const uint32_t ni_host_rx_rings;
	uint32_t ni_spare1[3];
	const ssize_t ring_ofs[];	/* tx, host tx, rx, host rx; from the if */
};

/* ---- address arithmetic on the mapping -------------------------------- */

#define NETMAP_IF(mem, ofs)	((struct netmap_if *)(void *)((char *)(mem) + (ofs)))
#define NETMAP_TXRING(nifp, i)	((struct netmap_ring *)(void *)((char *)(nifp) + (nifp)->ring_ofs[i]))
#define NETMAP_RXRING(nifp, i)	((struct netmap_ring *)(void *)((char *)(nifp) + \
	(nifp)->ring_ofs[(i) + (nifp)->ni_tx_rings + (nifp)->ni_host_tx_rings]))
#define NETMAP_BUF(ring, idx)	((char *)(ring) + (ring)->buf_ofs + ((size_t)(idx) * (ring)->nr_buf_size))
#define NETMAP_BUF_IDX(ring, buf) \
	((uint32_t)(((char *)(buf) - ((char *)(ring) + (ring)->buf_ofs)) / (ring)->nr_buf_size))

/* The slot after i. */
static inline uint32_t nm_ring_next(const struct netmap_ring *r, uint32_t i)
{
	return i + 1 == r->num_slots ? 0 : i + 1;
}

/* Slots from cur to tail: free slots (TX), received packets (RX). */
static inline uint32_t nm_ring_space(const struct netmap_ring *r)
{
	int64_t n = (int64_t)r->tail - (int64_t)r->cur;
	return (uint32_t)(n < 0 ? n + r->num_slots : n);
}

/* No slot from cur to tail. */
static inline int nm_ring_empty(const struct netmap_ring *r)
{
	return r->cur == r->tail;
}

/* TX: slots handed to the port and not yet completed. */
static inline int nm_tx_pending(const struct netmap_ring *r)
{
	return nm_ring_next(r, r->tail) != r->head;
}

/* ---- control: API 14 (NIOCCTRL) --------------------------------------- */

#define NETMAP_REQ_IFNAMSIZ 64

struct nmreq_header {
	uint16_t nr_version;		/* NETMAP_API */
	uint16_t nr_reqtype;		/* NETMAP_REQ_* */
	uint32_t nr_reserved;		/* zero */
	char nr_name[NETMAP_REQ_IFNAMSIZ];
	uint64_t nr_options;		/* struct nmreq_option *, or 0 */
	uint64_t nr_body;		/* struct nmreq_register * etc. */
};

enum {
	NETMAP_REQ_REGISTER = 1,
	NETMAP_REQ_PORT_INFO_GET,
	NETMAP_REQ_VALE_ATTACH,
	NETMAP_REQ_VALE_DETACH,
	NETMAP_REQ_VALE_LIST,
	NETMAP_REQ_PORT_HDR_SET,
	NETMAP_REQ_PORT_HDR_GET,
	NETMAP_REQ_VALE_NEWIF,
	NETMAP_REQ_VALE_DELIF,
	NETMAP_REQ_VALE_POLLING_ENABLE,
	NETMAP_REQ_VALE_POLLING_DISABLE,
	NETMAP_REQ_POOLS_INFO_GET,
	NETMAP_REQ_SYNC_KLOOP_START,
	NETMAP_REQ_SYNC_KLOOP_STOP,
	NETMAP_REQ_CSB_ENABLE,
};

enum {
	NETMAP_REQ_OPT_EXTMEM = 1,
	NETMAP_REQ_OPT_SYNC_KLOOP_EVENTFDS,
	NETMAP_REQ_OPT_CSB,
	NETMAP_REQ_OPT_SYNC_KLOOP_MODE,
	NETMAP_REQ_OPT_OFFSETS,
	NETMAP_REQ_OPT_MAX,
};

struct nmreq_option {
	uint64_t nro_next;
	uint32_t nro_reqtype;
	uint32_t nro_status;		/* out: 0 or an errno */
	uint64_t nro_size;
};

struct nmreq_register {
	uint64_t nr_offset;		/* out: the netmap_if in the mapping */
	uint64_t nr_memsize;		/* out: bytes to mmap */
	uint32_t nr_tx_slots;
	uint32_t nr_rx_slots;
	uint16_t nr_tx_rings;
	uint16_t nr_rx_rings;
	uint16_t nr_host_tx_rings;
	uint16_t nr_host_rx_rings;
	uint16_t nr_mem_id;
	uint16_t nr_ringid;
	uint32_t nr_mode;		/* NR_REG_* */
	uint32_t nr_extra_bufs;
	uint64_t nr_flags;		/* NR_* */
};

enum {
	NR_REG_DEFAULT = 0,
	NR_REG_ALL_NIC = 1,
	NR_REG_SW = 2,
	NR_REG_NIC_SW = 3,
	NR_REG_ONE_NIC = 4,
	NR_REG_PIPE_MASTER = 5,
	NR_REG_PIPE_SLAVE = 6,
	NR_REG_NULL = 7,
	NR_REG_ONE_SW = 8,
};
#define NR_REG_MASK		0xf

#define NR_MONITOR_TX		0x100
#define NR_MONITOR_RX		0x200
#define NR_ZCOPY_MON		0x400
#define NR_EXCLUSIVE		0x800
#define NR_RX_RINGS_ONLY	0x2000
#define NR_TX_RINGS_ONLY	0x4000
#define NR_ACCEPT_VNET_HDR	0x8000
#define NR_DO_RX_POLL		0x10000
#define NR_NO_TX_POLL		0x20000

struct nmreq_port_info_get {
	uint64_t nr_memsize;
	uint32_t nr_tx_slots;
	uint32_t nr_rx_slots;
	uint16_t nr_tx_rings;
	uint16_t nr_rx_rings;
	uint16_t nr_host_tx_rings;
	uint16_t nr_host_rx_rings;
	uint16_t nr_mem_id;
	uint16_t pad[3];
};

struct nmreq_pools_info {
	uint64_t nr_memsize;
	uint16_t nr_mem_id;
	uint16_t pad1[3];
	uint64_t nr_if_pool_offset;
	uint32_t nr_if_pool_objtotal;
	uint32_t nr_if_pool_objsize;
	uint64_t nr_ring_pool_offset;
	uint32_t nr_ring_pool_objtotal;
	uint32_t nr_ring_pool_objsize;
	uint64_t nr_buf_pool_offset;
	uint32_t nr_buf_pool_objtotal;
	uint32_t nr_buf_pool_objsize;
};

struct nmreq_port_hdr {
	uint32_t nr_hdr_len;
	uint32_t pad1;
};

/* ---- control: the legacy API (NIOCGINFO, NIOCREGIF) ------------------- */

struct nmreq {
	char nr_name[16];
	uint32_t nr_version;
	uint32_t nr_offset;
	uint32_t nr_memsize;
	uint32_t nr_tx_slots;
	uint32_t nr_rx_slots;
	uint16_t nr_tx_rings;
	uint16_t nr_rx_rings;
	uint16_t nr_ringid;		/* ring | NETMAP_* below */
	uint16_t nr_cmd;		/* 0: register */
	uint16_t nr_arg1;
	uint16_t nr_arg2;		/* memory id */
	uint32_t nr_arg3;		/* extra buffers */
	uint32_t nr_flags;		/* NR_REG_* | NR_* */
	uint32_t spare2[1];
};

#define NETMAP_RING_MASK	0x0fff
#define NETMAP_NO_TX_POLL	0x1000
#define NETMAP_SW_RING		0x2000
#define NETMAP_HW_RING		0x4000
#define NETMAP_DO_RX_POLL	0x8000

/* ---- ioctls ----------------------------------------------------------- */

#define NIOCGINFO	_IOWR('i', 145, struct nmreq)
#define NIOCREGIF	_IOWR('i', 146, struct nmreq)
#define NIOCTXSYNC	_IO('i', 148)
#define NIOCRXSYNC	_IO('i', 149)
#define NIOCCTRL	_IOWR('i', 151, struct nmreq_header)

#ifdef __cplusplus
}
#endif

#endif /* VFIO_NETMAP_H */
