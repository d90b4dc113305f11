/* Sends or receives numbered frames through a netmap port, the way
 * netmap's applications do: open /dev/netmap, register (NIOCCTRL with an
 * nmreq_header, or the legacy NIOCREGIF with an nmreq, as nm_open does),
 * mmap nr_memsize bytes, find the rings with NETMAP_IF/NETMAP_TXRING/
 * NETMAP_RXRING, fill or drain [cur, tail) and sleep in poll().
 *
 *   nm_frames tx|rx ctrl|legacy PORT COUNT [fork]
 *
 * PORT is "netmap:NAME{ID" / "netmap:NAME}ID" or "netmap:model:ixgbeN".
 * rx checks every frame's length and sequence number and prints
 * "received COUNT in order, POLLS polls, idle cpu MS ms over WALL ms"
 * (cpu and wall time of its first poll, before the sender starts).
 * With "fork", tx registers, forks, the parent closes its fd at once and
 * waits, and the child (which inherited the registration) sends. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "vfio_netmap.h"

#define FRAME_LEN 60
#define SEQ_AT 14

static void die(const char *what)
{
	fprintf(stderr, "nm_frames: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* NIOCCTRL: the name after "netmap:" goes to nr_name as it is. */
static int register_ctrl(const char *port, uint64_t *offset, uint64_t *size)
{
	struct nmreq_header hdr;
	struct nmreq_register reg;
	int fd = open("/dev/netmap", O_RDWR);

	if (fd < 0)
		die("open /dev/netmap");
	memset(&hdr, 0, sizeof(hdr));
	memset(&reg, 0, sizeof(reg));
	hdr.nr_version = NETMAP_API;
	hdr.nr_reqtype = NETMAP_REQ_REGISTER;
	if (strncmp(port, "netmap:", 7) == 0)
		port += 7;
	strncpy(hdr.nr_name, port, sizeof(hdr.nr_name) - 1);
	hdr.nr_body = (uintptr_t)&reg;
	reg.nr_mode = NR_REG_ALL_NIC;
	if (ioctl(fd, NIOCCTRL, &hdr) < 0)
		die("NIOCCTRL register");
	*offset = reg.nr_offset;
	*size = reg.nr_memsize;
	return fd;
}

/* NIOCREGIF, as nm_open: "NAME{ID" becomes nr_name NAME with
 * NR_REG_PIPE_MASTER (SLAVE for '}') and ring ID. */
static int register_legacy(const char *port, uint64_t *offset, uint64_t *size)
{
	struct nmreq req;
	const char *sep;
	int fd = open("/dev/netmap", O_RDWR);

	if (fd < 0)
		die("open /dev/netmap");
	memset(&req, 0, sizeof(req));
	req.nr_version = NETMAP_API;
	if (strncmp(port, "netmap:", 7) == 0)
		port += 7;
	sep = strpbrk(port, "{}");
	if (sep != NULL) {
		req.nr_flags = *sep == '{' ? NR_REG_PIPE_MASTER : NR_REG_PIPE_SLAVE;
		req.nr_ringid = (uint16_t)atoi(sep + 1) & NETMAP_RING_MASK;
	} else {
		req.nr_flags = NR_REG_ALL_NIC;
		sep = port + strlen(port);
	}
	if ((size_t)(sep - port) >= sizeof(req.nr_name)) {
		errno = ENAMETOOLONG;
		die("legacy name");
	}
	memcpy(req.nr_name, port, (size_t)(sep - port));
	if (ioctl(fd, NIOCREGIF, &req) < 0)
		die("NIOCREGIF");
	*offset = req.nr_offset;
	*size = req.nr_memsize;
	return fd;
}

static double ms(struct timeval tv)
{
	return tv.tv_sec * 1e3 + tv.tv_usec / 1e3;
}

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ms(ru.ru_utime) + ms(ru.ru_stime);
}

static double wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void send_frames(int fd, struct netmap_ring *r, uint64_t count)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	uint64_t seq = 0;
	int idle = 0;

	while (seq < count) {
		int n = poll(&pfd, 1, 10000);

		if (n < 0)
			die("poll");
		if (n == 0) {
			fprintf(stderr, "nm_frames: tx: no room for 10 s at frame %llu\n",
				(unsigned long long)seq);
			exit(1);
		}
		if (pfd.revents & (POLLERR | POLLHUP)) {
			fprintf(stderr, "nm_frames: tx: revents %#x at frame %llu\n",
				pfd.revents, (unsigned long long)seq);
			exit(1);
		}
		while (!nm_ring_empty(r) && seq < count) {
			uint32_t i = r->cur;
			struct netmap_slot *slot = &r->slot[i];
			char *buf = NETMAP_BUF(r, slot->buf_idx);

			memset(buf, 0xff, 6);			/* broadcast */
			memcpy(buf + 6, "\x02\x00\x00\x00\x00\x01", 6);
			buf[12] = 0x88; buf[13] = 0xb5;		/* local experimental */
			memcpy(buf + SEQ_AT, &seq, sizeof(seq));
			memset(buf + SEQ_AT + 8, 0, FRAME_LEN - SEQ_AT - 8);
			slot->len = FRAME_LEN;
			r->head = r->cur = nm_ring_next(r, i);
			seq++;
		}
	}
	/* Wait until the receiver has taken everything (or left). */
	while (nm_tx_pending(r) && idle < 10000) {
		if (ioctl(fd, NIOCTXSYNC, NULL) < 0)
			die("NIOCTXSYNC");
		usleep(1000);
		idle++;
	}
	printf("sent %llu\n", (unsigned long long)count);
}

static void receive_frames(int fd, struct netmap_ring *r, uint64_t count)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t seq = 0, polls = 0;
	double cpu0 = cpu_ms(), wall0 = wall_ms(), idle_cpu = 0, idle_wall = 0;

	while (seq < count) {
		int n = poll(&pfd, 1, 10000);

		if (polls++ == 0) {
			idle_cpu = cpu_ms() - cpu0;
			idle_wall = wall_ms() - wall0;
		}
		if (n < 0)
			die("poll");
		if (n == 0) {
			fprintf(stderr, "nm_frames: rx: nothing for 10 s after frame %llu\n",
				(unsigned long long)seq);
			exit(1);
		}
		if (pfd.revents & POLLERR) {
			fprintf(stderr, "nm_frames: rx: POLLERR after %llu\n", (unsigned long long)seq);
			exit(1);
		}
		while (!nm_ring_empty(r)) {
			uint32_t i = r->cur;
			struct netmap_slot *slot = &r->slot[i];
			char *buf = NETMAP_BUF(r, slot->buf_idx);
			uint64_t got;

			memcpy(&got, buf + SEQ_AT, sizeof(got));
			if (slot->len != FRAME_LEN || got != seq) {
				fprintf(stderr, "nm_frames: rx: frame %llu: len %u seq %llu\n",
					(unsigned long long)seq, slot->len, (unsigned long long)got);
				exit(1);
			}
			seq++;
			r->head = r->cur = nm_ring_next(r, i);
		}
	}
	/* Hand the last slots back before leaving. */
	if (ioctl(fd, NIOCRXSYNC, NULL) < 0)
		die("NIOCRXSYNC");
	printf("received %llu in order, %llu polls, idle cpu %.1f ms over %.1f ms\n",
	       (unsigned long long)seq, (unsigned long long)polls, idle_cpu, idle_wall);
}

int main(int argc, char **argv)
{
	uint64_t offset, size, count;
	struct netmap_if *nifp;
	void *mem;
	int fd, tx, do_fork;

	if (argc < 5) {
		fprintf(stderr, "usage: nm_frames tx|rx ctrl|legacy PORT COUNT [fork]\n");
		return 2;
	}
	tx = strcmp(argv[1], "tx") == 0;
	do_fork = argc > 5 && strcmp(argv[5], "fork") == 0;
	count = strtoull(argv[4], NULL, 10);
	fd = strcmp(argv[2], "legacy") == 0 ? register_legacy(argv[3], &offset, &size)
					    : register_ctrl(argv[3], &offset, &size);
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	nifp = NETMAP_IF(mem, offset);
	if (do_fork) {
		pid_t child = fork();
		int status;

		if (child < 0)
			die("fork");
		if (child > 0) {
			/* netmap: the registration lives while any process
			 * holds the fd; the child goes on with it. */
			close(fd);
			if (waitpid(child, &status, 0) < 0)
				die("waitpid");
			printf("parent: child exited with %d\n",
			       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
		}
	}
	if (tx)
		send_frames(fd, NETMAP_TXRING(nifp, 0), count);
	else
		receive_frames(fd, NETMAP_RXRING(nifp, 0), count);
	munmap(mem, size);
	close(fd);
	return 0;
}
