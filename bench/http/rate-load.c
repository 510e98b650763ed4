/*
 * Fixed-rate HTTP/1.1 load for `npm run bench` (the rate phase and --rate): requests are due at
 * start + k / rate, whatever the answers do (an open loop, as wrk2 does), and each latency runs
 * from the moment its request was due, so a proxy that stalls is charged for the requests that
 * queued behind the stall (no coordinated omission). Keep-alive connections, one request in flight
 * on each; a due request waits for a free connection. Cookies cycle through a file as wrk-sticky.lua
 * does. Waits in ppoll() until the next request is due or a socket is readable: no busy loop, so it
 * takes little CPU from the proxy it measures.
 *
 * Built by bench/http/rate-load.ts with the system C compiler. Loopback only (127.0.0.1).
 * Usage: rate-load <port> <rate> <seconds> <connections> <host> <path> [cookie file]
 * Prints one line: RATE_JSON {...} with latencies in microseconds.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

struct conn {
  int fd;
  int busy;
  int64_t due_ns; /* when the request on this connection was due */
  size_t have;    /* bytes of the current response read so far */
  char buf[BUF];
};

static int64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static int open_conn(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) { close(fd); return -1; }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/* Length of a complete response in buf, 0 while incomplete, -1 if it cannot be framed. */
static long response_length(const char *buf, size_t have, int *status) {
  const char *end = memmem(buf, have, "\r\n\r\n", 4);
  if (end == NULL) return have >= BUF ? -1 : 0;
  size_t head = (size_t)(end - buf) + 4;
  if (have < 12) return -1;
  *status = atoi(buf + 9);
  long body = -1;
  for (const char *p = buf; p < end;) {
    const char *eol = memmem(p, (size_t)(end - p) + 2, "\r\n", 2);
    if (eol == NULL) break;
    if ((size_t)(eol - p) > 15 && strncasecmp(p, "content-length:", 15) == 0) body = atol(p + 15);
    p = eol + 2;
  }
  if (body < 0) return -1; /* the benchmark's backends always send Content-Length */
  return have >= head + (size_t)body ? (long)(head + (size_t)body) : 0;
}

int main(int argc, char **argv) {
  if (argc < 7) {
    fprintf(stderr, "usage: rate-load <port> <rate> <seconds> <connections> <host> <path> [cookie file]\n");
    return 2;
  }
  int port = atoi(argv[1]);
  double rate = atof(argv[2]);
  double seconds = atof(argv[3]);
  int nconn = atoi(argv[4]);
  const char *host = argv[5], *path = argv[6];
  if (port <= 0 || rate <= 0 || seconds <= 0 || nconn <= 0) { fprintf(stderr, "rate-load: bad arguments\n"); return 2; }

  /* pre-formatted requests, one per cookie value */
  char **reqs = NULL;
  size_t *lens = NULL;
  int nreq = 0;
  if (argc > 7 && argv[7][0] != '\0') {
    FILE *f = fopen(argv[7], "r");
    if (f == NULL) { perror("rate-load: cookie file"); return 2; }
    char line[512];
    while (fgets(line, sizeof line, f)) {
      line[strcspn(line, "\r\n")] = 0;
      if (line[0] == 0) continue;
      reqs = realloc(reqs, sizeof *reqs * (size_t)(nreq + 1));
      lens = realloc(lens, sizeof *lens * (size_t)(nreq + 1));
      if (asprintf(&reqs[nreq], "GET %s HTTP/1.1\r\nHost: %s\r\nCookie: session=%s\r\n\r\n", path, host, line) < 0) return 2;
      lens[nreq] = strlen(reqs[nreq]);
      nreq++;
    }
    fclose(f);
  }
  if (nreq == 0) {
    reqs = malloc(sizeof *reqs);
    lens = malloc(sizeof *lens);
    if (asprintf(&reqs[0], "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host) < 0) return 2;
    lens[0] = strlen(reqs[0]);
    nreq = 1;
  }

  struct conn *c = calloc((size_t)nconn, sizeof *c);
  struct pollfd *pfd = calloc((size_t)nconn, sizeof *pfd);
  for (int i = 0; i < nconn; i++) {
    c[i].fd = open_conn(port);
    if (c[i].fd < 0) { perror("rate-load: connect"); return 1; }
    pfd[i].fd = c[i].fd;
    pfd[i].events = POLLIN;
  }

  const int64_t interval = (int64_t)(1e9 / rate);
  const int64_t total = (int64_t)(rate * seconds);
  uint32_t *lat = malloc(sizeof *lat * (size_t)total);
  int64_t sent = 0, done = 0, errors = 0, non2xx = 0, maxq = 0;
  int next_req = 0;
  const int64_t start = now_ns();
  /* after the last request is due, answers still in flight get this long */
  const int64_t deadline = start + (int64_t)(seconds * 1e9) + 2000000000LL;

  while (done + errors < total) {
    int64_t t = now_ns();
    if (t > deadline) break;
    /* send every request that is due, on free connections */
    int64_t due_count = (t - start) / interval + 1;
    if (due_count > total) due_count = total;
    for (int i = 0; i < nconn && sent < due_count; i++) {
      if (c[i].busy || c[i].fd < 0) continue;
      c[i].due_ns = start + sent * interval;
      c[i].busy = 1;
      c[i].have = 0;
      int k = next_req;
      next_req = (next_req + 1) % nreq;
      ssize_t w = write(c[i].fd, reqs[k], lens[k]);
      if (w != (ssize_t)lens[k]) { errors++; close(c[i].fd); c[i].fd = -1; pfd[i].fd = -1; c[i].busy = 0; }
      sent++;
    }
    if (due_count - sent > maxq) maxq = due_count - sent;
    /* wait for an answer or the next due time */
    int64_t wait;
    if (sent < due_count || sent >= total) wait = 100000000; /* every connection busy, or all sent: answers only */
    else wait = start + sent * interval - now_ns();
    if (wait < 0) wait = 0;
    struct timespec ts = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
    int n = ppoll(pfd, (nfds_t)nconn, &ts, NULL);
    if (n < 0 && errno != EINTR) { perror("rate-load: ppoll"); return 1; }
    if (n <= 0) continue;
    int64_t got = now_ns();
    for (int i = 0; i < nconn; i++) {
      if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t r = read(c[i].fd, c[i].buf + c[i].have, BUF - c[i].have);
      if (r <= 0) {
        if (c[i].busy) errors++;
        close(c[i].fd);
        c[i].fd = -1;
        pfd[i].fd = -1;
        c[i].busy = 0;
        continue;
      }
      c[i].have += (size_t)r;
      int status = 0;
      long len = response_length(c[i].buf, c[i].have, &status);
      if (len < 0) { errors++; close(c[i].fd); c[i].fd = -1; pfd[i].fd = -1; c[i].busy = 0; continue; }
      if (len == 0) continue;
      if (status < 200 || status > 299) non2xx++;
      int64_t us = (got - c[i].due_ns) / 1000;
      lat[done++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
      c[i].busy = 0;
      c[i].have = 0;
    }
    /* a connection the proxy closed is reopened, so the offered rate holds */
    for (int i = 0; i < nconn; i++) {
      if (c[i].fd >= 0) continue;
      c[i].fd = open_conn(port);
      pfd[i].fd = c[i].fd;
    }
  }
  double elapsed = (double)(now_ns() - start) / 1e9;
  qsort(lat, (size_t)done, sizeof *lat, cmp_u32);
#define PCT(p) (done > 0 ? lat[(size_t)((double)(done - 1) * (p))] : 0)
  printf("RATE_JSON {\"rate\":%.0f,\"seconds\":%.3f,\"requests\":%lld,\"sent\":%lld,\"errors\":%lld,\"non2xx\":%lld,\"maxQueued\":%lld,"
         "\"p50Us\":%u,\"p90Us\":%u,\"p99Us\":%u,\"p999Us\":%u,\"maxUs\":%u}\n",
         rate, elapsed, (long long)done, (long long)sent, (long long)errors, (long long)non2xx, (long long)maxq,
         PCT(0.5), PCT(0.9), PCT(0.99), PCT(0.999), done > 0 ? lat[done - 1] : 0);
  return 0;
}
