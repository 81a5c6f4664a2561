/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* uthash with a word-at-a-time hash: its default (Jenkins, one byte at a time) took ~250
 * instructions for a 32-byte SA identity, most of a shadow SAD insert. Keys here are
 * small structs (20 to 32 bytes) that the kernel's SAs and policies fill. */
#ifndef XOFF_XHASH_H
#define XOFF_XHASH_H

#include <stdint.h>
#include <string.h>

/* Random, set before main() (sync.c), so that chains do not depend on the keys alone. */
extern uint64_t xhash_seed;

static inline uint64_t xhash_mix(uint64_t h)
{
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

/* 8 bytes per step; uthash picks buckets by the low bits, which the final mix fills. */
static inline unsigned int xhash(const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = xhash_seed ^ (len * 0x9e3779b97f4a7c15ULL), w;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&w, p, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
	}
	return (unsigned int)xhash_mix(h);
}

#define HASH_FUNCTION(keyptr, keylen, hashv) ((hashv) = xhash((keyptr), (keylen)))
#include <uthash.h>

#endif /* XOFF_XHASH_H */
