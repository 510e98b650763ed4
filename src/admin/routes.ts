// The admin endpoint table: path -> handler, over the primary's state (AdminSources).
import { buildConfigDump } from './config-dump.js';
import { buildMetricsText, readMetricsView } from './metrics.js';
import { PAGE_HTML } from './page.js';
import { PROM_CONTENT_TYPE } from './prom-text.js';
import type { AdminRoutes } from './server.js';
import type { AdminSources } from './sources.js';
import { buildStatus } from './status.js';

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';

export function buildAdminRoutes(src: AdminSources): AdminRoutes {
  return {
    '/': () => [200, 'text/html; charset=utf-8', PAGE_HTML],
    // browsers ask for it on every page load; an empty answer keeps their consoles clean
    '/favicon.ico': () => [204, 'image/x-icon', ''],
    '/ready': () => (src.supervisor.allReady() ? [200, TEXT, 'ready\n'] : [503, TEXT, 'not ready\n']),
    '/live': () => [200, TEXT, 'live\n'],
    '/status': async () => [200, JSON_TYPE, JSON.stringify(await buildStatus(src), null, 2) + '\n'],
    '/metrics': async () => [200, PROM_CONTENT_TYPE, buildMetricsText(await readMetricsView(src))],
    '/config_dump': () => {
      const snapshot = src.reloader.applied;
      return snapshot === null ? [503, TEXT, 'no configuration applied yet\n'] : [200, JSON_TYPE, JSON.stringify(buildConfigDump(snapshot), null, 2) + '\n'];
    },
  };
}
