// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Writes the seed corpus of fuzz/xfrm_parse.c: one file per message the kernel sends xoff
 * (laid out by tests/xmsg.h as xfrm_user.c builds them), and a few multi-message buffers
 * as recv() returns them. Keys in the seeds are constant filler (0xaa), not key material.
 *   fuzz-seeds DIR */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "xmsg.h"

static const char *dir;
static char stream[1 << 15];
static size_t stream_len;

static void put(const char *name, const struct nlmsghdr *nlh)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fwrite(nlh, 1, nlh->nlmsg_len, f) != nlh->nlmsg_len || fclose(f)) {
		fprintf(stderr, "fuzz-seeds: %s: %s\n", path, strerror(errno));
		_exit(1);
	}
	if (stream_len + nlh->nlmsg_len <= sizeof(stream)) {
		memcpy(stream + stream_len, nlh, nlh->nlmsg_len);
		stream_len += MNL_ALIGN(nlh->nlmsg_len);
	}
}

int main(int argc, char **argv)
{
	static char buf[XMSG_BUF] __attribute__((aligned(8)));
	const struct xmsg_sa sas[] = {
		{ .dst = "192.0.2.2", .src = "192.0.2.1", .spi = 0x1001, .mode = XFRM_MODE_TUNNEL,
		  .reqid = 1, .aead = "rfc4106(gcm(aes))", .icv_bits = 128 },
		{ .family = AF_INET6, .dst = "2001:db8::2", .src = "2001:db8::1", .spi = 0x2001,
		  .mode = XFRM_MODE_TRANSPORT, .reqid = 2, .enc = "cbc(aes)",
		  .auth = "hmac(sha256)", .trunc_bits = 128, .mark = true, .mark_v = 7,
		  .mark_m = 0xff },
		{ .dst = "198.51.100.2", .src = "198.51.100.1", .spi = 0x3001, .reqid = 3,
		  .aead = "rfc4106(gcm(aes))", .icv_bits = 96, .encap = UDP_ENCAP_ESPINUDP,
		  .sport = 4500, .dport = 4500, .soft_bytes = 1000000, .hard_bytes = 2000000 },
		{ .dst = "192.0.2.9", .src = "192.0.2.8", .spi = 0x4001, .aead = "rfc4106(gcm(aes))",
		  .icv_bits = 128, .offload_ifindex = 3, .offload_flags = XFRM_OFFLOAD_INBOUND,
		  .sa_dir = 1, .if_id = 9 },
		{ .family = AF_INET6, .dst = "2001:db8::9", .src = "2001:db8::8", .spi = 0x5001,
		  .aead = "rfc7539esp(chacha20,poly1305)", .icv_bits = 128, .offload_ifindex = 4,
		  .offload_flags = XFRM_OFFLOAD_PACKET, .sa_dir = 2, .cur_bytes = 1234,
		  .cur_packets = 10 },
		{ .dst = "192.0.2.2", .src = "192.0.2.1", .spi = 0x6001, .proto = IPPROTO_AH,
		  .auth = "hmac(sha1)", .trunc_bits = 96 },
		/* Per-CPU SAs (RFC 9611, 6.13+): an inbound one of CPU 0 and an outbound
		 * one of CPU 3, as strongSwan 6.1 installs them. */
		{ .dst = "192.0.2.2", .src = "192.0.2.1", .spi = 0x7001, .mode = XFRM_MODE_TUNNEL,
		  .reqid = 7, .aead = "rfc4106(gcm(aes))", .icv_bits = 128, .sa_dir = 1,
		  .pcpu = true, .pcpu_num = 0 },
		{ .family = AF_INET6, .dst = "2001:db8::2", .src = "2001:db8::1", .spi = 0x7002,
		  .mode = XFRM_MODE_TUNNEL, .reqid = 7, .aead = "rfc4106(gcm(aes))",
		  .icv_bits = 128, .sa_dir = 2, .pcpu = true, .pcpu_num = 3 },
	};
	const struct xmsg_pol pols[] = {
		{ .sel_dst = "10.2.0.0", .sel_src = "10.1.0.0", .prefix_d = 24, .prefix_s = 24,
		  .dir = XFRM_POLICY_IN, .index = 8, .priority = 100, .ntmpl = 1,
		  .tmpl = { { .dst = "192.0.2.2", .src = "192.0.2.1", .reqid = 1,
			      .mode = XFRM_MODE_TUNNEL } } },
		{ .family = AF_INET6, .sel_dst = "fd00:2::", .prefix_d = 64, .dir = XFRM_POLICY_OUT,
		  .index = 9, .offload_ifindex = 4, .offload_flags = XFRM_OFFLOAD_PACKET, .ntmpl = 2,
		  .tmpl = { { .dst = "2001:db8::9", .src = "2001:db8::8", .reqid = 5 },
			    { .dst = "2001:db8::7", .src = "2001:db8::6", .reqid = 6 } } },
		/* The policy that asks for one SA per CPU. */
		{ .sel_dst = "10.2.0.0", .sel_src = "10.1.0.0", .prefix_d = 24, .prefix_s = 24,
		  .dir = XFRM_POLICY_OUT, .index = 10, .flags = XOFF_XFRM_POLICY_CPU_ACQUIRE,
		  .ntmpl = 1, .tmpl = { { .dst = "192.0.2.2", .src = "192.0.2.1", .reqid = 7,
					  .mode = XFRM_MODE_TUNNEL } } },
	};
	struct xfrm_msg m;
	const char *why;
	char name[64];
	unsigned int i;
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: fuzz-seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	for (i = 0; i < sizeof(sas) / sizeof(sas[0]); i++) {
		snprintf(name, sizeof(name), "newsa-%u", i);
		put(name, xmsg_newsa(buf, XFRM_MSG_NEWSA, &sas[i]));
		snprintf(name, sizeof(name), "updsa-%u", i);
		put(name, xmsg_newsa(buf, XFRM_MSG_UPDSA, &sas[i]));
		snprintf(name, sizeof(name), "delsa-%u", i);
		put(name, xmsg_delsa(buf, &sas[i]));
		snprintf(name, sizeof(name), "expire-%u", i);
		put(name, xmsg_expire(buf, &sas[i], i & 1));
		/* NEWAE as the kernel answers GETAE: built by xoff's own request builder. */
		if (!xfrm_parse(xmsg_newsa(buf, XFRM_MSG_NEWSA, &sas[i]), &m, &why)) {
			struct xfrm_lifetime_cur cur = { .bytes = 100, .packets = 2 };

			xfrm_build_newae(buf, 1, &m.sa, &cur);
			snprintf(name, sizeof(name), "newae-%u", i);
			put(name, (struct nlmsghdr *)buf);
		}
	}
	put("flushsa", xmsg_flushsa(buf, IPPROTO_ESP));
	for (i = 0; i < sizeof(pols) / sizeof(pols[0]); i++) {
		snprintf(name, sizeof(name), "newpolicy-%u", i);
		put(name, xmsg_newpolicy(buf, &pols[i]));
		snprintf(name, sizeof(name), "delpolicy-%u", i);
		put(name, xmsg_delpolicy(buf, &pols[i]));
	}
	put("flushpolicy", xmsg_flushpolicy(buf));
	{
		struct nlmsghdr *nlh = xmsg_hdr(buf, XFRM_MSG_MAPPING);
		struct xfrm_user_mapping *um = mnl_nlmsg_put_extra_header(nlh, sizeof(*um));

		xmsg_addr(AF_INET, "198.51.100.2", &um->id.daddr);
		um->id.spi = htonl(0x3001);
		um->id.family = AF_INET;
		um->id.proto = IPPROTO_ESP;
		xmsg_addr(AF_INET, "203.0.113.1", &um->old_saddr);
		xmsg_addr(AF_INET, "203.0.113.2", &um->new_saddr);
		um->old_sport = htons(4500);
		um->new_sport = htons(4501);
		put("mapping", nlh);
	}
	/* MIGRATE as the kernel announces libreswan's MOBIKE move (one entry) and a Mobile
	 * IPv6 one (two entries, KMADDRESS, ESP-in-UDP); a request's single array; 7.2's
	 * MIGRATE_STATE. */
	{
		struct xmsg_migrate mg = {
			.sel_src = "10.1.0.0", .prefix_s = 24, .sel_dst = "10.2.0.0", .prefix_d = 24,
			.dir = XFRM_POLICY_IN, .n = 1,
			.m = { { .old_src = "198.51.100.2", .old_dst = "192.0.2.2",
				 .new_src = "203.0.113.2", .new_dst = "192.0.2.2",
				 .mode = XFRM_MODE_TUNNEL, .reqid = 1 } },
		};

		put("migrate-0", xmsg_migrate(buf, &mg));
		mg = (struct xmsg_migrate){
			.family = AF_INET6, .sel_src = "2001:db8:a::", .prefix_s = 64,
			.sel_dst = "2001:db8:b::", .prefix_d = 64, .dir = XFRM_POLICY_OUT,
			.kmaddress = true, .encap = UDP_ENCAP_ESPINUDP, .sport = 4500, .dport = 4500,
			.n = 2,
			.m = { { .old_src = "2001:db8::1", .old_dst = "2001:db8::2",
				 .new_src = "2001:db8:9::1", .new_dst = "2001:db8::2",
				 .mode = XFRM_MODE_TUNNEL, .reqid = 5 },
			       { .old_src = "2001:db8::1", .old_dst = "2001:db8::2",
				 .new_src = "2001:db8:9::1", .new_dst = "2001:db8::2",
				 .proto = IPPROTO_AH, .mode = XFRM_MODE_TRANSPORT } },
		};
		put("migrate-1", xmsg_migrate(buf, &mg));
		mg.request = true;
		put("migrate-2", xmsg_migrate(buf, &mg));
		put("migrate-state-0", xmsg_migrate_state(buf, &sas[3], "192.0.2.18",
							  "198.51.100.9"));
	}
	snprintf(name, sizeof(name), "%s/stream", dir);
	f = fopen(name, "w");
	if (!f || fwrite(stream, 1, stream_len, f) != stream_len || fclose(f)) {
		fprintf(stderr, "fuzz-seeds: %s: %s\n", name, strerror(errno));
		return 1;
	}
	return 0;
}
