/*
 * dg-httpd: the HTTP server of driftgate's test image.
 *
 * One forked child per connection serves HTTP/1.1 keep-alive (pipelining
 * too). Every response, header and body, leaves in ONE write(): a container
 * killed (SIGKILL) while serving has then either sent nothing, and nginx
 * retries the next upstream, or everything (busybox httpd wrote header and
 * body apart, and a kill between the two cut responses nginx had already
 * started to pass on, which no proxy can retry).
 *
 *   /healthz          200 identity while healthy, 503 after /health/off
 *   /health           {"healthy":…};  /health/off, /health/on flip it
 *   /burn?ms=N        burns CPU for N ms (cap 10 s), then answers
 *   anything else     the identity (/www/index.html); POST/PUT bodies are
 *                     read, discarded and counted ("received")
 *
 * One line per request on stdout: "<method> <path> <status> <bytes> #<n>"
 * (none with DG_HTTPD_QUIET=1: long load runs fill Docker's log otherwise).
 * SIGTERM: stop accepting, finish requests in flight, close idle
 * connections, exit once the children are gone.
 *
 * Usage: dg-httpd [--identity] [port]   (default 80). --identity writes
 * /www/index.html (hostname + IPv4 addresses) itself, for images without a
 * shell.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#define REQ_MAX 8192            /* request line + headers */
#define BODY_MAX (1 << 20)      /* POST/PUT bodies above this: 413 */
#define OUT_MAX 8192
#define IDLE_MS 60000           /* keep-alive idle timeout */
#define STALL_MS 10000          /* a started request must keep coming */
#define BURN_MAX 10000
#define FIRST_MS 1000           /* after SIGTERM: wait for a new connection's first request */
#define DRAIN_MS 10500          /* longest wait for children on SIGTERM */

struct shared { int unhealthy; unsigned long requests; };
static struct shared *sh;       /* one page shared by every child */
static volatile sig_atomic_t stopping;
static sigset_t waitmask;       /* the mask while blocked: SIGTERM let in */
static char ident[OUT_MAX / 2];
static size_t ident_len;
static int quiet;

static void on_term(int sig) { (void)sig; stopping = 1; }
static void on_chld(int sig) { (void)sig; }

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Waits up to ms for fd to be readable; SIGTERM interrupts (ppoll: no race). */
static int wait_readable(int fd, int ms) {
  struct pollfd p = { fd, POLLIN, 0 };
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  return ppoll(&p, 1, &ts, &waitmask);
}

static int write_all(int fd, const char *b, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, b, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    b += w; n -= (size_t)w;
  }
  return 0;
}

/* --identity: {"host":…,"ips":[…]} from gethostname + getifaddrs. */
static void write_identity(void) {
  char host[256] = "", out[2048];
  struct ifaddrs *ifs, *i;
  gethostname(host, sizeof host - 1);
  int n = snprintf(out, sizeof out, "{\"host\":\"%s\",\"ips\":[", host), first = 1;
  if (getifaddrs(&ifs) == 0) {
    for (i = ifs; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, "lo") == 0) continue;
      char a[INET_ADDRSTRLEN];
      inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, a, sizeof a);
      n += snprintf(out + n, sizeof out - (size_t)n, "%s\"%s\"", first ? "" : ",", a);
      first = 0;
    }
    freeifaddrs(ifs);
  }
  n += snprintf(out + n, sizeof out - (size_t)n, "]}\n");
  mkdir("/www", 0755);
  int fd = open("/www/index.html", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write_all(fd, out, (size_t)n) != 0) perror("dg-httpd: /www/index.html");
  if (fd >= 0) close(fd);
}

static void load_identity(void) {
  int fd = open("/www/index.html", O_RDONLY);
  ssize_t n = fd >= 0 ? read(fd, ident, sizeof ident - 1) : 0;
  if (fd >= 0) close(fd);
  ident_len = n > 0 ? (size_t)n : 0;
}

/* The identity with one more field: {"host":…,"ips":[…],"<k>":<v>}. */
static int ident_with(char *out, size_t cap, const char *k, long v) {
  size_t l = ident_len;
  while (l > 0 && (ident[l - 1] == '\n' || ident[l - 1] == '}')) l--;
  if (l == 0) return snprintf(out, cap, "{\"%s\":%ld}\n", k, v);
  return snprintf(out, cap, "%.*s,\"%s\":%ld}\n", (int)l, ident, k, v);
}

struct req { char method[8]; char path[1024]; int keep; long length; int chunked; };

/* Parses the header block (NUL-terminated); 0 or the error status. */
static int parse(char *h, struct req *r) {
  char ver[16];
  if (sscanf(h, "%7s %1023s %15s", r->method, r->path, ver) != 3 || strncmp(ver, "HTTP/1.", 7) != 0) return 400;
  if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD") && strcmp(r->method, "POST") && strcmp(r->method, "PUT")) return 400;
  r->keep = ver[7] == '1';
  r->length = 0;
  r->chunked = 0;
  for (char *l = strchr(h, '\n'); l && *++l; l = strchr(l, '\n')) {
    char *v = strchr(l, ':');
    if (!v) continue;
    v++;
    while (*v == ' ' || *v == '\t') v++;
    if (strncasecmp(l, "content-length:", 15) == 0) {
      char *end;
      r->length = strtol(v, &end, 10);
      if (end == v || r->length < 0) return 400;
      if (r->length > BODY_MAX) return 413;
    } else if (strncasecmp(l, "connection:", 11) == 0) {
      if (strncasecmp(v, "close", 5) == 0) r->keep = 0;
      else if (strncasecmp(v, "keep-alive", 10) == 0) r->keep = 1;
    } else if (strncasecmp(l, "transfer-encoding:", 18) == 0) {
      r->chunked = 1;
    }
  }
  return r->chunked ? 411 : 0;
}

/* Reads and drops n body bytes that are not in the buffer yet. */
static int discard(int fd, long n) {
  char sink[16384];
  while (n > 0) {
    int ready = wait_readable(fd, STALL_MS);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return -1;
    ssize_t got = read(fd, sink, n < (long)sizeof sink ? (size_t)n : sizeof sink);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return -1;
    n -= got;
  }
  return 0;
}

static void burn(long ms) {
  volatile unsigned long x = 0;
  long end = now_ms() + ms;
  while (now_ms() < end) for (int i = 0; i < 10000; i++) x += (unsigned long)i;
}

/* Decides status and body of a well-formed request. */
static int route(struct req *r, char *body, size_t cap, int *n) {
  char *q = strchr(r->path, '?');
  size_t plen = q ? (size_t)(q - r->path) : strlen(r->path);
  int post = r->method[0] == 'P';
#define IS(p) (plen == sizeof(p) - 1 && strncmp(r->path, p, plen) == 0)
  if (IS("/health/off") || IS("/health/on")) __atomic_store_n(&sh->unhealthy, IS("/health/off"), __ATOMIC_SEQ_CST);
  int healthy = !__atomic_load_n(&sh->unhealthy, __ATOMIC_SEQ_CST);
  if (IS("/health") || IS("/health/off") || IS("/health/on")) {
    *n = snprintf(body, cap, "{\"healthy\":%s}\n", healthy ? "true" : "false");
    return 200;
  }
  if (IS("/healthz") && !healthy) { *n = snprintf(body, cap, "{\"healthy\":false}\n"); return 503; }
  if (IS("/burn")) {
    const char *m = q ? strstr(q, "ms=") : NULL;
    long ms = m ? strtol(m + 3, NULL, 10) : 0;
    ms = ms < 0 ? 0 : ms > BURN_MAX ? BURN_MAX : ms;
    burn(ms);
    *n = ident_with(body, cap, "burnedMs", ms);
    return 200;
  }
  if (post) { *n = ident_with(body, cap, "received", r->length); return 200; }
  memcpy(body, ident, ident_len);
  *n = (int)ident_len;
  return 200;
#undef IS
}

static const char *reason(int s) {
  switch (s) {
    case 200: return "OK"; case 400: return "Bad Request"; case 411: return "Length Required";
    case 413: return "Payload Too Large"; case 503: return "Service Unavailable"; default: return "Error";
  }
}

/* Sends one response in one write, then one log line; -1 when the peer is gone. */
static int respond(int fd, const char *method, const char *path, int status, const char *body, int blen, int keep) {
  char out[OUT_MAX + 256], line[1200];
  int send_body = strcmp(method, "HEAD") != 0;
  int h = snprintf(out, sizeof out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
                   "Connection: %s\r\n\r\n", status, reason(status), blen, keep ? "keep-alive" : "close");
  if (send_body) memcpy(out + h, body, (size_t)blen);
  int rc = write_all(fd, out, (size_t)h + (send_body ? (size_t)blen : 0));
  unsigned long nr = __atomic_add_fetch(&sh->requests, 1, __ATOMIC_RELAXED);
  if (quiet) return rc;
  int l = snprintf(line, sizeof line, "%s %.1000s %d %d #%lu\n", method, path, status, send_body ? blen : 0, nr);
  write_all(1, line, (size_t)l);
  return rc;
}

/* An error answer, after which the connection closes. */
static void fail(int fd, const char *method, const char *path, int status) {
  char b[64];
  int n = snprintf(b, sizeof b, "{\"error\":%d}\n", status);
  respond(fd, method, path, status, b, n, 0);
}

/* Length of the header block at the start of buf, 0 while incomplete. */
static size_t header_end(const char *b, size_t n) {
  for (size_t i = 0; i + 1 < n; i++) {
    if (b[i] != '\n') continue;
    if (b[i + 1] == '\n') return i + 2;
    if (i + 2 < n && b[i + 1] == '\r' && b[i + 2] == '\n') return i + 3;
  }
  return 0;
}

static void serve(int fd) {
  static char buf[REQ_MAX], head[REQ_MAX + 1], body[OUT_MAX];
  size_t have = 0;
  int served = 0;
  for (;;) {
    size_t hl = header_end(buf, have);
    if (hl == 0) {
      if (have == sizeof buf) { fail(fd, "-", "-", 413); return; }
      if (stopping && have == 0 && served) return;  /* idle keep-alive: close now */
      /* A connection made before SIGTERM still gets its first request served. */
      int ready = wait_readable(fd, have ? STALL_MS : stopping ? FIRST_MS : IDLE_MS);
      if (ready < 0 && errno == EINTR) continue;
      if (ready <= 0) return;
      ssize_t got = read(fd, buf + have, sizeof buf - have);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return;
      have += (size_t)got;
      continue;
    }
    memcpy(head, buf, hl);
    head[hl] = 0;
    struct req r = { "-", "-", 0, 0, 0 };
    int err = parse(head, &r);
    if (err) { fail(fd, r.method, r.path, err); return; }
    /* The body: what is buffered already, then the rest from the socket. */
    size_t inbuf = have - hl < (size_t)r.length ? have - hl : (size_t)r.length;
    size_t used = hl + inbuf;
    if ((long)inbuf < r.length && discard(fd, r.length - (long)inbuf) != 0) return;
    memmove(buf, buf + used, have - used);
    have -= used;
    int n = 0, status = route(&r, body, sizeof body, &n);
    sigset_t pend; /* a SIGTERM that came during a burn is still pending here */
    if (sigpending(&pend) == 0 && sigismember(&pend, SIGTERM)) stopping = 1;
    int keep = r.keep && !stopping;
    served++;
    if (respond(fd, r.method, r.path, status, body, n, keep) != 0 || !keep) return;
  }
}

/* Closes with a FIN, not a RST: a reset would make the peer drop unread data. */
static void finish(int fd) {
  char sink[4096];
  shutdown(fd, SHUT_WR);
  long end = now_ms() + 1000;
  for (;;) {
    if (stopping && end > now_ms() + 200) end = now_ms() + 200; /* SIGTERM: linger less */
    long left = end - now_ms();
    if (left <= 0) break;
    int ready = wait_readable(fd, (int)left);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || read(fd, sink, sizeof sink) <= 0) break;
  }
  close(fd);
}

/* Accepts one connection and forks its server: 1, 0 (fork failed), -1 (none). */
static int spawn(int ls) {
  int fd = accept(ls, NULL, NULL);
  if (fd < 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    close(ls);
    serve(fd);
    finish(fd);
    _exit(0);
  }
  close(fd);
  return pid > 0;
}

static int listen_on(int port) {
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((unsigned short)port) };
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(ls, (struct sockaddr *)&a, sizeof a) != 0 || listen(ls, 1024) != 0) return -1;
  return ls;
}

int main(int argc, char **argv) {
  int port = 80, identity = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--identity") == 0) identity = 1;
    else port = atoi(argv[i]);
  }
  const char *q = getenv("DG_HTTPD_QUIET");
  quiet = q && strcmp(q, "1") == 0;
  if (identity) write_identity();
  load_identity();
  sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (sh == MAP_FAILED) { perror("dg-httpd: mmap"); return 1; }
  setpgid(0, 0); /* our own group, so SIGTERM reaches every child at once */
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = { .sa_handler = on_term };
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);
  /* SIGTERM/SIGCHLD arrive only inside ppoll, so a check of stopping never misses one. */
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &waitmask);
  int ls = listen_on(port);
  if (ls < 0) { perror("dg-httpd: bind/listen"); return 1; }
  long children = 0;
  while (!stopping) {
    while (waitpid(-1, NULL, WNOHANG) > 0) children--;
    if (wait_readable(ls, 60000) <= 0) continue;
    if (spawn(ls) > 0) children++;
  }
  /* Connections already in the backlog were made before SIGTERM: serve them
   * rather than reset them when the listening socket closes. */
  fcntl(ls, F_SETFL, O_NONBLOCK);
  for (int got = 1; got >= 0;) children += (got = spawn(ls)) > 0;
  close(ls);
  kill(0, SIGTERM); /* children: finish the request in flight, close idle ones */
  long end = now_ms() + DRAIN_MS;
  while (children > 0 && now_ms() < end) {
    if (waitpid(-1, NULL, WNOHANG) > 0) { children--; continue; }
    struct timespec ts = { 0, 5000000L };
    nanosleep(&ts, NULL);
  }
  return 0;
}
