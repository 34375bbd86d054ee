/*
 * dg-httpd: the HTTP server of driftgate's test image.
 *
 * It serves /www/index.html (the container's identity, written by entry.sh)
 * for every path, one forked child per connection, like busybox httpd, with
 * one difference that matters to the churn tests: the whole response, header
 * and body, leaves in ONE write(). A container killed (SIGKILL) while serving
 * a request has then either sent nothing, and nginx retries the next
 * upstream, or everything. busybox httpd writes the header and the body
 * separately, so a kill between the two cut responses nginx had already
 * started to pass on, which no proxy can retry. Real application servers
 * send small responses in one segment too.
 *
 * Usage: dg-httpd [port]   (default 80). SIGTERM stops accepting; children
 * in flight finish on their own.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_MAX 8192
#define REQ_MAX 8192

static int read_request(int fd) {
  char buf[REQ_MAX];
  size_t got = 0;
  while (got < sizeof buf - 1) {
    ssize_t n = read(fd, buf + got, sizeof buf - 1 - got);
    if (n <= 0) return -1;
    got += (size_t)n;
    buf[got] = 0;
    if (strstr(buf, "\r\n\r\n") != NULL || strstr(buf, "\n\n") != NULL) return 0;
  }
  return -1;
}

static void serve(int fd) {
  char body[BODY_MAX];
  char out[BODY_MAX + 256];
  ssize_t len = 0;
  alarm(10); /* a stuck client never pins a child forever */
  if (read_request(fd) != 0) return;
  int file = open("/www/index.html", O_RDONLY);
  if (file >= 0) {
    len = read(file, body, sizeof body);
    close(file);
  }
  if (len < 0) len = 0;
  int head = snprintf(out, sizeof out,
                      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zd\r\nConnection: close\r\n\r\n", len);
  memcpy(out + head, body, (size_t)len);
  size_t total = (size_t)head + (size_t)len, sent = 0;
  while (sent < total) {
    ssize_t n = write(fd, out + sent, total - sent);
    if (n <= 0) return;
    sent += (size_t)n;
  }
  /* FIN, not RST: a reset would make the peer drop data it has not read yet. */
  shutdown(fd, SHUT_WR);
  char sink[512];
  while (read(fd, sink, sizeof sink) > 0) {}
}

int main(int argc, char **argv) {
  int port = argc > 1 ? atoi(argv[1]) : 80;
  signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
  signal(SIGPIPE, SIG_IGN);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {0};
  addr.sin_family = AF_INET;
  addr.sin_port = htons((unsigned short)port);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(ls, 1024) != 0) {
    perror("dg-httpd: bind/listen");
    return 1;
  }
  for (;;) {
    int fd = accept(ls, NULL, NULL);
    if (fd < 0) continue;
    pid_t pid = fork();
    if (pid == 0) {
      close(ls);
      serve(fd);
      close(fd);
      _exit(0);
    }
    close(fd);
  }
}
