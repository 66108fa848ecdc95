/*
 * The DPDK rte_acl anchor of the classification bench: builds an rte_acl context from the rules
 * bench/rte-acl.mjs wrote (the same parsed ClassBench rules our engines compile), checks every
 * classify algorithm this CPU and library offer against the trace's expected ordinals, and times
 * rte_acl_classify at a given batch size. Compiled at bench time with gcc and pkg-config libdpdk;
 * no DPDK code lives here, only calls to its public API.
 *
 * Usage: harness RULES TRACE BATCH TIME_MS ROUNDS
 *   RULES: first line N, then N lines "ordinal src srclen dst dstlen splo sphi dplo dphi proto protomask"
 *   TRACE: first line M, then M lines "src dst sport dport proto expected" (expected 0 = none)
 * Prints one JSON object per line: {"build": ...} once, then one {"alg": ...} per algorithm.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <rte_acl.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_malloc.h>

/* The input the classifier reads: DPDK's usual IPv4 5-tuple layout (a first byte, then 4-byte
 * groups), every field in network byte order. */
struct tuple {
	uint8_t proto;
	uint32_t src;
	uint32_t dst;
	uint16_t sport;
	uint16_t dport;
};

enum { F_PROTO, F_SRC, F_DST, F_SPORT, F_DPORT, NUM_FIELDS };

RTE_ACL_RULE_DEF(rule5, NUM_FIELDS);

static const struct rte_acl_field_def defs[NUM_FIELDS] = {
	{ .type = RTE_ACL_FIELD_TYPE_BITMASK, .size = 1, .field_index = F_PROTO, .input_index = 0, .offset = offsetof(struct tuple, proto) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_SRC, .input_index = 1, .offset = offsetof(struct tuple, src) },
	{ .type = RTE_ACL_FIELD_TYPE_MASK, .size = 4, .field_index = F_DST, .input_index = 2, .offset = offsetof(struct tuple, dst) },
	/* Both ports form one 4-byte input group. */
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_SPORT, .input_index = 3, .offset = offsetof(struct tuple, sport) },
	{ .type = RTE_ACL_FIELD_TYPE_RANGE, .size = 2, .field_index = F_DPORT, .input_index = 3, .offset = offsetof(struct tuple, dport) },
};

static const struct {
	const char *name;
	enum rte_acl_classify_alg alg;
} algs[] = {
	{ "scalar", RTE_ACL_CLASSIFY_SCALAR },
	{ "sse", RTE_ACL_CLASSIFY_SSE },
	{ "avx2", RTE_ACL_CLASSIFY_AVX2 },
	{ "avx512x16", RTE_ACL_CLASSIFY_AVX512X16 },
	{ "avx512x32", RTE_ACL_CLASSIFY_AVX512X32 },
};

static void die(const char *what) {
	printf("{\"error\": \"%s\"}\n", what);
	exit(1);
}

static double now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static size_t heap_bytes(void) {
	struct rte_malloc_socket_stats s;
	if (rte_malloc_get_socket_stats(0, &s) != 0) return 0;
	return s.heap_allocsz_bytes;
}

int main(int argc, char **argv) {
	if (argc < 6) die("usage: harness RULES TRACE BATCH TIME_MS ROUNDS");
	const unsigned batch = (unsigned)atoi(argv[3]);
	const double time_ms = atof(argv[4]);
	const int rounds = atoi(argv[5]);
	if (batch == 0 || rounds < 1) die("bad batch or rounds");

	/* rte_acl allocates through rte_malloc, which needs the EAL; run it without hugepages or
	 * devices, in this process's memory only, and let the AVX-512 classifiers be chosen. */
	char *eal[] = { "ted-rte-acl", "--no-huge", "--no-pci", "--no-shconf", "--no-telemetry", "-m", "2048", "-l", "0",
		"--log-level=*:error", "--force-max-simd-bitwidth=512" };
	if (rte_eal_init(sizeof(eal) / sizeof(eal[0]), eal) < 0) die("rte_eal_init failed");

	FILE *rf = fopen(argv[1], "r");
	FILE *tf = fopen(argv[2], "r");
	if (!rf || !tf) die("cannot open the rules or the trace");
	unsigned n = 0, m = 0;
	if (fscanf(rf, "%u", &n) != 1 || fscanf(tf, "%u", &m) != 1 || n == 0 || m == 0) die("bad header");

	struct rule5 *rules = calloc(n, sizeof(*rules));
	for (unsigned i = 0; i < n; i++) {
		unsigned ord, src, slen, dst, dlen, splo, sphi, dplo, dphi, proto, pmask;
		if (fscanf(rf, "%u %u %u %u %u %u %u %u %u %u %u", &ord, &src, &slen, &dst, &dlen, &splo, &sphi, &dplo, &dphi, &proto, &pmask) != 11) die("bad rule line");
		struct rule5 *r = &rules[i];
		r->data.category_mask = 1;
		/* First match: the lowest index has the highest priority. */
		r->data.priority = (int32_t)(n - i);
		r->data.userdata = ord;
		r->field[F_PROTO].value.u8 = (uint8_t)proto;
		r->field[F_PROTO].mask_range.u8 = (uint8_t)pmask;
		r->field[F_SRC].value.u32 = src;
		r->field[F_SRC].mask_range.u32 = slen;
		r->field[F_DST].value.u32 = dst;
		r->field[F_DST].mask_range.u32 = dlen;
		r->field[F_SPORT].value.u16 = (uint16_t)splo;
		r->field[F_SPORT].mask_range.u16 = (uint16_t)sphi;
		r->field[F_DPORT].value.u16 = (uint16_t)dplo;
		r->field[F_DPORT].mask_range.u16 = (uint16_t)dphi;
	}
	struct tuple *tuples = calloc(m, sizeof(*tuples));
	uint32_t *expected = calloc(m, sizeof(*expected));
	const uint8_t **data = calloc(m, sizeof(*data));
	uint32_t *results = calloc(m, sizeof(*results));
	for (unsigned i = 0; i < m; i++) {
		unsigned src, dst, sport, dport, proto, exp;
		if (fscanf(tf, "%u %u %u %u %u %u", &src, &dst, &sport, &dport, &proto, &exp) != 6) die("bad trace line");
		tuples[i] = (struct tuple){ .proto = (uint8_t)proto, .src = htonl(src), .dst = htonl(dst), .sport = htons((uint16_t)sport), .dport = htons((uint16_t)dport) };
		expected[i] = exp;
		data[i] = (const uint8_t *)&tuples[i];
	}

	const size_t heap0 = heap_bytes();
	struct rte_acl_param prm = { .name = "ted-bench", .socket_id = 0, .rule_size = RTE_ACL_RULE_SZ(NUM_FIELDS), .max_rule_num = n };
	struct rte_acl_ctx *ctx = rte_acl_create(&prm);
	if (!ctx) die("rte_acl_create failed");
	if (rte_acl_add_rules(ctx, (const struct rte_acl_rule *)rules, n) != 0) die("rte_acl_add_rules failed");
	struct rte_acl_config cfg = { .num_categories = 1, .num_fields = NUM_FIELDS };
	memcpy(cfg.defs, defs, sizeof(defs));
	const double b0 = now_ns();
	if (rte_acl_build(ctx, &cfg) != 0) die("rte_acl_build failed");
	const double build_ms = (now_ns() - b0) / 1e6;
	printf("{\"build\": true, \"rules\": %u, \"packets\": %u, \"build_ms\": %.2f, \"bytes\": %zu}\n", n, m, build_ms, heap_bytes() - heap0);
	fflush(stdout);

	for (size_t a = 0; a < sizeof(algs) / sizeof(algs[0]); a++) {
		if (rte_acl_set_ctx_classify(ctx, algs[a].alg) != 0) {
			printf("{\"alg\": \"%s\", \"supported\": false}\n", algs[a].name);
			continue;
		}
		memset(results, 0, m * sizeof(*results));
		for (unsigned at = 0; at < m; at += batch) rte_acl_classify(ctx, data + at, results + at, m - at < batch ? m - at : batch, 1);
		unsigned bad = 0;
		for (unsigned i = 0; i < m; i++) bad += results[i] != expected[i];
		/* Passes over the whole trace in batches, as the WebAssembly engine is timed. */
		double *ns = calloc((size_t)rounds, sizeof(double));
		for (int r = 0; r < rounds; r++) {
			const double t0 = now_ns();
			unsigned long passes = 0;
			double t;
			do {
				for (unsigned at = 0; at < m; at += batch) rte_acl_classify(ctx, data + at, results + at, m - at < batch ? m - at : batch, 1);
				passes++;
				t = now_ns();
			} while (t - t0 < time_ms * 1e6 / rounds);
			ns[r] = (t - t0) / ((double)passes * m);
		}
		qsort(ns, (size_t)rounds, sizeof(double), cmp_double);
		printf("{\"alg\": \"%s\", \"supported\": true, \"mismatches\": %u, \"ns_per_pkt\": %.2f, \"min_ns_per_pkt\": %.2f}\n", algs[a].name, bad, ns[rounds / 2], ns[0]);
		fflush(stdout);
		free(ns);
	}
	rte_acl_free(ctx);
	rte_eal_cleanup();
	return 0;
}
