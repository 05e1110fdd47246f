/** The Unix-socket transport: `unix:///absolute/path.sock`. */
import { DaosError } from '../common/errors.js';
import { StreamTransport } from './stream.js';

const SCHEME = 'unix://';

function parse(address: string): { path: string } {
  const path = address.startsWith(SCHEME) ? address.slice(SCHEME.length) : '';
  if (!path.startsWith('/')) {
    throw new DaosError('DER_INVAL', `bad unix address ${JSON.stringify(address)} (want unix:///path)`);
  }
  return { path };
}

export const unixTransport = new StreamTransport({
  scheme: 'unix',
  parse,
  describe: (_server, asked) => asked,
});
