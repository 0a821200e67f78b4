/* modules/kvhash.h — the kv store's hash function: SipHash-1-3 (one
 * compression round per 8-byte word, three finalisation rounds) of a key
 * under a 128-bit secret, folded to 32 bits.  A random secret per store
 * keeps clients from choosing keys that all land in one bucket.  Inline:
 * every command that names a key hashes it. */
#ifndef MH_KVHASH_H
#define MH_KVHASH_H

#include <endian.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t kvhash_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t kvhash_le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return le64toh(v);
}

#define KVHASH_SIPROUND                                                                            \
	do {                                                                                       \
		v0 += v1;                                                                          \
		v1 = kvhash_rotl(v1, 13);                                                          \
		v1 ^= v0;                                                                          \
		v0 = kvhash_rotl(v0, 32);                                                          \
		v2 += v3;                                                                          \
		v3 = kvhash_rotl(v3, 16);                                                          \
		v3 ^= v2;                                                                          \
		v0 += v3;                                                                          \
		v3 = kvhash_rotl(v3, 21);                                                          \
		v3 ^= v0;                                                                          \
		v2 += v1;                                                                          \
		v1 = kvhash_rotl(v1, 17);                                                          \
		v1 ^= v2;                                                                          \
		v2 = kvhash_rotl(v2, 32);                                                          \
	} while (0)

static inline uint32_t kvhash_siphash13(const uint64_t key[2], const uint8_t *p, size_t n)
{
	uint64_t k0 = key[0], k1 = key[1];
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t m = kvhash_le64(p + i);
		v3 ^= m;
		KVHASH_SIPROUND;
		v0 ^= m;
	}
	uint64_t b = (uint64_t)n << 56;
	for (size_t j = 0; i + j < n; j++)
		b |= (uint64_t)p[i + j] << (8 * j);
	v3 ^= b;
	KVHASH_SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	KVHASH_SIPROUND;
	KVHASH_SIPROUND;
	KVHASH_SIPROUND;
	uint64_t h = v0 ^ v1 ^ v2 ^ v3;
	return (uint32_t)(h ^ (h >> 32));
}

#endif
