/*
 * rstpeer: a scriptable TCP peer that end-to-end tests run in a separate process (often inside a
 * test network namespace) to provoke real resets.
 *
 *   rstpeer STEP...
 *
 * The steps run in order on one "current" socket. Every event is one `key=value` line on stdout,
 * flushed at once, so that a test can wait for a line. Outcomes of socket I/O (connect, send, recv,
 * ...) are reported as `error=ERRNO_NAME` lines and the script goes on; a malformed step or a
 * failing setup call (socket, bind, listen, setsockopt) prints a message on stderr and exits 1.
 * Every blocking step is bounded by the I/O timeout (`timeout=MS`, default 10000), the whole run
 * by alarm(60) (`alarm=S`). At the end the program prints `done` and exits 0, which closes what is
 * still open.
 *
 * Sockets:  tcp4 | tcp6            new socket, becomes current (others stay open until `close`)
 *           bind=ADDR:PORT         IPv6 as [::1]:0; prints nothing
 *           reuseaddr              SO_REUSEADDR
 *           listen=BACKLOG
 *           accept                 current := accepted connection; prints accepted=PEER
 *           listener               current := the last listening socket again
 *           connect=ADDR:PORT      blocking, bounded by SO_SNDTIMEO = the I/O timeout; prints
 *                                  connected=LOCAL, error=E or timeout=connect
 *           connect-nb=ADDR:PORT   non-blocking; prints connect-nb=0 or connect-nb=EINPROGRESS
 *           unspec                 connect(AF_UNSPEC); prints unspec=0 or error=E
 *           close                  prints closed
 *           shutdown-wr | shutdown-rd | shutdown-rdwr
 * Data:     send=NBYTES            prints sent=N or error=E
 *           recv                   wait (bounded) then read what is there; recv=N (0 = EOF) or error=E
 *           recv-all               read until EOF or error; eof=TOTAL or error=E
 * Options:  linger0 | linger=SECS | keepalive=IDLE,INTVL,CNT | user-timeout=MS | syncnt=N
 *           linger2=N (TCP_LINGER2) | nodelay | rcvbuf=N
 * Info:     port | pid | tid | fd | sockname | peername | cookie | state | sockerr | unread | unsent
 *           print port=N, pid=N, tid=N, fd=N, sockname=A:P, peername=A:P, cookie=N (SO_COOKIE),
 *           state=TCP_STATE_NAME (TCP_INFO), sockerr=E (SO_ERROR, 0 when none; reading clears it),
 *           unread=BYTES (SIOCINQ), unsent=BYTES (SIOCOUTQ: written, not yet acknowledged)
 * Control:  sleep=MS
 *           wait                   prints waiting, then blocks until a line on stdin; resumed=LINE
 *           wait-error             poll until POLLERR/POLLHUP; error=E (SO_ERROR) or hup, or
 *                                  timeout=wait-error
 *           thread:STEP            run STEP in a new pthread (joined); the thread prints tid=N first
 *           netns=PATH             setns(2) into the network namespace at PATH (new sockets only)
 *           timeout=MS | alarm=S | exit=CODE (exit at once, without `done`)
 * A step that waits and runs out of time prints timeout=STEP.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

static int cur = -1;      /* the current socket */
static int listener = -1; /* the last socket put into listen() */
static int io_timeout_ms = 10000;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...)
{
	va_list ap;
	pthread_mutex_lock(&out_lock);
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
	pthread_mutex_unlock(&out_lock);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fputs("rstpeer: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EPERM: return "EPERM";
	case ENOENT: return "ENOENT";
	case EINTR: return "EINTR";
	case EIO: return "EIO";
	case EBADF: return "EBADF";
	case EAGAIN: return "EAGAIN";
	case ENOMEM: return "ENOMEM";
	case EACCES: return "EACCES";
	case EFAULT: return "EFAULT";
	case EBUSY: return "EBUSY";
	case EINVAL: return "EINVAL";
	case EPIPE: return "EPIPE";
	case ENOTSOCK: return "ENOTSOCK";
	case EDESTADDRREQ: return "EDESTADDRREQ";
	case EPROTOTYPE: return "EPROTOTYPE";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
	case ENETDOWN: return "ENETDOWN";
	case ENETUNREACH: return "ENETUNREACH";
	case ENETRESET: return "ENETRESET";
	case ECONNABORTED: return "ECONNABORTED";
	case ECONNRESET: return "ECONNRESET";
	case ENOBUFS: return "ENOBUFS";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case ESHUTDOWN: return "ESHUTDOWN";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EHOSTDOWN: return "EHOSTDOWN";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EALREADY: return "EALREADY";
	case EINPROGRESS: return "EINPROGRESS";
	case EPROTO: return "EPROTO";
	default: {
		static __thread char buf[16];
		snprintf(buf, sizeof buf, "E%d", e);
		return buf;
	}
	}
}

static long parse_num(const char *step, const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		die("%s: bad number '%s' (%ld..%ld)", step, s, min, max);
	return v;
}

static void need_socket(const char *step)
{
	if (cur < 0)
		die("%s: no current socket (start with tcp4 or tcp6)", step);
}

/* "1.2.3.4:80" or "[::1]:80" -> sockaddr */
static socklen_t parse_addr(const char *step, const char *s, struct sockaddr_storage *ss)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon;
	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':' || (size_t)(close - s - 1) >= sizeof host)
			die("%s: bad address '%s' (IPv6 as [ADDR]:PORT)", step, s);
		memcpy(host, s + 1, close - s - 1);
		host[close - s - 1] = 0;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host)
			die("%s: bad address '%s' (ADDR:PORT)", step, s);
		memcpy(host, s, colon - s);
		host[colon - s] = 0;
	}
	int port = (int)parse_num(step, colon + 1, 0, 65535);
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof *a4;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof *a6;
	}
	die("%s: bad address '%s'", step, host);
}

static void format_addr(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
		snprintf(buf, len, "%s:%u", host, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->sin6_port));
	} else {
		snprintf(buf, len, "unknown");
	}
}

static void setopt(const char *step, int level, int name, const void *val, socklen_t len)
{
	need_socket(step);
	if (setsockopt(cur, level, name, val, len) < 0)
		die("%s: setsockopt: %s", step, strerror(errno));
}

static void setopt_int(const char *step, int level, int name, int v)
{
	setopt(step, level, name, &v, sizeof v);
}

static int sock_error(int fd)
{
	int e = 0;
	socklen_t l = sizeof e;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l) < 0)
		return errno;
	return e;
}

/* Wait for events on fd, bounded by the I/O timeout. Returns revents, 0 on timeout. */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = events };
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long elapsed = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
		if (elapsed >= timeout_ms)
			return 0;
		int n = poll(&p, 1, (int)(timeout_ms - elapsed));
		if (n > 0)
			return p.revents;
		if (n < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
	}
}

static void set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

static const char *tcp_state_name(int s)
{
	static const char *names[] = { "0", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1",
				       "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK",
				       "LISTEN", "CLOSING", "NEW_SYN_RECV" };
	return s >= 0 && s < (int)(sizeof names / sizeof names[0]) ? names[s] : "?";
}

static void run_step(const char *step);

static void *thread_main(void *arg)
{
	emit("tid=%ld", (long)syscall(SYS_gettid));
	run_step((const char *)arg);
	return NULL;
}

static void do_connect(const char *step, const char *arg)
{
	struct sockaddr_storage ss;
	need_socket(step);
	socklen_t len = parse_addr(step, arg, &ss);
	/*
	 * A plain blocking connect, as applications do: it returns only once the kernel has settled
	 * the socket (ESTABLISHED, or CLOSE with sk_err), which a non-blocking connect + poll does not
	 * guarantee (an ICMP error handled while connect() owns the socket sets the error but leaves
	 * SYN_SENT until the next SYN retransmit). SO_SNDTIMEO bounds it: expiry gives EINPROGRESS.
	 */
	struct timeval tv = { io_timeout_ms / 1000, (io_timeout_ms % 1000) * 1000 }, none = { 0, 0 };
	setopt(step, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	int rc = connect(cur, (struct sockaddr *)&ss, len);
	int e = rc < 0 ? errno : 0;
	setopt(step, SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
	if (e == EINPROGRESS || e == EAGAIN) {
		emit("timeout=connect");
		return;
	}
	if (e) {
		emit("error=%s", errname(e));
		return;
	}
	struct sockaddr_storage local;
	socklen_t l = sizeof local;
	char buf[80];
	getsockname(cur, (struct sockaddr *)&local, &l);
	format_addr(&local, buf, sizeof buf);
	emit("connected=%s", buf);
}

static void do_send(const char *step, long n)
{
	static char chunk[65536];
	long total = 0;
	need_socket(step);
	memset(chunk, 'x', sizeof chunk);
	while (total < n) {
		if (!(wait_fd(cur, POLLOUT, io_timeout_ms) & (POLLOUT | POLLERR | POLLHUP))) {
			emit("timeout=send");
			return;
		}
		size_t want = (size_t)(n - total) < sizeof chunk ? (size_t)(n - total) : sizeof chunk;
		ssize_t r = send(cur, chunk, want, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			emit("error=%s", errname(errno));
			return;
		}
		total += r;
	}
	emit("sent=%ld", total);
}

static void do_recv(const char *step, int all)
{
	static char buf[65536];
	long total = 0;
	need_socket(step);
	for (;;) {
		if (!wait_fd(cur, POLLIN | POLLRDHUP, io_timeout_ms)) {
			emit("timeout=%s", step);
			return;
		}
		ssize_t r = recv(cur, buf, sizeof buf, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			emit("error=%s", errname(errno));
			return;
		}
		if (!all) {
			emit("recv=%zd", r);
			return;
		}
		if (r == 0) {
			emit("eof=%ld", total);
			return;
		}
		total += r;
	}
}

static void do_wait_stdin(void)
{
	char line[256];
	emit("waiting");
	if (!(wait_fd(0, POLLIN, io_timeout_ms) & (POLLIN | POLLHUP))) {
		emit("timeout=wait");
		return;
	}
	ssize_t r = read(0, line, sizeof line - 1);
	if (r < 0)
		r = 0;
	line[r] = 0;
	line[strcspn(line, "\r\n")] = 0;
	emit("resumed=%s", line);
}

static void print_name(const char *step, int peer)
{
	struct sockaddr_storage ss;
	socklen_t l = sizeof ss;
	char buf[80];
	need_socket(step);
	if ((peer ? getpeername(cur, (struct sockaddr *)&ss, &l) : getsockname(cur, (struct sockaddr *)&ss, &l)) < 0) {
		emit("error=%s", errname(errno));
		return;
	}
	format_addr(&ss, buf, sizeof buf);
	emit("%s=%s", step, buf);
}

static void run_step(const char *step)
{
	const char *eq = strchr(step, '=');
	char name[32];
	size_t nlen = eq ? (size_t)(eq - step) : strlen(step);
	const char *arg = eq ? eq + 1 : NULL;

	if (!strncmp(step, "thread:", 7)) {
		pthread_t t;
		int e = pthread_create(&t, NULL, thread_main, (void *)(step + 7));
		if (e)
			die("%s: pthread_create: %s", step, strerror(e));
		pthread_join(t, NULL);
		return;
	}
	if (nlen >= sizeof name)
		die("unknown step '%s'", step);
	memcpy(name, step, nlen);
	name[nlen] = 0;

#define IS(s) (!strcmp(name, s))
#define NEED_ARG() do { if (!arg) die("%s: needs =VALUE", step); } while (0)
	if (IS("tcp4") || IS("tcp6")) {
		cur = socket(IS("tcp4") ? AF_INET : AF_INET6, SOCK_STREAM, 0);
		if (cur < 0)
			die("%s: socket: %s", step, strerror(errno));
	} else if (IS("bind")) {
		struct sockaddr_storage ss;
		NEED_ARG();
		need_socket(step);
		socklen_t len = parse_addr(step, arg, &ss);
		if (bind(cur, (struct sockaddr *)&ss, len) < 0)
			die("%s: bind: %s", step, strerror(errno));
	} else if (IS("reuseaddr")) {
		setopt_int(step, SOL_SOCKET, SO_REUSEADDR, 1);
	} else if (IS("listen")) {
		NEED_ARG();
		need_socket(step);
		if (listen(cur, (int)parse_num(step, arg, 0, 65535)) < 0)
			die("%s: listen: %s", step, strerror(errno));
		listener = cur;
	} else if (IS("listener")) {
		if (listener < 0)
			die("listener: no listening socket");
		cur = listener;
	} else if (IS("accept")) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof ss;
		char buf[80];
		need_socket(step);
		if (!wait_fd(cur, POLLIN, io_timeout_ms)) {
			emit("timeout=accept");
			return;
		}
		int fd = accept(cur, (struct sockaddr *)&ss, &l);
		if (fd < 0) {
			emit("error=%s", errname(errno));
			return;
		}
		cur = fd;
		format_addr(&ss, buf, sizeof buf);
		emit("accepted=%s", buf);
	} else if (IS("connect")) {
		NEED_ARG();
		do_connect(step, arg);
	} else if (IS("connect-nb")) {
		struct sockaddr_storage ss;
		NEED_ARG();
		need_socket(step);
		socklen_t len = parse_addr(step, arg, &ss);
		set_nonblock(cur, 1);
		int rc = connect(cur, (struct sockaddr *)&ss, len);
		int e = rc < 0 ? errno : 0;
		set_nonblock(cur, 0);
		if (e && e != EINPROGRESS)
			emit("error=%s", errname(e));
		else
			emit("connect-nb=%s", errname(e));
	} else if (IS("unspec")) {
		struct sockaddr sa = { .sa_family = AF_UNSPEC };
		need_socket(step);
		if (connect(cur, &sa, sizeof sa) < 0)
			emit("error=%s", errname(errno));
		else
			emit("unspec=0");
	} else if (IS("close")) {
		need_socket(step);
		close(cur);
		if (listener == cur)
			listener = -1;
		cur = -1;
		emit("closed");
	} else if (IS("shutdown-wr") || IS("shutdown-rd") || IS("shutdown-rdwr")) {
		need_socket(step);
		int how = IS("shutdown-wr") ? SHUT_WR : IS("shutdown-rd") ? SHUT_RD : SHUT_RDWR;
		if (shutdown(cur, how) < 0)
			emit("error=%s", errname(errno));
		else
			emit("%s=0", name);
	} else if (IS("send")) {
		NEED_ARG();
		do_send(step, parse_num(step, arg, 0, 1L << 30));
	} else if (IS("recv") || IS("recv-all")) {
		do_recv(name, IS("recv-all"));
	} else if (IS("linger0") || IS("linger")) {
		struct linger lg = { .l_onoff = 1, .l_linger = 0 };
		if (IS("linger")) {
			NEED_ARG();
			lg.l_linger = (int)parse_num(step, arg, 0, 3600);
		}
		setopt(step, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	} else if (IS("keepalive")) {
		long idle, intvl, cnt;
		NEED_ARG();
		if (sscanf(arg, "%ld,%ld,%ld", &idle, &intvl, &cnt) != 3 || idle < 1 || intvl < 1 || cnt < 1)
			die("%s: expected keepalive=IDLE,INTVL,CNT", step);
		setopt_int(step, SOL_SOCKET, SO_KEEPALIVE, 1);
		setopt_int(step, IPPROTO_TCP, TCP_KEEPIDLE, (int)idle);
		setopt_int(step, IPPROTO_TCP, TCP_KEEPINTVL, (int)intvl);
		setopt_int(step, IPPROTO_TCP, TCP_KEEPCNT, (int)cnt);
	} else if (IS("user-timeout")) {
		NEED_ARG();
		setopt_int(step, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)parse_num(step, arg, 0, 1 << 30));
	} else if (IS("syncnt")) {
		NEED_ARG();
		setopt_int(step, IPPROTO_TCP, TCP_SYNCNT, (int)parse_num(step, arg, 1, 127));
	} else if (IS("linger2")) {
		NEED_ARG();
		setopt_int(step, IPPROTO_TCP, TCP_LINGER2, (int)parse_num(step, arg, -1, 1 << 20));
	} else if (IS("nodelay")) {
		setopt_int(step, IPPROTO_TCP, TCP_NODELAY, 1);
	} else if (IS("rcvbuf")) {
		NEED_ARG();
		setopt_int(step, SOL_SOCKET, SO_RCVBUF, (int)parse_num(step, arg, 1, 1 << 30));
	} else if (IS("port")) {
		struct sockaddr_storage ss;
		socklen_t l = sizeof ss;
		need_socket(step);
		if (getsockname(cur, (struct sockaddr *)&ss, &l) < 0)
			die("port: getsockname: %s", strerror(errno));
		emit("port=%u", ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
							      : ((struct sockaddr_in *)&ss)->sin_port));
	} else if (IS("pid")) {
		emit("pid=%ld", (long)getpid());
	} else if (IS("tid")) {
		emit("tid=%ld", (long)syscall(SYS_gettid));
	} else if (IS("fd")) {
		emit("fd=%d", cur);
	} else if (IS("sockname") || IS("peername")) {
		print_name(name, IS("peername"));
	} else if (IS("cookie")) {
		uint64_t c = 0;
		socklen_t l = sizeof c;
		need_socket(step);
		if (getsockopt(cur, SOL_SOCKET, SO_COOKIE, &c, &l) < 0)
			emit("error=%s", errname(errno));
		else
			emit("cookie=%llu", (unsigned long long)c);
	} else if (IS("state")) {
		struct tcp_info ti;
		socklen_t l = sizeof ti;
		need_socket(step);
		if (getsockopt(cur, IPPROTO_TCP, TCP_INFO, &ti, &l) < 0)
			emit("error=%s", errname(errno));
		else
			emit("state=%s", tcp_state_name(ti.tcpi_state));
	} else if (IS("sockerr")) {
		need_socket(step);
		emit("sockerr=%s", errname(sock_error(cur)));
	} else if (IS("unread") || IS("unsent")) {
		int n = 0;
		need_socket(step);
		if (ioctl(cur, IS("unread") ? SIOCINQ : SIOCOUTQ, &n) < 0)
			emit("error=%s", errname(errno));
		else
			emit("%s=%d", name, n);
	} else if (IS("sleep")) {
		NEED_ARG();
		long ms = parse_num(step, arg, 0, 60000);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	} else if (IS("wait")) {
		do_wait_stdin();
	} else if (IS("wait-error")) {
		need_socket(step);
		int ms = arg ? (int)parse_num(step, arg, 0, 600000) : io_timeout_ms;
		int rev = wait_fd(cur, POLLRDHUP, ms); /* POLLERR and POLLHUP are always reported */
		if (!rev) {
			emit("timeout=wait-error");
			return;
		}
		int e = sock_error(cur);
		if (e)
			emit("error=%s", errname(e));
		else
			emit("hup");
	} else if (IS("netns")) {
		NEED_ARG();
		int fd = open(arg, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
			die("%s: %s", step, strerror(errno));
		close(fd);
		emit("netns=%s", arg);
	} else if (IS("timeout")) {
		NEED_ARG();
		io_timeout_ms = (int)parse_num(step, arg, 1, 600000);
	} else if (IS("alarm")) {
		NEED_ARG();
		alarm((unsigned)parse_num(step, arg, 1, 3600));
	} else if (IS("exit")) {
		fflush(stdout);
		_exit(arg ? (int)parse_num(step, arg, 0, 255) : 0);
	} else {
		die("unknown step '%s'", step);
	}
#undef IS
#undef NEED_ARG
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(60); /* a forgotten peer never outlives its test by much */
	if (argc < 2) {
		fprintf(stderr, "usage: rstpeer STEP... (see the comment at the top of rstpeer.c)\n");
		return 1;
	}
	for (int i = 1; i < argc; i++)
		run_step(argv[i]);
	emit("done");
	return 0;
}
