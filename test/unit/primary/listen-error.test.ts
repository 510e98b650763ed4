// The one line a startup listen failure ends with: cause, address, and the flag that helps.
import test from 'ava';
import { ListenError, describeListenError, RUN_FLAGS } from '../../../src/primary/listen-error.js';

test('each errno gets its cause, address and remedy', (t) => {
  const line = (role: 'proxy' | 'admin', errno: string, host: string, port: number, flags = RUN_FLAGS): string =>
    describeListenError(new ListenError(role, errno, host, port, 'detail'), flags);
  t.is(line('proxy', 'EADDRINUSE', '0.0.0.0', 8080), 'port 8080 is in use by another process (0.0.0.0:8080): stop it or use --listen');
  t.is(line('admin', 'EADDRINUSE', '127.0.0.1', 9901), 'admin port 9901 is in use by another process (127.0.0.1:9901): stop it or use --admin (or --admin off)');
  t.is(line('proxy', 'EACCES', '0.0.0.0', 80), 'binding port 80 (0.0.0.0:80) needs root or CAP_NET_BIND_SERVICE: see the systemd unit, or use --listen');
  t.regex(line('proxy', 'EACCES', '::', 8080), /^binding port 8080 \(\[::\]:8080\) was refused \(EACCES\): check the security policy/);
  t.is(line('proxy', 'EADDRNOTAVAIL', '10.9.9.9', 80), '10.9.9.9 is not an address of this machine (10.9.9.9:80): use --listen with one of its addresses');
  t.is(line('proxy', 'EADDRINUSE', '127.0.0.1', 18081, { proxy: '', admin: '' }), 'port 18081 is in use by another process (127.0.0.1:18081): stop it');
  t.is(line('proxy', 'EMFILE', '127.0.0.1', 80), 'cannot listen on 127.0.0.1:80 (port 80): EMFILE: detail');
});
