/*
 * epoll_echo: the smallest fast TCP echo server we could write, used by `deno task bench`
 * as the upper limit an echo server on this machine can reach (one thread, level-triggered
 * epoll, non-blocking sockets, one 64 KiB buffer per connection only while a write is
 * pending).
 *
 *   gcc -O2 -o bench/out/epoll_echo bench/epoll_echo.c
 *   bench/out/epoll_echo 127.0.0.1 9000   # prints "listening on tcp://127.0.0.1:9000"
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFFER_BYTES (64 * 1024)
#define MAX_EVENTS 256

/* Bytes read but not yet written back, for a connection whose peer is slow to read. */
struct pending {
  char *buf;
  size_t off, len;
};

static struct pending *pendings; /* indexed by fd */
static int max_fds;

static void close_conn(int ep, int fd) {
  epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
  close(fd);
  free(pendings[fd].buf);
  pendings[fd].buf = NULL;
  pendings[fd].off = pendings[fd].len = 0;
}

/* Writes what is pending; returns 1 when drained, 0 when the socket is full, -1 on error. */
static int flush_pending(int fd) {
  struct pending *p = &pendings[fd];
  while (p->off < p->len) {
    ssize_t n = write(fd, p->buf + p->off, p->len - p->off);
    if (n < 0) return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
    p->off += (size_t)n;
  }
  p->off = p->len = 0;
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: epoll_echo HOST PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  max_fds = 65536;
  pendings = calloc((size_t)max_fds, sizeof *pendings);
  static char scratch[BUFFER_BYTES];

  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
    fprintf(stderr, "epoll_echo: bad IPv4 address %s\n", argv[1]);
    return 2;
  }
  if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, 4096) < 0) {
    perror("epoll_echo: bind/listen");
    return 1;
  }
  socklen_t alen = sizeof addr;
  getsockname(lfd, (struct sockaddr *)&addr, &alen);
  printf("listening on tcp://%s:%d\n", argv[1], ntohs(addr.sin_port));
  fflush(stdout);

  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.fd = lfd};
  epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
  struct epoll_event events[MAX_EVENTS];

  for (;;) {
    int n = epoll_wait(ep, events, MAX_EVENTS, -1);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < n; i++) {
      int fd = events[i].data.fd;
      if (fd == lfd) {
        for (;;) {
          int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
          if (c < 0) break;
          if (c >= max_fds) {
            close(c);
            continue;
          }
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = c};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      if (events[i].events & EPOLLOUT) {
        int r = flush_pending(fd);
        if (r < 0) {
          close_conn(ep, fd);
          continue;
        }
        if (r == 1) { /* drained: read again */
          struct epoll_event cev = {.events = EPOLLIN, .data.fd = fd};
          epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
        }
        continue;
      }
      ssize_t got = read(fd, scratch, sizeof scratch);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        close_conn(ep, fd);
        continue;
      }
      if (got < 0) continue;
      ssize_t off = 0;
      while (off < got) {
        ssize_t w = write(fd, scratch + off, (size_t)(got - off));
        if (w < 0) break;
        off += w;
      }
      if (off < got) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) {
          close_conn(ep, fd);
          continue;
        }
        /* Peer reads slower than it writes: keep the rest, stop reading until drained. */
        struct pending *p = &pendings[fd];
        if (!p->buf) p->buf = malloc(BUFFER_BYTES);
        memcpy(p->buf, scratch + off, (size_t)(got - off));
        p->off = 0;
        p->len = (size_t)(got - off);
        struct epoll_event cev = {.events = EPOLLOUT, .data.fd = fd};
        epoll_ctl(ep, EPOLL_CTL_MOD, fd, &cev);
      }
    }
  }
}
