/* Bad requests get netmap's error numbers; good info requests answer.
 *   nm_errors PIPE      (PIPE: a pipe name no one else uses)
 * Prints "ok: ..." per check, "FAIL: ..." for a wrong answer; exits 1 on
 * any failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/select.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "vfio_netmap.h"

static int failures;

static void expect(const char *what, int rc, int want_errno)
{
	int err = rc < 0 ? errno : 0;

	if (err == want_errno) {
		printf("ok: %s -> %s\n", what, want_errno ? strerror(want_errno) : "success");
	} else {
		printf("FAIL: %s -> %s (rc %d), want %s\n", what, err ? strerror(err) : "success",
		       rc, want_errno ? strerror(want_errno) : "success");
		failures++;
	}
}

static void check(const char *what, int cond)
{
	printf("%s: %s\n", cond ? "ok" : "FAIL", what);
	failures += !cond;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* poll and select on a registered fd with nothing to receive, mixed
 * with an ordinary pipe another process writes to after 100 ms. */
static void mixed_fds(int fd)
{
	struct pollfd pfds[2];
	int p[2], n;
	pid_t child;
	fd_set w;
	struct timeval tv = { 0, 0 };
	double t0;

	if (pipe(p) < 0) {
		perror("pipe");
		exit(1);
	}
	child = fork();
	if (child == 0) {
		usleep(100000);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		_exit(0);
	}
	pfds[0].fd = fd;
	pfds[0].events = POLLIN;
	pfds[1].fd = p[0];
	pfds[1].events = POLLIN;
	t0 = now_ms();
	n = poll(pfds, 2, 5000);
	check("poll(netmap fd, pipe) wakes for the pipe after ~100 ms, netmap fd not ready",
	      n == 1 && pfds[1].revents == POLLIN && pfds[0].revents == 0 &&
	      now_ms() - t0 >= 80 && now_ms() - t0 < 3000);
	waitpid(child, NULL, 0);
	close(p[0]);
	close(p[1]);
	t0 = now_ms();
	pfds[0].revents = 0;
	n = poll(pfds, 1, 100);
	check("poll(POLLIN) with nothing to receive times out after ~100 ms",
	      n == 0 && now_ms() - t0 >= 90);
	pfds[0].events = POLLIN | POLLOUT;
	check("poll(POLLOUT) on an empty TX ring is ready at once",
	      poll(pfds, 1, 1000) == 1 && pfds[0].revents == POLLOUT);
	FD_ZERO(&w);
	FD_SET(fd, &w);
	check("select() sees the TX ring's room", select(fd + 1, NULL, &w, NULL, &tv) == 1 &&
	      FD_ISSET(fd, &w));
	{
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		sigset_t mask;

		sigemptyset(&mask);
		pfds[0].events = POLLIN;
		t0 = now_ms();
		check("ppoll(POLLIN) with nothing to receive times out after ~50 ms",
		      ppoll(pfds, 1, &ts, &mask) == 0 && now_ms() - t0 >= 45);
		FD_ZERO(&w);
		FD_SET(fd, &w);
		check("pselect() sees the TX ring's room",
		      pselect(fd + 1, NULL, &w, NULL, &ts, &mask) == 1 && FD_ISSET(fd, &w));
	}
}

static int dev(void)
{
	int fd = open("/dev/netmap", O_RDWR);

	if (fd < 0) {
		perror("open /dev/netmap");
		exit(1);
	}
	return fd;
}

static void header(struct nmreq_header *h, uint16_t type, const char *name, void *body)
{
	memset(h, 0, sizeof(*h));
	h->nr_version = NETMAP_API;
	h->nr_reqtype = type;
	strncpy(h->nr_name, name, sizeof(h->nr_name) - 1);
	h->nr_body = (uintptr_t)body;
}

static int reg(int fd, const char *name, uint32_t mode, uint16_t ring, struct nmreq_register *r)
{
	struct nmreq_header h;

	memset(r, 0, sizeof(*r));
	r->nr_mode = mode;
	r->nr_ringid = ring;
	header(&h, NETMAP_REQ_REGISTER, name, r);
	return ioctl(fd, NIOCCTRL, &h);
}

int main(int argc, char **argv)
{
	char pipe[64], other[64];
	struct nmreq_header h;
	struct nmreq_register r, r2;
	struct nmreq_port_info_get info;
	struct nmreq_pools_info pools;
	struct nmreq_port_hdr ph;
	struct nmreq_option opt;
	struct nmreq legacy;
	struct pollfd pfd;
	struct netmap_ring *ring;
	void *mem;
	int fd = dev(), fd2 = dev();

	if (argc < 2)
		return 2;
	snprintf(pipe, sizeof(pipe), "%s{0", argv[1]);
	snprintf(other, sizeof(other), "%s{1", argv[1]);

	header(&h, 99, pipe, NULL);
	expect("unknown request type 99", ioctl(fd, NIOCCTRL, &h), EINVAL);
	header(&h, NETMAP_REQ_VALE_LIST, pipe, &r);
	expect("VALE_LIST (needs the kernel module)", ioctl(fd, NIOCCTRL, &h), EINVAL);
	header(&h, NETMAP_REQ_REGISTER, pipe, &r);
	h.nr_version = 13;
	expect("API version 13", ioctl(fd, NIOCCTRL, &h), EINVAL);
	header(&h, NETMAP_REQ_REGISTER, pipe, &r);
	h.nr_reserved = 1;
	expect("nr_reserved 1", ioctl(fd, NIOCCTRL, &h), EINVAL);
	header(&h, NETMAP_REQ_REGISTER, pipe, NULL);
	expect("register without a body", ioctl(fd, NIOCCTRL, &h), EINVAL);
	expect("register kernel interface `no_such_if0`",
	       reg(fd, "no_such_if0", NR_REG_ALL_NIC, 0, &r), ENXIO);
	expect("register `bad name!`", reg(fd, "bad name!", NR_REG_ALL_NIC, 0, &r), EINVAL);
	expect("register an empty name", reg(fd, "", NR_REG_ALL_NIC, 0, &r), EINVAL);
	expect("register model:nothing", reg(fd, "model:nothing", NR_REG_ALL_NIC, 0, &r), ENXIO);
	expect("register ring 5 of a one-ring pipe", reg(fd, pipe, NR_REG_ONE_NIC, 5, &r), EINVAL);
	expect("register mode NR_REG_NULL", reg(fd, pipe, NR_REG_NULL, 0, &r), EINVAL);
	expect("register mode 42", reg(fd, pipe, 42, 0, &r), EINVAL);
	/* 64 name bytes without a NUL: read as 64 characters, never past. */
	header(&h, NETMAP_REQ_REGISTER, "", &r);
	memset(h.nr_name, 'a', sizeof(h.nr_name));
	memset(&r, 0, sizeof(r));
	r.nr_mode = NR_REG_ALL_NIC;
	expect("register a 64-byte name without NUL", ioctl(fd, NIOCCTRL, &h), ENXIO);

	memset(&opt, 0, sizeof(opt));
	opt.nro_reqtype = NETMAP_REQ_OPT_EXTMEM;
	header(&h, NETMAP_REQ_REGISTER, pipe, &r);
	h.nr_options = (uintptr_t)&opt;
	memset(&r, 0, sizeof(r));
	r.nr_mode = NR_REG_ALL_NIC;
	expect("register with the extmem option", ioctl(fd, NIOCCTRL, &h), EOPNOTSUPP);
	check("the extmem option's nro_status is EOPNOTSUPP", opt.nro_status == EOPNOTSUPP);
	opt.nro_reqtype = 0;
	expect("register with an option of type 0", ioctl(fd, NIOCCTRL, &h), EINVAL);

	expect("NIOCTXSYNC before registering", ioctl(fd, NIOCTXSYNC, NULL), ENXIO);
	mem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	expect("mmap before registering", mem == MAP_FAILED ? -1 : 0, ENXIO);
	pfd.fd = fd;
	pfd.events = POLLIN;
	check("poll before registering gives POLLERR",
	      poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLERR));

	memset(&legacy, 0, sizeof(legacy));
	legacy.nr_version = NETMAP_API;
	strcpy(legacy.nr_name, argv[1]);
	legacy.nr_flags = NR_REG_PIPE_MASTER;
	legacy.nr_cmd = 1;
	expect("legacy NIOCREGIF with nr_cmd 1 (VALE attach)", ioctl(fd, NIOCREGIF, &legacy), EINVAL);
	legacy.nr_cmd = 0;
	legacy.nr_version = 10;
	expect("legacy NIOCREGIF with API 10", ioctl(fd, NIOCREGIF, &legacy), EINVAL);

	expect("register the pipe", reg(fd, pipe, NR_REG_ALL_NIC, 0, &r), 0);
	check("nr_memsize and one ring pair",
	      r.nr_memsize > 0 && r.nr_tx_rings == 1 && r.nr_rx_rings == 1 && r.nr_tx_slots > 0);
	expect("register the same fd again", reg(fd, other, NR_REG_ALL_NIC, 0, &r2), EBUSY);
	expect("register the same pipe end on another fd", reg(fd2, pipe, NR_REG_ALL_NIC, 0, &r2),
	       EBUSY);
	expect("register another pipe of the same name on another fd",
	       reg(fd2, other, NR_REG_ALL_NIC, 0, &r2), 0);
	check("pipes of one name share a memory id", r2.nr_mem_id == r.nr_mem_id);

	memset(&info, 0, sizeof(info));
	header(&h, NETMAP_REQ_PORT_INFO_GET, pipe, &info);
	expect("PORT_INFO_GET", ioctl(fd, NIOCCTRL, &h), 0);
	check("PORT_INFO_GET matches the registration",
	      info.nr_memsize == r.nr_memsize && info.nr_tx_slots == r.nr_tx_slots &&
	      info.nr_mem_id == r.nr_mem_id);
	memset(&ph, 0, sizeof(ph));
	ph.nr_hdr_len = 99;
	header(&h, NETMAP_REQ_PORT_HDR_GET, pipe, &ph);
	expect("PORT_HDR_GET", ioctl(fd, NIOCCTRL, &h), 0);
	check("header length 0", ph.nr_hdr_len == 0);
	ph.nr_hdr_len = 10;
	header(&h, NETMAP_REQ_PORT_HDR_SET, pipe, &ph);
	expect("PORT_HDR_SET 10", ioctl(fd, NIOCCTRL, &h), EINVAL);
	memset(&pools, 0, sizeof(pools));
	header(&h, NETMAP_REQ_POOLS_INFO_GET, pipe, &pools);
	expect("POOLS_INFO_GET", ioctl(fd, NIOCCTRL, &h), 0);
	check("pools inside the region",
	      pools.nr_memsize == r.nr_memsize && pools.nr_buf_pool_objsize == 2048 &&
	      pools.nr_buf_pool_offset + (uint64_t)pools.nr_buf_pool_objtotal *
	      pools.nr_buf_pool_objsize <= pools.nr_memsize &&
	      r.nr_offset >= pools.nr_if_pool_offset && r.nr_offset < pools.nr_ring_pool_offset);

	mem = mmap(NULL, r.nr_memsize + 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	expect("mmap past nr_memsize", mem == MAP_FAILED ? -1 : 0, EINVAL);
	mem = mmap(NULL, r.nr_memsize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	expect("mmap nr_memsize", mem == MAP_FAILED ? -1 : 0, 0);
	if (mem == MAP_FAILED)
		return 1;
	ring = NETMAP_TXRING(NETMAP_IF(mem, r.nr_offset), 0);
	check("the TX ring as netmap_user.h finds it",
	      ring->num_slots == r.nr_tx_slots && ring->dir == 0 && ring->nr_buf_size == 2048 &&
	      nm_ring_space(ring) == ring->num_slots - 1);
	ring->head = ring->cur = ring->num_slots + 5;
	expect("NIOCTXSYNC with head past the ring", ioctl(fd, NIOCTXSYNC, NULL), EINVAL);
	ring->head = ring->cur = 0;
	expect("NIOCTXSYNC after putting head back", ioctl(fd, NIOCTXSYNC, NULL), 0);
	mixed_fds(fd);

	memset(&legacy, 0, sizeof(legacy));
	legacy.nr_version = NETMAP_API;
	strcpy(legacy.nr_name, pipe);
	expect("legacy NIOCGINFO", ioctl(fd2, NIOCGINFO, &legacy), 0);
	check("NIOCGINFO matches", legacy.nr_memsize == r.nr_memsize &&
	      legacy.nr_arg2 == r.nr_mem_id && legacy.nr_tx_slots == r.nr_tx_slots);

	{
		int d = dup(fd);

		close(fd);
		expect("NIOCTXSYNC on a dup after closing the original", ioctl(d, NIOCTXSYNC, NULL),
		       0);
		fd = d;
	}
	munmap(mem, r.nr_memsize);
	close(fd);
	close(fd2);
	printf("%d failures\n", failures);
	return failures ? 1 : 0;
}
