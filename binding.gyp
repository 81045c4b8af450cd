{
  "targets": [
    {
      "target_name": "cnm_native",
      "sources": ["src/native/addon.c", "src/native/netns.c", "src/native/sockets.c", "src/native/nftables.c", "src/native/nfevents.c",
                  "src/native/responder.c", "src/native/dns_answer.c"],
      "libraries": ["-lnftables", "-lpthread"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"]
    },
    {
      "target_name": "dns-c-floor",
      "type": "executable",
      "sources": ["bench/dns/c-floor.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"],
      "defines": ["_GNU_SOURCE"]
    },
    {
      "target_name": "cnm-exec",
      "type": "executable",
      "sources": ["src/native/exec/cnm_exec.c", "src/native/exec/supervise.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"],
      "defines": ["_GNU_SOURCE"]
    },
    {
      "target_name": "cnm-cni",
      "type": "executable",
      "sources": ["src/cni/plugin.c"],
      "cflags": ["-Wall", "-Wextra", "-O2", "-std=gnu11"],
      "defines": ["_GNU_SOURCE"]
    }
  ]
}
