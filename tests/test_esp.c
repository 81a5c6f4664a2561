// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The real ESP of xoff-espload (selftests/esp.c) without a kernel's ESP: a known answer
 * (draft-mcgrew-gcm-test-01, case 2: a whole ESP packet), and frames taken apart and
 * decrypted here as net/ipv4/esp4.c would (nonce = salt || IV, AAD = SPI || seq, ICV
 * checked, trailer and inner packet read back); the binary's usage errors (exit 2, keys
 * never echoed). The kernel's own verdict is selftests/vm/test_espload.sh. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <criterion/criterion.h>
#include "proc.h"
#include "esp.h"

#define ESPLOAD		XOFF_OUT "/xoff-espload"
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

static size_t unhex(const char *s, uint8_t *out)
{
	size_t n = 0;
	unsigned int v;

	for (; *s; s += 2) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		cr_assert_eq(sscanf(s, "%2x", &v), 1);
		out[n++] = v;
	}
	return n;
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* draft-mcgrew-gcm-test-01 (GCM in ESP), case 2: AES-128, SPI 0xa5f8, seq 10; the
 * plaintext already ends in its ESP trailer, the packet is ESP header to ICV. */
Test(esp, known_answer_draft_mcgrew_case2)
{
	struct esp_sa sa = { .spi = 0x0000a5f8 };
	uint8_t iv[ESP_IV_LEN], plain[64], want[128], got[128];
	size_t plen, wlen;

	cr_assert_eq(unhex("feffe9928665731c6d6a8f9467308308" "cafebabe", sa.key), ESP_KEY_LEN);
	cr_assert_eq(unhex("facedbaddecaf888", iv), ESP_IV_LEN);
	plen = unhex("4500003e698f000080114dccc0a80102c0a801010a980035002a2343b2d00100"
		     "00010000000000000373697009637962" "65726369747902646b00000100010001", plain);
	cr_assert_eq(plen, 64);
	wlen = unhex("0000a5f80000000afacedbaddecaf888"
		     "deb22cd9b07c72c16e3a65beeb8df304a5a5897d33ae530f1ba76d5d114d2a5c"
		     "3de81827c10e9a4f51330d0eec416642cfbb85a5b47e48a4ec3b9ba95d918bd1"
		     "83b70d3aa8bc6ee4c309e9d85a41ad4a", want);
	cr_assert_eq(esp_seal_raw(&sa, 10, iv, plain, plen, got), (long)wlen);
	cr_assert_arr_eq(got, want, wlen, "ESP packet differs from draft-mcgrew-gcm-test-01 case 2");
}

/* Decrypts @esp (@len bytes, header to ICV) with @key as the kernel's esp_input() and
 * rfc4106 would, into @plain; returns the plaintext's length or -1 (ICV mismatch). */
static long esp_open(const uint8_t *key, const uint8_t *esp, size_t len, uint8_t *plain)
{
	size_t clen = len - ESP_HDR_LEN - ESP_IV_LEN - ESP_ICV_LEN;
	uint8_t nonce[12], tag[ESP_ICV_LEN];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n, fin, ok;

	cr_assert_not_null(ctx);
	memcpy(nonce, key + 16, 4);
	memcpy(nonce + 4, esp + ESP_HDR_LEN, 8);
	memcpy(tag, esp + len - ESP_ICV_LEN, ESP_ICV_LEN);
	ok = EVP_DecryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	     EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) == 1 &&
	     EVP_DecryptUpdate(ctx, NULL, &n, esp, 8) == 1 &&
	     EVP_DecryptUpdate(ctx, plain, &n, esp + 16, clen) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, ESP_ICV_LEN, tag) == 1 &&
	     EVP_DecryptFinal_ex(ctx, plain + n, &fin) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? (long)clen : -1;
}

/* The trailer for every payload length modulo 4: pads 1, 2, 3, pad length, next header;
 * the ciphertext 4-byte aligned, as esp4's esp_output() would make it. */
Test(esp, trailer_per_length)
{
	struct esp_sa sa = { .spi = 0x1234 };
	uint8_t iv[ESP_IV_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8 }, in[64], out[128], plain[128];
	size_t len, i, pad;
	long n;

	memset(sa.key, 0x5a, sizeof(sa.key));
	for (i = 0; i < sizeof(in); i++)
		in[i] = i * 3;
	for (len = 28; len < 36; len++) {
		n = esp_seal(&sa, 7, iv, in, len, ESP_NH_IPIP, out);
		cr_assert_eq(n, (long)esp_len(len));
		cr_assert_eq((n - ESP_HDR_LEN - ESP_IV_LEN - ESP_ICV_LEN) % 4, 0, "len %zu", len);
		cr_assert_eq(get32(out), 0x1234);
		cr_assert_eq(get32(out + 4), 7);
		cr_assert_arr_eq(out + ESP_HDR_LEN, iv, ESP_IV_LEN);
		n = esp_open(sa.key, out, n, plain);
		cr_assert_gt(n, 0, "len %zu: ICV does not verify", len);
		pad = plain[n - 2];
		cr_assert_eq(pad, (4 - (len + 2) % 4) % 4, "len %zu: pad length %zu", len, pad);
		cr_assert_eq(plain[n - 1], ESP_NH_IPIP);
		cr_assert_eq(len + pad + 2, (size_t)n);
		for (i = 0; i < pad; i++)
			cr_assert_eq(plain[len + i], i + 1, "len %zu: pad byte %zu", len, i);
		cr_assert_arr_eq(plain, in, len);
	}
}

/* Frame @seq of SA @sa (flow @f) taken apart as the receiving kernel would: Ethernet,
 * outer IP (checksum, protocol 50, lengths), ESP (SPI, seq, IV = seq), ICV, trailer
 * (next header 4), inner IPv4/UDP (checksums, addresses, lengths). */
static void check_frame(const struct esp_flow *f, const struct esp_sa *sa, uint32_t seq,
			const uint8_t *fr, size_t len)
{
	bool v6 = f->family == AF_INET6;
	size_t l3 = ESP_ETH_HLEN, esp = l3 + (v6 ? ESP_IP6_HLEN : ESP_IP4_HLEN);
	uint8_t plain[2048], ph[12], *in, *udp;
	uint32_t sum;
	size_t pad;
	long n;

	cr_assert_eq(len, esp_frame_len(f));
	cr_assert_arr_eq(fr, f->dmac, 6);
	cr_assert_arr_eq(fr + 6, f->smac, 6);
	if (v6) {
		cr_assert_eq(get16(fr + 12), 0x86dd);
		cr_assert_eq(fr[l3] >> 4, 6);
		cr_assert_eq(get16(fr + l3 + 4), len - esp);
		cr_assert_eq(fr[l3 + 6], 50);
		cr_assert_arr_eq(fr + l3 + 8, f->src, 16);
		cr_assert_arr_eq(fr + l3 + 24, f->dst, 16);
	} else {
		cr_assert_eq(get16(fr + 12), 0x0800);
		cr_assert_eq(fr[l3], 0x45);
		cr_assert_eq(get16(fr + l3 + 2), len - l3);
		cr_assert_eq(fr[l3 + 9], 50);
		cr_assert_eq(esp_csum(fr + l3, 20), 0, "outer IPv4 checksum");
		cr_assert_arr_eq(fr + l3 + 12, f->src, 4);
		cr_assert_arr_eq(fr + l3 + 16, f->dst, 4);
	}
	cr_assert_eq(get32(fr + esp), sa->spi);
	cr_assert_eq(get32(fr + esp + 4), seq);
	cr_assert_eq(get32(fr + esp + 8), 0);
	cr_assert_eq(get32(fr + esp + 12), seq, "IV = sequence number");
	n = esp_open(sa->key, fr + esp, len - esp, plain);
	cr_assert_gt(n, 0, "seq %u: ICV does not verify", seq);
	pad = plain[n - 2];
	cr_assert_eq(plain[n - 1], ESP_NH_IPIP, "next header IPIP");
	cr_assert_eq(f->inner_len + pad + 2, (size_t)n);
	in = plain;
	cr_assert_eq(in[0], 0x45);
	cr_assert_eq(get16(in + 2), f->inner_len);
	cr_assert_eq(in[9], 17);
	cr_assert_eq(esp_csum(in, 20), 0, "inner IPv4 checksum");
	cr_assert_arr_eq(in + 12, f->isrc, 4);
	cr_assert_arr_eq(in + 16, f->idst, 4);
	udp = in + 20;
	cr_assert_eq(get16(udp), f->sport);
	cr_assert_eq(get16(udp + 2), f->dport);
	cr_assert_eq(get16(udp + 4), f->inner_len - 20);
	memcpy(ph, in + 12, 8);
	ph[8] = 0;
	ph[9] = 17;
	memcpy(ph + 10, udp + 4, 2);
	sum = (uint16_t)~esp_csum(ph, 12) + (uint16_t)~esp_csum(udp, f->inner_len - 20);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	cr_assert_eq(sum, 0xffff, "inner UDP checksum");
}

static void flow(struct esp_flow *f, int family, size_t inner)
{
	static const uint8_t s6[16] = { 0xfd, 0, [15] = 1 }, d6[16] = { 0xfd, 0, [15] = 2 };

	memset(f, 0, sizeof(*f));
	memcpy(f->smac, "\x02\0\0\0\0\x01", 6);
	memcpy(f->dmac, "\x02\0\0\0\0\x02", 6);
	f->family = family;
	if (family == AF_INET6) {
		memcpy(f->src, s6, 16);
		memcpy(f->dst, d6, 16);
	} else {
		memcpy(f->src, "\x0a\0\0\x01", 4);
		memcpy(f->dst, "\x0a\0\0\x02", 4);
	}
	memcpy(f->isrc, "\xc0\xa8\x01\x01", 4);
	memcpy(f->idst, "\xc0\xa8\x02\x01", 4);
	f->sport = 9000;
	f->dport = 9;
	f->inner_len = inner;
}

Test(esp, frames_decrypt_ipv4_and_ipv6)
{
	static const size_t inner[] = { ESP_INNER_MIN, 29, 30, 31, 100, 1400 };
	struct esp_sa sa = { .spi = 0xb4 };
	uint8_t fr[2048], fr2[2048];
	static const int fam[] = { AF_INET, AF_INET6 };
	struct esp_flow f;
	size_t i, j;
	long n;

	memcpy(sa.key, "\x01\x23\x45\x67\x89\xab\xcd\xef\xfe\xdc\xba\x98\x76\x54\x32\x10"
		       "\xa1\xb2\xc3\xd4", ESP_KEY_LEN);
	for (j = 0; j < ARRAY_SIZE(fam); j++) {
		for (i = 0; i < ARRAY_SIZE(inner); i++) {
			flow(&f, fam[j], inner[i]);
			n = esp_frame(&f, &sa, 1, fr);
			cr_assert_gt(n, 0);
			check_frame(&f, &sa, 1, fr, n);
			/* A second frame is another encryption (IV, ciphertext), not a copy. */
			cr_assert_eq(esp_frame(&f, &sa, 2, fr2), n);
			check_frame(&f, &sa, 2, fr2, n);
			cr_assert(memcmp(fr + n - 40, fr2 + n - 40, 40));
		}
	}
}

/* One bit flipped anywhere the ICV covers (ESP header, IV, ciphertext) and the receiver
 * refuses it; the same with another SA's key. */
Test(esp, tampered_frames_fail)
{
	struct esp_sa sa = { .spi = 0x100 }, other = { .spi = 0x100 };
	uint8_t fr[2048], plain[2048];
	size_t esp = ESP_ETH_HLEN + ESP_IP4_HLEN, at[] = { 0, 4, 8, 16, 100, 0 };
	struct esp_flow f;
	long n;
	size_t i;

	memset(sa.key, 0x11, sizeof(sa.key));
	memset(other.key, 0x11, sizeof(other.key));
	other.key[ESP_KEY_LEN - 1] ^= 1;	/* the salt only */
	flow(&f, AF_INET, 200);
	n = esp_frame(&f, &sa, 5, fr);
	cr_assert_gt(esp_open(sa.key, fr + esp, n - esp, plain), 0);
	cr_assert_eq(esp_open(other.key, fr + esp, n - esp, plain), -1, "salt ignored");
	at[ARRAY_SIZE(at) - 1] = n - esp - 1;	/* the ICV's last byte */
	for (i = 0; i < ARRAY_SIZE(at); i++) {
		fr[esp + at[i]] ^= 0x80;
		cr_assert_eq(esp_open(sa.key, fr + esp, n - esp, plain), -1, "byte %zu", at[i]);
		fr[esp + at[i]] ^= 0x80;
	}
}

/* Runs xoff-espload with @argv; its exit code, stderr in @err. */
static int espload(char *const argv[], char *err, size_t len)
{
	FILE *e = tmpfile();
	pid_t pid;
	int rc;

	cr_assert_not_null(e);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (!pid) {
		dup2(fileno(e), 2);
		dup2(open("/dev/null", O_WRONLY), 1);
		execv(ESPLOAD, argv);
		_exit(127);
	}
	cr_assert_eq(access(ESPLOAD, X_OK), 0, "%s not built", ESPLOAD);
	rc = wait_exit(pid);
	slurp(e, err, len);
	return rc;
}

#define KEY "0123456789abcdef0123456789abcdef01234567"
#define BASE "xoff-espload", "lo", "--src", "10.0.0.1", "--dst", "10.0.0.2", \
	"--inner-src", "192.168.1.1", "--inner-dst", "192.168.2.1"

struct usage_case {
	char *argv[24];
	const char *says;	/* in the message */
};

Test(esp, usage_errors_exit_2_without_keys)
{
	static const struct usage_case cases[] = {
		{ { BASE, NULL }, "--sa" },
		{ { BASE, "--sa", "0x10", NULL }, "SPI:KEYHEX" },
		{ { BASE, "--sa", "0:" KEY, NULL }, "out of range" },
		{ { BASE, "--sa", "0x10:" KEY "89", NULL }, "42 hex digits" },
		{ { BASE, "--sa", "0x10:0x" KEY, "--sa", "16:" KEY, NULL }, "given twice" },
		{ { BASE, "--sa", "0x10:" "0123456789abcdef0123456789abcdef0123456z", NULL },
		  "not hex" },
		{ { BASE, "--sa", "0x10:" KEY, "--inner-size", "27", NULL }, "out of range" },
		{ { BASE, "--sa", "0x10:" KEY, "--seconds", "1", "--count", "5", NULL },
		  "exclude" },
		{ { BASE, "--sa", "0x10:" KEY, "--seconds", "0", NULL }, "--seconds" },
		{ { "xoff-espload", "lo", "--src", "10.0.0.1", "--dst", "fd00::2", NULL },
		  "family" },
		{ { BASE, "--sa", "0x10:" KEY, "--inner-dst", "fd00::1", NULL }, "IPv4" },
		{ { BASE, "--sa", "0x10:" KEY, "--frames", "0", NULL }, "out of range" },
		{ { BASE, "--sa", "0x10:" KEY, "--sndbuf", "100", NULL }, "out of range" },
		{ { BASE, "--sa", "0x10:" KEY, "--bogus", NULL }, "unknown option" },
	};
	char err[4096];
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		cr_assert_eq(espload(cases[i].argv, err, sizeof(err)), 2, "case %zu: %s", i, err);
		cr_assert(strstr(err, cases[i].says), "case %zu: '%s' lacks '%s'", i, err,
			  cases[i].says);
		cr_assert_null(strstr(err, "0123456789abcdef"), "case %zu printed a key: %s", i,
			       err);
	}
}
