// SPDX-License-Identifier: MIT
/*
 * loadgen: provoke TCP resets on loopback as fast as the machine allows, for
 * rstrace's benchmark and soak. Loopback only (127.0.0.1), always bounded by
 * --count AND --seconds, and it stops by itself.
 *
 *   refused  connect() to a closed port: the kernel answers the SYN with a RST
 *            that has no socket behind it (one "sent" reset), and the client
 *            receives it (one "received" reset). No TIME_WAIT is left behind,
 *            and the ephemeral port is released at once.
 *   linger0  connect + accept over a local listener, then the client sets
 *            SO_LINGER {1,0} and closes: the client sends a RST (abort), the
 *            accepted socket receives it. An abort leaves no TIME_WAIT either.
 *   churn    ordinary traffic, no reset: connect, 100 bytes each way, close
 *            (the server closes first, so TIME_WAIT stays on the server's
 *            side and the client's ephemeral port is free again at once).
 *            Each thread has its own listener.
 *   pingpong ordinary traffic, no reset: one connection per thread, 64-byte
 *            messages back and forth; an attempt is one round trip (two
 *            sends, two receives).
 *
 * Prints one JSON line on stdout at the end:
 *   {"mode":..,"threads":..,"attempts":..,"seconds":..,"rate":..,
 *    "resets":..,"completed":..,"errors":..,"probes":..,"port":..,"cpu_seconds":..}
 * `attempts` counts every connect tried; `resets` only those that provoked the
 * reset pair as intended (ECONNREFUSED, or a completed linger0 abort), and
 * `probes` the pairs provoked by checking that the port is closed, before the
 * clock starts: a tracer must see exactly 2 * (resets + probes) events.
 * `completed` counts attempts that did what the mode intends (for churn and
 * pingpong, which provoke no reset, `resets` is 0).
 * `cpu_seconds` is the generator's own user + system time (getrusage).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum mode { MODE_REFUSED, MODE_LINGER0, MODE_CHURN, MODE_PINGPONG };
static const char *const MODE_NAMES[] = { "refused", "linger0", "churn", "pingpong" };

struct config {
	enum mode mode;
	int threads;
	uint64_t count;   /* total attempts cap, over all threads */
	double seconds;   /* time cap */
	double rate;      /* attempts/s over all threads; 0 = as fast as possible */
	int port;         /* refused: the closed port; linger0: the listener's port */
};

struct worker {
	pthread_t thread;
	int index;
	uint64_t attempts;
	uint64_t resets;
	uint64_t errors;
	int first_errno;  /* first unexpected errno, for the error message */
	/* churn: this thread's own listener; pingpong: this thread's connected pair */
	int listen_fd;
	struct sockaddr_in addr;
	int client, server;
};

static struct config cfg = { MODE_REFUSED, 2, 1000000, 5.0, 0.0, 0 };
static struct sockaddr_in target;
static int listen_fd = -1;
static uint64_t start_ns, deadline_ns;
/* Attempts are claimed one at a time from a shared counter so that --count is
 * an exact total however the threads are scheduled; with two threads the
 * cache line bounces far less often than the connect() syscalls cost. */
static atomic_uint_fast64_t claimed;
static atomic_int stop_requested;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_requested, 1);
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: loadgen [--mode refused|linger0|churn|pingpong] [--threads N] [--count N] [--seconds S]\n"
		"               [--port P] [--rate R]\n"
		"  --mode     refused (connect to a closed port) or linger0 (abort connected pairs)\n"
		"  --threads  worker threads (default 2)\n"
		"  --count    total attempts cap (default 1000000)\n"
		"  --seconds  time cap (default 5)\n"
		"  --port     refused: a closed port on 127.0.0.1 (default: one chosen by binding\n"
		"             then closing); linger0: the listener's port (default: any)\n"
		"  --rate     pace to about R attempts per second in total (default: unpaced)\n");
}

/* Claim the right to make one more attempt; false when a cap is reached. */
static int claim(uint64_t now)
{
	if (atomic_load_explicit(&stop_requested, memory_order_relaxed) || now >= deadline_ns)
		return 0;
	return atomic_fetch_add_explicit(&claimed, 1, memory_order_relaxed) < cfg.count;
}

/* One refused connect. Returns 1 if it was refused (the reset pair happened). */
static int refused_once(struct worker *w)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		if (!w->first_errno) w->first_errno = errno;
		return 0;
	}
	/* Blocking connect: on loopback the SYN, the RST and its processing all run
	 * in this thread's softirq before connect() would sleep, so it returns
	 * ECONNREFUSED at once, with no poll() round trip. */
	int rc = connect(fd, (struct sockaddr *)&target, sizeof(target));
	int err = errno;
	close(fd);
	if (rc < 0 && err == ECONNREFUSED) return 1;
	if (!w->first_errno) w->first_errno = rc == 0 ? EISCONN : err;
	return 0;
}

/* One linger0 abort. Returns 1 if the client's RST reached an accepted socket. */
static int linger0_once(struct worker *w)
{
	int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (client < 0) goto fail;
	if (connect(client, (struct sockaddr *)&target, sizeof(target)) < 0) {
		int err = errno;
		close(client);
		errno = err;
		goto fail;
	}
	/* The handshake completed synchronously, so the listener's queue holds at
	 * least this connection; it may hand us another thread's, which is just as
	 * good: every connect is matched by exactly one accept. */
	int server = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (server < 0) {
		int err = errno;
		close(client);
		errno = err;
		goto fail;
	}
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	setsockopt(client, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(client);  /* sends the RST: tcp_send_active_reset */
	close(server);  /* already reset by the peer: sends nothing */
	return 1;
fail:
	if (!w->first_errno) w->first_errno = errno;
	return 0;
}

/* Reads or writes exactly n bytes (blocking); 0 on success. */
static int full_io(int fd, char *buf, size_t n, int writing)
{
	size_t done = 0;
	while (done < n) {
		ssize_t r = writing ? send(fd, buf + done, n - done, MSG_NOSIGNAL) : recv(fd, buf + done, n - done, 0);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) { if (r == 0) errno = ECONNRESET; return -1; }
		done += (size_t)r;
	}
	return 0;
}

static int open_local_listener(int port, struct sockaddr_in *out)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)port) };
	socklen_t len = sizeof(a);
	if (fd < 0) return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 4096) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		close(fd);
		return -1;
	}
	*out = a;
	return fd;
}

/* One churn connection: connect, 100 bytes each way, the server closes first. */
static int churn_once(struct worker *w)
{
	char buf[100];
	memset(buf, 'x', sizeof(buf));
	int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), server = -1;
	if (client < 0) goto fail;
	if (connect(client, (struct sockaddr *)&w->addr, sizeof(w->addr)) < 0) goto fail;
	if (full_io(client, buf, sizeof(buf), 1) < 0) goto fail;
	server = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (server < 0) goto fail;
	if (full_io(server, buf, sizeof(buf), 0) < 0 || full_io(server, buf, sizeof(buf), 1) < 0) goto fail;
	close(server);
	server = -1;
	if (full_io(client, buf, sizeof(buf), 0) < 0) goto fail;
	close(client);
	return 1;
fail:
	if (!w->first_errno) w->first_errno = errno;
	if (server >= 0) close(server);
	if (client >= 0) close(client);
	return 0;
}

/* One ping-pong round trip of 64-byte messages over the thread's pair. */
static int pingpong_once(struct worker *w)
{
	char buf[64];
	memset(buf, 'p', sizeof(buf));
	if (full_io(w->client, buf, sizeof(buf), 1) < 0 || full_io(w->server, buf, sizeof(buf), 0) < 0 ||
	    full_io(w->server, buf, sizeof(buf), 1) < 0 || full_io(w->client, buf, sizeof(buf), 0) < 0) {
		if (!w->first_errno) w->first_errno = errno;
		return 0;
	}
	return 1;
}

/* Per-thread sockets for churn and pingpong, made before the clock starts. */
static void setup_worker(struct worker *w)
{
	w->listen_fd = w->client = w->server = -1;
	if (cfg.mode != MODE_CHURN && cfg.mode != MODE_PINGPONG) return;
	w->listen_fd = open_local_listener(0, &w->addr);
	if (w->listen_fd < 0) { perror("loadgen: opening a listener"); exit(1); }
	if (cfg.mode != MODE_PINGPONG) return;
	int one = 1;
	w->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (w->client < 0 || connect(w->client, (struct sockaddr *)&w->addr, sizeof(w->addr)) < 0 ||
	    (w->server = accept4(w->listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
		perror("loadgen: connecting the ping-pong pair");
		exit(1);
	}
	/* one round trip is two small writes: do not let Nagle wait for an ACK */
	setsockopt(w->client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(w->server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void teardown_worker(struct worker *w)
{
	if (w->client >= 0) close(w->client);
	if (w->server >= 0) close(w->server);
	if (w->listen_fd >= 0) close(w->listen_fd);
}

static int attempt_once(struct worker *w)
{
	switch (cfg.mode) {
	case MODE_REFUSED: return refused_once(w);
	case MODE_LINGER0: return linger0_once(w);
	case MODE_CHURN: return churn_once(w);
	case MODE_PINGPONG: return pingpong_once(w);
	}
	return 0;
}

static void *run_worker(void *arg)
{
	struct worker *w = arg;
	/* Pacing: each thread owns rate/threads of the total and sleeps until the
	 * schedule catches up, checking every 32 attempts so that sleeps are long
	 * enough to be honoured (a 20 us nanosleep would overshoot badly). */
	double per_thread = cfg.rate > 0 ? cfg.rate / cfg.threads : 0;
	uint64_t now = now_ns();
	while (claim(now)) {
		int ok = attempt_once(w);
		w->attempts++;
		if (ok) w->resets++; else w->errors++;
		now = now_ns();
		if (per_thread > 0 && (w->attempts & 31) == 0) {
			uint64_t due = start_ns + (uint64_t)((double)w->attempts / per_thread * 1e9);
			if (due > now) {
				if (due > deadline_ns) due = deadline_ns;
				struct timespec ts = { (time_t)(due / 1000000000ull), (long)(due % 1000000000ull) };
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
				now = now_ns();
			}
		}
	}
	return NULL;
}

/* Pick a closed port: bind to port 0, read the number, close. Nothing listens
 * on it unless another process races us for it, which probe_refused() catches. */
static int choose_closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
		perror("loadgen: choosing a closed port");
		exit(1);
	}
	close(fd);
	return ntohs(a.sin_port);
}

/* Refuse to storm a port that something answers on. */
static void probe_refused(void)
{
	struct worker probe = { 0 };
	if (!refused_once(&probe)) {
		fprintf(stderr, "loadgen: 127.0.0.1:%d does not refuse connections (%s); pick a closed port\n",
			cfg.port, probe.first_errno == EISCONN ? "something accepted the connection"
							       : strerror(probe.first_errno));
		exit(1);
	}
}

static void open_listener(void)
{
	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 .sin_port = htons((uint16_t)cfg.port) };
	socklen_t len = sizeof(a);
	setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(listen_fd, 4096) < 0 || getsockname(listen_fd, (struct sockaddr *)&a, &len) < 0) {
		perror("loadgen: opening the listener");
		exit(1);
	}
	cfg.port = ntohs(a.sin_port);
}

static double parse_number(const char *opt, const char *s, double min)
{
	char *end;
	double v = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || !(v >= min)) {
		fprintf(stderr, "loadgen: --%s wants a number >= %g, got '%s'\n", opt, min, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "mode", required_argument, NULL, 'm' },    { "threads", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },   { "seconds", required_argument, NULL, 's' },
		{ "port", required_argument, NULL, 'p' },    { "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "m:t:c:s:p:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (strcmp(optarg, "refused") == 0) cfg.mode = MODE_REFUSED;
			else if (strcmp(optarg, "linger0") == 0) cfg.mode = MODE_LINGER0;
			else if (strcmp(optarg, "churn") == 0) cfg.mode = MODE_CHURN;
			else if (strcmp(optarg, "pingpong") == 0) cfg.mode = MODE_PINGPONG;
			else { fprintf(stderr, "loadgen: unknown mode '%s'\n", optarg); return 2; }
			break;
		case 't': cfg.threads = (int)parse_number("threads", optarg, 1); break;
		case 'c': cfg.count = (uint64_t)parse_number("count", optarg, 1); break;
		case 's': cfg.seconds = parse_number("seconds", optarg, 0.001); break;
		case 'p': cfg.port = (int)parse_number("port", optarg, 1); break;
		case 'r': cfg.rate = parse_number("rate", optarg, 0); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc || cfg.threads > 256 || cfg.port > 65535) { usage(stderr); return 2; }

	/* SIGINT/SIGTERM end the run early but still print the figures. No
	 * SA_RESTART: a blocked connect() or accept() returns EINTR. */
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	if (cfg.mode == MODE_REFUSED) {
		if (cfg.port == 0) cfg.port = choose_closed_port();
	} else if (cfg.mode == MODE_LINGER0) {
		open_listener();
	}
	target = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				       .sin_port = htons((uint16_t)cfg.port) };
	/* One extra reset pair before the clock starts, reported as "probes" so a
	 * tracer's count can be checked exactly. */
	int probes = 0;
	if (cfg.mode == MODE_REFUSED) {
		probe_refused();
		probes = 1;
	}

	struct worker *workers = calloc((size_t)cfg.threads, sizeof(*workers));
	if (!workers) { perror("loadgen"); return 1; }
	for (int i = 0; i < cfg.threads; i++) setup_worker(&workers[i]);
	/* churn and pingpong report the first thread's listener port */
	if (cfg.mode == MODE_CHURN || cfg.mode == MODE_PINGPONG) cfg.port = ntohs(workers[0].addr.sin_port);
	start_ns = now_ns();
	deadline_ns = start_ns + (uint64_t)(cfg.seconds * 1e9);
	for (int i = 0; i < cfg.threads; i++) {
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, run_worker, &workers[i]) != 0) {
			perror("loadgen: pthread_create");
			return 1;
		}
	}
	uint64_t attempts = 0, completed = 0, errors = 0;
	int first_errno = 0;
	for (int i = 0; i < cfg.threads; i++) {
		pthread_join(workers[i].thread, NULL);
		teardown_worker(&workers[i]);
		attempts += workers[i].attempts;
		completed += workers[i].resets;
		errors += workers[i].errors;
		if (!first_errno) first_errno = workers[i].first_errno;
	}
	double seconds = (double)(now_ns() - start_ns) / 1e9;
	/* CPU the generator got: two threads that never sleep should get about two
	 * CPUs' worth on two cores; less means something else ran meanwhile. */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
		     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	if (listen_fd >= 0) close(listen_fd);
	if (errors)
		fprintf(stderr, "loadgen: %llu attempts did not reset as intended (first: %s)\n",
			(unsigned long long)errors, strerror(first_errno));
	uint64_t resets = cfg.mode == MODE_REFUSED || cfg.mode == MODE_LINGER0 ? completed : 0;
	printf("{\"mode\":\"%s\",\"threads\":%d,\"attempts\":%llu,\"seconds\":%.3f,\"rate\":%.0f,"
	       "\"resets\":%llu,\"completed\":%llu,\"errors\":%llu,\"probes\":%d,\"port\":%d,\"cpu_seconds\":%.3f}\n",
	       MODE_NAMES[cfg.mode], cfg.threads,
	       (unsigned long long)attempts, seconds, seconds > 0 ? (double)attempts / seconds : 0.0,
	       (unsigned long long)resets, (unsigned long long)completed, (unsigned long long)errors, probes, cfg.port, cpu);
	free(workers);
	return 0;
}
