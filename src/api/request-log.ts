/**
 * One log line per API request, when its answer is sent (or its connection ends, for streams):
 * method, path, status and duration. Failures are warnings carrying the error message, so a
 * client's "page not found" or "invalid" leaves a trace; successes are debug, since a client
 * such as the docker CLI makes several requests per command.
 */
import type http from 'node:http';
import type { Logger } from '../log';
import { errorMessages } from './http';

export function withRequestLog(listener: http.RequestListener, log: Logger): http.RequestListener {
  return (req, res) => {
    const started = performance.now();
    let logged = false;
    const done = (): void => {
      if (logged) return;
      logged = true;
      const status = res.statusCode;
      const fields: Record<string, unknown> = {
        method: req.method,
        path: req.url,
        status,
        durationMs: Math.round((performance.now() - started) * 10) / 10,
      };
      if (!res.writableFinished) fields.aborted = true;
      const error = errorMessages.get(res);
      if (error !== undefined) fields.error = error;
      log.log(status >= 400 ? 'warn' : 'debug', 'request', fields);
    };
    res.once('finish', done);
    res.once('close', done);
    listener(req, res);
  };
}
