/**
 * One query, start to finish: parse the header and question, answer from the asker's view when
 * the name is ours, otherwise hand it to the forwarding path. Everything up to the forwarding
 * path is synchronous and reads only the current snapshot, which `Resolver.update` replaces as
 * a whole: a query never waits and never sees half an update.
 */
import { resolveLocal } from './local';
import { NO_QTYPE, type Metrics } from './metrics';
import { emptySnapshot, type Snapshot } from './records';
import { EDE, Query, RCODE, Verdict, emptyResponse, headerOnlyResponse, parseQuery, rcodeOf, type ExtendedError } from './wire';

/** Where answers go: a sandbox's UDP socket (peer = the sender) or one TCP connection. */
export interface ReplySink {
  readonly sandboxId: string;
  readonly tcp: boolean;
  reply(response: Buffer, peer: unknown): void;
}

/** Names that are not ours. Calls `sink.reply` exactly once, now or later. */
export interface ForwardPath {
  /** started: performance.now() when the message arrived. */
  forward(msg: Buffer, q: Query, sink: ReplySink, peer: unknown, started: number): void;
}

const PROHIBITED: ExtendedError = { code: EDE.prohibited, text: 'internal network: names outside it are not resolved' };
const NO_SANDBOX: ExtendedError = { code: EDE.other, text: 'sandbox is being removed' };

export class QueryEngine {
  /** Replaced as a whole by the resolver; read once per query. */
  snapshot: Snapshot = emptySnapshot();
  private readonly q = new Query();

  constructor(
    private readonly forwarding: ForwardPath,
    private readonly metrics: Metrics,
  ) {}

  /** Returns false when the message deserves no reply at all (a TCP connection is then closed). */
  handle(msg: Buffer, sink: ReplySink, peer: unknown): boolean {
    const started = performance.now();
    const q = this.q;
    const verdict = parseQuery(msg, q);
    if (verdict !== Verdict.Answer) return this.reject(msg, q, verdict, sink, peer, started);
    const view = this.snapshot.views.get(sink.sandboxId);
    let response: Buffer | null;
    if (view === undefined) response = emptyResponse(msg, q, RCODE.REFUSED, NO_SANDBOX);
    else {
      response = resolveLocal(msg, q, view, sink.tcp);
      if (response === null) {
        if (view.forwards) {
          this.forwarding.forward(msg, q, sink, peer, started);
          return true;
        }
        response = emptyResponse(msg, q, RCODE.REFUSED, PROHIBITED);
      }
    }
    sink.reply(response, peer);
    this.metrics.answered(q.qtype, rcodeOf(response), 'local', started);
    return true;
  }

  private reject(msg: Buffer, q: Query, verdict: Verdict, sink: ReplySink, peer: unknown, started: number): boolean {
    if (verdict === Verdict.Drop) {
      this.metrics.droppedMessage();
      return false;
    }
    if (verdict === Verdict.BadVers) {
      sink.reply(emptyResponse(msg, q, RCODE.BADVERS), peer);
      this.metrics.answered(q.qtype, RCODE.BADVERS, 'local', started);
    } else {
      const rcode = verdict === Verdict.NotImp ? RCODE.NOTIMP : RCODE.FORMERR;
      sink.reply(headerOnlyResponse(msg, rcode), peer);
      this.metrics.answered(NO_QTYPE, rcode, 'local', started);
    }
    return true;
  }
}
