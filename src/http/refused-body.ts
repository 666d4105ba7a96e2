/**
 * The body of a refused request, dropped inside Node's HTTP parser rather than in JavaScript.
 *
 * Node reads and drops the unread body of a request it has answered, so that the connection can carry
 * the next request. But its parser still copies each chunk of that body (one per TLS record, up to
 * 16 KiB) into a new Buffer and calls into JavaScript with it, only for the chunk to be thrown away.
 * Under a standing burst of large refused bodies that is some twenty thousand copies and calls a
 * second, and tens of MiB of Buffers waiting for the garbage collector (README, "Memory and bursts").
 * Without a body callback the parser steps over the bytes itself.
 *
 * The callbacks live in numbered slots of Node's parser object (HTTPParser.kOnBody and
 * kOnMessageComplete, src/node_http_parser.cc), which are internals. They are touched only while both
 * hold the very functions Node puts there, and put back when the message ends, before the parser reads
 * the next one, or when the connection closes, since Node pools parsers for later connections. On any
 * other Node the body is drained the usual way.
 */
import type { IncomingMessage } from 'node:http';

const ON_BODY = 3;
const ON_MESSAGE_COMPLETE = 4;

type ParserSlots = Record<number, unknown>;
type Callback = (this: unknown, ...args: unknown[]) => unknown;

function parserOf(req: IncomingMessage): ParserSlots | undefined {
  const parser = (req.socket as unknown as { parser?: unknown }).parser;
  return typeof parser === 'object' && parser !== null ? (parser as ParserSlots) : undefined;
}

function isNamed(value: unknown, name: string): value is Callback {
  return typeof value === 'function' && value.name === name;
}

/**
 * Makes the parser step over the rest of `req`'s body; false, and nothing changed, where it cannot (the
 * body has all arrived already, or this Node's parser is not the one described above).
 */
export function dropBodyInParser(req: IncomingMessage): boolean {
  // A complete message's callbacks have run: the slots would wait for the next request's body.
  if (req.complete) return false;
  const parser = parserOf(req);
  if (parser === undefined) return false;
  const onBody = parser[ON_BODY];
  const onComplete = parser[ON_MESSAGE_COMPLETE];
  if (!isNamed(onBody, 'parserOnBody') || !isNamed(onComplete, 'parserOnMessageComplete')) return false;
  let restored = false;
  const restore = (): void => {
    if (restored) return;
    restored = true;
    parser[ON_BODY] = onBody;
    parser[ON_MESSAGE_COMPLETE] = onComplete;
    req.socket.off('close', restore);
  };
  parser[ON_BODY] = undefined;
  parser[ON_MESSAGE_COMPLETE] = function (this: unknown, ...args: unknown[]): unknown {
    restore();
    return onComplete.apply(this, args);
  };
  req.socket.once('close', restore);
  return true;
}
