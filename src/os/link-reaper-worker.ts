/** The link reaper's thread (see link-reaper.ts): one request at a time, replies in order. */
import { parentPort } from 'node:worker_threads';
import { Rtnl } from './links';

if (!parentPort) throw new Error('link-reaper-worker must run as a worker thread');
const port = parentPort;

port.on('message', (req: { id: number; name: string; nsPath?: string }) => {
  Rtnl.in(req.nsPath, (nl) => nl.deleteLink(req.name)).then(
    (deleted) => port.postMessage({ id: req.id, deleted }),
    (err: unknown) => port.postMessage({ id: req.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
