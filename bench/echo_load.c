/*
 * echo_load: the load client `deno task bench` drives echo servers with. Written in C so
 * the client is never the bottleneck; prints one JSON line with the result.
 *
 *   gcc -O2 -pthread -o bench/out/echo_load bench/echo_load.c
 *   echo_load bulk     HOST PORT BYTES      one connection, sender and receiver threads,
 *                                           every byte verified; MiB/s
 *   echo_load pingpong HOST PORT SECONDS    one connection, 64-byte round trips; /s, p50/p99 us
 *   echo_load fanout   HOST PORT SECONDS N  N connections, one 64-byte message in flight each
 *
 * Exit code 0 with {"ok":true,...}; 1 with {"ok":false,"error":"..."} on any mismatch,
 * stall (10 s without progress) or socket error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Prime, so the pattern never lines up with read or write sizes. */
#define PATTERN_BYTES 1000003
#define BULK_CHUNK_BYTES (256 * 1024)
#define MESSAGE_BYTES 64
#define STALL_SECONDS 10

static uint8_t *pattern; /* PATTERN_BYTES repeated twice, so any window is contiguous */

static void fail(const char *what) {
  printf("{\"ok\":false,\"error\":\"%s: %s\"}\n", what, errno ? strerror(errno) : "mismatch");
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_to(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) fail("bad IPv4 address");
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) fail("connect");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct timeval tv = {.tv_sec = STALL_SECONDS};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  return fd;
}

/* --- latency samples ---------------------------------------------------------------- */
struct samples {
  uint32_t *ns;
  size_t len, cap;
};

static void add_sample(struct samples *s, double seconds) {
  if (s->len == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 1 << 16;
    s->ns = realloc(s->ns, s->cap * sizeof *s->ns);
  }
  double ns = seconds * 1e9;
  s->ns[s->len++] = ns > 4e9 ? 4000000000u : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double percentile_us(struct samples *s, double p) {
  if (s->len == 0) return 0;
  size_t i = (size_t)(p * (double)(s->len - 1) + 0.5);
  return s->ns[i] / 1000.0;
}

/* --- bulk ----------------------------------------------------------------------------- */
struct bulk {
  int fd;
  uint64_t total;
};

static void *bulk_send(void *arg) {
  struct bulk *b = arg;
  uint64_t off = 0;
  while (off < b->total) {
    size_t at = (size_t)(off % PATTERN_BYTES);
    uint64_t left = b->total - off;
    size_t len = left < BULK_CHUNK_BYTES ? (size_t)left : BULK_CHUNK_BYTES;
    ssize_t n = write(b->fd, pattern + at, len);
    if (n <= 0) fail("bulk write");
    off += (uint64_t)n;
  }
  return NULL;
}

static void run_bulk(const char *host, int port, uint64_t total) {
  struct bulk b = {.fd = connect_to(host, port), .total = total};
  uint8_t *buf = malloc(BULK_CHUNK_BYTES);
  double start = now_s();
  pthread_t sender;
  pthread_create(&sender, NULL, bulk_send, &b);
  uint64_t got = 0;
  while (got < total) {
    ssize_t n = read(b.fd, buf, BULK_CHUNK_BYTES);
    if (n < 0) fail("bulk read (stalled or reset)");
    if (n == 0) {
      errno = 0;
      fail("bulk: server closed early");
    }
    if (memcmp(buf, pattern + got % PATTERN_BYTES, (size_t)n) != 0) {
      errno = 0;
      fail("bulk: echoed bytes differ");
    }
    got += (uint64_t)n;
  }
  double seconds = now_s() - start;
  pthread_join(sender, NULL);
  close(b.fd);
  printf("{\"ok\":true,\"mode\":\"bulk\",\"bytes\":%llu,\"seconds\":%.4f,\"mib_per_s\":%.2f}\n",
         (unsigned long long)total, seconds, (double)total / seconds / 1048576.0);
}

/* --- ping-pong ------------------------------------------------------------------------ */
static void run_pingpong(const char *host, int port, double duration) {
  int fd = connect_to(host, port);
  uint8_t out[MESSAGE_BYTES], in[MESSAGE_BYTES];
  struct samples s = {0};
  double start = now_s(), end = start + duration, t = start;
  uint64_t seq = 0;
  while (t < end) {
    memcpy(out, pattern + (seq * 7) % PATTERN_BYTES, MESSAGE_BYTES);
    seq++;
    if (write(fd, out, MESSAGE_BYTES) != MESSAGE_BYTES) fail("pingpong write");
    size_t got = 0;
    while (got < MESSAGE_BYTES) {
      ssize_t n = read(fd, in + got, MESSAGE_BYTES - got);
      if (n <= 0) fail("pingpong read");
      got += (size_t)n;
    }
    if (memcmp(in, out, MESSAGE_BYTES) != 0) {
      errno = 0;
      fail("pingpong: echoed bytes differ");
    }
    double t2 = now_s();
    add_sample(&s, t2 - t);
    t = t2;
  }
  close(fd);
  double seconds = t - start;
  qsort(s.ns, s.len, sizeof *s.ns, cmp_u32);
  printf("{\"ok\":true,\"mode\":\"pingpong\",\"round_trips\":%zu,\"seconds\":%.4f,"
         "\"per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
         s.len, seconds, (double)s.len / seconds, percentile_us(&s, 0.5),
         percentile_us(&s, 0.99));
}

/* --- fan-out -------------------------------------------------------------------------- */
struct fan_conn {
  int fd;
  uint64_t seq;
  size_t got;
  double sent_at;
  uint8_t in[MESSAGE_BYTES];
};

static const uint8_t *message_for(int id, uint64_t seq) {
  return pattern + ((uint64_t)id * 8191 + seq * 7) % PATTERN_BYTES;
}

static void fan_send(struct fan_conn *c, int id) {
  c->got = 0;
  c->sent_at = now_s();
  if (write(c->fd, message_for(id, c->seq), MESSAGE_BYTES) != MESSAGE_BYTES) fail("fanout write");
}

static void run_fanout(const char *host, int port, double duration, int nconns) {
  struct fan_conn *conns = calloc((size_t)nconns, sizeof *conns);
  int ep = epoll_create1(0);
  for (int i = 0; i < nconns; i++) {
    conns[i].fd = connect_to(host, port);
    fcntl(conns[i].fd, F_SETFL, fcntl(conns[i].fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }
  struct samples s = {0};
  double start = now_s(), end = start + duration, last_progress = start;
  for (int i = 0; i < nconns; i++) fan_send(&conns[i], i);
  struct epoll_event events[256];
  double t = start;
  while (t < end) {
    int n = epoll_wait(ep, events, 256, 100);
    t = now_s();
    if (n < 0 && errno != EINTR) fail("epoll_wait");
    if (n <= 0) {
      if (t - last_progress > STALL_SECONDS) {
        errno = 0;
        fail("fanout: stalled");
      }
      continue;
    }
    last_progress = t;
    for (int k = 0; k < n; k++) {
      int id = (int)events[k].data.u32;
      struct fan_conn *c = &conns[id];
      ssize_t r = read(c->fd, c->in + c->got, MESSAGE_BYTES - c->got);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      if (r <= 0) fail("fanout read");
      c->got += (size_t)r;
      if (c->got < MESSAGE_BYTES) continue;
      if (memcmp(c->in, message_for(id, c->seq), MESSAGE_BYTES) != 0) {
        errno = 0;
        fail("fanout: echoed bytes differ");
      }
      add_sample(&s, t - c->sent_at);
      c->seq++;
      if (t < end) fan_send(c, id);
    }
  }
  double seconds = t - start;
  for (int i = 0; i < nconns; i++) close(conns[i].fd);
  qsort(s.ns, s.len, sizeof *s.ns, cmp_u32);
  printf("{\"ok\":true,\"mode\":\"fanout\",\"conns\":%d,\"round_trips\":%zu,\"seconds\":%.4f,"
         "\"per_s\":%.1f,\"p50_us\":%.1f,\"p99_us\":%.1f}\n",
         nconns, s.len, seconds, (double)s.len / seconds, percentile_us(&s, 0.5),
         percentile_us(&s, 0.99));
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: echo_load bulk|pingpong|fanout HOST PORT BYTES|SECONDS [CONNS]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  pattern = malloc(2 * (size_t)PATTERN_BYTES);
  uint64_t x = 0x9e3779b97f4a7c15ull; /* xorshift: cheap bytes that are not all alike */
  for (size_t i = 0; i < PATTERN_BYTES; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    pattern[i] = pattern[i + PATTERN_BYTES] = (uint8_t)x;
  }
  const char *mode = argv[1], *host = argv[2];
  int port = atoi(argv[3]);
  if (strcmp(mode, "bulk") == 0) {
    run_bulk(host, port, strtoull(argv[4], NULL, 10));
  } else if (strcmp(mode, "pingpong") == 0) {
    run_pingpong(host, port, atof(argv[4]));
  } else if (strcmp(mode, "fanout") == 0) {
    run_fanout(host, port, atof(argv[4]), argc > 5 ? atoi(argv[5]) : 200);
  } else {
    fprintf(stderr, "echo_load: unknown mode %s\n", mode);
    return 2;
  }
  return 0;
}
