// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Real ESP frames (AES-GCM-128, rfc4106) for xoff-espload and its tests; see esp.h. */
#include <linux/if_ether.h>
#include <openssl/evp.h>
#include <string.h>
#include <sys/socket.h>
#include "esp.h"
#include "tool.h"

#define IP_DF		0x4000
#define PROTO_UDP	17
#define PROTO_ESP	50
#define GCM_NONCE_LEN	(ESP_SALT_LEN + ESP_IV_LEN)

uint16_t esp_csum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint32_t sum = 0;

	for (; len > 1; len -= 2, b += 2)
		sum += (uint32_t)b[0] << 8 | b[1];
	if (len)
		sum += (uint32_t)b[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

size_t esp_pad_len(size_t len)
{
	return (ESP_ALIGN - (len + 2) % ESP_ALIGN) % ESP_ALIGN;
}

size_t esp_len(size_t len)
{
	return ESP_HDR_LEN + ESP_IV_LEN + len + esp_pad_len(len) + 2 + ESP_ICV_LEN;
}

size_t esp_frame_len(const struct esp_flow *f)
{
	return ESP_ETH_HLEN + (f->family == AF_INET6 ? ESP_IP6_HLEN : ESP_IP4_HLEN) +
	       esp_len(f->inner_len);
}

long esp_seal_raw(const struct esp_sa *sa, uint32_t seq, const uint8_t iv[ESP_IV_LEN],
		  const uint8_t *plain, size_t len, uint8_t *out)
{
	uint8_t nonce[GCM_NONCE_LEN];
	EVP_CIPHER_CTX *ctx;
	int n, fin, ok;

	if (len > INT32_MAX)
		return -1;
	put32(out, sa->spi);
	put32(out + 4, seq);
	memcpy(out + ESP_HDR_LEN, iv, ESP_IV_LEN);
	memcpy(nonce, sa->key + ESP_AES_KEY_LEN, ESP_SALT_LEN);
	memcpy(nonce + ESP_SALT_LEN, iv, ESP_IV_LEN);
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		return -1;
	/* AAD: SPI || seq, the ESP header as sent (no ESN: no high bits appended). */
	ok = EVP_EncryptInit_ex(ctx, EVP_aes_128_gcm(), NULL, NULL, NULL) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, GCM_NONCE_LEN, NULL) == 1 &&
	     EVP_EncryptInit_ex(ctx, NULL, NULL, sa->key, nonce) == 1 &&
	     EVP_EncryptUpdate(ctx, NULL, &n, out, ESP_HDR_LEN) == 1 &&
	     EVP_EncryptUpdate(ctx, out + ESP_HDR_LEN + ESP_IV_LEN, &n, plain, (int)len) == 1 &&
	     EVP_EncryptFinal_ex(ctx, out + ESP_HDR_LEN + ESP_IV_LEN + n, &fin) == 1 &&
	     (size_t)n + fin == len &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, ESP_ICV_LEN,
				 out + ESP_HDR_LEN + ESP_IV_LEN + len) == 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? (long)(ESP_HDR_LEN + ESP_IV_LEN + len + ESP_ICV_LEN) : -1;
}

long esp_seal(const struct esp_sa *sa, uint32_t seq, const uint8_t iv[ESP_IV_LEN],
	      const uint8_t *payload, size_t len, uint8_t nexthdr, uint8_t *out)
{
	/* The plaintext is built where its ciphertext goes (GCM encrypts in place). */
	uint8_t *plain = out + ESP_HDR_LEN + ESP_IV_LEN;
	size_t pad = esp_pad_len(len), i;

	memmove(plain, payload, len);
	for (i = 0; i < pad; i++)
		plain[len + i] = i + 1;		/* RFC 4303 2.4: 1, 2, 3, ... */
	plain[len + pad] = pad;
	plain[len + pad + 1] = nexthdr;
	return esp_seal_raw(sa, seq, iv, plain, len + pad + 2, out);
}

void esp_inner(const struct esp_flow *f, uint32_t spi, uint32_t seq, uint8_t *out)
{
	uint8_t *udp = out + ESP_IP4_HLEN, ph[12];
	size_t ulen = f->inner_len - ESP_IP4_HLEN, i;
	uint32_t sum = 0;
	uint16_t c;

	memset(out, 0, ESP_IP4_HLEN + ESP_UDP_HLEN);
	out[0] = 0x45;
	put16(out + 2, f->inner_len);
	put16(out + 4, seq);		/* IP ID */
	put16(out + 6, IP_DF);
	out[8] = 64;
	out[9] = PROTO_UDP;
	memcpy(out + 12, f->isrc, 4);
	memcpy(out + 16, f->idst, 4);
	put16(out + 10, esp_csum(out, ESP_IP4_HLEN));

	put16(udp, f->sport);
	put16(udp + 2, f->dport);
	put16(udp + 4, ulen);
	for (i = ESP_UDP_HLEN; i < ulen; i++)
		udp[i] = (uint8_t)(spi ^ (seq * 7) ^ (i * 13));
	if (ulen >= ESP_UDP_HLEN + 8) {
		put32(udp + ESP_UDP_HLEN, spi);
		put32(udp + ESP_UDP_HLEN + 4, seq);
	}
	/* UDP checksum over the pseudo-header and the datagram (folded by hand: two parts). */
	memcpy(ph, f->isrc, 4);
	memcpy(ph + 4, f->idst, 4);
	ph[8] = 0;
	ph[9] = PROTO_UDP;
	put16(ph + 10, ulen);
	sum = (uint16_t)~esp_csum(ph, sizeof(ph));
	sum += (uint16_t)~esp_csum(udp, ulen);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = ~sum & 0xffff;
	put16(udp + 6, c ? c : 0xffff);
}

long esp_frame(const struct esp_flow *f, const struct esp_sa *sa, uint32_t seq, uint8_t *out)
{
	bool v6 = f->family == AF_INET6;
	size_t l3 = ESP_ETH_HLEN, esp = l3 + (v6 ? ESP_IP6_HLEN : ESP_IP4_HLEN);
	size_t elen = esp_len(f->inner_len);
	uint8_t iv[ESP_IV_LEN], *ip = out + l3;
	uint8_t *inner = out + esp + ESP_HDR_LEN + ESP_IV_LEN;

	memcpy(out, f->dmac, 6);
	memcpy(out + 6, f->smac, 6);
	put16(out + 12, v6 ? ETH_P_IPV6 : ETH_P_IP);
	if (v6) {
		if (elen > 65535)
			return -1;
		memset(ip, 0, ESP_IP6_HLEN);
		ip[0] = 0x60;
		put16(ip + 4, elen);
		ip[6] = PROTO_ESP;
		ip[7] = 64;
		memcpy(ip + 8, f->src, 16);
		memcpy(ip + 24, f->dst, 16);
	} else {
		if (ESP_IP4_HLEN + elen > 65535)
			return -1;
		memset(ip, 0, ESP_IP4_HLEN);
		ip[0] = 0x45;
		put16(ip + 2, ESP_IP4_HLEN + elen);
		put16(ip + 6, IP_DF);
		ip[8] = 64;
		ip[9] = PROTO_ESP;
		memcpy(ip + 12, f->src, 4);
		memcpy(ip + 16, f->dst, 4);
		put16(ip + 10, esp_csum(ip, ESP_IP4_HLEN));
	}
	put32(iv, 0);
	put32(iv + 4, seq);
	esp_inner(f, sa->spi, seq, inner);
	if (esp_seal(sa, seq, iv, inner, f->inner_len, ESP_NH_IPIP, out + esp) < 0)
		return -1;
	return esp + elen;
}
