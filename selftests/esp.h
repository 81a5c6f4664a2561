/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Real ESP for the load generator (selftests/espload.c) and its tests: tunnel-mode ESP
 * (RFC 4303) with AES-GCM-128 as the kernel's rfc4106(gcm(aes)) takes it (RFC 4106), an
 * inner IPv4/UDP packet, in an Ethernet frame over IPv4 or IPv6.
 *
 * Wire format, as net/ipv4/esp4.c and net/ipv6/esp6.c read it without ESN:
 *   SPI(4) seq(4) | IV(8) | E(inner packet, pad 1,2,..., pad length, next header) | ICV(16)
 * where the padding aligns inner + 2 to 4 bytes, the GCM nonce is the key's 4-byte salt
 * followed by the IV, and the AAD is SPI || seq.
 */
#ifndef XOFF_SELFTESTS_ESP_H
#define XOFF_SELFTESTS_ESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ESP_AES_KEY_LEN	16	/* AES-128 */
#define ESP_SALT_LEN	4	/* rfc4106: the key's last 4 bytes, the nonce's first 4 */
#define ESP_KEY_LEN	(ESP_AES_KEY_LEN + ESP_SALT_LEN)	/* "0x" + 40 hex digits in ip xfrm */
#define ESP_HDR_LEN	8	/* SPI, sequence number */
#define ESP_IV_LEN	8	/* explicit IV, in the packet */
#define ESP_ICV_LEN	16	/* "128" in ip xfrm's aead */
#define ESP_ALIGN	4	/* rfc4106's block size is 1: ESP's own 4-byte alignment */
#define ESP_NH_IPIP	4	/* next header of an IPv4 inner packet in tunnel mode */

#define ESP_ETH_HLEN	14
#define ESP_IP4_HLEN	20
#define ESP_IP6_HLEN	40
#define ESP_UDP_HLEN	8
/* The smallest inner packet: an IPv4 header and a UDP header. */
#define ESP_INNER_MIN	(ESP_IP4_HLEN + ESP_UDP_HLEN)

struct esp_sa {
	uint32_t spi;
	uint8_t key[ESP_KEY_LEN];	/* AES key, then salt */
};

/* What every frame of a run shares: who sends what to whom. */
struct esp_flow {
	uint8_t smac[6], dmac[6];
	int family;			/* AF_INET or AF_INET6: the outer header */
	uint8_t src[16], dst[16];	/* outer addresses (4 bytes used for IPv4) */
	uint8_t isrc[4], idst[4];	/* inner IPv4 addresses */
	uint16_t sport, dport;		/* inner UDP ports */
	size_t inner_len;		/* the inner IPv4 packet, >= ESP_INNER_MIN */
};

/* Bytes of padding after a payload of @len bytes: pad + pad length + next header align. */
size_t esp_pad_len(size_t len);

/* Bytes of ESP (header to ICV) around a payload of @len bytes. */
size_t esp_len(size_t len);

/* Bytes of the whole frame of @f. */
size_t esp_frame_len(const struct esp_flow *f);

/* Seal @plain (@len bytes, its trailer included) as ESP into @out (ESP_HDR_LEN +
 * ESP_IV_LEN + @len + ESP_ICV_LEN bytes). Returns the bytes written, or -1 if OpenSSL
 * failed. */
long esp_seal_raw(const struct esp_sa *sa, uint32_t seq, const uint8_t iv[ESP_IV_LEN],
		  const uint8_t *plain, size_t len, uint8_t *out);

/* Seal @payload with its trailer (padding 1, 2, ..., pad length, @nexthdr) into @out
 * (esp_len(@len) bytes). Returns esp_len(@len), or -1. */
long esp_seal(const struct esp_sa *sa, uint32_t seq, const uint8_t iv[ESP_IV_LEN],
	      const uint8_t *payload, size_t len, uint8_t nexthdr, uint8_t *out);

/* The inner IPv4/UDP packet of frame @seq (f->inner_len bytes) into @out: checksums
 * valid, IP ID and payload derived from @spi and @seq, so that frames differ. */
void esp_inner(const struct esp_flow *f, uint32_t spi, uint32_t seq, uint8_t *out);

/* Frame @seq of @sa into @out (esp_frame_len() bytes): Ethernet, outer IP, ESP sealing
 * esp_inner(), IV = @seq as a 64-bit big-endian number (unique per SA for distinct
 * frames). Returns the frame's length, or -1. */
long esp_frame(const struct esp_flow *f, const struct esp_sa *sa, uint32_t seq, uint8_t *out);

/* The Internet checksum of @len bytes at @p (folded, complemented). */
uint16_t esp_csum(const void *p, size_t len);

#endif /* XOFF_SELFTESTS_ESP_H */
