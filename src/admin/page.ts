// GET /: one self-contained HTML page for a person (inline CSS and JS, no build step). It polls
// GET /status and draws workers, endpoints with health, requests per second (from the change in
// request counts between two polls) and each endpoint's share of its subset as a bar.
// Everything from the daemon is inserted with textContent, never as HTML.

/** How often the page polls /status. */
export const PAGE_REFRESH_MS = 1_500;

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>stickyd</title>
<style>
  :root { --fg: #1d2430; --muted: #667085; --line: #e4e7ec; --ok: #12b76a; --bad: #f04438; --bar: #2e90fa; --bg: #f8f9fb; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
  header { display: flex; flex-wrap: wrap; gap: 6px 24px; align-items: baseline; padding: 14px 20px; background: #fff; border-bottom: 1px solid var(--line); }
  header h1 { margin: 0; font-size: 18px; }
  header .kv { color: var(--muted); }
  header .kv b { color: var(--fg); font-weight: 600; }
  main { padding: 16px 20px; display: grid; gap: 16px; }
  section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
  h2 { margin: 0 0 8px; font-size: 15px; }
  h2 small { color: var(--muted); font-weight: 400; margin-left: 8px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 5px 8px; border-top: 1px solid var(--line); white-space: nowrap; }
  th { color: var(--muted); font-weight: 500; border-top: 0; }
  td.num, th.num { text-align: right; }
  .dot { display: inline-block; width: 9px; height: 9px; border-radius: 50%; margin-right: 6px; background: var(--ok); }
  .dot.down { background: var(--bad); }
  .share { display: flex; align-items: center; gap: 8px; min-width: 220px; }
  .track { flex: 1; height: 10px; background: #eef2f6; border-radius: 5px; overflow: hidden; }
  .fill { height: 100%; background: var(--bar); }
  .err { color: var(--bad); }
  .muted { color: var(--muted); }
</style>
</head>
<body>
<header>
  <h1>stickyd</h1>
  <span class="kv">generation <b id="generation">-</b></span>
  <span class="kv">state <b id="ready">-</b></span>
  <span class="kv">config <b id="config">-</b></span>
  <span class="kv">uptime <b id="uptime">-</b></span>
  <span class="kv">requests <b id="total-requests">-</b> (<b id="total-rate">-</b>/s)</span>
  <span class="kv">last reload <b id="last-reload">-</b></span>
  <span class="kv err" id="error"></span>
</header>
<main>
  <section>
    <h2>Workers</h2>
    <table id="workers">
      <thead><tr><th>pid</th><th class="num">generation</th><th class="num">uptime</th><th class="num">requests</th><th class="num">req/s</th><th class="num">connections</th><th>state</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section id="certificates-section" hidden>
    <h2>Certificates</h2>
    <table id="certificates">
      <thead><tr><th class="num">port</th><th>server</th><th>subject</th><th>subjectAltNames</th><th>serial</th><th>expires</th><th class="num">days left</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <div id="subsets" style="display: grid; gap: 16px;"></div>
</main>
<script>
(function () {
  'use strict';
  var REFRESH_MS = ${PAGE_REFRESH_MS};
  var previous = null;

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === 'text') node.textContent = attrs[k];
      else if (k === 'class') node.className = attrs[k];
      else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function td(text, cls) { return el('td', { text: String(text), class: cls || '' }); }
  function duration(sec) {
    if (sec < 120) return sec + ' s';
    if (sec < 7200) return Math.round(sec / 60) + ' min';
    return (sec / 3600).toFixed(1) + ' h';
  }
  function rate(now, before, seconds) {
    if (before == null || seconds <= 0 || now == null) return '-';
    return (Math.max(0, now - before) / seconds).toFixed(1);
  }

  function render(s, dt) {
    document.getElementById('generation').textContent = s.generation;
    document.getElementById('ready').textContent = s.ready ? 'ready' : 'not ready';
    document.getElementById('config').textContent = s.configPath + ' @ ' + String(s.configHash || '').slice(0, 12);
    document.getElementById('uptime').textContent = duration(s.uptimeSec || 0);
    document.getElementById('total-requests').textContent = s.totals.requests;
    document.getElementById('total-rate').textContent = rate(s.totals.requests, previous && previous.totals.requests, dt);
    var lr = s.lastReload;
    document.getElementById('last-reload').textContent = lr ? (lr.ok ? 'ok' : 'FAILED: ' + lr.error) + ' at ' + lr.at : 'none';

    var before = {};
    if (previous) previous.workers.forEach(function (w) { before[w.pid] = w.requests; });
    var tbody = document.querySelector('#workers tbody');
    tbody.replaceChildren.apply(tbody, s.workers.map(function (w) {
      var state = w.retiring ? 'draining' : w.listening ? 'serving' : 'starting';
      if (!w.answered) state += ' (no stats)';
      return el('tr', { 'data-pid': String(w.pid) }, [
        td(w.pid), td(w.epoch, 'num'), td(duration(w.uptimeSec), 'num'), td(w.requests == null ? '-' : w.requests, 'num requests'),
        td(rate(w.requests, before[w.pid], dt), 'num'), td(w.activeConnections == null ? '-' : w.activeConnections, 'num'), td(state),
      ]);
    }));

    var certs = s.certificates || [];
    document.getElementById('certificates-section').hidden = certs.length === 0;
    var cbody = document.querySelector('#certificates tbody');
    cbody.replaceChildren.apply(cbody, certs.map(function (c) {
      return el('tr', {}, [td(c.port, 'num'), td(c.server), td(c.subject), td(c.subjectAltNames.join(', ')), td(c.serial), td(c.notAfter), td(c.daysLeft, c.daysLeft < 14 ? 'num err' : 'num')]);
    }));

    var prevEndpoints = {};
    if (previous) previous.subsets.forEach(function (sub) { sub.endpoints.forEach(function (e) { prevEndpoints[sub.name + ' ' + e.id] = e.requests; }); });
    var host = document.getElementById('subsets');
    host.replaceChildren.apply(host, s.subsets.map(function (sub) {
      var rows = sub.endpoints.map(function (e) {
        var pct = (e.share * 100).toFixed(1);
        var health = el('td', {}, [el('span', { class: e.healthy ? 'dot' : 'dot down' }), document.createTextNode((e.healthy ? 'healthy' : 'down') + (e.draining ? ', draining (no new sessions)' : ''))]);
        var bar = el('td', {}, [el('div', { class: 'share' }, [
          el('div', { class: 'track' }, [el('div', { class: 'fill', style: 'width: ' + pct + '%' })]),
          el('span', { text: pct + '%', class: 'share-pct' }),
        ])]);
        return el('tr', { 'data-endpoint': e.id, 'data-subset': sub.name }, [
          el('td', { text: e.id, class: 'endpoint-id' }), health, td(e.weight, 'num'), bar,
          td(rate(e.requests, prevEndpoints[sub.name + ' ' + e.id], dt), 'num rate'), td(e.requests, 'num requests'),
        ]);
      });
      var basis = sub.shareBasis === 'weight' ? 'share of weight' : 'share of hash space (' + sub.shareBasis + ')';
      return el('section', { 'data-subset': sub.name }, [
        el('h2', { text: sub.name }, [el('small', { text: sub.policy + (sub.persistentSession ? ', persistent sessions (' + sub.persistentSession + ')' : '') + (sub.balanceFactor ? ', balance factor ' + sub.balanceFactor + '%' : '') })]),
        el('table', {}, [
          el('thead', {}, [el('tr', {}, [el('th', { text: 'endpoint' }), el('th', { text: 'health' }), el('th', { text: 'weight', class: 'num' }), el('th', { text: basis }), el('th', { text: 'req/s', class: 'num' }), el('th', { text: 'requests', class: 'num' })])]),
          el('tbody', {}, rows),
        ]),
      ]);
    }));
  }

  var lastAt = 0;
  function poll() {
    fetch('status', { cache: 'no-store' })
      .then(function (r) { if (!r.ok) throw new Error('GET /status answered ' + r.status); return r.json(); })
      .then(function (s) {
        var now = performance.now();
        render(s, lastAt ? (now - lastAt) / 1000 : 0);
        previous = s;
        lastAt = now;
        document.getElementById('error').textContent = '';
        document.body.setAttribute('data-polls', String(Number(document.body.getAttribute('data-polls') || 0) + 1));
      })
      .catch(function (err) { document.getElementById('error').textContent = String(err.message || err); })
      .finally(function () { setTimeout(poll, REFRESH_MS); });
  }
  poll();
})();
</script>
</body>
</html>
`;
