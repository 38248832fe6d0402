/* tests/support/wire_vectors.h - known kvbm event batches in the msgpack layout of spec 20
 * §3.6, for the transport tests and benchmarks: the spec's three hex vectors, and generated
 * message i (Create for even i, Remove for odd, 1 + i % 3 hashes) that the independent
 * Python subscribers (tests/ext/common/wire_check.py) recompute on their own:
 *   instance_id = TEST_WIRE_INSTANCE0 + i
 *   hash j of message i = 16 bytes big-endian: hi = i, lo = ((j + 1) * 0x9E3779B97F4A7C15) ^ i
 */
#ifndef KVBM_TEST_WIRE_VECTORS_H
#define KVBM_TEST_WIRE_VECTORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TEST_WIRE_INSTANCE0 1000000u

extern const char *const test_wire_spec_hex[3]; /* Create, Remove, Shutdown (§3.6) */

/* Hex to bytes; returns the length (0 on a bad string or too small @cap). */
size_t test_wire_unhex(const char *hex, uint8_t *out, size_t cap);

/* Encode KvbmCacheEvents{Create|Remove(h[0..n)), instance} (§3.6). Returns the length, 0
 * if @cap is too small. */
size_t test_wire_batch(uint8_t *out, size_t cap, bool create, const uint8_t (*h)[16], size_t n,
                       uint64_t instance);

/* Hash j of generated message i, and the whole generated message i. */
void test_wire_hash(uint64_t i, uint64_t j, uint8_t out[16]);
size_t test_wire_message(uint64_t i, uint8_t *out, size_t cap);

#endif
