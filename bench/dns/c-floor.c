/* The C floor of the DNS benchmark: the least a UDP DNS server can do per query on this kernel
 * (recvmmsg a batch, echo each header and question, append one fixed A record, sendmmsg the
 * batch). No table, no parse beyond finding the end of the question: the physical limit the
 * native responder is compared with, as floor-server.ts is Node's.
 *   build/Release/dns-c-floor ADDRESS   (port 53; prints {"ready":true,"pid":N} once bound) */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32
#define BYTES 4096

static const unsigned char RECORD[16] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 10, 99, 0, 2};

int main(int argc, char **argv) {
  const char *address = argc > 1 ? argv[1] : "127.0.0.15";
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  int size = 1 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(53)};
  if (fd < 0 || inet_pton(AF_INET, address, &sin.sin_addr) != 1 || bind(fd, (struct sockaddr *)&sin, sizeof sin) != 0) {
    perror("c-floor: bind");
    return 1;
  }
  printf("{\"ready\":true,\"pid\":%d}\n", (int)getpid());
  fflush(stdout);
  static unsigned char in[BATCH][BYTES], out[BATCH][BYTES + sizeof RECORD];
  static struct sockaddr_in from[BATCH];
  static struct iovec in_iov[BATCH], out_iov[BATCH];
  static struct mmsghdr in_msgs[BATCH], out_msgs[BATCH];
  for (;;) {
    for (int i = 0; i < BATCH; i++) {
      in_iov[i] = (struct iovec){in[i], BYTES};
      memset(&in_msgs[i].msg_hdr, 0, sizeof in_msgs[i].msg_hdr);
      in_msgs[i].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &in_iov[i], .msg_iovlen = 1};
    }
    int n = recvmmsg(fd, in_msgs, BATCH, MSG_WAITFORONE, NULL);
    if (n <= 0) continue;
    int replies = 0;
    for (int i = 0; i < n; i++) {
      size_t length = in_msgs[i].msg_len, end = 12;
      while (end < length && in[i][end] != 0) end += in[i][end] + 1u;
      end += 5;
      if (end > length) continue;
      unsigned char *o = out[replies];
      memcpy(o, in[i], end);
      o[2] = 0x80 | (in[i][2] & 0x01);
      o[3] = 0x80;
      o[6] = 0, o[7] = 1, o[8] = o[9] = o[10] = o[11] = 0;
      memcpy(o + end, RECORD, sizeof RECORD);
      out_iov[replies] = (struct iovec){o, end + sizeof RECORD};
      out_msgs[replies].msg_hdr = (struct msghdr){.msg_name = &from[i], .msg_namelen = sizeof from[i], .msg_iov = &out_iov[replies], .msg_iovlen = 1};
      replies++;
    }
    for (int sent = 0; sent < replies;) {
      int k = sendmmsg(fd, out_msgs + sent, (unsigned)(replies - sent), 0);
      if (k <= 0) break;
      sent += k;
    }
  }
}
