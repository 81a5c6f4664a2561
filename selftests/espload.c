// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xoff-espload: offer real, decryptable ESP faster than a receiver decrypts it. Every
 * frame is encrypted once at start (selftests/esp.c); the hot loop only replays them
 * through an AF_PACKET socket that bypasses the qdisc, in batches of sendmmsg().
 *
 *   xoff-espload DEV --src ADDR --dst ADDR --inner-src ADDR --inner-dst ADDR
 *                --sa SPI:KEYHEX [--sa SPI:KEYHEX]... [--smac MAC] [--dmac MAC]
 *                [--inner-size N] [--frames K] [--seconds T | --count C]
 *                [--batch B] [--sndbuf BYTES] [--no-retry] [--cpu N] [--idle] [--ready]
 *
 * Each SA gets K frames, sequence numbers 1..K (IV = the sequence number), sent round
 * robin over the SAs in the order given: frame i of the run goes to SA i mod N. They
 * repeat after N * K frames, so the receiver's SAs need replay-window 0 (the kernel then
 * checks no sequence number: xfrm_replay_check_legacy() returns early) or every replay
 * is dropped as one. Prints "espload sent N frames in S s: R pps" (frames the device
 * took; the receiver may still drop some). Exit 0, 1 (a failure, one line on stderr) or
 * 2 (usage). Keys are never printed.
 *
 * Over veth the frames stay charged to this socket's send buffer until the receiver has
 * decrypted and freed them (veth does not orphan them), so with the default buffer the
 * generator waits for the receiver: a closed loop that loses nothing. --sndbuf beyond
 * what the receiver's backlog holds (netdev_max_backlog frames) opens the loop: the
 * generator then offers more than the receiver decrypts, and the backlog drops the rest.
 * veth reports such a drop (ENOBUFS): the frame is offered again, unless --no-retry, which
 * counts it as refused and goes on with the next (a second line: "espload refused M
 * frames"; --count then counts frames sent and refused).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "esp.h"

#define PROG		"xoff-espload"
#include "tool.h"
#define MAX_SAS		4096
#define MAX_FRAMES	(1u << 20)
/* What the pre-encrypted frames may take in memory. */
#define MAX_BYTES	(1ull << 30)
#define MAX_BATCH	1024
#define DEF_INNER	1400
#define DEF_FRAMES	256
#define DEF_BATCH	64
#define DEF_SECONDS	10
#define SPORT		9000
#define DPORT		9	/* discard */

struct opts {
	const char *dev;
	struct esp_flow flow;
	bool have_src, have_dst, have_isrc, have_idst, have_smac;
	struct esp_sa *sas;
	unsigned int nsas;
	unsigned int frames, batch;
	double seconds;		/* 0: none */
	unsigned long long count;	/* 0: none */
	unsigned long sndbuf;	/* 0: the kernel's default */
	long cpu;		/* -1: not pinned */
	bool idle, no_retry, ready;
};

static volatile sig_atomic_t stop;

static void usage(FILE *f)
{
	fprintf(f,
"Usage: " PROG " DEV --src ADDR --dst ADDR --inner-src ADDR --inner-dst ADDR\n"
"                    --sa SPI:KEYHEX [--sa SPI:KEYHEX]... [--smac MAC] [--dmac MAC]\n"
"                    [--inner-size N] [--frames K] [--seconds T | --count C]\n"
"                    [--batch B] [--sndbuf BYTES] [--no-retry] [--cpu N] [--idle]\n"
"                    [--ready]\n"
"Replay real tunnel-mode ESP (AES-GCM-128, rfc4106(gcm(aes)), 16-byte ICV), encrypted\n"
"once at start, on DEV (AF_PACKET, qdisc bypassed, sendmmsg).\n"
"  --src, --dst ADDR   outer IPv4 or IPv6 addresses, both of one family\n"
"  --inner-src, --inner-dst ADDR   inner IPv4 addresses (UDP %d to %d)\n"
"  --sa SPI:KEYHEX     an SA: SPI (decimal or 0x hex, not 0) and its 20-byte key as 40\n"
"                      hex digits (0x optional): AES key, then 4-byte salt, as ip xfrm's\n"
"                      aead 'rfc4106(gcm(aes))' KEY 128; repeat for up to %d SAs\n"
"  --smac MAC          source MAC (default: DEV's)\n"
"  --dmac MAC          destination MAC (default: ff:ff:ff:ff:ff:ff)\n"
"  --inner-size N      bytes of the inner IPv4 packet, %d-65000 (default %d)\n"
"  --frames K          distinct frames per SA, sequence numbers 1..K (default %d)\n"
"  --seconds T         send for T seconds (default %d unless --count)\n"
"  --count C           send C frames\n"
"  --batch B           frames per sendmmsg, 1-%d (default %d)\n"
"  --sndbuf BYTES      the socket's send buffer (SO_SNDBUFFORCE); over veth, frames\n"
"                      not yet decrypted count in it: a large one offers more than the\n"
"                      receiver takes, the default waits for it\n"
"  --no-retry          a frame the device refuses (ENOBUFS: a full queue or backlog)\n"
"                      is counted as refused, not offered again\n"
"  --cpu N             run on CPU N only\n"
"  --idle              run at SCHED_IDLE (only what the CPU would otherwise idle)\n"
"  --ready             print \"espload ready\" once the frames are built, as sending starts\n"
"Frame i goes to SA i mod N (the order of --sa); they repeat after N * K frames, so the\n"
"receiver's SAs need replay-window 0. Prints \"espload sent N frames in S s: R pps\".\n"
"Exit: 0 sent, 1 failure, 2 usage.\n",
		SPORT, DPORT, MAX_SAS, ESP_INNER_MIN, DEF_INNER, DEF_FRAMES, DEF_SECONDS, MAX_BATCH,
		DEF_BATCH);
}

static void addr4(const char *opt, const char *s, uint8_t *a)
{
	if (inet_pton(AF_INET, s, a) != 1)
		die(2, "%s: '%s' is not an IPv4 address (the inner packet is IPv4)", opt, s);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* "SPI:KEYHEX" into @sa. Messages name the SA by its place and SPI, never by its key. */
static void sa_arg(const char *arg, unsigned int idx, struct esp_sa *sa)
{
	const char *colon = strchr(arg, ':'), *k;
	char spi[24], what[32];
	size_t i, n;

	if (!colon)
		die(2, "--sa #%u: expected SPI:KEYHEX", idx);
	n = colon - arg;
	if (n == 0 || n >= sizeof(spi))
		die(2, "--sa #%u: expected SPI:KEYHEX (no SPI before ':')", idx);
	memcpy(spi, arg, n);
	spi[n] = '\0';
	snprintf(what, sizeof(what), "--sa #%u", idx);
	sa->spi = num(what, spi, 1, UINT32_MAX);
	k = colon + 1;
	if (k[0] == '0' && (k[1] == 'x' || k[1] == 'X'))
		k += 2;
	for (i = 0; k[i]; i++)
		if (hexval(k[i]) < 0)
			die(2, "--sa #%u (SPI 0x%x): the key is not hex", idx, sa->spi);
	if (i != 2 * ESP_KEY_LEN)
		die(2, "--sa #%u (SPI 0x%x): the key has %zu hex digits, not %d (16-byte AES key "
		       "and 4-byte salt)", idx, sa->spi, i, 2 * ESP_KEY_LEN);
	for (i = 0; i < ESP_KEY_LEN; i++)
		sa->key[i] = hexval(k[2 * i]) << 4 | hexval(k[2 * i + 1]);
}

static void parse(int argc, char **argv, struct opts *o)
{
	enum {
		O_SRC = 256, O_DST, O_ISRC, O_IDST, O_SA, O_SMAC, O_DMAC, O_INNER_SIZE,
		O_FRAMES, O_SECONDS, O_COUNT, O_BATCH, O_SNDBUF, O_NO_RETRY, O_CPU, O_IDLE, O_READY, O_HELP,
	};
	static const struct option lopts[] = {
		{ "src", required_argument, NULL, O_SRC },
		{ "dst", required_argument, NULL, O_DST },
		{ "inner-src", required_argument, NULL, O_ISRC },
		{ "inner-dst", required_argument, NULL, O_IDST },
		{ "sa", required_argument, NULL, O_SA },
		{ "smac", required_argument, NULL, O_SMAC },
		{ "dmac", required_argument, NULL, O_DMAC },
		{ "inner-size", required_argument, NULL, O_INNER_SIZE },
		{ "frames", required_argument, NULL, O_FRAMES },
		{ "seconds", required_argument, NULL, O_SECONDS },
		{ "count", required_argument, NULL, O_COUNT },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "sndbuf", required_argument, NULL, O_SNDBUF },
		{ "no-retry", no_argument, NULL, O_NO_RETRY },
		{ "cpu", required_argument, NULL, O_CPU },
		{ "idle", no_argument, NULL, O_IDLE },
		{ "ready", no_argument, NULL, O_READY },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int i, j;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	memset(o->flow.dmac, 0xff, sizeof(o->flow.dmac));
	o->flow.inner_len = DEF_INNER;
	o->flow.sport = SPORT;
	o->flow.dport = DPORT;
	o->frames = DEF_FRAMES;
	o->batch = DEF_BATCH;
	o->cpu = -1;
	o->sas = calloc(MAX_SAS, sizeof(*o->sas));
	if (!o->sas)
		die(1, "out of memory");
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", lopts, NULL)) != -1) {
		switch (c) {
		case O_SRC:
			if (o->have_src)
				die(2, "--src given twice");
			addr(2, "--src", optarg, o->flow.src, &o->flow.family);
			o->have_src = true;
			break;
		case O_DST:
			if (o->have_dst)
				die(2, "--dst given twice");
			addr(2, "--dst", optarg, o->flow.dst, &o->flow.family);
			o->have_dst = true;
			break;
		case O_ISRC:
			addr4("--inner-src", optarg, o->flow.isrc);
			o->have_isrc = true;
			break;
		case O_IDST:
			addr4("--inner-dst", optarg, o->flow.idst);
			o->have_idst = true;
			break;
		case O_SA:
			if (o->nsas == MAX_SAS)
				die(2, "--sa: at most %d SAs", MAX_SAS);
			sa_arg(optarg, o->nsas + 1, &o->sas[o->nsas]);
			for (j = 0; j < o->nsas; j++)
				if (o->sas[j].spi == o->sas[o->nsas].spi)
					die(2, "--sa #%u: SPI 0x%x given twice", o->nsas + 1,
					    o->sas[j].spi);
			o->nsas++;
			break;
		case O_SMAC:
			mac(2, "--smac", optarg, o->flow.smac);
			o->have_smac = true;
			break;
		case O_DMAC:
			mac(2, "--dmac", optarg, o->flow.dmac);
			break;
		case O_INNER_SIZE:
			o->flow.inner_len = num("--inner-size", optarg, ESP_INNER_MIN, 65000);
			break;
		case O_FRAMES:
			o->frames = num("--frames", optarg, 1, MAX_FRAMES);
			break;
		case O_SECONDS:
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(o->seconds > 0) || o->seconds > 1e6)
				die(2, "--seconds: '%s' is not a number of seconds above 0", optarg);
			break;
		case O_COUNT:
			o->count = num("--count", optarg, 1, UINT64_MAX);
			break;
		case O_BATCH:
			o->batch = num("--batch", optarg, 1, MAX_BATCH);
			break;
		case O_SNDBUF:
			o->sndbuf = num("--sndbuf", optarg, 4096, INT32_MAX / 2);
			break;
		case O_NO_RETRY:
			o->no_retry = true;
			break;
		case O_CPU:
			o->cpu = num("--cpu", optarg, 0, CPU_SETSIZE - 1);
			break;
		case O_IDLE:
			o->idle = true;
			break;
		case O_READY:
			o->ready = true;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		case ':':
			die(2, "%s needs an argument", argv[optind - 1]);
		default:
			if (optopt && optopt < 256)
				die(2, "unknown option '-%c'", optopt);
			die(2, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die(2, "missing DEV");
	if (optind + 1 < argc)
		die(2, "unexpected argument '%s'", argv[optind + 1]);
	o->dev = argv[optind];
	if (!o->have_src || !o->have_dst)
		die(2, "--src and --dst are required");
	if (!o->have_isrc || !o->have_idst)
		die(2, "--inner-src and --inner-dst are required");
	if (!o->nsas)
		die(2, "at least one --sa SPI:KEYHEX is required");
	if (o->seconds && o->count)
		die(2, "--seconds and --count exclude each other");
	if (!o->seconds && !o->count)
		o->seconds = DEF_SECONDS;
	i = o->nsas;
	if ((unsigned long long)i * o->frames * esp_frame_len(&o->flow) > MAX_BYTES)
		die(2, "%u SAs x %u frames of %zu bytes exceed %llu MiB; fewer --frames", i,
		    o->frames, esp_frame_len(&o->flow), MAX_BYTES >> 20);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The device's index and MAC (into f->smac unless given), and a check of its MTU. */
static unsigned int device(int fd, struct opts *o)
{
	size_t l3 = esp_frame_len(&o->flow) - ESP_ETH_HLEN;
	unsigned int ifindex;
	struct ifreq ifr;

	if (strlen(o->dev) >= IFNAMSIZ)
		die(1, "device name '%s' is too long", o->dev);
	ifindex = if_nametoindex(o->dev);
	if (!ifindex)
		die(1, "unknown device '%s'", o->dev);
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, o->dev);
	if (ioctl(fd, SIOCGIFMTU, &ifr) < 0)
		die(1, "%s: cannot read the MTU: %s", o->dev, strerror(errno));
	if ((size_t)ifr.ifr_mtu < l3)
		die(1, "%s: MTU %d is below the %zu-byte outer packet (--inner-size %zu)", o->dev,
		    ifr.ifr_mtu, l3, o->flow.inner_len);
	if (!o->have_smac) {
		memset(&ifr, 0, sizeof(ifr));
		strcpy(ifr.ifr_name, o->dev);
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
			die(1, "%s: cannot read the MAC address: %s", o->dev, strerror(errno));
		memcpy(o->flow.smac, ifr.ifr_hwaddr.sa_data, 6);
	}
	return ifindex;
}

/* CPU and scheduling class, before the frames are built: their pages then come from the
 * node of the CPU that sends them. */
static void placement(const struct opts *o)
{
	struct sched_param sp = { 0 };
	cpu_set_t set;

	if (o->cpu >= 0) {
		CPU_ZERO(&set);
		CPU_SET(o->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			die(1, "--cpu %ld: %s", o->cpu, strerror(errno));
	}
	if (o->idle && sched_setscheduler(0, SCHED_IDLE, &sp) < 0)
		die(1, "--idle: %s", strerror(errno));
}

/* Every frame, in sending order: frame k of SA s at index k * nsas + s. */
static uint8_t *build(const struct opts *o, size_t *flen)
{
	size_t len = esp_frame_len(&o->flow), n = (size_t)o->nsas * o->frames, i;
	uint8_t *frames = malloc(n * len);

	if (!frames)
		die(1, "out of memory for %zu frames", n);
	for (i = 0; i < n; i++) {
		const struct esp_sa *sa = &o->sas[i % o->nsas];

		if (esp_frame(&o->flow, sa, i / o->nsas + 1, frames + i * len) != (long)len)
			die(1, "cannot encrypt (SPI 0x%x): OpenSSL failed", sa->spi);
	}
	*flen = len;
	return frames;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned long long sent = 0, refused = 0;
	unsigned int busy = 0, b;
	struct mmsghdr *msgs;
	size_t flen, total, pos = 0;
	struct sigaction sa;
	struct iovec *iov;
	double start, end;
	uint8_t *frames;
	struct opts o;
	int fd, one = 1;

	parse(argc, argv, &o);
	/* Protocol 0: this socket sends only, it never receives. */
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0)
		die(1, "socket(AF_PACKET): %s", strerror(errno));
	sll.sll_ifindex = device(fd, &o);
	sll.sll_protocol = htons(o.flow.family == AF_INET6 ? ETH_P_IPV6 : ETH_P_IP);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, o.flow.dmac, 6);
	/* Straight to the driver: no qdisc, no its lock, as a traffic generator wants. */
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		die(1, "PACKET_QDISC_BYPASS: %s", strerror(errno));
	if (o.sndbuf) {
		int v = o.sndbuf;

		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) < 0)
			die(1, "--sndbuf %lu: %s", o.sndbuf, strerror(errno));
	}
	placement(&o);
	frames = build(&o, &flen);
	/* The keys are not needed any more. */
	explicit_bzero(o.sas, MAX_SAS * sizeof(*o.sas));

	total = (size_t)o.nsas * o.frames;
	iov = calloc(total, sizeof(*iov));
	msgs = calloc(o.batch, sizeof(*msgs));
	if (!iov || !msgs)
		die(1, "out of memory");
	for (pos = 0; pos < total; pos++) {
		iov[pos].iov_base = frames + pos * flen;
		iov[pos].iov_len = flen;
	}
	for (b = 0; b < o.batch; b++) {
		msgs[b].msg_hdr.msg_name = &sll;
		msgs[b].msg_hdr.msg_namelen = sizeof(sll);
		msgs[b].msg_hdr.msg_iovlen = 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	pos = 0;
	if (o.ready) {
		printf("espload ready\n");
		fflush(stdout);
	}
	start = now();
	end = o.seconds ? start + o.seconds : 0;
	while (!stop) {
		unsigned int n = o.batch;
		int ret;

		if (o.count && o.count - sent - refused < n)
			n = o.count - sent - refused;
		for (b = 0; b < n; b++)
			msgs[b].msg_hdr.msg_iov = &iov[(pos + b) % total];
		ret = sendmmsg(fd, msgs, n, 0);
		if (ret > 0) {
			sent += ret;
			pos = (pos + ret) % total;
			busy = 0;
			/* sendmmsg() stops at the first frame refused, and loses its error: with
			 * a blocking socket, that is ENOBUFS unless a signal came (then stop). */
			if (o.no_retry && (unsigned int)ret < n && !stop) {
				refused++;
				pos = (pos + 1) % total;
			}
		} else if (ret < 0 && errno == ENOBUFS && o.no_retry) {
			refused++;
			pos = (pos + 1) % total;
		} else if (ret < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) &&
			   busy++ < 1000000) {
			/* The device took nothing (its queue is full): offer again. */
			sched_yield();
		} else if (ret < 0 && errno != EINTR) {
			die(1, "%s: sendmmsg after %llu frames: %s", o.dev, sent, strerror(errno));
		}
		if ((o.count && sent + refused == o.count) || (end && now() >= end))
			break;
	}
	end = now() - start;
	printf("espload sent %llu frames in %.3f s: %.0f pps\n", sent, end,
	       end > 0 ? sent / end : 0.0);
	if (o.no_retry)
		printf("espload refused %llu frames\n", refused);
	free(msgs);
	free(iov);
	free(frames);
	free(o.sas);
	close(fd);
	return 0;
}
