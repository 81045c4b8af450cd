/**
 * One query, start to finish: parse the header and question, answer from the asker's view when
 * the name is ours, otherwise hand it to the forwarding path. Everything up to the forwarding
 * path is synchronous and reads only the current snapshot, which `Resolver.update` replaces as
 * a whole: a query never waits and never sees half an update.
 */
import { resolveLocal } from './local';
import { emptySnapshot, type Snapshot } from './records';
import { EDE, Query, RCODE, Verdict, emptyResponse, headerOnlyResponse, parseQuery, type ExtendedError } from './wire';

/** Where answers go: a sandbox's UDP socket (peer = the sender) or one TCP connection. */
export interface ReplySink {
  readonly sandboxId: string;
  readonly tcp: boolean;
  reply(response: Buffer, peer: unknown): void;
}

/** Names that are not ours. Calls `sink.reply` exactly once, now or later. */
export interface ForwardPath {
  forward(msg: Buffer, q: Query, sink: ReplySink, peer: unknown): void;
}

const PROHIBITED: ExtendedError = { code: EDE.prohibited, text: 'internal network: names outside it are not resolved' };
const NO_SANDBOX: ExtendedError = { code: EDE.other, text: 'sandbox is being removed' };

export class QueryEngine {
  /** Replaced as a whole by the resolver; read once per query. */
  snapshot: Snapshot = emptySnapshot(600);
  private readonly q = new Query();

  constructor(private readonly forwarding: ForwardPath) {}

  /** Returns false when the message deserves no reply at all (a TCP connection is then closed). */
  handle(msg: Buffer, sink: ReplySink, peer: unknown): boolean {
    const q = this.q;
    const verdict = parseQuery(msg, q);
    if (verdict !== Verdict.Answer) return this.reject(msg, q, verdict, sink, peer);
    const view = this.snapshot.views.get(sink.sandboxId);
    if (view === undefined) {
      sink.reply(emptyResponse(msg, q, RCODE.REFUSED, NO_SANDBOX), peer);
      return true;
    }
    const local = resolveLocal(msg, q, view, sink.tcp);
    if (local !== null) sink.reply(local, peer);
    else if (!view.forwards) sink.reply(emptyResponse(msg, q, RCODE.REFUSED, PROHIBITED), peer);
    else this.forwarding.forward(msg, q, sink, peer);
    return true;
  }

  private reject(msg: Buffer, q: Query, verdict: Verdict, sink: ReplySink, peer: unknown): boolean {
    switch (verdict) {
      case Verdict.FormErr:
        sink.reply(headerOnlyResponse(msg, RCODE.FORMERR), peer);
        return true;
      case Verdict.NotImp:
        sink.reply(headerOnlyResponse(msg, RCODE.NOTIMP), peer);
        return true;
      case Verdict.BadVers:
        sink.reply(emptyResponse(msg, q, RCODE.BADVERS), peer);
        return true;
      default:
        return false;
    }
  }
}
