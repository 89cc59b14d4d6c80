// SPDX-License-Identifier: MIT
/*
 * c-consumer: the ceiling for rstrace's user space. The least a consumer of
 * build/rstrace.bpf.o can do: load it with libbpf, attach every program, read
 * the ring buffer (the BPF side batches wake-ups: wakeup_bytes, and a 10 ms
 * poll timeout as the floor, as the addon does) and write each 168-byte
 * record to a file as it is, through stdio's buffer. No decoding, no
 * attribution: the benchmark compares rstrace against this.
 *
 *   c-consumer OBJ OUT [--seconds S]
 *
 * Prints "attached" on stderr once every program is attached, stops on
 * SIGINT/SIGTERM or after S seconds (default 600), and prints one JSON line:
 *   {"records":..,"bytes":..,"lost":..,"emitted":..}
 * where lost/emitted are the BPF program's own per-CPU counters, summed.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#include "../bpf/rstrace.h"

static volatile sig_atomic_t stop;
static FILE *out;
static uint64_t records;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size != sizeof(struct rst_record)) return 0;
	fwrite(data, size, 1, out);
	records++;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t counter(int fd, __u32 key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t sum = 0;
	if (ncpu <= 0) return 0;
	uint64_t *vals = calloc((size_t)ncpu, sizeof(*vals));
	if (vals && bpf_map_lookup_elem(fd, &key, vals) == 0)
		for (int c = 0; c < ncpu; c++) sum += vals[c];
	free(vals);
	return sum;
}

int main(int argc, char **argv)
{
	double seconds = 600;
	if (argc == 5 && strcmp(argv[3], "--seconds") == 0) seconds = atof(argv[4]);
	else if (argc != 3) {
		fprintf(stderr, "usage: c-consumer OBJ OUT [--seconds S]\n");
		return 2;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	out = fopen(argv[2], "w");
	if (!out) { perror("c-consumer: opening the output"); return 1; }
	setvbuf(out, NULL, _IOFBF, 1 << 20);

	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) { fprintf(stderr, "c-consumer: opening %s: %s\n", argv[1], strerror(errno)); return 1; }
	int err = bpf_object__load(obj);
	if (err) { fprintf(stderr, "c-consumer: loading: %s\n", strerror(-err)); return 1; }
	struct bpf_program *prog;
	int links = 0;
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__autoload(prog)) continue;
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "c-consumer: attaching %s: %s\n", bpf_program__name(prog), strerror(errno));
			return 1;
		}
		links++;
	}
	struct bpf_map *events = bpf_object__find_map_by_name(obj, "events");
	struct bpf_map *counters = bpf_object__find_map_by_name(obj, "counters");
	if (!events || !counters) { fprintf(stderr, "c-consumer: maps events/counters not found\n"); return 1; }
	struct ring_buffer *rb = ring_buffer__new(bpf_map__fd(events), on_record, NULL, NULL);
	if (!rb) { fprintf(stderr, "c-consumer: ring_buffer__new: %s\n", strerror(errno)); return 1; }
	fprintf(stderr, "c-consumer: attached %d programs\n", links);

	double deadline = now_s() + seconds;
	while (!stop && now_s() < deadline) {
		int n = ring_buffer__poll(rb, 10);
		if (n < 0 && n != -EINTR) { fprintf(stderr, "c-consumer: poll: %s\n", strerror(-n)); break; }
		/* wake-ups are batched in the kernel: a timed-out poll may still have data */
		ring_buffer__consume(rb);
	}
	ring_buffer__consume(rb);
	fflush(out);
	long bytes = ftell(out);
	fclose(out);
	uint64_t lost = counter(bpf_map__fd(counters), RST_CNT_LOST);
	uint64_t emitted = counter(bpf_map__fd(counters), RST_CNT_EMITTED);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	printf("{\"records\":%llu,\"bytes\":%ld,\"lost\":%llu,\"emitted\":%llu}\n", (unsigned long long)records, bytes,
	       (unsigned long long)lost, (unsigned long long)emitted);
	return 0;
}
