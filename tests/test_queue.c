// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* TX queue steering for real: ESP of a queued SA leaves a multiqueue veth on its queue. */
#define _GNU_SOURCE
#include <net/if.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include "fixture.h"

/*
 *   AF_PACKET --> [veth xq0, 4 TX queues, mq root, clsact egress: xoff_tc] <--> [veth xq1]
 *
 * The test process runs in a network namespace of its own (unshare), which goes away
 * with the process: nothing is left behind even if an assertion ends the test.
 */
#define DEV	"xq0"

static int sh(const char *cmd)
{
	return system(cmd);
}

static void queue_setup(void)
{
	fx_setup();
	if (unshare(CLONE_NEWNET))
		cr_skip_test("SKIP: cannot make a network namespace: %s", strerror(errno));
	if (sh("ip link add name " DEV " numtxqueues 4 numrxqueues 4 type veth peer name xq1 "
	       "numtxqueues 4 numrxqueues 4 && "
	       /* no IPv6 chatter: every packet sent is the test's */
	       "echo 1 > /proc/sys/net/ipv6/conf/" DEV "/disable_ipv6 && "
	       "echo 1 > /proc/sys/net/ipv6/conf/xq1/disable_ipv6 && ip link set dev " DEV " up && "
	       "ip link set dev xq1 up && tc qdisc add dev " DEV " root handle 1: mq"))
		cr_skip_test("SKIP: no multiqueue veth with an mq qdisc here");
}

/* Packets sent by the mq class of TX queue @txq (class 1:txq+1). */
static long long txq_packets(int txq)
{
	char cmd[160], line[512];
	long long pkts = -1;
	int want = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "tc -s qdisc show dev %s", DEV);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char parent[32];

		snprintf(parent, sizeof(parent), "parent 1:%d ", txq + 1);
		if (strstr(line, "qdisc "))
			want = strstr(line, parent) != NULL;
		else if (want && sscanf(line, " Sent %*s bytes %lld pkt", &pkts) == 1)
			want = 0;
	}
	pclose(f);
	return pkts;
}

Test(queue, esp_leaves_on_the_sas_queue, .init = queue_setup, .fini = fx_teardown)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = bpf_program__fd(xoff_tc_prog(fx)));
	struct pkt_spec p = { .family = AF_INET, .dst = "198.51.100.1", .proto = IPPROTO_ESP,
			      .spi = fx_sas[SA_V4_OUT_Q].spi, .payload = 100 };
	struct sockaddr_ll to = { .sll_family = AF_PACKET };
	long long before[4], after;
	uint8_t buf[PKT_MAX];
	int s, i, q, len;

	hook.ifindex = if_nametoindex(DEV);
	cr_assert_neq(hook.ifindex, 0);
	cr_assert_eq(bpf_tc_hook_create(&hook), 0);
	cr_assert_eq(bpf_tc_attach(&hook, &opts), 0);
	for (q = 0; q < 4; q++)
		before[q] = txq_packets(q);

	s = socket(AF_PACKET, SOCK_RAW, 0);
	cr_assert_geq(s, 0);
	to.sll_ifindex = hook.ifindex;
	len = pkt_build(&p, buf);
	for (i = 0; i < 20; i++)
		cr_assert_eq(sendto(s, buf, len, 0, (struct sockaddr *)&to, sizeof(to)), len);
	close(s);

	for (q = 0; q < 4; q++) {
		after = txq_packets(q);
		cr_expect_eq(after - before[q], q == fx_sas[SA_V4_OUT_Q].v.queue ? 20 : 0,
			     "TX queue %d sent %lld of the 20 ESP packets", q, after - before[q]);
	}
}
