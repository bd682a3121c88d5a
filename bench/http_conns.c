/*
 * http_conns: the connection-heavy HTTP load client of `deno task bench`. One thread, epoll,
 * nonblocking sockets; records every request's latency and prints one JSON line.
 *
 *   gcc -O2 -o bench/out/http_conns bench/http_conns.c
 *   http_conns short HOST PORT PATH TOTAL INFLIGHT
 *       TOTAL requests, each on a new connection (nonblocking connect, one GET with
 *       "Connection: close", read the whole answer, close); INFLIGHT at once. Latency runs
 *       from connect() to the answer's last byte.
 *   http_conns keepalive HOST PORT PATH CONNS SECONDS
 *       Opens CONNS keep-alive connections (at most CONNECT_BATCH connecting at once), then
 *       each sends one GET per second for SECONDS s, connections staggered evenly over the
 *       second. Latency runs from the request's scheduled time (not from when it could be
 *       sent), so a stalled server is not hidden by a client that waits for it.
 *
 * Every answer must be "HTTP/1.x 200" with a Content-Length body, read in full. The result,
 * exit code 0: {"ok":true,"mode":...,"requests":N,"answered":N,"errors":N,...}; setup
 * failures, exit code 1: {"ok":false,"error":"..."}. Bounded in time: the whole run ends
 * after DEADLINE_MARGIN_S past its schedule (short: after SHORT_DEADLINE_S), whatever the
 * server does; unanswered requests are counted, not waited for.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HEAD_MAX 8192
#define CONNECT_BATCH 256
#define CONNECT_PHASE_MAX_S 30.0
#define DEADLINE_MARGIN_S 5.0
#define SHORT_DEADLINE_S 120.0
#define MAX_EVENTS 1024

static void fail(const char *what) {
  printf("{\"ok\":false,\"error\":\"%s%s%s\"}\n", what, errno ? ": " : "",
         errno ? strerror(errno) : "");
  exit(1);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- latency samples (microseconds) --------------------------------------------------- */
static uint32_t *samples;
static size_t nsamples, capsamples;

static void add_sample(double seconds) {
  if (nsamples == capsamples) {
    capsamples = capsamples ? capsamples * 2 : 1 << 16;
    samples = realloc(samples, capsamples * sizeof *samples);
    if (!samples) fail("out of memory");
  }
  double us = seconds * 1e6;
  samples[nsamples++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static double percentile(double p) {
  if (nsamples == 0) return -1;
  size_t i = (size_t)(p * (double)(nsamples - 1) + 0.5);
  return samples[i];
}

/* --- one connection ------------------------------------------------------------------- */
enum state { IDLE, CONNECTING, SENDING, HEAD, BODY, DEAD };

struct conn {
  int fd;
  enum state state;
  double started; /* when the current request's latency clock started */
  size_t sent;    /* bytes of the request written */
  char head[HEAD_MAX];
  size_t head_len;
  long long body_left;
  int pending; /* keepalive: a scheduled request waits for the current answer */
  double pending_due;
};

static struct sockaddr_in server_addr;
static char request[1024];
static size_t request_len;
static int epfd;
static long long errors, answered, sent_requests;
static const char *first_error = "";
static double connect_seconds; /* keepalive: how long opening every connection took */

static void note_error(const char *what) {
  if (errors++ == 0) first_error = what;
}

static int open_socket(struct conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd, (struct sockaddr *)&server_addr, sizeof server_addr) < 0 &&
      errno != EINPROGRESS) {
    close(fd);
    return -1;
  }
  c->fd = fd;
  c->state = CONNECTING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
  return 0;
}

static void kill_conn(struct conn *c) {
  if (c->fd >= 0) close(c->fd); /* close() also removes it from the epoll set */
  c->fd = -1;
  c->state = DEAD;
}

static void want(struct conn *c, uint32_t events) {
  struct epoll_event ev = {.events = events | EPOLLRDHUP, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Writes what is left of the request; 1 when all of it is out, 0 to wait, -1 on error. */
static int send_request(struct conn *c) {
  while (c->sent < request_len) {
    ssize_t n = send(c->fd, request + c->sent, request_len - c->sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->sent += (size_t)n;
  }
  c->state = HEAD;
  c->head_len = 0;
  want(c, EPOLLIN);
  return 1;
}

static void start_request(struct conn *c, double clock_start) {
  c->started = clock_start;
  c->sent = 0;
  c->state = SENDING;
  sent_requests++;
  int r = send_request(c);
  if (r < 0) {
    note_error("send failed");
    kill_conn(c);
  } else if (r == 0) {
    want(c, EPOLLOUT);
  }
}

/* Parses the head in c->head; returns the body length, or -1 when it is not a 200 with a
 * Content-Length. */
static long long parse_head(struct conn *c, size_t head_end) {
  c->head[head_end] = 0;
  if (strncmp(c->head, "HTTP/1.", 7) != 0 || strncmp(c->head + 8, " 200", 4) != 0) return -1;
  for (char *line = strstr(c->head, "\r\n"); line && line[2];
       line = strstr(line + 2, "\r\n")) {
    if (strncasecmp(line + 2, "content-length:", 15) == 0) return atoll(line + 17);
  }
  return -1;
}

/* Reads what is there; returns 1 when an answer completed, 0 to wait, -1 on a bad answer or
 * socket error, -2 when the server closed the connection first. */
static int read_answer(struct conn *c) {
  char buf[16384];
  for (;;) {
    if (c->state == HEAD) {
      ssize_t n = recv(c->fd, c->head + c->head_len, HEAD_MAX - 1 - c->head_len, 0);
      if (n == 0) return -2;
      if (n < 0) return errno == EAGAIN ? 0 : -1;
      size_t old = c->head_len;
      c->head_len += (size_t)n;
      size_t from = old >= 3 ? old - 3 : 0;
      char *end = memmem(c->head + from, c->head_len - from, "\r\n\r\n", 4);
      if (!end) {
        if (c->head_len >= HEAD_MAX - 1) return -1;
        continue;
      }
      size_t head_end = (size_t)(end - c->head) + 4;
      size_t extra = c->head_len - head_end;
      long long body = parse_head(c, head_end);
      if (body < 0) return -1;
      c->body_left = body - (long long)extra;
      if (c->body_left < 0) return -1; /* more bytes than the answer: pipelining not expected */
      c->state = BODY;
    }
    if (c->body_left == 0) return 1;
    size_t want_bytes = c->body_left < (long long)sizeof buf ? (size_t)c->body_left : sizeof buf;
    ssize_t n = recv(c->fd, buf, want_bytes, 0);
    if (n == 0) return -2;
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->body_left -= n;
  }
}

static void raise_fd_limit(long needed) {
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  if ((long)rl.rlim_cur >= needed) return;
  if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < needed) {
    errno = 0;
    char msg[160];
    snprintf(msg, sizeof msg, "open-file limit %ld is below the %ld this load needs (ulimit -Hn)",
             (long)rl.rlim_max, needed);
    fail(msg);
  }
  rl.rlim_cur = (rlim_t)needed;
  if (setrlimit(RLIMIT_NOFILE, &rl) < 0) fail("setrlimit");
}

static void print_result(const char *mode, long long requests, double seconds, long conns) {
  qsort(samples, nsamples, sizeof *samples, cmp_u32);
  printf("{\"ok\":true,\"mode\":\"%s\",\"connections\":%ld,\"requests\":%lld,\"sent\":%lld,"
         "\"answered\":%lld,\"errors\":%lld,\"first_error\":\"%s\",\"seconds\":%.3f,"
         "\"connect_s\":%.3f,\"per_s\":%.1f,\"p50_us\":%.0f,\"p99_us\":%.0f,\"max_us\":%.0f}\n",
         mode, conns, requests, sent_requests, answered, errors, first_error, seconds,
         connect_seconds, seconds > 0 ? (double)answered / seconds : 0, percentile(0.50), percentile(0.99),
         nsamples ? (double)samples[nsamples - 1] : -1);
}

/* --- short: one request per connection ------------------------------------------------- */
static void run_short(long total, long inflight) {
  raise_fd_limit(inflight + 64);
  struct conn *conns = calloc((size_t)inflight, sizeof *conns);
  long started = 0, active = 0;
  double t0 = now_s(), deadline = t0 + SHORT_DEADLINE_S;
  struct epoll_event events[MAX_EVENTS];
  for (long i = 0; i < inflight; i++) conns[i].fd = -1, conns[i].state = IDLE;
  for (;;) {
    /* Refill: every free slot starts the next connection. */
    for (long i = 0; i < inflight && started < total; i++) {
      struct conn *c = &conns[i];
      if (c->state != IDLE && c->state != DEAD) continue;
      started++;
      c->started = now_s();
      if (open_socket(c) < 0) {
        note_error("connect failed");
        c->state = IDLE;
        continue;
      }
      active++;
    }
    if (active == 0 && started >= total) break;
    if (now_s() > deadline) {
      for (long i = 0; i < inflight; i++)
        if (conns[i].fd >= 0) note_error("deadline"), kill_conn(&conns[i]);
      break;
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    for (int e = 0; e < n; e++) {
      struct conn *c = events[e].data.ptr;
      if (c->fd < 0) continue;
      int done = 0;
      if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err) {
          note_error("connect refused");
          done = -1;
        } else {
          double keep = c->started;
          start_request(c, keep);
          if (c->state == DEAD) done = -2;
        }
      } else if (c->state == SENDING) {
        if (send_request(c) < 0) note_error("send failed"), done = -1;
      }
      if (done == 0 && (c->state == HEAD || c->state == BODY)) {
        int r = read_answer(c);
        if (r > 0) {
          add_sample(now_s() - c->started);
          answered++;
          done = 1;
        } else if (r < 0) {
          note_error(r == -2 ? "closed before the whole answer" : "bad answer");
          done = -1;
        }
      }
      if (done != 0) {
        if (done != -2) kill_conn(c);
        c->state = IDLE;
        active--;
      }
    }
  }
  print_result("short", total, now_s() - t0, inflight);
}

/* --- keepalive: many connections, one request per second each -------------------------- */
static void run_keepalive(long nconns, double seconds) {
  raise_fd_limit(nconns + 64);
  struct conn *conns = calloc((size_t)nconns, sizeof *conns);
  struct epoll_event events[MAX_EVENTS];
  long opened = 0, connecting = 0, established = 0, failed = 0;
  double connect_deadline = now_s() + CONNECT_PHASE_MAX_S;
  /* Phase 1: open every connection, CONNECT_BATCH at a time so the listen queue never
   * overflows (a dropped SYN costs a 1 s retransmit, which is not what is measured). */
  while (established + failed < nconns) {
    while (opened < nconns && connecting < CONNECT_BATCH) {
      struct conn *c = &conns[opened++];
      if (open_socket(c) < 0) {
        note_error("connect failed");
        c->fd = -1, c->state = DEAD, failed++;
      } else {
        connecting++;
      }
    }
    if (now_s() > connect_deadline) {
      errno = 0;
      fail("connect phase took longer than 30 s");
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, 100);
    for (int e = 0; e < n; e++) {
      struct conn *c = events[e].data.ptr;
      if (c->state != CONNECTING) continue;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
      connecting--;
      if (err || (events[e].events & (EPOLLERR | EPOLLHUP))) {
        note_error("connect refused");
        kill_conn(c);
        failed++;
      } else {
        c->state = IDLE;
        want(c, EPOLLIN); /* an idle connection closed by the server shows up as EOF */
        established++;
      }
    }
  }
  connect_seconds = now_s() - (connect_deadline - CONNECT_PHASE_MAX_S);
  /* Phase 2: request k of connection i is due at t0 + k + i / nconns. */
  long long total = (long long)nconns * (long long)seconds;
  long long next = 0;
  double t0 = now_s() + 0.1;
  double end = t0 + seconds + DEADLINE_MARGIN_S;
  long long outstanding = 0;
  for (;;) {
    double now = now_s();
    for (; next < total; next++) {
      double due = t0 + (double)next / (double)nconns;
      if (due > now) break;
      struct conn *c = &conns[next % nconns];
      /* A dead connection, or one already two answers behind: counted as unanswered. */
      if (c->state == DEAD || c->pending) continue;
      outstanding++;
      if (c->state == IDLE) {
        start_request(c, due);
        if (c->state == DEAD) outstanding--;
      } else { /* still waiting for the previous answer: send this one right after it */
        c->pending = 1;
        c->pending_due = due;
      }
    }
    if (next >= total && outstanding == 0) break;
    if (now > end) break;
    int timeout_ms = 100;
    if (next < total) {
      double due = t0 + (double)next / (double)nconns;
      int ms = (int)((due - now) * 1000.0);
      timeout_ms = ms < 0 ? 0 : ms < 100 ? ms : 100;
    }
    int n = epoll_wait(epfd, events, MAX_EVENTS, timeout_ms);
    for (int e = 0; e < n; e++) {
      struct conn *c = events[e].data.ptr;
      if (c->fd < 0) continue;
      if (c->state == IDLE) { /* nothing asked: EOF or junk means the server dropped us */
        note_error("server closed an idle keep-alive connection");
        kill_conn(c);
        continue;
      }
      if (c->state == SENDING) {
        if (send_request(c) < 0) {
          note_error("send failed");
          kill_conn(c);
          outstanding -= 1 + (c->pending ? 1 : 0);
          continue;
        }
        if (c->state != HEAD) continue;
      }
      int r = read_answer(c);
      if (r == 0) continue;
      if (r < 0) {
        note_error(r == -2 ? "closed before the whole answer" : "bad answer");
        kill_conn(c);
        outstanding -= 1 + (c->pending ? 1 : 0);
        continue;
      }
      double now2 = now_s();
      add_sample(now2 - c->started);
      answered++;
      outstanding--;
      c->state = IDLE;
      want(c, EPOLLIN);
      if (c->pending) {
        c->pending = 0;
        start_request(c, c->pending_due);
        if (c->state == DEAD) outstanding--;
      }
    }
  }
  print_result("keepalive", total, now_s() - t0, nconns);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  if (argc != 7 || (strcmp(argv[1], "short") != 0 && strcmp(argv[1], "keepalive") != 0)) {
    fprintf(stderr, "usage: http_conns short HOST PORT PATH TOTAL INFLIGHT\n"
                    "       http_conns keepalive HOST PORT PATH CONNS SECONDS\n");
    return 2;
  }
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons((uint16_t)atoi(argv[3]));
  if (inet_pton(AF_INET, argv[2], &server_addr.sin_addr) != 1) {
    errno = 0;
    fail("bad IPv4 address");
  }
  int is_short = strcmp(argv[1], "short") == 0;
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET %s HTTP/1.1\r\nHost: %s:%s\r\n%s\r\n", argv[4], argv[2],
                                 argv[3], is_short ? "Connection: close\r\n" : "");
  epfd = epoll_create1(EPOLL_CLOEXEC);
  long a = atol(argv[5]), b = atol(argv[6]);
  if (a <= 0 || b <= 0) {
    errno = 0;
    fail("counts must be > 0");
  }
  if (is_short) run_short(a, b);
  else run_keepalive(a, (double)b);
  return 0;
}
