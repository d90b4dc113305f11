/* Prints the layout of every structure in include/vfio_netmap.h, one
 * "struct size N" line and one "struct.field offset N" line each, and
 * the ioctl numbers, for tests/preload_c.rs to compare with src/abi.rs. */
#include <stdio.h>
#include "vfio_netmap.h"

#define S(t) printf("%s size %zu\n", #t, sizeof(struct t))
#define F(t, f) printf("%s.%s offset %zu\n", #t, #f, offsetof(struct t, f))

int main(void)
{
	S(netmap_slot); F(netmap_slot, buf_idx); F(netmap_slot, len); F(netmap_slot, flags);
	F(netmap_slot, ptr);
	/* netmap_ring's size is its header: slot[] is a flexible array. */
	printf("netmap_ring size %zu\n", offsetof(struct netmap_ring, slot));
	F(netmap_ring, buf_ofs); F(netmap_ring, num_slots); F(netmap_ring, nr_buf_size);
	F(netmap_ring, ringid); F(netmap_ring, dir); F(netmap_ring, head); F(netmap_ring, cur);
	F(netmap_ring, tail); F(netmap_ring, flags); F(netmap_ring, ts); F(netmap_ring, offset_mask);
	F(netmap_ring, buf_align); F(netmap_ring, sem);
	printf("netmap_if size %zu\n", offsetof(struct netmap_if, ring_ofs));
	F(netmap_if, ni_name); F(netmap_if, ni_version); F(netmap_if, ni_flags);
	F(netmap_if, ni_tx_rings); F(netmap_if, ni_rx_rings); F(netmap_if, ni_bufs_head);
	F(netmap_if, ni_host_tx_rings); F(netmap_if, ni_host_rx_rings); F(netmap_if, ni_spare1);
	S(nmreq_header); F(nmreq_header, nr_version); F(nmreq_header, nr_reqtype);
	F(nmreq_header, nr_reserved); F(nmreq_header, nr_name); F(nmreq_header, nr_options);
	F(nmreq_header, nr_body);
	S(nmreq_register); F(nmreq_register, nr_offset); F(nmreq_register, nr_memsize);
	F(nmreq_register, nr_tx_slots); F(nmreq_register, nr_rx_slots);
	F(nmreq_register, nr_tx_rings); F(nmreq_register, nr_rx_rings);
	F(nmreq_register, nr_host_tx_rings); F(nmreq_register, nr_host_rx_rings);
	F(nmreq_register, nr_mem_id); F(nmreq_register, nr_ringid); F(nmreq_register, nr_mode);
	F(nmreq_register, nr_extra_bufs); F(nmreq_register, nr_flags);
	S(nmreq_port_info_get); F(nmreq_port_info_get, nr_memsize);
	F(nmreq_port_info_get, nr_tx_slots); F(nmreq_port_info_get, nr_rx_slots);
	F(nmreq_port_info_get, nr_tx_rings); F(nmreq_port_info_get, nr_rx_rings);
	F(nmreq_port_info_get, nr_host_tx_rings); F(nmreq_port_info_get, nr_host_rx_rings);
	F(nmreq_port_info_get, nr_mem_id);
	S(nmreq_pools_info); F(nmreq_pools_info, nr_memsize); F(nmreq_pools_info, nr_mem_id);
	F(nmreq_pools_info, nr_if_pool_offset); F(nmreq_pools_info, nr_if_pool_objtotal);
	F(nmreq_pools_info, nr_if_pool_objsize); F(nmreq_pools_info, nr_ring_pool_offset);
	F(nmreq_pools_info, nr_ring_pool_objtotal); F(nmreq_pools_info, nr_ring_pool_objsize);
	F(nmreq_pools_info, nr_buf_pool_offset); F(nmreq_pools_info, nr_buf_pool_objtotal);
	F(nmreq_pools_info, nr_buf_pool_objsize);
	S(nmreq_port_hdr); F(nmreq_port_hdr, nr_hdr_len);
	S(nmreq_option); F(nmreq_option, nro_next); F(nmreq_option, nro_reqtype);
	F(nmreq_option, nro_status); F(nmreq_option, nro_size);
	S(nmreq); F(nmreq, nr_name); F(nmreq, nr_version); F(nmreq, nr_offset);
	F(nmreq, nr_memsize); F(nmreq, nr_tx_slots); F(nmreq, nr_rx_slots); F(nmreq, nr_tx_rings);
	F(nmreq, nr_rx_rings); F(nmreq, nr_ringid); F(nmreq, nr_cmd); F(nmreq, nr_arg1);
	F(nmreq, nr_arg2); F(nmreq, nr_arg3); F(nmreq, nr_flags); F(nmreq, spare2);
	printf("ioctl NIOCCTRL %lu\n", (unsigned long)NIOCCTRL);
	printf("ioctl NIOCTXSYNC %lu\n", (unsigned long)NIOCTXSYNC);
	printf("ioctl NIOCRXSYNC %lu\n", (unsigned long)NIOCRXSYNC);
	printf("ioctl NIOCGINFO %lu\n", (unsigned long)NIOCGINFO);
	printf("ioctl NIOCREGIF %lu\n", (unsigned long)NIOCREGIF);
	return 0;
}
