/**
 * The daemon's own memory and descriptors in the Prometheus text format, next to the resolver's
 * counters on /metrics, so a leak can be watched from outside (bench/soak) with the usual names.
 */
import fs from 'node:fs';

export function processMetrics(): string {
  const memory = process.memoryUsage();
  let fds = 0;
  try {
    fds = fs.readdirSync('/proc/self/fd').length - 1; // the directory handle readdir opened
  } catch {
    // no /proc: reported as 0
  }
  const gauge = (name: string, help: string, value: number): string => `# HELP ${name} ${help}\n# TYPE ${name} gauge\n${name} ${value}\n`;
  return (
    gauge('process_resident_memory_bytes', 'Resident memory of cnmd.', memory.rss) +
    gauge('nodejs_heap_size_used_bytes', 'V8 heap in use.', memory.heapUsed) +
    gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved.', memory.heapTotal) +
    gauge('nodejs_external_memory_bytes', 'Memory of Buffers and other objects outside the V8 heap.', memory.external) +
    gauge('process_open_fds', 'Open file descriptors of cnmd.', fds)
  );
}
