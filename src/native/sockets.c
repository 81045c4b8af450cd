/* Sockets bound in whatever namespace the calling thread is in (used inside runInNetns):
 * the resolver's 127.0.0.11:53 listeners are opened this way, then adopted by Node through
 * dgram bind({fd}) / net listen({fd}). */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* bindSocket(kind: "udp"|"tcp", address, port, backlog, v6only, receiveBuffer) -> fd. v6only
 * (for an IPv6 address): 1 binds IPv6 only, 0 both families on "::" (dual-stack); absent or -1,
 * the system default (net.ipv6.bindv6only). receiveBuffer: SO_RCVBUF in bytes; absent or 0, the
 * system default. */
static napi_value bind_socket(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) {
    cnm_throw_message(env, "bindSocket(kind, address, port[, backlog]) needs three arguments");
    return NULL;
  }
  char kind[8], address[64];
  int port = 0, backlog = 511;
  if (cnm_arg_string(env, argv[0], kind, sizeof kind, "kind") != 0) return NULL;
  if (cnm_arg_string(env, argv[1], address, sizeof address, "address") != 0) return NULL;
  if (cnm_arg_int(env, argv[2], &port, "port") != 0) return NULL;
  if (argc > 3 && cnm_arg_int(env, argv[3], &backlog, "backlog") != 0) return NULL;
  int v6only = -1;
  if (argc > 4 && cnm_arg_int(env, argv[4], &v6only, "v6only") != 0) return NULL;
  int rcvbuf = 0;
  if (argc > 5 && cnm_arg_int(env, argv[5], &rcvbuf, "receiveBuffer") != 0) return NULL;
  int stream = strcmp(kind, "tcp") == 0;
  if (!stream && strcmp(kind, "udp") != 0) {
    cnm_throw_message(env, "bindSocket: kind must be \"udp\" or \"tcp\"");
    return NULL;
  }
  if (port < 0 || port > 65535) {
    cnm_throw_message(env, "bindSocket: port out of range");
    return NULL;
  }

  struct sockaddr_storage ss;
  socklen_t len;
  memset(&ss, 0, sizeof ss);
  int family;
  struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, address, &sin->sin_addr) == 1) {
    family = AF_INET;
    sin->sin_family = AF_INET;
    sin->sin_port = htons((unsigned short)port);
    len = sizeof *sin;
  } else if (inet_pton(AF_INET6, address, &sin6->sin6_addr) == 1) {
    family = AF_INET6;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons((unsigned short)port);
    len = sizeof *sin6;
  } else {
    cnm_throw_message(env, "bindSocket: address is not an IP literal");
    return NULL;
  }

  int fd = socket(family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    cnm_throw_errno(env, errno, "socket", address);
    return NULL;
  }
  int one = 1;
  if (stream) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (family == AF_INET6 && v6only >= 0) {
    int value = v6only ? 1 : 0;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &value, sizeof value);
  }
  /* SO_RCVBUFFORCE passes net.core.rmem_max (a host-wide sysctl cnm leaves alone); it needs
   * CAP_NET_ADMIN, without which SO_RCVBUF gets as close as rmem_max allows. */
  if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  if (bind(fd, (struct sockaddr *)&ss, len) != 0 || (stream && listen(fd, backlog) != 0)) {
    int err = errno;
    close(fd);
    cnm_throw_errno(env, err, "bind", address);
    return NULL;
  }
  napi_value result;
  napi_create_int32(env, fd, &result);
  return result;
}

/* closeFd(fd): for fds that were never handed to Node. */
static napi_value close_fd(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int fd;
  if (argc < 1 || cnm_arg_int(env, argv[0], &fd, "fd") != 0) return NULL;
  close(fd);
  return NULL;
}

/* raiseFdLimit() -> the new soft limit: every published port and every sandbox's DNS listeners
 * hold descriptors, so the daemon lifts its soft RLIMIT_NOFILE to the hard one, as dockerd's
 * service files do. */
static napi_value raise_fd_limit(napi_env env, napi_callback_info info) {
  (void)info;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    cnm_throw_errno(env, errno, "getrlimit", "RLIMIT_NOFILE");
    return NULL;
  }
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
      cnm_throw_errno(env, errno, "setrlimit", "RLIMIT_NOFILE");
      return NULL;
    }
  }
  napi_value result;
  napi_create_double(env, (double)rl.rlim_cur, &result);
  return result;
}

napi_value cnm_sockets_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"bindSocket", NULL, bind_socket, NULL, NULL, NULL, napi_default, NULL},
      {"closeFd", NULL, close_fd, NULL, NULL, NULL, napi_default, NULL},
      {"raiseFdLimit", NULL, raise_fd_limit, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}
